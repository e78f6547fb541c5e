"""Conformance spec of ``close()``: a closed store refuses every call, it never reconnects.

After ``store.close()`` (or ``mem.close()`` on a runtime) every call on the
store's graph, event log, audit sink and transactions raises
:class:`~phase_memory.errors.StoreUnavailableError` saying the store is
closed. Closing again is harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from phase_memory.errors import StoreUnavailableError
from phase_memory.protocols import MemoryStore
from phase_memory.runtime.runtime import PhaseMemoryRuntime
from phase_memory.testing.builders import P1, audit, event, node, profile, seed
from phase_memory.testing.fixtures import StoreFactory


def _in_transaction(store: MemoryStore) -> None:
    with store.transaction():
        pass  # pragma: no cover - entering already raises


def _in_read_transaction(store: MemoryStore) -> None:
    with store.read_transaction():
        pass  # pragma: no cover - entering already raises


def _calls(store: MemoryStore) -> dict[str, Callable[[], Any]]:
    """One call of each kind (read, write, stream, transaction) on every part of the store."""
    return {
        "graph.get_profile": lambda: store.graph.get_profile(P1),
        "graph.list_nodes": lambda: store.graph.list_nodes(P1),
        "graph.iter_nodes": lambda: list(store.graph.iter_nodes()),
        "graph.save_node": lambda: store.graph.save_node(node("n2")),
        "graph.snapshot": lambda: store.graph.snapshot(),
        "graph.counts": lambda: store.graph.counts(),
        "graph.search_text": lambda: store.graph.search_text(P1, ["coffee"], 5),
        "events.append": lambda: store.events.append([event("chat.turn", event_id="e2")]),
        "events.list": lambda: store.events.list(),
        "events.get": lambda: store.events.get("e1"),
        "events.last_position": lambda: store.events.last_position(),
        "events.replay": lambda: store.events.replay(),
        "audit.record": lambda: store.audit.record(audit("a2")),
        "audit.list": lambda: store.audit.list(),
        "transaction": lambda: _in_transaction(store),
        "read_transaction": lambda: _in_read_transaction(store),
        "events.newest_per_path": lambda: store.events.newest_per_path("main"),
    }


def _closed_store(store_factory: StoreFactory, tmp_path: Path) -> MemoryStore:
    store = store_factory.make(tmp_path)
    seed(store, profile(), node("n1", label="coffee"))
    store.events.append([event("chat.turn", event_id="e1")])
    store.audit.record(audit("a1"))
    store.close()
    return store


def test_a_closed_store_refuses_every_call(store_factory: StoreFactory, tmp_path: Path) -> None:
    store = _closed_store(store_factory, tmp_path)
    worked = []
    for name, attempt in _calls(store).items():
        try:
            attempt()
        except StoreUnavailableError as refusal:
            assert "the store is closed" in str(refusal), name
        else:
            worked.append(name)
    assert worked == [], "these calls worked on a closed store"


def test_closing_twice_is_harmless(store_factory: StoreFactory, tmp_path: Path) -> None:
    store = _closed_store(store_factory, tmp_path)
    store.close()
    with pytest.raises(StoreUnavailableError, match="closed"):
        store.events.last_position()


def test_a_closed_store_keeps_what_it_held(store_factory: StoreFactory, tmp_path: Path) -> None:
    if store_factory.reopen is None:
        pytest.skip("the adapter cannot reopen its data")
    _closed_store(store_factory, tmp_path)
    reopened = store_factory.reopen(tmp_path)
    try:
        assert [e.event_id for e in reopened.events.list()] == ["e1"]
        assert reopened.graph.get_profile(P1) == profile()
    finally:
        reopened.close()


def test_a_closed_runtime_refuses_every_call(store_factory: StoreFactory, tmp_path: Path) -> None:
    mem = PhaseMemoryRuntime(store_factory.make(tmp_path))
    mem.save_profile(profile())
    mem.close()
    with pytest.raises(StoreUnavailableError, match="the store is closed"):
        mem.save_profile(profile("p2"))
    with pytest.raises(StoreUnavailableError, match="the store is closed"):
        mem.events.list()
    mem.close()

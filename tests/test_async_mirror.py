"""AsyncPhaseMemoryRuntime mirrors PhaseMemoryRuntime one for one.

A public method added to the sync runtime or one of its parts without an
async twin (same name, same parameters) fails here.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import phase_memory as pm
from phase_memory.memory import InMemoryStore
from phase_memory.protocols import AuditSink, MemoryEventLog, MemoryGraphStore
from phase_memory.runtime.async_parts import AUDIT_WRITES, EVENT_LOG_WRITES, GRAPH_WRITES

ASYNC_ONLY = {"sync", "run_in_transaction", "run_reading"}
"""Names only the async runtime has: the sync runtime underneath, units of work on it
(a write on the writer lane, a read on the reader lane)."""

RETURNS_LIST_BUT_WRITES = {"record_many", "record_trusted"}
"""Writers whose sync twin returns a list: their result is awaited, not streamed."""

PARTS = ["paths", "graph", "events", "audit", "review"]


def _public(obj: object) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


def _protocol_methods(protocol: type) -> set[str]:
    return {name for name in vars(protocol) if not name.startswith("_")}


@pytest.fixture
def pair() -> tuple[pm.PhaseMemoryRuntime, pm.AsyncPhaseMemoryRuntime]:
    sync = pm.PhaseMemoryRuntime(InMemoryStore())
    return sync, pm.AsyncPhaseMemoryRuntime(sync)


def _sync_names(sync: pm.PhaseMemoryRuntime, part: str | None) -> set[str]:
    if part is None:
        return _public(sync)
    if part in ("paths", "review"):
        return _public(getattr(sync, part))
    protocol, writes = {
        "graph": (MemoryGraphStore, GRAPH_WRITES),
        "events": (MemoryEventLog, EVENT_LOG_WRITES),
        "audit": (AuditSink, AUDIT_WRITES),
    }[part]
    assert writes <= _protocol_methods(protocol), "a left-out write is not in the protocol"
    return _protocol_methods(protocol) - writes


def _objects(pair: Any, part: str | None) -> tuple[Any, Any]:
    sync, async_ = pair
    if part is None:
        return sync, async_
    return getattr(sync, part), getattr(async_, part)


@pytest.mark.parametrize("part", [None, *PARTS], ids=lambda p: p or "runtime")
def test_every_public_sync_name_has_an_async_twin_and_no_more(pair: Any, part: str | None) -> None:
    sync_names = _sync_names(pair[0], part)
    async_names = _public(_objects(pair, part)[1]) - (ASYNC_ONLY if part is None else set())
    assert sync_names - async_names == set(), "sync methods without an async twin"
    assert async_names - sync_names == set(), "async names the sync runtime does not have"


@pytest.mark.parametrize("part", [None, *PARTS], ids=lambda p: p or "runtime")
def test_every_twin_takes_the_same_parameters_and_awaits_or_streams(
    pair: Any, part: str | None
) -> None:
    sync_obj, async_obj = _objects(pair, part)
    sync_cls = type(sync_obj)
    for name in sorted(_sync_names(pair[0], part)):
        sync_attr = inspect.getattr_static(sync_cls, name, None)
        async_attr = inspect.getattr_static(type(async_obj), name, None)
        if sync_attr is None or isinstance(sync_attr, property) or not callable(sync_attr):
            continue  # an attribute or a property: the name check above covers it
        assert async_attr is not None and callable(async_attr), name
        sync_sig = inspect.signature(getattr(sync_obj, name))
        async_sig = inspect.signature(getattr(async_obj, name))
        assert [(p.name, p.kind, p.default) for p in sync_sig.parameters.values()] == [
            (p.name, p.kind, p.default) for p in async_sig.parameters.values()
        ], name
        sync_returns = str(sync_sig.return_annotation)
        lists = sync_returns.startswith(("list[", "builtins.list[", "Iterator["))
        if lists and name not in RETURNS_LIST_BUT_WRITES:
            assert str(async_sig.return_annotation).startswith("AsyncListing["), name
            assert not inspect.iscoroutinefunction(async_attr), name
        else:
            assert inspect.iscoroutinefunction(async_attr), name

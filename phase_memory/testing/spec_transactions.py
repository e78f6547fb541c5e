"""Conformance spec of ``MemoryStore.transaction()``: events, graph and audit together."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from phase_memory.errors import (
    DuplicateEventError,
    IntegrityError,
    NotFoundError,
    StoreUnavailableError,
)
from phase_memory.protocols import MemoryStore
from phase_memory.replay import PutActivationPlan, PutNode, RemoveNode
from phase_memory.testing.builders import (
    P1,
    audit,
    edge,
    event,
    ids,
    node,
    node_saved,
    path,
    plan,
    profile,
    seed,
)
from phase_memory.testing.fixtures import StoreFactory


class Boom(Exception):
    """Raised inside a transaction by the tests."""


def _state(store: MemoryStore) -> tuple[object, ...]:
    """Everything observable, to compare before and after a rolled-back transaction."""
    return (
        store.graph.snapshot(),
        store.events.list(),
        store.events.last_position(),
        store.audit.list(),
    )


def _base(store: MemoryStore) -> None:
    seed(store, profile(), node("a"), node("b"), edge("ab", "a", "b"), path("main"))
    store.events.append([event("chat.turn", {"n": 0}, event_id="before", path_id="main")])
    store.audit.record(audit("audit-before"))


def test_failure_rolls_back_events_graph_and_audit_together(store: MemoryStore) -> None:
    _base(store)
    before = _state(store)
    with pytest.raises(Boom), store.transaction():
        store.events.append([node_saved(node("c"), event_id="inside")])
        store.graph.apply([PutNode(node("c", version=1))])
        store.graph.save_node(node("a", label="changed"))
        store.graph.delete_edge("ab")
        store.graph.save_path(path("main", active=True))
        store.audit.record(audit("audit-inside"))
        raise Boom
    assert _state(store) == before
    assert store.graph.find_node("c") is None
    assert store.graph.get_node("a").label == "label of a"
    assert store.graph.find_edge("ab") is not None


def test_success_commits_events_graph_and_audit(store: MemoryStore) -> None:
    _base(store)
    with store.transaction():
        positions = store.events.append([node_saved(node("c"), event_id="inside")])
        store.graph.apply([PutNode(node("c", version=1))])
        store.audit.record(audit("audit-inside"))
    assert store.events.last_position() == positions[-1]
    assert store.events.get("inside").position == positions[0]
    assert store.graph.get_node("c").version == 1
    assert ids(store.audit.list()) == ["audit-before", "audit-inside"]


def test_rollback_restores_deleted_and_replaced_records(store: MemoryStore) -> None:
    _base(store)
    store.graph.apply([PutActivationPlan(plan("plan-1", node_ids=["a"]))])
    before = _state(store)
    with pytest.raises(Boom), store.transaction():
        store.graph.delete_node("a")  # takes edge ab with it
        store.graph.apply([PutActivationPlan(plan("plan-1", node_ids=["b"])), RemoveNode("b")])
        store.graph.save_profile(profile(name="renamed"))
        store.events.replace_payloads({"before": {"redacted": {"node_ids": ["x"]}}})
        raise Boom
    assert _state(store) == before
    assert store.events.get("before").payload == {"n": 0}
    assert store.graph.get_activation_plan("plan-1").items[0].node_id == "a"


def test_a_store_error_inside_a_transaction_rolls_back_earlier_writes(store: MemoryStore) -> None:
    _base(store)
    before = _state(store)
    with pytest.raises(DuplicateEventError), store.transaction():
        store.graph.save_node(node("c"))
        store.events.append([event("chat.turn", event_id="new")])
        store.events.append([event("chat.turn", event_id="before")])
    assert _state(store) == before
    assert store.graph.find_node("c") is None


def test_integrity_error_inside_a_transaction_rolls_back(store: MemoryStore) -> None:
    _base(store)
    before = _state(store)
    with pytest.raises(IntegrityError), store.transaction():
        store.audit.record(audit("audit-inside"))
        store.graph.save_node(node("c"))
        store.graph.save_edge(edge("bad", "c", "ghost"))
    assert _state(store) == before


def test_the_exception_raised_inside_propagates_unchanged(store: MemoryStore) -> None:
    seed(store, profile())
    error = Boom("the original")
    with pytest.raises(Boom) as raised, store.transaction():
        store.events.append([event("chat.turn")])
        raise error
    assert raised.value is error


def test_nested_transactions_join_the_outer_one(store: MemoryStore) -> None:
    _base(store)
    before = _state(store)
    with pytest.raises(Boom), store.transaction():
        store.events.append([event("chat.turn", event_id="outer")])
        with store.transaction():
            store.events.append([event("chat.turn", event_id="inner")])
            store.graph.save_node(node("inner-node"))
            store.audit.record(audit("audit-inner"))
        # The inner block has ended, but nothing is committed until the outer one is.
        raise Boom
    assert _state(store) == before
    with pytest.raises(NotFoundError):
        store.events.get("inner")


def test_nested_transactions_commit_with_the_outer_one(store: MemoryStore) -> None:
    seed(store, profile())
    with store.transaction():
        store.events.append([event("chat.turn", event_id="outer")])
        with store.transaction():
            store.events.append([event("chat.turn", event_id="inner")])
            store.graph.save_node(node("n1"))
            with store.transaction():
                store.audit.record(audit("deepest"))
    assert ids(store.events.list()) == ["outer", "inner"]
    assert ids(store.graph.list_nodes(P1)) == ["n1"]
    assert ids(store.audit.list()) == ["deepest"]


def test_store_is_usable_after_a_rollback(store: MemoryStore) -> None:
    _base(store)
    last = store.events.last_position()
    with pytest.raises(Boom), store.transaction():
        store.events.append([event("chat.turn", event_id="lost")])
        raise Boom
    positions = store.events.append([event("chat.turn", event_id="after")])
    assert positions[0] > last
    assert ids(store.events.list()) == ["before", "after"]
    store.graph.save_node(node("c"))
    assert store.graph.get_node("c").version == 1


def test_reads_inside_a_transaction_see_its_own_writes(store: MemoryStore) -> None:
    seed(store, profile())
    with store.transaction():
        [position] = store.events.append([event("chat.turn", event_id="mine")])
        store.graph.save_node(node("n1"))
        assert store.events.get("mine").position == position
        assert store.events.last_position() == position
        assert store.graph.get_node("n1").version == 1
        assert store.graph.counts(P1)["nodes"] == 1


# --- durability (adapters with the ``durable`` capability) ------------------------------


def _reopenable(factory: StoreFactory, where: Path) -> MemoryStore:
    where.mkdir()
    made = factory.make(where)
    if not made.capabilities.durable or factory.reopen is None:
        made.close()
        pytest.skip("adapter lacks capability 'durable' (or its factory cannot reopen)")
    return made


def test_committed_writes_survive_reopening(store_factory: StoreFactory, tmp_path: Path) -> None:
    where = tmp_path / "durable"
    first = _reopenable(store_factory, where)
    try:
        _base(first)
        with first.transaction():
            first.events.append([node_saved(node("c"), event_id="inside")])
            first.graph.save_node(node("c"))
            first.audit.record(audit("audit-inside"))
        before = _state(first)
        replayed = first.events.replay()
    finally:
        first.close()
    assert store_factory.reopen is not None
    again = store_factory.reopen(where)
    try:
        assert _state(again) == before
        assert again.events.replay() == replayed
        [position] = again.events.append([event("chat.turn", event_id="after-reopen")])
        assert position > before[2]  # type: ignore[operator]
    finally:
        again.close()


def test_rolled_back_writes_are_gone_after_reopening(
    store_factory: StoreFactory, tmp_path: Path
) -> None:
    where = tmp_path / "durable"
    first = _reopenable(store_factory, where)
    try:
        _base(first)
        before = _state(first)
        with pytest.raises(Boom), first.transaction():
            first.events.append([event("chat.turn", event_id="lost")])
            first.graph.save_node(node("lost-node"))
            first.audit.record(audit("lost-audit"))
            raise Boom
    finally:
        first.close()
    assert store_factory.reopen is not None
    again = store_factory.reopen(where)
    try:
        assert _state(again) == before
    finally:
        again.close()


# --- read transactions ------------------------------------------------------------------


def test_reads_inside_a_read_transaction_see_one_state(store: MemoryStore) -> None:
    _base(store)
    before = store.events.last_position()
    written = threading.Event()

    def write() -> None:
        store.events.append([event("chat.turn", {"n": 1}, event_id="meanwhile")])
        store.graph.save_node(node("c"))
        written.set()

    with store.read_transaction():
        assert store.events.last_position() == before  # the state read from here on
        writer = threading.Thread(target=write)
        writer.start()
        # SQLite in WAL mode and PostgreSQL let the writer commit meanwhile; the
        # in-memory store makes it wait until the block ends. Either way:
        written.wait(timeout=0.5)
        assert store.events.last_position() == before
        assert "meanwhile" not in ids(store.events.list())
        assert store.graph.find_node("c") is None
    writer.join(timeout=30)
    assert written.is_set()
    assert ids(store.events.list())[-1] == "meanwhile"
    assert store.graph.find_node("c") is not None


def test_writing_inside_a_read_transaction_is_refused(store: MemoryStore) -> None:
    _base(store)
    before = _state(store)
    with store.read_transaction():
        with pytest.raises(StoreUnavailableError, match="read transaction"):
            store.events.append([event("chat.turn", {"n": 1})])
        with (
            pytest.raises(StoreUnavailableError, match="read transaction"),
            store.transaction(),
        ):
            store.graph.save_node(node("c"))
        with store.read_transaction():  # nested: joins
            assert store.events.last_position() == before[2]
    assert _state(store) == before
    store.events.append([event("chat.turn", {"n": 1}, event_id="after")])  # writable again
    assert ids(store.events.list())[-1] == "after"


def test_a_read_transaction_inside_a_transaction_joins_it(store: MemoryStore) -> None:
    _base(store)
    with store.transaction():
        store.events.append([event("chat.turn", {"n": 1}, event_id="mine")])
        with store.read_transaction():
            assert ids(store.events.list())[-1] == "mine"  # sees the transaction's writes
            store.graph.save_node(node("c"))  # and writes on in it
    assert store.graph.find_node("c") is not None


"""Conformance spec of :class:`~phase_memory.protocols.AuditSink`."""

from __future__ import annotations

import pytest

from phase_memory.errors import IntegrityError, NotFoundError
from phase_memory.models import AuditOutcome, AuditRecord
from phase_memory.protocols import MemoryStore
from phase_memory.testing.builders import at, audit, ids


def _trail(store: MemoryStore) -> list[AuditRecord]:
    # Written out of time order on purpose: listing follows write order.
    records = [
        audit("a1", "node.save", AuditOutcome.APPLIED, seconds=30),
        audit("a2", "lifecycle.apply", AuditOutcome.DENIED, seconds=10),
        audit("a3", "node.save", AuditOutcome.FAILED, seconds=20),
        audit("a4", "export", AuditOutcome.EXPORTED, seconds=40),
        audit("a5", "lifecycle.apply", AuditOutcome.APPLIED, seconds=50),
    ]
    for record in records:
        store.audit.record(record)
    return records


def test_empty_audit_lists_nothing(store: MemoryStore) -> None:
    assert store.audit.list() == []


def test_record_round_trips_every_field(store: MemoryStore) -> None:
    record = AuditRecord(
        id="audit-ü",
        at=at(1.000001),
        actor="reviewer:ana",
        operation="lifecycle.apply",
        subject_ids=["n1", "n2", "nœud-🙂"],
        outcome=AuditOutcome.DENIED,
        details={"reason": "needs review", "actions": [{"id": "x", "kind": "forget"}], "n": 2},
    )
    store.audit.record(record)
    assert store.audit.list() == [record]


def test_list_is_in_write_order(store: MemoryStore) -> None:
    records = _trail(store)
    assert store.audit.list() == records


def test_list_filters_by_operation(store: MemoryStore) -> None:
    _trail(store)
    assert ids(store.audit.list(operation="node.save")) == ["a1", "a3"]
    assert ids(store.audit.list(operation="lifecycle.apply")) == ["a2", "a5"]
    assert store.audit.list(operation="nothing") == []


def test_list_filters_by_outcome(store: MemoryStore) -> None:
    _trail(store)
    assert ids(store.audit.list(outcome=AuditOutcome.APPLIED)) == ["a1", "a5"]
    assert ids(store.audit.list(outcome=AuditOutcome.DENIED)) == ["a2"]
    assert store.audit.list(outcome=AuditOutcome.MIGRATED) == []


def test_list_after_is_an_exclusive_time(store: MemoryStore) -> None:
    _trail(store)
    assert ids(store.audit.list(after=at(20))) == ["a1", "a4", "a5"]
    assert ids(store.audit.list(after=at(0))) == ["a1", "a2", "a3", "a4", "a5"]
    assert store.audit.list(after=at(50)) == []


def test_list_limit_keeps_the_first_records(store: MemoryStore) -> None:
    _trail(store)
    assert ids(store.audit.list(limit=2)) == ["a1", "a2"]
    assert store.audit.list(limit=0) == []


def test_list_filters_combine(store: MemoryStore) -> None:
    _trail(store)
    assert ids(store.audit.list(operation="node.save", outcome=AuditOutcome.FAILED)) == ["a3"]
    assert ids(store.audit.list(operation="lifecycle.apply", after=at(10))) == ["a5"]
    assert ids(store.audit.list(outcome=AuditOutcome.APPLIED, limit=1)) == ["a1"]
    assert ids(store.audit.list(after=at(15), limit=2)) == ["a1", "a3"]


def test_audit_inside_a_failed_transaction_is_rolled_back(store: MemoryStore) -> None:
    store.audit.record(audit("kept"))
    with pytest.raises(RuntimeError), store.transaction():
        store.audit.record(audit("lost-1"))
        store.audit.record(audit("lost-2"))
        raise RuntimeError("boom")
    assert ids(store.audit.list()) == ["kept"]


def test_audit_inside_a_committed_transaction_is_kept(store: MemoryStore) -> None:
    with store.transaction():
        store.audit.record(audit("t1"))
        store.audit.record(audit("t2"))
    assert ids(store.audit.list()) == ["t1", "t2"]


def test_an_audit_record_id_is_stored_once(store: MemoryStore) -> None:
    store.audit.record(audit("a1", "node.save", AuditOutcome.APPLIED))
    with pytest.raises(IntegrityError):
        store.audit.record(audit("a1", "node.save", AuditOutcome.DENIED))
    assert [r.outcome for r in store.audit.list()] == [AuditOutcome.APPLIED]


def test_find_mentioning_and_replace_details(store: MemoryStore) -> None:
    store.audit.record(audit("a1", details={"reason": "drop the Zanzibar note"}))
    store.audit.record(audit("a2", seconds=1, details={"reason": "tidy"}))
    store.audit.record(audit("a3", seconds=2, details={"nested": {"why": ["Zanzibar", 3]}}))
    found = store.audit.find_mentioning("Zanzibar", "nothing")
    assert [r.id for r in found] == ["a1", "a3"]
    store.audit.replace_details({"a1": {"reason": "drop the [forgotten] note"}})
    assert [r.id for r in store.audit.find_mentioning("Zanzibar")] == ["a3"]
    assert store.audit.list()[0].details == {"reason": "drop the [forgotten] note"}
    assert [r.id for r in store.audit.list()] == ["a1", "a2", "a3"]
    with pytest.raises(NotFoundError):
        store.audit.replace_details({"a2": {}, "missing": {}})
    assert store.audit.list()[1].details == {"reason": "tidy"}, "nothing written"

"""The event insert as plain SQL text (``dialect.insert_event_sql``), on SQLite and PostgreSQL.

Each payload is encoded once, by the limit check; what is stored must be the
JSON every other writer stores (``dialect.json_serializer``), and read back equal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from phase_memory.errors import DuplicateEventError, ValidationError
from phase_memory.models import MemoryEvent
from phase_memory.sql import SqlStore, dialect
from phase_memory.sql import tables as t

PAYLOADS: list[dict[str, Any]] = [
    {"n": 1, "none": None, "text": "é\n😀"},  # "null" in the bytes: the float walk runs
    {"small": 1e-7, "tiny": 5e-5},  # floats orjson spells otherwise: the standard encoder
    {"big": 1e20, "huge": 2**70},  # JSONB numeric; an integer past orjson's range
    {"nested": {"a": [1, 2.5, {"b": None}]}, "s": "null 0.0000 e-5"},
]


@pytest.fixture
def store(sql_store: SqlStore) -> SqlStore:
    """The SQL store under test (conftest's ``sql_store``: SQLite and PostgreSQL)."""
    return sql_store


def _event(number: int, payload: dict[str, Any]) -> MemoryEvent:
    return MemoryEvent(
        event_id=f"e{number}", kind="note.taken", profile_id="p", payload=payload,
        occurred_at=datetime(2026, 1, 1 + number, 12, 30, 0, 123456, tzinfo=UTC),
    )


def _stored_texts(store: SqlStore) -> list[str]:
    text = dialect.json_text(store.engine.dialect.name, t.events.c.payload)
    with store.engine.connect() as conn:
        return list(conn.execute(select(text).order_by(t.events.c.position)).scalars())


@pytest.mark.parametrize("batched", [False, True])
def test_appended_payloads_are_stored_as_every_json_column_is(
    store: SqlStore, batched: bool
) -> None:
    events = [_event(i, payload) for i, payload in enumerate(PAYLOADS)]
    if batched:
        assert store.events.append(events) == [1, 2, 3, 4]
    else:
        assert [store.events.append([e])[0] for e in events] == [1, 2, 3, 4]
    name = store.engine.dialect.name
    if name == "sqlite":  # PostgreSQL prints JSONB its own way: compared as values below
        assert _stored_texts(store) == [dialect.json_serializer(name)(p) for p in PAYLOADS]
    back = store.events.list()
    assert [e.payload for e in back] == PAYLOADS
    assert isinstance(back[2].payload["big"], float)
    assert [e.occurred_at for e in back] == [e.occurred_at for e in events]
    assert [e.position for e in back] == [1, 2, 3, 4]


def test_a_single_append_of_a_stored_id_is_a_duplicate_and_writes_nothing(
    store: SqlStore,
) -> None:
    store.events.append([_event(1, {"a": 1})])
    with pytest.raises(DuplicateEventError):
        store.events.append([_event(1, {"a": 2})])
    with store.transaction():  # joined to a caller's transaction: it stays usable
        with pytest.raises(DuplicateEventError):
            store.events.append([_event(1, {"a": 3})])
        assert store.events.append([_event(2, {"b": 1})]) == [2]
    assert [(e.event_id, e.payload) for e in store.events.list()] == [
        ("e1", {"a": 1}), ("e2", {"b": 1})
    ]


@pytest.mark.parametrize("batched", [False, True])
def test_nan_in_a_payload_is_refused_and_nothing_is_written(
    store: SqlStore, batched: bool
) -> None:
    bad = _event(2, {"x": 1.0}).model_copy(update={"payload": {"x": float("nan"), "y": None}})
    events = [_event(1, {"ok": True}), bad] if batched else [bad]
    with pytest.raises(ValidationError, match="cannot be stored"):
        store.events.append(events)
    assert store.events.list() == []

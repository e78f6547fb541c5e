"""The direct statements (sql/direct.py) on SQLite and PostgreSQL: same results as Core's."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.exc import StatementError

from phase_memory.models import MemoryEvent
from phase_memory.sql import SqlStore, rows
from phase_memory.sql import tables as t
from phase_memory.sql.direct import DirectStatement

_events = t.events
_INSERT = DirectStatement(
    _events.insert(), table=_events, column_keys=[c.name for c in _events.columns]
)
_FIRST_AFTER = DirectStatement(
    select(*rows.EVENT_COLUMNS)
    .where(_events.c.position > bindparam("after_"))
    .order_by(_events.c.position)
    .limit(1)  # a literal of the statement: passed from Compiled.params
)


@pytest.fixture
def store(sql_store: SqlStore) -> SqlStore:
    """The SQL store under test (conftest's ``sql_store``: SQLite and PostgreSQL)."""
    return sql_store


def _event(number: int) -> MemoryEvent:
    return MemoryEvent(
        event_id=f"e{number}",
        kind="note.taken",
        profile_id="p",
        occurred_at=datetime(2026, 1, number, 12, 30, 0, 123456, tzinfo=UTC),
        payload={"n": number, "x": 1e-7, "big": 2**70, "text": "é\n😀"},
    )


def test_rows_written_directly_read_back_through_core_and_directly(store: SqlStore) -> None:
    events = [_event(1), _event(2), _event(3)]
    with store.engine.begin() as conn:
        _INSERT.run_many(conn, [rows.event_row(e, i + 1) for i, e in enumerate(events)])
    with store.engine.connect() as conn:
        core = [rows.event_of(row) for row in conn.execute(select(*rows.EVENT_COLUMNS))]
        direct = [rows.event_of(row) for row in _FIRST_AFTER.all(conn, {"after_": 1})]
    assert [e.model_copy(update={"position": i + 1}) for i, e in enumerate(events)] == core
    assert direct == [core[1]]
    assert direct[0].occurred_at == events[1].occurred_at
    assert direct[0].payload == events[1].payload


def test_a_value_its_column_cannot_hold_is_reported_as_sqlalchemy_does(store: SqlStore) -> None:
    bad = _event(1).model_copy(update={"payload": {"x": float("nan")}})
    with store.engine.connect() as conn, pytest.raises(StatementError):
        _INSERT.run_many(conn, [rows.event_row(bad, 1)])

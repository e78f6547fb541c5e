"""Each database error the SQL adapter translates, provoked for real on SQLite and PostgreSQL.

The errors come from the database itself (through SQLAlchemy and straight from
the driver); :func:`phase_memory.sql.errors.translate` tells them apart by
SQLite result code and PostgreSQL SQLSTATE.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, text

from phase_memory.errors import (
    ConflictError,
    IntegrityError,
    PhaseMemoryError,
    StoreBusyError,
    StoreUnavailableError,
    ValidationError,
)
from phase_memory.models import MemoryEvent, MemoryPath, Profile
from phase_memory.sql import SqlStore, rows
from phase_memory.sql import tables as t
from phase_memory.sql.errors import translate


@pytest.fixture
def store(sql_store: SqlStore) -> SqlStore:
    """The SQL store under test (conftest's ``sql_store``: SQLite and PostgreSQL)."""
    return sql_store


def _provoked(store: SqlStore, work: Callable[[Connection], Any]) -> PhaseMemoryError:
    """The translation of the error ``work`` raises inside a transaction of ``store``."""
    with store.engine.connect() as conn:
        try:
            with conn.begin():
                work(conn)
        except Exception as exc:
            return translate(exc)
    raise AssertionError("the statement did not fail")


def _path(path_id: str, tree: str) -> dict[str, Any]:
    path = MemoryPath(id=path_id, profile_id="p", active=True)
    return {**rows.path_row(path), "tree_id": tree, "root_path_id": tree}


def test_unique_violation_is_an_integrity_error(store: SqlStore) -> None:
    error = _provoked(
        store, lambda conn: conn.execute(t.profiles.insert(), rows.profile_row(Profile(id="p")))
    )
    assert type(error) is IntegrityError


def test_second_active_path_of_a_tree_is_a_conflict(store: SqlStore) -> None:
    def two_active(conn: Connection) -> None:
        conn.execute(t.paths.insert(), _path("a", "a"))
        conn.execute(t.paths.insert(), _path("b", "a"))

    assert type(_provoked(store, two_active)) is ConflictError


def test_foreign_key_violation_is_an_integrity_error(store: SqlStore) -> None:
    def orphan_edge(conn: Connection) -> None:
        conn.execute(
            text(
                "INSERT INTO edges (id, profile_id, source_id, target_id, kind, weight, "
                "attributes, created_at, updated_at) VALUES ('e', 'p', 'ghost', 'ghost', 'k', "
                "1.0, '{}', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')"
            )
        )

    assert type(_provoked(store, orphan_edge)) is IntegrityError


def test_not_null_violation_is_an_integrity_error(store: SqlStore) -> None:
    error = _provoked(store, lambda conn: conn.execute(text("UPDATE profiles SET name = NULL")))
    assert type(error) is IntegrityError


def test_read_only_transaction_is_reported_read_only(store: SqlStore) -> None:
    def write_read_only(conn: Connection) -> None:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA query_only = ON")
        else:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        try:
            conn.execute(text("UPDATE profiles SET name = 'x'"))
        finally:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA query_only = OFF")

    error = _provoked(store, write_read_only)
    assert type(error) is StoreUnavailableError
    assert "read-only" in str(error)


def test_missing_table_makes_the_store_unavailable(store: SqlStore) -> None:
    error = _provoked(store, lambda conn: conn.execute(text("SELECT * FROM no_such_table")))
    assert type(error) is StoreUnavailableError
    assert "cannot be used" in str(error)


def test_value_the_database_refuses_is_a_validation_error(store: SqlStore) -> None:
    def too_big(conn: Connection) -> None:
        if conn.dialect.name == "sqlite":
            conn.execute(text("SELECT zeroblob(2000000000)"))  # SQLITE_TOOBIG
        else:
            conn.execute(text("SELECT 'a' || chr(0)"))  # 22 data exception

    assert type(_provoked(store, too_big)) is ValidationError


def test_nan_in_a_json_column_is_a_validation_error(store: SqlStore) -> None:
    def nan(conn: Connection) -> None:
        conn.execute(t.profiles.update().values(attributes={"x": float("nan")}))

    assert type(_provoked(store, nan)) is ValidationError


def test_lock_held_by_another_writer_is_busy(store: SqlStore) -> None:
    if store.dialect_name == "sqlite":
        path = store.url.database
        assert path is not None
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            waiting = sqlite3.connect(path, timeout=0.05, isolation_level=None)
            with pytest.raises(sqlite3.OperationalError) as caught:
                waiting.execute("BEGIN IMMEDIATE")
            waiting.close()
        finally:
            holder.rollback()
            holder.close()
        assert caught.value.sqlite_errorname == "SQLITE_BUSY"
        assert type(translate(caught.value)) is StoreBusyError
        return
    waiting_engine = create_engine(store.url)
    with store.engine.connect() as holder:
        holder.exec_driver_sql("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        try:
            with waiting_engine.connect() as conn:
                conn.exec_driver_sql("SET lock_timeout = '50ms'")
                with pytest.raises(Exception) as busy:
                    conn.exec_driver_sql("SELECT 1 FROM events")
        finally:
            holder.rollback()
            waiting_engine.dispose()
    assert type(translate(busy.value)) is StoreBusyError


def test_file_that_is_not_a_database_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "not.db"
    path.write_bytes(b"this is not a database file" * 200)
    with pytest.raises(sqlite3.DatabaseError) as caught:
        sqlite3.connect(path).execute("SELECT * FROM sqlite_master")
    assert caught.value.sqlite_errorname == "SQLITE_NOTADB"
    error = translate(caught.value)
    assert type(error) is StoreUnavailableError
    assert "corrupt" in str(error)


def test_file_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError) as caught:
        sqlite3.connect(tmp_path / "missing" / "dir" / "x.db")
    assert caught.value.sqlite_errorname == "SQLITE_CANTOPEN"
    assert type(translate(caught.value)) is StoreUnavailableError


def test_unreachable_server_is_unavailable() -> None:
    psycopg = pytest.importorskip("psycopg")
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect("host=127.0.0.1 port=1 connect_timeout=2")
    error = translate(caught.value)
    assert type(error) is StoreUnavailableError


def test_nan_in_an_appended_payload_is_refused_and_nothing_written(store: SqlStore) -> None:
    event = MemoryEvent(kind="note.taken", profile_id="p", payload={"x": float("nan")})
    with pytest.raises(ValidationError):
        store.events.append([event])
    with pytest.raises(ValidationError):
        store.events.append([event, MemoryEvent(kind="note.taken", profile_id="p")])
    assert store.events.last_position() == 0

"""Creating engines: SQLite pragmas, explicit transactions, PostgreSQL URLs.

On SQLite, pysqlite's own transaction handling is switched off
(``isolation_level = None``) and this module emits ``BEGIN`` itself from
SQLAlchemy's ``begin`` event: ``BEGIN IMMEDIATE`` for write transactions (so
two writers queue on the busy timeout instead of deadlocking on a lock
upgrade) and a plain ``BEGIN`` for reads (so a read sees one snapshot). DDL is
transactional that way too, which lets a migration run inside the write
transaction that holds the lock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

WRITE_OPTION = "phase_memory_write"
"""Execution option marking a connection whose transaction will write."""
AUTOCOMMIT_OPTION = "phase_memory_autocommit"
"""Execution option of a one-statement read: no BEGIN, the statement is its own transaction."""

Synchronous = Literal["normal", "full"]
JournalMode = Literal["wal", "delete"]

json_dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"))
"""How JSON columns are written: compact, UTF-8 text readable in ``sqlite3``."""


@dataclass(frozen=True)
class EngineSettings:
    """How to connect: SQLite pragmas and the reader/writer role."""

    busy_timeout: float = 5.0
    """Seconds a writer waits for another writer's lock before StoreBusyError."""
    synchronous: Synchronous = "normal"
    journal_mode: JournalMode = "wal"
    read_only: bool = False


def to_url(url_or_path: str | Path | URL) -> URL:
    """An SQLAlchemy URL for a URL string, a file path, or ``:memory:``."""
    if isinstance(url_or_path, URL):
        return url_or_path
    if isinstance(url_or_path, str):
        if url_or_path == ":memory:":
            return make_url("sqlite://")
        if "://" in url_or_path:
            return make_url(url_or_path)
    return URL.create("sqlite", database=str(Path(url_or_path).expanduser().absolute()))


def is_sqlite_memory(url: URL) -> bool:
    """Whether the URL names an in-memory SQLite database."""
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL (None for memory and non-SQLite URLs)."""
    if url.get_backend_name() != "sqlite" or is_sqlite_memory(url):
        return None
    database = url.database or ""
    if database.startswith("file:"):
        database = database[5:].split("?", 1)[0]
    return Path(database)


def make_engine(url: URL, settings: EngineSettings) -> Engine:
    """An engine for ``url`` with phase-memory's connection settings installed."""
    kwargs: dict[str, Any] = {"json_serializer": json_dumps}
    if url.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {
            "timeout": settings.busy_timeout,
            "check_same_thread": False,
        }
        if is_sqlite_memory(url):
            # One shared connection: every checkout sees the same memory database.
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)
        install_sqlite_listeners(engine, settings, in_memory=is_sqlite_memory(url))
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def install_sqlite_listeners(engine: Engine, settings: EngineSettings, *, in_memory: bool) -> None:
    """Pragmas on every new connection, and explicit ``BEGIN`` / ``BEGIN IMMEDIATE``."""
    pragmas = [
        f"PRAGMA busy_timeout = {int(settings.busy_timeout * 1000)}",
        "PRAGMA foreign_keys = ON",
        f"PRAGMA synchronous = {settings.synchronous.upper()}",
        "PRAGMA secure_delete = FAST",
    ]
    if not in_memory and not settings.read_only:
        pragmas.insert(1, f"PRAGMA journal_mode = {settings.journal_mode.upper()}")
    if settings.read_only:
        pragmas.append("PRAGMA query_only = ON")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Turn off pysqlite's implicit BEGIN; _on_begin below emits it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in pragmas:
                cursor.execute(pragma).fetchall()
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Straight on the driver connection: this runs for every transaction.
        options = conn.get_execution_options()
        if options.get(WRITE_OPTION, False):
            conn.connection.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
        elif not options.get(AUTOCOMMIT_OPTION, False):
            conn.connection.driver_connection.execute("BEGIN")  # type: ignore[union-attr]

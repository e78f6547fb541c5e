"""Creating engines: SQLite pragmas, explicit transactions, PostgreSQL URLs.

On SQLite, pysqlite's own transaction handling is switched off
(``isolation_level = None``) and this module emits ``BEGIN`` itself from
SQLAlchemy's ``begin`` event: ``BEGIN IMMEDIATE`` for write transactions (so
two writers queue on the busy timeout instead of deadlocking on a lock
upgrade) and a plain ``BEGIN`` for reads (so a read sees one snapshot). DDL is
transactional that way too, which lets a migration run inside the write
transaction that holds the lock.

On PostgreSQL (psycopg 3, which begins transactions implicitly) the same
``begin`` event makes the first statement of a write transaction take the
store's writer lock, and of a snapshot read ask for ``REPEATABLE READ`` (see
:func:`phase_memory.sql.dialect.begin_postgresql`); every new connection gets
``lock_timeout`` from the busy timeout, so a writer waits as long as it would
on SQLite and then raises StoreBusyError. The schema is the first one of the
connection's ``search_path``, which a URL sets with
``?options=-csearch_path%3Dmyschema``.
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from phase_memory.errors import StoreUnavailableError, ValidationError
from phase_memory.sql import dialect

WRITE_OPTION = "phase_memory_write"
"""Execution option marking a connection whose transaction will write."""
AUTOCOMMIT_OPTION = "phase_memory_autocommit"
"""Execution option of a one-statement read: no BEGIN, the statement is its own transaction."""

Synchronous = Literal["normal", "full"]
JournalMode = Literal["wal", "delete"]


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


SUPPORTED_URLS = "a file path, sqlite:///PATH, or postgresql+psycopg://USER@HOST/DB"
"""What :func:`phase_memory.open` accepts, as the errors about other URLs say."""

_SUPPORTED_DRIVERS = {"sqlite": ("pysqlite",), "postgresql": ("psycopg",)}
_EXTRAS = {"psycopg": "postgres"}


def check_supported(url: URL) -> None:
    """Refuse a URL of a database or driver phase-memory does not run on, saying what does.

    Raises ValidationError for another database or driver and
    StoreUnavailableError (naming the extra to install) when the driver of a
    supported one is missing.
    """
    backend, driver = url.get_backend_name(), url.get_driver_name()
    drivers = _SUPPORTED_DRIVERS.get(backend)
    shown = url.render_as_string(hide_password=True)
    if drivers is None or driver not in drivers:
        hint = (" (PostgreSQL is reached through psycopg 3: write postgresql+psycopg://)"
                if backend == "postgresql" else "")
        raise ValidationError(
            f"unsupported database URL {shown!r}: phase-memory opens {SUPPORTED_URLS}{hint}"
        )
    module = driver if driver != "pysqlite" else "sqlite3"
    try:
        found = importlib.util.find_spec(module) is not None
    except ValueError:  # sys.modules holds None for it: imports of it fail
        found = False
    if not found:
        extra = _EXTRAS.get(driver)
        install = (f"pip install 'phase-memory[{extra}]'" if extra
                   else f"install the {module} module")
        raise StoreUnavailableError(
            f"cannot open {shown!r}: the {module} driver is not installed; {install}"
        )


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


def read_only_url(url: URL, path: Path) -> URL:
    """The URL a read-only open of the SQLite file ``path`` (named by ``url``) uses.

    Where this process can write beside the file, ``url`` itself: SQLite keeps
    its shared-memory index (``-shm``) there and readers see a writer's commits
    as usual. On read-only media (a read-only mount, a container layer, a CD)
    or in a directory this process may not write, SQLite cannot create the
    ``-shm`` file and a plain open fails with "unable to open database file".
    Then: with a ``-shm`` file present, ``mode=ro`` (SQLite reads through it);
    without one, ``mode=ro&immutable=1``, which reads the file without locks or
    shared memory. Its caveat: SQLite then assumes nobody changes the file
    while it is open. On read-only media nobody can; in a directory someone
    else may write, a change made while this reader is open can go unseen or be
    read half-way. A ``-wal`` file holding commits cannot be read that way (they
    would be silently missing), so that case is refused, naming the fix.
    """
    database = url.database or ""
    if database.startswith("file:") or _can_write_beside(path):
        return url  # a URI the caller wrote is used as written
    shm = path.with_name(path.name + "-shm")
    wal = path.with_name(path.name + "-wal")
    if shm.exists():
        mode = "mode=ro"
    elif wal.exists() and wal.stat().st_size > 0:
        raise StoreUnavailableError(
            f"cannot read {path} here: its {wal.name} holds changes not yet in the "
            f"database file, and SQLite cannot read them where {shm.name} cannot be "
            "created; run `phase-memory db checkpoint` on a writable copy before shipping it"
        )
    else:
        mode = "mode=ro&immutable=1"
    return URL.create(
        "sqlite", database=f"file:{quote(str(path))}?{mode}", query={"uri": "true"}
    )


def _can_write_beside(path: Path) -> bool:
    """Whether SQLite could create its ``-shm`` file next to ``path``."""
    try:
        if os.statvfs(path.parent).f_flag & os.ST_RDONLY:
            return False
    except (OSError, AttributeError):  # no statvfs (Windows): ask about the directory only
        pass
    return os.access(path.parent, os.W_OK)


def make_engine(url: URL, settings: EngineSettings) -> Engine:
    """An engine for ``url`` with phase-memory's connection settings installed."""
    kwargs: dict[str, Any] = {
        "json_serializer": dialect.json_serializer(url.get_backend_name()),
        "json_deserializer": dialect.json_loads,
    }
    if url.get_backend_name() == "sqlite":
        # Named parameters (as psycopg's): the direct statements pass a dict on both.
        kwargs["paramstyle"] = "named"
        kwargs["connect_args"] = {
            "timeout": settings.busy_timeout,
            "check_same_thread": False,
        }
        if is_sqlite_memory(url):
            # One shared connection: every checkout sees the same memory database.
            kwargs["poolclass"] = StaticPool
        else:
            # Each thread keeps its own connections between calls (connections.py),
            # so the pool must never make a thread wait for one: no overflow limit.
            kwargs["max_overflow"] = -1
        engine = create_engine(url, **kwargs)
        install_sqlite_listeners(engine, settings, in_memory=is_sqlite_memory(url))
        return engine
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    if engine.dialect.name == dialect.POSTGRESQL:
        install_postgresql_listeners(engine, settings)
    return engine


def install_postgresql_listeners(engine: Engine, settings: EngineSettings) -> None:
    """``lock_timeout`` (and read-only) on every new connection; the writer lock on ``begin``."""
    statements = dialect.postgresql_session_settings(
        lock_timeout=settings.busy_timeout, read_only=settings.read_only
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            for statement in statements:
                cursor.execute(statement)
        finally:
            cursor.close()
        dbapi_connection.commit()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        write = bool(options.get(WRITE_OPTION, False))
        dialect.begin_postgresql(
            conn.connection.driver_connection,
            write=write,
            snapshot=not write and not options.get(AUTOCOMMIT_OPTION, False),
        )


def install_sqlite_listeners(engine: Engine, settings: EngineSettings, *, in_memory: bool) -> None:
    """Pragmas on every new connection, and an explicit ``BEGIN`` for snapshot reads."""
    pragmas = [
        f"PRAGMA busy_timeout = {int(settings.busy_timeout * 1000)}",
        "PRAGMA foreign_keys = ON",
        f"PRAGMA synchronous = {settings.synchronous.upper()}",
        # Freed pages are zero-filled, so no deleted or forgotten content stays in
        # the file (issue 22; the cost is measured in docs/review-gates.md).
        "PRAGMA secure_delete = ON",
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
                _run_pragma(cursor, pragma, settings.busy_timeout)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Straight on the driver connection: this runs for every transaction.
        # Write transactions send their BEGIN IMMEDIATE on the driver themselves
        # (connections.py): a Core statement inside one finds it open.
        driver = conn.connection.driver_connection
        if driver.in_transaction:  # type: ignore[union-attr]
            return
        if not conn.get_execution_options().get(AUTOCOMMIT_OPTION, False):
            driver.execute("BEGIN")  # type: ignore[union-attr]  # a snapshot read


def _run_pragma(cursor: Any, pragma: str, busy_timeout: float) -> None:
    """Run one pragma, waiting out "database is locked" up to the busy timeout.

    Switching a new file to WAL needs a lock for which SQLite does not call
    the busy handler, so two processes creating one database at once could
    see "locked" at once; wait for the other as any writer would.
    """
    deadline = time.monotonic() + busy_timeout
    delay = 0.005
    while True:
        try:
            cursor.execute(pragma).fetchall()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.1)

"""The SQL store: graph, event log and audit over one engine, with transactions.

Open one with :func:`open_sql_store` (a file path, an SQLAlchemy URL, or
``sqlite://`` for a private in-memory database).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from phase_memory.errors import StoreUnavailableError
from phase_memory.models import GraphSnapshot
from phase_memory.protocols import MalformedRow, StorageErasure, StoreCapabilities
from phase_memory.sql import dialect, migrate
from phase_memory.sql.audit import SqlAuditSink
from phase_memory.sql.connections import CLOSED, Connections, StoreTransaction
from phase_memory.sql.engine import (
    AUTOCOMMIT_OPTION,
    EngineSettings,
    JournalMode,
    Synchronous,
    check_supported,
    is_sqlite_memory,
    make_engine,
    read_only_url,
    sqlite_file,
    to_url,
)
from phase_memory.sql.errors import translated
from phase_memory.sql.event_log import SqlEventLog
from phase_memory.sql.free_pages import dirty_free_pages
from phase_memory.sql.graph_store import SqlGraphStore
from phase_memory.sql.row_check import readable_graph

SQLITE_HEADER = b"SQLite format 3\x00"


class SqlStore:
    """:class:`~phase_memory.protocols.MemoryStore` on SQLite or PostgreSQL.

    ``graph``, ``events`` and ``audit`` share one engine; store calls made
    inside :meth:`transaction` join it (per thread / asyncio task).
    """

    def __init__(self, engine: Engine, *, read_only: bool = False) -> None:
        self.engine = engine
        self.url = engine.url
        self.read_only = read_only
        in_memory = is_sqlite_memory(engine.url)
        self._db = Connections(engine, read_only=read_only, serialize=in_memory)
        self.graph = SqlGraphStore(self._db)
        self.events = SqlEventLog(self._db)
        self.audit = SqlAuditSink(self._db)
        name = engine.dialect.name
        extras = {name, "fts5" if name == "sqlite" else "tsvector"}
        if read_only:
            extras.add("read_only")
        self.capabilities = StoreCapabilities(
            durable=not in_memory,
            concurrent_processes=not in_memory,
            sql=True,
            extras=frozenset(extras),
        )
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (every call then raises StoreUnavailableError)."""
        return self._closed

    @property
    def dialect_name(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._db.dialect

    def transaction(self) -> AbstractContextManager[None]:
        """A write transaction: every store call inside commits or rolls back together.

        Nested use joins the outer transaction. On SQLite it starts with
        ``BEGIN IMMEDIATE``: it waits up to the busy timeout for another
        writer, then raises StoreBusyError.
        """
        return StoreTransaction(self._db, "transaction")

    def read_transaction(self) -> AbstractContextManager[None]:
        """A read-only transaction: every store read inside sees one state of the memory.

        Writers are not held up (SQLite's WAL snapshot; ``REPEATABLE READ`` on
        PostgreSQL). Inside :meth:`transaction` it joins the write transaction;
        nested use joins the outer one. Writing inside it raises
        StoreUnavailableError.
        """
        return self._db.read_transaction()

    def integrity_findings(self) -> list[str]:
        """SQLite ``integrity_check`` and ``foreign_key_check`` problems ([] when fine)."""
        if self._db.dialect != dialect.SQLITE:
            return []
        findings: list[str] = []
        with self._db.read("integrity check", snapshot=True) as conn:
            for (message,) in conn.exec_driver_sql("PRAGMA integrity_check"):
                if message != "ok":
                    findings.append(f"integrity_check: {message}")
            for table, rowid, parent, fk in conn.exec_driver_sql("PRAGMA foreign_key_check"):
                findings.append(
                    f"foreign_key_check: {table} row {rowid} refers to a missing "
                    f"{parent} row (foreign key {fk})"
                )
        return findings

    def readable_graph(self) -> tuple[GraphSnapshot, list[MalformedRow]]:
        """Every well-formed stored graph record, and where each malformed row is."""
        with self._db.read("read the graph row by row", snapshot=True) as conn:
            return readable_graph(conn, self.graph.plans_by_id)

    def revision(self) -> str | None:
        """The schema revision of the database."""
        with self._db.read("revision") as conn:
            return migrate.current_revision(conn)

    def optimize_search_index(self) -> None:
        """Merge the full-text index, so no erased term lingers in old index segments."""
        with self._db.write("optimize search index") as conn:
            dialect.optimize_search_index(conn)

    def checkpoint(self) -> None:
        """Checkpoint the WAL into the database file and truncate it (SQLite).

        Inside an open transaction it does nothing (a checkpoint cannot run in one).
        """
        if self._db.dialect == dialect.SQLITE and not self._db.in_transaction():
            self._raw("PRAGMA wal_checkpoint(TRUNCATE)", "checkpoint")

    def vacuum(self) -> int:
        """Rewrite the storage so no freed page or dead row version keeps old data.

        SQLite: ``VACUUM`` rebuilds the file. PostgreSQL: ``VACUUM FULL`` of
        every table of the store, which writes each table, its TOAST table and
        all its indexes (the GIN and trigram ones included) anew, so no dead
        row version of a forgotten node is left in a relation file. It holds
        an exclusive lock on each table while it runs. Row versions that a
        transaction open in the database may still see are kept by the server:
        returns how many such transactions there were (0 on SQLite).
        """
        if self._db.dialect == dialect.SQLITE:
            self._raw("VACUUM", "vacuum")
            return 0
        self._check_writable()
        with translated("vacuum"), self.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT", **{AUTOCOMMIT_OPTION: True})
            for statement in dialect.vacuum_statements(self._db.dialect):
                conn.exec_driver_sql(statement)
            return dialect.older_transactions(conn)

    def settle_erasure(self) -> StorageErasure:
        """After a forget commits: empty the write-ahead log, say what is left (see protocol).

        On SQLite every freed page is zero-filled as it is freed (``secure_delete``)
        and the forget merged the full-text index in its transaction; here the
        WAL, which still holds the pages as they were before, is checkpointed
        and truncated. On PostgreSQL earlier row versions stay in the table
        files until ``phase-memory db vacuum``.
        """
        if self._db.dialect != dialect.SQLITE:
            return StorageErasure(
                storage="PostgreSQL: rows rewritten; earlier row versions stay in the table "
                "files until `phase-memory db vacuum` (VACUUM FULL)",
                vacuum_required=True,
            )
        if self._db.in_transaction():
            # A caller's transaction is still open (the forget is not committed yet):
            # a checkpoint now would go through another connection, or end that
            # transaction on a one-connection pool. The caller settles after its commit.
            return StorageErasure(
                storage="SQLite: freed pages zero-filled (secure_delete), full-text index "
                "merged; the write-ahead log is checkpointed when the caller's "
                "transaction commits",
                wal_checkpointed=False,
            )
        busy, log, _ = self._raw("PRAGMA wal_checkpoint(TRUNCATE)", "checkpoint")[0]
        (free,) = self._raw("PRAGMA freelist_count", "checkpoint")[0]
        return StorageErasure(
            storage="SQLite: freed pages zero-filled (secure_delete), full-text index "
            "merged, write-ahead log checkpointed",
            pages_cleared=int(free),
            # -1: no write-ahead log (journal_mode=delete, or an in-memory database).
            wal_checkpointed=None if log == -1 else busy == 0,
        )

    def free_pages_holding_data(self) -> int | None:
        """How many free pages of the SQLite file still hold data; None when not a file.

        Reads the file (and its write-ahead log) as bytes: see
        :mod:`phase_memory.sql.free_pages`. PostgreSQL: None (the server's files
        are its own; ``db vacuum`` rewrites them).
        """
        if self._closed:
            raise StoreUnavailableError(CLOSED)
        path = sqlite_file(self.url)
        if path is None or not path.exists():
            return None
        try:
            return dirty_free_pages(path)
        except OSError as exc:
            raise StoreUnavailableError(f"cannot read {path}: {exc.strerror or exc}") from None

    def _check_writable(self) -> None:
        if self._closed:
            raise StoreUnavailableError(CLOSED)
        if self.read_only:
            raise StoreUnavailableError("the database is open read-only")

    def _raw(self, sql: str, where: str) -> list[tuple[Any, ...]]:
        # Outside any transaction (VACUUM and checkpoints cannot run in one).
        self._check_writable()
        with translated(where):
            raw = self.engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute(sql)
                rows_ = [tuple(row) for row in cursor.fetchall()]
                cursor.close()
            finally:
                raw.close()
        return rows_

    def close(self) -> None:
        """Release connections and files; every later call raises StoreUnavailableError."""
        if not self._closed:
            self._closed = True
            with translated("close"):
                self._db.close()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqlStore({self.url.render_as_string(hide_password=True)!r})"


def open_sql_store(
    url_or_path: str | Path | URL,
    *,
    read_only: bool = False,
    upgrade: bool = False,
    busy_timeout: float = 5.0,
    synchronous: Synchronous = "normal",
    journal_mode: JournalMode = "wal",
    create: bool = True,
) -> SqlStore:
    """Open (and, when new, create) a memory database.

    ``url_or_path`` is a file path, an SQLAlchemy URL (``sqlite:///...``,
    ``postgresql+psycopg://...``) or ``sqlite://`` / ``:memory:`` for a private
    in-memory database. On PostgreSQL the memory lives in the first existing
    schema of the connection's ``search_path``; pick one with
    ``?options=-csearch_path%3Dmyschema`` in the URL (see ``docs/postgres.md``).
    A database at an older schema revision raises
    SchemaVersionError unless ``upgrade=True`` (which backs the file up
    first); read-only opens never migrate. ``journal_mode="delete"`` is for
    file systems where WAL does not work (network file systems).
    """
    if synchronous not in ("normal", "full"):
        raise ValueError(f"synchronous must be 'normal' or 'full', not {synchronous!r}")
    if journal_mode not in ("wal", "delete"):
        raise ValueError(f"journal_mode must be 'wal' or 'delete', not {journal_mode!r}")
    with translated("open"):
        url = to_url(url_or_path)
    check_supported(url)
    path = sqlite_file(url)
    where = str(path) if path is not None else url.render_as_string(hide_password=True)
    if path is not None:
        _check_file(path, create=create and not read_only)
        if read_only:
            url = read_only_url(url, path)
    settings = EngineSettings(
        busy_timeout=busy_timeout,
        synchronous=synchronous,
        journal_mode=journal_mode,
        read_only=read_only,
    )
    with translated(where):
        engine = make_engine(url, settings)
    store = SqlStore(engine, read_only=read_only)
    try:
        _check_schema(store._db, where)
        migrate.prepare(store._db, upgrade=upgrade, where=where)
    except BaseException:
        store.close()
        raise
    return store


@contextmanager
def _unprepared(url_or_path: str | Path | URL, busy_timeout: float) -> Iterator[Connections]:
    """Connections to a database without the opening rules (for schema commands)."""
    with translated("open"):
        url = to_url(url_or_path)
    path = sqlite_file(url)
    if path is not None:
        _check_file(path, create=False)
    with translated("open"):
        engine = make_engine(url, EngineSettings(busy_timeout=busy_timeout))
    try:
        yield Connections(engine, serialize=is_sqlite_memory(url))
    finally:
        engine.dispose()


def upgrade_database(
    url_or_path: str | Path | URL, revision: str = "head", *, busy_timeout: float = 5.0
) -> str | None:
    """``phase-memory db upgrade``: migrate up (backing the file up first).

    Returns the backup's path, or None when there was nothing to do.
    """
    with _unprepared(url_or_path, busy_timeout) as connections:
        return migrate.upgrade_database(connections, revision)


def downgrade_database(
    url_or_path: str | Path | URL, revision: str, *, busy_timeout: float = 5.0
) -> str | None:
    """``phase-memory db downgrade REV``: migrate down (``base`` drops every table).

    The file is backed up first; returns the backup's path.
    """
    with _unprepared(url_or_path, busy_timeout) as connections:
        return migrate.downgrade_database(connections, revision)


def database_revision(url_or_path: str | Path | URL) -> tuple[str | None, str]:
    """``phase-memory db current``: the database's revision and this version's head."""
    with _unprepared(url_or_path, 5.0) as connections, connections.read("current") as conn:
        return migrate.current_revision(conn), migrate.head_revision()


def _check_schema(connections: Connections, where: str) -> None:
    """On PostgreSQL, refuse a ``search_path`` that names no existing schema."""
    if connections.dialect != dialect.POSTGRESQL:
        return
    with connections.read(where) as conn:
        if dialect.missing_schema(conn):
            raise StoreUnavailableError(
                f"{where}: no schema of the search_path exists; create it first "
                "(CREATE SCHEMA name) or name an existing one with "
                "?options=-csearch_path%3Dname"
            )


def _check_file(path: Path, *, create: bool) -> None:
    """Refuse paths that cannot be a SQLite database, with a one-line reason."""
    if path.is_dir():
        raise StoreUnavailableError(f"{path} is a directory, not a database file")
    if not path.exists():
        if not create:
            raise StoreUnavailableError(f"{path} does not exist")
        if not path.parent.is_dir():
            raise StoreUnavailableError(f"cannot create {path}: {path.parent} is not a directory")
        return
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreUnavailableError(f"cannot read {path}: {exc.strerror or exc}") from None
    if header and header != SQLITE_HEADER:
        raise StoreUnavailableError(f"{path} is not a SQLite database")


__all__ = [
    "SqlStore",
    "database_revision",
    "downgrade_database",
    "open_sql_store",
    "upgrade_database",
]

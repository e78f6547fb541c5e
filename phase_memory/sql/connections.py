"""Connections and transactions of one SQL store.

Every store method asks for a connection through :meth:`Connections.read` or
:meth:`Connections.write`. Inside :meth:`Connections.transaction` both hand
out the transaction's connection (kept in a context variable, so each thread
and each asyncio task has its own), which is how store calls join the
runtime's transaction; outside one, ``write`` runs its own short write
transaction and ``read`` a short read transaction (one snapshot).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import Connection, Engine

from phase_memory.errors import StoreUnavailableError
from phase_memory.sql.engine import WRITE_OPTION
from phase_memory.sql.errors import translated


class Connections:
    """The engine of a store and the transaction (if any) of the current context."""

    def __init__(self, engine: Engine, *, read_only: bool = False, serialize: bool = False) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.read_only = read_only
        self._current: ContextVar[Connection | None] = ContextVar(
            f"phase_memory_sql_{id(self)}", default=None
        )
        # An in-memory SQLite database is one shared connection: transactions
        # of different threads must take turns on it.
        self._lock: contextlib.AbstractContextManager[object] = (
            threading.RLock() if serialize else contextlib.nullcontext()
        )

    def in_transaction(self) -> bool:
        """Whether the current context is inside :meth:`transaction`."""
        return self._current.get() is not None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction; store calls inside it join it. Nested use joins too.

        An exception raised by the caller's block propagates unchanged after
        the rollback; errors of the database itself come out translated.
        """
        current = self._current.get()
        if current is not None:
            yield current
            return
        if self.read_only:
            raise StoreUnavailableError("the database is open read-only: writing is refused")
        with self._lock:
            with translated():
                conn = self.engine.connect()
                try:
                    conn.execution_options(**{WRITE_OPTION: True})
                    conn.begin()
                except BaseException:
                    conn.close()
                    raise
            token = self._current.set(conn)
            try:
                yield conn
            except BaseException:
                self._current.reset(token)
                _quietly_rollback(conn)
                raise
            self._current.reset(token)
            try:
                with translated():
                    conn.commit()
            except BaseException:
                _quietly_rollback(conn)
                raise
            finally:
                _quietly_close(conn)

    @contextmanager
    def write(self, where: str = "") -> Iterator[Connection]:
        """The current transaction's connection, or a new write transaction around the block."""
        with translated(where), self.transaction() as conn:
            yield conn

    @contextmanager
    def read(self, where: str = "") -> Iterator[Connection]:
        """The current transaction's connection, or a short read transaction (one snapshot)."""
        current = self._current.get()
        if current is not None:
            with translated(where):
                yield current
            return
        with self._lock, translated(where):
            conn = self.engine.connect()
            try:
                conn.begin()
                yield conn
            finally:
                _quietly_close(conn)


def _quietly_rollback(conn: Connection) -> None:
    with contextlib.suppress(Exception):
        conn.rollback()


def _quietly_close(conn: Connection) -> None:
    with contextlib.suppress(Exception):
        conn.close()

"""Connections and transactions of one SQL store.

Every store method asks for a connection through :meth:`Connections.read` or
:meth:`Connections.write`. Inside :meth:`Connections.transaction` both hand
out the transaction's connection (kept in a context variable, so each thread
and each asyncio task has its own), which is how store calls join the
runtime's transaction. Outside one, ``write`` runs its own short write
transaction; ``read`` runs a single statement on its own (SQLite gives one
statement one consistent view) or, with ``snapshot=True``, a short read
transaction so several statements see one snapshot.

The context managers are small classes rather than generators: they run on
every store call, and the runtime's hot path makes several per event.
"""

from __future__ import annotations

import contextlib
import threading
from contextvars import ContextVar, Token
from types import TracebackType

from sqlalchemy import Connection, Engine

from phase_memory.errors import StoreUnavailableError
from phase_memory.sql.engine import AUTOCOMMIT_OPTION, WRITE_OPTION
from phase_memory.sql.errors import is_translatable, translate

CLOSED = "the store is closed"
"""The message of the StoreUnavailableError every call on a closed store raises."""

_WRITE = {WRITE_OPTION: True}
_AUTOCOMMIT = {AUTOCOMMIT_OPTION: True}


class Connections:
    """The engine of a store and the transaction (if any) of the current context."""

    def __init__(self, engine: Engine, *, read_only: bool = False, serialize: bool = False) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.read_only = read_only
        self.closed = False
        """Set by :meth:`close`: every later call raises StoreUnavailableError."""
        self.current: ContextVar[Connection | None] = ContextVar(
            f"phase_memory_sql_{id(self)}", default=None
        )
        # An in-memory SQLite database is one shared connection: transactions
        # of different threads must take turns on it.
        self.lock: contextlib.AbstractContextManager[object] = (
            threading.RLock() if serialize else contextlib.nullcontext()
        )

    def close(self) -> None:
        """Refuse every later call and release the engine's connections."""
        self.closed = True
        self.engine.dispose()

    def in_transaction(self) -> bool:
        """Whether the current context is inside :meth:`transaction`."""
        return self.current.get() is not None

    def transaction(self) -> Transaction:
        """A write transaction; store calls inside it join it. Nested use joins too.

        An exception raised by the caller's block propagates unchanged after
        the rollback; errors of the database itself come out translated.
        """
        return Transaction(self, "")

    def write(self, where: str = "") -> Transaction:
        """The current transaction's connection, or a new write transaction around the block.

        Database errors raised inside the block come out translated.
        """
        return Transaction(self, where, translate_block=True)

    def read(self, where: str = "", *, snapshot: bool = False) -> Read:
        """The current transaction's connection, or a connection for a short read.

        With ``snapshot=True`` the read runs in a transaction, so every
        statement in the block sees the same snapshot.
        """
        return Read(self, where, snapshot)


class Transaction:
    """Context manager of :meth:`Connections.transaction` and :meth:`Connections.write`."""

    __slots__ = ("_conn", "_db", "_lock_held", "_token", "_translate", "_where")

    def __init__(self, db: Connections, where: str, *, translate_block: bool = False) -> None:
        self._db = db
        self._where = where
        self._translate = translate_block
        self._conn: Connection | None = None
        self._token: Token[Connection | None] | None = None
        self._lock_held = False

    def __enter__(self) -> Connection:
        db = self._db
        current = db.current.get()
        if current is not None:
            return current  # join the outer transaction
        if db.closed:
            raise StoreUnavailableError(CLOSED)
        if db.read_only:
            raise StoreUnavailableError("the database is open read-only: writing is refused")
        db.lock.__enter__()
        self._lock_held = True
        try:
            conn = db.engine.connect()
            try:
                conn.execution_options(**_WRITE)
                conn.begin()
            except BaseException:
                _quietly_close(conn)
                raise
        except BaseException as error:
            self._release_lock()
            if is_translatable(error):
                raise translate(error, self._where) from error
            raise
        self._conn = conn
        self._token = db.current.set(conn)
        return conn

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        conn = self._conn
        if conn is None:  # joined an outer transaction (or never started)
            if error is not None and self._translate and is_translatable(error):
                raise translate(error, self._where) from error
            return
        assert self._token is not None
        self._db.current.reset(self._token)
        try:
            if error is not None:
                _quietly_rollback(conn)
                if self._translate and is_translatable(error):
                    raise translate(error, self._where) from error
                return
            try:
                conn.commit()
            except BaseException as failure:
                _quietly_rollback(conn)
                if is_translatable(failure):
                    raise translate(failure, self._where) from failure
                raise
            return
        finally:
            _quietly_close(conn)
            self._conn = None
            self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_held:
            self._lock_held = False
            self._db.lock.__exit__(None, None, None)


class StoreTransaction(Transaction):
    """:meth:`MemoryStore.transaction`: a :class:`Transaction` that yields nothing."""

    __slots__ = ()

    def __enter__(self) -> None:  # type: ignore[override]
        super().__enter__()


class Read:
    """Context manager of :meth:`Connections.read`."""

    __slots__ = ("_conn", "_db", "_snapshot", "_where")

    def __init__(self, db: Connections, where: str, snapshot: bool) -> None:
        self._db = db
        self._where = where
        self._snapshot = snapshot
        self._conn: Connection | None = None

    def __enter__(self) -> Connection:
        db = self._db
        current = db.current.get()
        if current is not None:
            return current
        if db.closed:
            raise StoreUnavailableError(CLOSED)
        db.lock.__enter__()
        try:
            conn = db.engine.connect()
            if not self._snapshot:
                conn.execution_options(**_AUTOCOMMIT)
            conn.begin()
        except BaseException as error:
            db.lock.__exit__(None, None, None)
            if is_translatable(error):
                raise translate(error, self._where) from error
            raise
        self._conn = conn
        return conn

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        conn = self._conn
        if conn is not None:
            self._conn = None
            _quietly_close(conn)
            self._db.lock.__exit__(None, None, None)
        if error is not None and is_translatable(error):
            raise translate(error, self._where) from error


def _quietly_rollback(conn: Connection) -> None:
    with contextlib.suppress(Exception):
        conn.rollback()


def _quietly_close(conn: Connection) -> None:
    with contextlib.suppress(Exception):
        conn.close()

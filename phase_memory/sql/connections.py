"""Connections and transactions of one SQL store.

Every store method asks for a connection through :meth:`Connections.read` or
:meth:`Connections.write`. Inside :meth:`Connections.transaction` both hand
out the transaction's connection (kept in a context variable, so each thread
and each asyncio task has its own), which is how store calls join the
runtime's transaction. Outside one, ``write`` runs its own short write
transaction; ``read`` runs a single statement on its own (SQLite gives one
statement one consistent view) or, with ``snapshot=True``, a short read
transaction so several statements see one snapshot. Inside
:meth:`Connections.read_transaction` every ``read`` joins one such snapshot,
so a caller's several store reads see one state of the memory (and take one
connection, not one each).

The context managers are small classes rather than generators: they run on
every store call, and the runtime's hot path makes several per event. For the
same reason, on a SQLite file each thread keeps its connections between calls
(one per role: write, read, snapshot read) instead of checking one out of the
pool and building a new SQLAlchemy ``Connection`` every time, which cost
several times what SQLite needs to begin and commit; and on SQLite a write
transaction's ``BEGIN IMMEDIATE`` and ``COMMIT`` run on the driver connection
(SQLAlchemy's own begin and commit, with their event dispatch, cost more than
the statements: a LangGraph ``put`` pays one of each). A Core statement run
inside such a transaction still works: SQLAlchemy begins its own transaction
on the connection (the ``begin`` listener sees SQLite's is open and emits
nothing), and the transaction then ends through SQLAlchemy. A connection is taken
out of its slot while in use, so a nested call gets a connection of its own;
a thread's parked connections go back to the pool when the thread ends, and
:meth:`Connections.close` closes them all.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, Literal

from sqlalchemy import Connection, Engine

from phase_memory.errors import StoreUnavailableError
from phase_memory.protocols import WRITE_IN_READ_TRANSACTION
from phase_memory.sql.engine import AUTOCOMMIT_OPTION, WRITE_OPTION
from phase_memory.sql.errors import is_translatable, translate

CLOSED = "the store is closed"
"""The message of the StoreUnavailableError every call on a closed store raises."""

Role = Literal["write", "read", "snapshot"]
"""What a connection is for; each role has its own execution options (see engine.py)."""

_OPTIONS: dict[Role, dict[str, Any]] = {
    "write": {WRITE_OPTION: True},
    "read": {AUTOCOMMIT_OPTION: True},
    "snapshot": {},
}


class _Slots(dict[Role, Connection]):
    """One thread's idle connections by role (a dict that can be weakly referenced)."""


class _Parked(threading.local):
    """This thread's idle connections by role, and the process that opened them.

    Each thread's slots are registered once, when the thread first parks or
    takes a connection, so :meth:`Connections.close` can close every
    thread's idle connections without a lock on every call.
    """

    def __init__(
        self, registry: weakref.WeakValueDictionary[int, _Slots], lock: threading.Lock
    ) -> None:
        self.by_role = _Slots()
        self.pid = os.getpid()
        with lock:
            registry[id(self.by_role)] = self.by_role


class Connections:
    """The engine of a store and the transaction (if any) of the current context."""

    def __init__(self, engine: Engine, *, read_only: bool = False, serialize: bool = False) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.driver_transactions = self.dialect == "sqlite"
        """Whether write transactions begin and end on the driver connection (SQLite)."""
        self.read_only = read_only
        self.closed = False
        """Set by :meth:`close`: every later call raises StoreUnavailableError."""
        self.current: ContextVar[Connection | None] = ContextVar(
            f"phase_memory_sql_{id(self)}", default=None
        )
        self.reading: ContextVar[Connection | None] = ContextVar(
            f"phase_memory_sql_reading_{id(self)}", default=None
        )
        """The connection of the current context's read transaction, if any."""
        # An in-memory SQLite database is one shared connection: transactions
        # of different threads must take turns on it.
        self.lock: contextlib.AbstractContextManager[object] = (
            threading.RLock() if serialize else contextlib.nullcontext()
        )
        # Connections kept between calls: SQLite files only. An in-memory database
        # is one shared connection already, and a PostgreSQL connection checked
        # out of the pool is pinged first (a kept one could have gone stale).
        self._keep = self.dialect == "sqlite" and not serialize
        # Every thread's slots by id (a dict is not hashable: no WeakSet).
        self._every_slots: weakref.WeakValueDictionary[int, _Slots] = (
            weakref.WeakValueDictionary()
        )
        self._parked_lock = threading.Lock()
        self._parked = _Parked(self._every_slots, self._parked_lock)
        self._pid = os.getpid()

    def close(self) -> None:
        """Refuse every later call and release the engine's connections."""
        self.closed = True
        with self._parked_lock:
            every = list(self._every_slots.values())
        for slots in every:
            # A connection its thread takes meanwhile is closed when given back.
            for role in list(slots):
                conn = slots.pop(role, None)
                if conn is not None:
                    _quietly_close(conn)
        self.engine.dispose()

    def checkout(self, role: Role) -> Connection:
        """A connection for ``role``: this thread's parked one, or a new one."""
        if self._keep:
            parked = self._parked
            pid = os.getpid()
            if parked.pid != pid or self._pid != pid:
                self._forked(parked, pid)
            conn = parked.by_role.pop(role, None)
            if conn is not None and not conn.invalidated:
                return conn
        conn = self.engine.connect()
        options = _OPTIONS[role]
        if options:
            conn.execution_options(**options)
        return conn

    def checkin(self, role: Role, conn: Connection) -> None:
        """Give back a connection no longer in a transaction: parked for reuse, or closed."""
        parked = self._parked
        if (
            self._keep
            and not self.closed
            and role not in parked.by_role
            and parked.pid == os.getpid()
            and not conn.invalidated
            and not conn.in_transaction()
        ):
            parked.by_role[role] = conn
            return
        _quietly_close(conn)

    def _forked(self, parked: _Parked, pid: int) -> None:
        # A child process inherited the parent's connections: they are the
        # parent's to use and close. Forget them (without closing, as SQLAlchemy
        # advises for pools after fork) and open the child's own.
        parked.by_role.clear()
        parked.pid = pid
        with self._parked_lock:
            if self._pid != pid:
                self._pid = pid
                for slots in list(self._every_slots.values()):
                    slots.clear()
                self._every_slots.clear()
                self.engine.dispose(close=False)
            self._every_slots[id(parked.by_role)] = parked.by_role

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

    def read_transaction(self) -> ReadTransaction:
        """A read-only transaction: every ``read`` inside joins its one snapshot.

        Inside :meth:`transaction` it joins the write transaction instead;
        nested use joins the outer one. Writing inside it is refused.
        """
        return ReadTransaction(self)

    def read(self, where: str = "", *, snapshot: bool = False) -> Read:
        """The current transaction's connection, or a connection for a short read.

        With ``snapshot=True`` the read runs in a transaction, so every
        statement in the block sees the same snapshot.
        """
        return Read(self, where, snapshot)


class Transaction:
    """Context manager of :meth:`Connections.transaction` and :meth:`Connections.write`."""

    __slots__ = ("_conn", "_db", "_driver", "_lock_held", "_token", "_translate", "_where")

    def __init__(self, db: Connections, where: str, *, translate_block: bool = False) -> None:
        self._db = db
        self._where = where
        self._translate = translate_block
        self._conn: Connection | None = None
        self._driver: Any = None
        """The driver connection, when the transaction began on it (SQLite)."""
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
        if db.reading.get() is not None:
            raise StoreUnavailableError(WRITE_IN_READ_TRANSACTION)
        db.lock.__enter__()
        self._lock_held = True
        try:
            conn = db.checkout("write")
            try:
                if db.driver_transactions:
                    self._driver = conn.connection.driver_connection
                    self._driver.execute("BEGIN IMMEDIATE")
                else:
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
                if self._driver is None or conn.in_transaction():
                    conn.commit()  # SQLAlchemy's transaction (see the module)
                else:
                    self._driver.commit()
            except BaseException as failure:
                _quietly_rollback(conn)
                _quietly_close(conn)
                if is_translatable(failure):
                    raise translate(failure, self._where) from failure
                raise
            return
        finally:
            if not conn.closed:
                self._db.checkin("write", conn)
            self._conn = self._driver = None
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


class ReadTransaction:
    """Context manager of :meth:`Connections.read_transaction`."""

    __slots__ = ("_conn", "_db", "_token")

    def __init__(self, db: Connections) -> None:
        self._db = db
        self._conn: Connection | None = None
        self._token: Token[Connection | None] | None = None

    def __enter__(self) -> None:
        db = self._db
        if db.current.get() is not None or db.reading.get() is not None:
            return  # join the outer (write or read) transaction
        if db.closed:
            raise StoreUnavailableError(CLOSED)
        db.lock.__enter__()
        try:
            conn = db.checkout("snapshot")
            conn.begin()
        except BaseException as error:
            db.lock.__exit__(None, None, None)
            if is_translatable(error):
                raise translate(error, "read transaction") from error
            raise
        self._conn = conn
        self._token = db.reading.set(conn)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        conn = self._conn
        if conn is None:
            return
        assert self._token is not None
        self._db.reading.reset(self._token)
        self._conn = self._token = None
        try:
            conn.rollback()  # ends the snapshot; nothing was written
        except Exception:
            _quietly_close(conn)
        else:
            self._db.checkin("snapshot", conn)
        finally:
            self._db.lock.__exit__(None, None, None)
        if error is not None and is_translatable(error):
            raise translate(error, "read transaction") from error


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
        if current is None:
            current = db.reading.get()
        if current is not None:
            return current
        if db.closed:
            raise StoreUnavailableError(CLOSED)
        db.lock.__enter__()
        try:
            conn = db.checkout("snapshot" if self._snapshot else "read")
            if self._snapshot:
                conn.begin()
            # A one-statement read needs no BEGIN: SQLAlchemy's autobegin marks
            # the connection in use if a Core statement runs, without SQL.
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
            try:
                if conn.in_transaction():
                    conn.rollback()  # ends the snapshot; nothing was written
            except Exception:
                _quietly_close(conn)
            else:
                self._db.checkin("snapshot" if self._snapshot else "read", conn)
            finally:
                self._db.lock.__exit__(None, None, None)
        if error is not None and is_translatable(error):
            raise translate(error, self._where) from error


def _quietly_rollback(conn: Connection) -> None:
    with contextlib.suppress(Exception):
        if conn.in_transaction():
            conn.rollback()
        else:  # a write transaction begun on the driver (SQLite), or none
            conn.connection.driver_connection.rollback()  # type: ignore[union-attr]


def _quietly_close(conn: Connection) -> None:
    with contextlib.suppress(Exception):
        conn.close()

"""Translating SQLAlchemy, driver and row-parsing errors into phase-memory errors.

Every public method of the SQL adapter runs its database work inside
:func:`translated`, so no SQLAlchemy, ``sqlite3`` or psycopg exception escapes.
Errors that are already :class:`~phase_memory.errors.PhaseMemoryError` pass
through unchanged.

Database errors are told apart by code, never by message: ``sqlite3``'s
``sqlite_errorname`` (the extended result code, then its primary code) in
:data:`SQLITE_ERRORS`, and PostgreSQL's SQLSTATE (psycopg's ``sqlstate``, the
exact code, then its two-character class) in :data:`POSTGRESQL_ERRORS`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum

import pydantic
from sqlalchemy import exc as sa_exc

from phase_memory.errors import (
    ConflictError,
    IntegrityError,
    PhaseMemoryError,
    StoreBusyError,
    StoreUnavailableError,
    ValidationError,
)

ONE_ACTIVE_PATH = "uq_paths_one_active_per_tree"
"""The unique index that keeps one active path per conversation tree."""


class Failure(Enum):
    """What a database error means for the caller."""

    BUSY = "busy"
    CONSTRAINT = "constraint"
    BAD_VALUE = "bad value"
    READ_ONLY = "read-only"
    WRITE_FAILED = "write failed"
    CORRUPT = "corrupt"
    UNAVAILABLE = "unavailable"


SQLITE_ERRORS: dict[str, Failure] = {
    "SQLITE_BUSY": Failure.BUSY,
    "SQLITE_LOCKED": Failure.BUSY,
    "SQLITE_CONSTRAINT": Failure.CONSTRAINT,
    "SQLITE_TOOBIG": Failure.BAD_VALUE,
    "SQLITE_MISMATCH": Failure.BAD_VALUE,
    "SQLITE_READONLY": Failure.READ_ONLY,
    "SQLITE_FULL": Failure.WRITE_FAILED,
    "SQLITE_IOERR": Failure.WRITE_FAILED,
    "SQLITE_CORRUPT": Failure.CORRUPT,
    "SQLITE_NOTADB": Failure.CORRUPT,
    "SQLITE_CANTOPEN": Failure.UNAVAILABLE,
    "SQLITE_PERM": Failure.UNAVAILABLE,
    "SQLITE_AUTH": Failure.UNAVAILABLE,
}
"""SQLite result codes (extended or primary) and what they mean; others are unavailable."""

POSTGRESQL_ERRORS: dict[str, Failure] = {
    "40001": Failure.BUSY,  # serialization_failure
    "40P01": Failure.BUSY,  # deadlock_detected
    "55P03": Failure.BUSY,  # lock_not_available (lock_timeout)
    "57014": Failure.BUSY,  # query_canceled (statement_timeout)
    "23": Failure.CONSTRAINT,  # integrity constraint violation
    "22": Failure.BAD_VALUE,  # data exception (a NUL in text, a number out of range)
    "54": Failure.BAD_VALUE,  # program limit exceeded (a value too large to index)
    "25006": Failure.READ_ONLY,  # read_only_sql_transaction
    "53": Failure.WRITE_FAILED,  # insufficient resources (disk full, out of memory)
    "58030": Failure.WRITE_FAILED,  # io_error
    "XX001": Failure.CORRUPT,  # data_corrupted
    "XX002": Failure.CORRUPT,  # index_corrupted
}
"""PostgreSQL SQLSTATEs (exact, or their class) and what they mean; others are unavailable."""


def _sqlite_failure(error: sqlite3.Error) -> Failure | None:
    name = getattr(error, "sqlite_errorname", None)
    if not isinstance(name, str):
        return None  # raised by the sqlite3 module itself (a closed connection, ...)
    # An extended code is its primary code's name and a suffix: SQLITE_IOERR_WRITE.
    primary = "_".join(name.split("_", 2)[:2])
    return SQLITE_ERRORS.get(name) or SQLITE_ERRORS.get(primary) or Failure.UNAVAILABLE


def _postgresql_failure(state: str) -> Failure:
    return POSTGRESQL_ERRORS.get(state) or POSTGRESQL_ERRORS.get(state[:2]) or Failure.UNAVAILABLE


def _sqlstate(error: BaseException) -> str | None:
    diag = getattr(error, "diag", None)
    state = getattr(diag, "sqlstate", None) or getattr(error, "sqlstate", None)
    return state if isinstance(state, str) else None


def _constraint(error: BaseException) -> str:
    """The constraint a PostgreSQL error names, or the text SQLite gives (its columns)."""
    diag = getattr(error, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if isinstance(name, str):
        return name
    # SQLite names no constraint, only the columns ("UNIQUE constraint failed: paths.tree_id").
    return str(error)


def translate(error: BaseException, where: str = "") -> PhaseMemoryError:
    """The phase-memory error for a database or row-parsing exception."""
    prefix = f"{where}: " if where else ""
    if isinstance(error, PhaseMemoryError):
        return error
    if isinstance(error, pydantic.ValidationError):
        return StoreUnavailableError(f"{prefix}a stored record is malformed: {_first_line(error)}")
    original: BaseException = error
    if isinstance(error, sa_exc.StatementError) and error.orig is not None:
        original = error.orig
    if isinstance(original, UnicodeEncodeError):
        # Text with a lone surrogate (U+D800..U+DFFF) has no UTF-8 form: the
        # driver cannot send it, in a write or a lookup. Bad input; nothing written.
        return ValidationError(
            f"{prefix}text with no UTF-8 form (a lone surrogate) cannot be sent to "
            f"the database ({_first_line(original)})"
        )
    if isinstance(original, ValueError) and not isinstance(original, sqlite3.Error):
        # A parameter no column can hold (NaN in a JSON column).
        return ValidationError(f"{prefix}the value cannot be stored: {_first_line(original)}")
    failure: Failure | None = None
    if isinstance(original, sqlite3.Error):
        failure = _sqlite_failure(original)
    else:
        state = _sqlstate(original)
        if state is not None:
            failure = _postgresql_failure(state)
    if failure is None:
        # No code (the driver refused the value before sending it): the DB-API class.
        if isinstance(error, sa_exc.DataError) or isinstance(original, _DATA_ERRORS):
            failure = Failure.BAD_VALUE
        elif isinstance(error, sa_exc.IntegrityError) or isinstance(original, _INTEGRITY_ERRORS):
            failure = Failure.CONSTRAINT
        else:
            return StoreUnavailableError(f"{prefix}database error: {_first_line(original)}")
    return _MESSAGES[failure](prefix, original)


def _busy(prefix: str, error: BaseException) -> PhaseMemoryError:
    return StoreBusyError(
        f"{prefix}the database stayed locked by another writer past the busy timeout; "
        "try again or raise busy_timeout"
    )


def _constraint_failed(prefix: str, error: BaseException) -> PhaseMemoryError:
    constraint = _constraint(error)
    if ONE_ACTIVE_PATH in constraint or "paths.tree_id" in constraint:
        return ConflictError(f"{prefix}another path of this tree is already active")
    return IntegrityError(f"{prefix}the write breaks a reference or a constraint: {error}")


def _bad_value(prefix: str, error: BaseException) -> PhaseMemoryError:
    # The input cannot be stored as given; nothing was written.
    return ValidationError(f"{prefix}the value cannot be stored: {_first_line(error)}")


def _read_only(prefix: str, error: BaseException) -> PhaseMemoryError:
    # A store opened read_only refuses writes before they reach the database, so
    # this comes from the file system (or the server): the database cannot be written.
    return StoreUnavailableError(
        f"{prefix}the database is read-only: its file or directory cannot be written "
        f"({_first_line(error)})"
    )


def _write_failed(prefix: str, error: BaseException) -> PhaseMemoryError:
    name = getattr(error, "sqlite_errorname", None) or _sqlstate(error) or ""
    return StoreUnavailableError(
        f"{prefix}writing the database file failed ({_first_line(error)}"
        f"{', ' + name if name else ''}): is the disk full, or a file size limit reached?"
    )


def _corrupt(prefix: str, error: BaseException) -> PhaseMemoryError:
    return StoreUnavailableError(
        f"{prefix}the database file is corrupt ({_first_line(error)}); "
        "see `phase-memory doctor`, and restore it from a backup"
    )


def _unavailable(prefix: str, error: BaseException) -> PhaseMemoryError:
    return StoreUnavailableError(f"{prefix}the database cannot be used: {_first_line(error)}")


_MESSAGES: dict[Failure, Callable[[str, BaseException], PhaseMemoryError]] = {
    Failure.BUSY: _busy,
    Failure.CONSTRAINT: _constraint_failed,
    Failure.BAD_VALUE: _bad_value,
    Failure.READ_ONLY: _read_only,
    Failure.WRITE_FAILED: _write_failed,
    Failure.CORRUPT: _corrupt,
    Failure.UNAVAILABLE: _unavailable,
}


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


_TRANSLATED: tuple[type[BaseException], ...] = (
    sa_exc.SQLAlchemyError,
    sqlite3.Error,
    pydantic.ValidationError,
    UnicodeEncodeError,
)
_DATA_ERRORS: tuple[type[BaseException], ...] = (sqlite3.DataError,)
_INTEGRITY_ERRORS: tuple[type[BaseException], ...] = (sqlite3.IntegrityError,)
try:  # psycopg is optional (the postgres extra)
    import psycopg
except ImportError:  # pragma: no cover - without the extra
    pass
else:
    _TRANSLATED = (*_TRANSLATED, psycopg.Error)
    _DATA_ERRORS = (*_DATA_ERRORS, psycopg.DataError)
    _INTEGRITY_ERRORS = (*_INTEGRITY_ERRORS, psycopg.IntegrityError)


@contextmanager
def translated(where: str = "") -> Iterator[None]:
    """Raise phase-memory errors instead of database and row-parsing errors."""
    try:
        yield
    except _TRANSLATED as error:
        raise translate(error, where) from error


def is_translatable(error: BaseException) -> bool:
    """Whether :func:`translated` would translate ``error``."""
    return isinstance(error, _TRANSLATED)

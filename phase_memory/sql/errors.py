"""Translating SQLAlchemy, driver and row-parsing errors into phase-memory errors.

Every public method of the SQL adapter runs its database work inside
:func:`translated`, so no SQLAlchemy, ``sqlite3`` or psycopg exception escapes.
Errors that are already :class:`~phase_memory.errors.PhaseMemoryError` pass
through unchanged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

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

_BUSY = ("database is locked", "database is busy", "database table is locked")
_UNAVAILABLE = (
    "file is not a database",
    "database disk image is malformed",
    "unable to open database",
    "disk i/o error",
    "no such table",
    "no such column",
    "readonly database",
    "read-only",
)
# SQLite result codes of a write the file system refused (EFBIG, ENOSPC, EIO).
_WRITE_FAILED = frozenset(
    {"SQLITE_FULL", "SQLITE_IOERR_WRITE", "SQLITE_IOERR_FSYNC", "SQLITE_IOERR_TRUNCATE",
     "SQLITE_IOERR_SHMSIZE", "SQLITE_IOERR_DIR_FSYNC"}
)
# PostgreSQL SQLSTATE classes: 40 transaction rollback (serialization,
# deadlock), 55P03 lock not available, 57 operator intervention, 08 connection.
_PG_BUSY = ("40001", "40P01", "55P03")


def _sqlstate(error: BaseException | None) -> str | None:
    return getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)


def translate(error: BaseException, where: str = "") -> PhaseMemoryError:
    """The phase-memory error for a database or row-parsing exception."""
    prefix = f"{where}: " if where else ""
    if isinstance(error, PhaseMemoryError):
        return error
    if isinstance(error, pydantic.ValidationError):
        return StoreUnavailableError(f"{prefix}a stored record is malformed: {_first_line(error)}")
    if isinstance(error, UnicodeEncodeError):
        # Text with a lone surrogate (U+D800..U+DFFF) has no UTF-8 form: the
        # driver cannot send it. Bad input, and nothing was written.
        return ValidationError(
            f"{prefix}the value cannot be stored: text must be valid Unicode "
            f"({_first_line(error)})"
        )
    original: BaseException = error
    if isinstance(error, sa_exc.DBAPIError) and error.orig is not None:
        original = error.orig
    message = str(original).lower()
    state = _sqlstate(original)
    if state in _PG_BUSY or any(text in message for text in _BUSY):
        return StoreBusyError(
            f"{prefix}the database stayed locked by another writer past the busy timeout; "
            "try again or raise busy_timeout"
        )
    if isinstance(error, sa_exc.DataError) or (state or "").startswith("22"):
        # Class 22, data exception: the input cannot be stored as given (a NUL
        # character in PostgreSQL text, a number out of range). Nothing was written.
        return ValidationError(f"{prefix}the value cannot be stored: {_first_line(original)}")
    if isinstance(error, sa_exc.IntegrityError) or isinstance(original, sqlite3.IntegrityError):
        if "uq_paths_one_active_per_tree" in message or "paths.tree_id" in message:
            return ConflictError(f"{prefix}another path of this tree is already active")
        return IntegrityError(f"{prefix}the write breaks a reference or a constraint: {original}")
    if "readonly" in message or "read-only" in message or "query_only" in message:
        # A store opened read_only refuses writes before they reach SQLite, so this
        # comes from the file system: the file (or its directory) cannot be written.
        return StoreUnavailableError(
            f"{prefix}the database is read-only: its file or directory cannot be written "
            f"({_first_line(original)})"
        )
    name = getattr(original, "sqlite_errorname", "") or ""
    if name in _WRITE_FAILED or "disk is full" in message:
        return StoreUnavailableError(
            f"{prefix}writing the database file failed ({_first_line(original)}"
            f"{', ' + name if name else ''}): is the disk full, or a file size limit reached?"
        )
    if "malformed" in message or name == "SQLITE_CORRUPT":
        return StoreUnavailableError(
            f"{prefix}the database file is corrupt ({_first_line(original)}); "
            "see `phase-memory doctor`, and restore it from a backup"
        )
    if any(text in message for text in _UNAVAILABLE) or (state or "").startswith(("08", "57")):
        return StoreUnavailableError(
            f"{prefix}the database cannot be used: {_first_line(original)}"
        )
    return StoreUnavailableError(f"{prefix}database error: {_first_line(original)}")


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


_TRANSLATED: tuple[type[BaseException], ...] = (
    sa_exc.SQLAlchemyError,
    sqlite3.Error,
    pydantic.ValidationError,
    UnicodeEncodeError,
)
try:  # psycopg is optional (the postgres extra)
    import psycopg
except ImportError:  # pragma: no cover - without the extra
    pass
else:
    _TRANSLATED = (*_TRANSLATED, psycopg.Error)


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

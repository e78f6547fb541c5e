"""``pm.open``: the one place that picks a concrete adapter for a target."""

from __future__ import annotations

import os
from typing import Literal

from phase_memory.errors import ValidationError
from phase_memory.memory import InMemoryStore
from phase_memory.runtime.runtime import PhaseMemoryRuntime
from phase_memory.sql import open_sql_store

MEMORY_TARGET = ":memory:"


def open(
    target: str | os.PathLike[str] = "phase-memory.db",
    *,
    read_only: bool = False,
    upgrade: bool = False,
    busy_timeout: float = 5.0,
    synchronous: Literal["normal", "full"] = "normal",
    journal_mode: Literal["wal", "delete"] = "wal",
    actor: str = "system",
) -> PhaseMemoryRuntime:
    """Open a memory: a file path, an SQLAlchemy URL, or ``":memory:"``.

    ``":memory:"`` uses the in-memory adapters. A file path or ``sqlite:///``
    URL opens (creating if needed) an SQLite database; ``postgresql+psycopg://``
    URLs open PostgreSQL (install ``phase-memory[postgres]``), in the first
    schema of the connection's ``search_path``: add
    ``?options=-csearch_path%3Dmyschema`` to the URL to pick one (it must
    exist; see ``docs/postgres.md``). An existing database at an older schema revision is
    refused with :class:`~phase_memory.errors.SchemaVersionError` unless
    ``upgrade=True`` (which first copies the file to a backup beside it).
    ``busy_timeout`` is in seconds; ``synchronous="full"`` makes every commit
    durable across power loss on SQLite, at some cost in write speed.
    """
    if synchronous not in ("normal", "full"):
        raise ValidationError(f"synchronous must be 'normal' or 'full', not {synchronous!r}")
    if journal_mode not in ("wal", "delete"):
        raise ValidationError(f"journal_mode must be 'wal' or 'delete', not {journal_mode!r}")
    if not busy_timeout >= 0:
        raise ValidationError(f"busy_timeout must be >= 0 seconds, not {busy_timeout!r}")
    if os.fspath(target) == MEMORY_TARGET:
        return PhaseMemoryRuntime(InMemoryStore(), actor=actor)
    store = open_sql_store(
        os.fspath(target),
        read_only=read_only,
        upgrade=upgrade,
        busy_timeout=busy_timeout,
        synchronous=synchronous,
        journal_mode=journal_mode,
    )
    return PhaseMemoryRuntime(store, actor=actor)

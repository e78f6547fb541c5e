"""Database files for the two sides of a workload.

One empty database is made by ``pm.open`` (the Alembic migrations: tables,
indexes, foreign keys, the FTS5 index and its triggers, the views) and
checkpointed. Every measurement then starts from a *copy* of that file: the
phase-memory side opens its copy with ``pm.open``, the raw side opens its copy
with ``sqlite3`` and the library's own connection settings. The schema is
therefore identical by construction, down to the triggers that keep the
full-text index in step.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmarks import data

SIDE_FILES = ("", "-wal", "-shm", "-journal")


def remove_db(path: Path) -> None:
    for suffix in SIDE_FILES:
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def make_template(path: Path) -> Path:
    """An empty database at the library's head revision, with its WAL folded in."""
    import phase_memory as pm

    remove_db(path)
    pm.open(path).close()
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def copy_db(source: Path, target: Path) -> Path:
    """A copy of a (checkpointed, closed) database file."""
    remove_db(target)
    shutil.copyfile(source, target)
    return target


def raw_connect(path: Path | str, *, synchronous: str = "NORMAL") -> sqlite3.Connection:
    """``sqlite3`` with the connection settings ``pm.open`` uses.

    Autocommit mode (transactions are explicit ``BEGIN IMMEDIATE``/``COMMIT``),
    WAL, ``synchronous=NORMAL``, foreign keys on, ``secure_delete`` on, 5 s busy timeout.
    """
    conn = sqlite3.connect(path, isolation_level=None, timeout=5.0, check_same_thread=False)
    for pragma in (
        "PRAGMA busy_timeout = 5000",
        "PRAGMA journal_mode = WAL",
        "PRAGMA foreign_keys = ON",
        f"PRAGMA synchronous = {synchronous}",
        "PRAGMA secure_delete = ON",
    ):
        conn.execute(pragma).fetchall()
    return conn


def peer_connect(path: Path | str) -> sqlite3.Connection:
    """:func:`raw_connect` for a peer library's own tables: its journal and sync settings.

    ``secure_delete`` back at SQLite's default: zero-filling freed pages is
    phase-memory's promise (forgetting leaves nothing), not the peer's.
    """
    conn = raw_connect(path)
    conn.execute("PRAGMA secure_delete = OFF").fetchall()
    return conn


def checkpoint(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.close()


def insert_graph(
    path: Path,
    nodes: Iterable[dict[str, Any]],
    edges: Iterable[dict[str, Any]],
) -> None:
    """Fill a library-made database with the benchmark profile, nodes and edges (fast, raw).

    Used to build read-only fixtures (lookups, export, activation); the
    writing workloads measure their inserts themselves.
    """
    conn = raw_connect(path, synchronous="OFF")
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(data.INSERT_PROFILE, data.profile_row(data.profile()))
        conn.executemany(data.INSERT_NODE, map(data.node_row, nodes))
        conn.executemany(data.INSERT_EDGE, map(data.edge_row, edges))
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.close()

"""Raw-byte scans of a memory's files, to prove that forgotten strings left the disk.

A forgotten string may survive below the rows: on freed pages, in old full-text
index segments, in the write-ahead log, in dead row versions. These helpers read
every file of a memory as bytes and look for a secret in each form a database
may hold it: UTF-8, UTF-16 (both byte orders), JSON with ``\\uXXXX`` escapes,
and, for the full-text index, its single words as the tokenizer stores them
(lower-cased). Case is ignored for ASCII letters.

- :func:`sqlite_files` lists a SQLite memory's files (database, ``-wal``,
  ``-shm``, ``-journal``);
- :func:`postgres_relation_files` lists the data files of every relation
  (tables, TOAST tables, indexes) of a PostgreSQL memory's schema, when the
  server's data directory is readable from here (None otherwise);
- :func:`memory_files` picks the right one for a store;
- :func:`scan` reports which files hold which secret, in which form.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text

from phase_memory.protocols import MemoryStore

MIN_WORD_LENGTH = 4
"""Shorter words of a secret are not looked for alone (they occur by chance in ids)."""


@dataclass(frozen=True)
class Trace:
    """One form of one secret found in one file."""

    file: Path
    secret: str
    form: str

    def __str__(self) -> str:
        return f"{self.file}: {self.form} form of {self.secret[:40]!r}"


def encoded_forms(secret: str, *, words: bool = True) -> dict[str, bytes]:
    """The byte strings ``secret`` may be stored as, by form name (lower-cased ASCII).

    With ``words``, each word of at least :data:`MIN_WORD_LENGTH` characters
    is a form of its own (a full-text index stores words, not the whole text).
    """
    forms = {
        "utf-8": secret.encode("utf-8"),
        "utf-16-le": secret.encode("utf-16-le"),
        "utf-16-be": secret.encode("utf-16-be"),
        "json-escaped": json.dumps(secret, ensure_ascii=True)[1:-1].encode("ascii"),
    }
    if words:
        for word in re.findall(r"\w+", secret):
            if len(word) >= MIN_WORD_LENGTH and word != secret:
                forms[f"word {word!r}"] = word.encode("utf-8")
    return {name: value.lower() for name, value in forms.items() if value}


def scan(files: Iterable[Path], secrets: Sequence[str], *, words: bool = True) -> list[Trace]:
    """Every (file, secret, form) where a form of a secret occurs in a file's raw bytes."""
    found: list[Trace] = []
    needles = [
        (s, name, form) for s in secrets for name, form in encoded_forms(s, words=words).items()
    ]
    for file in files:
        try:
            data = file.read_bytes().lower()
        except FileNotFoundError:
            continue  # a -wal or -shm removed meanwhile holds nothing
        found.extend(Trace(file, s, name) for s, name, form in needles if form in data)
    return found


def sqlite_files(database: Path) -> list[Path]:
    """The files of a SQLite memory that exist: the database, ``-wal``, ``-shm``, ``-journal``."""
    suffixes = ("-wal", "-shm", "-journal")
    candidates = [database, *(database.with_name(database.name + s) for s in suffixes)]
    return [p for p in candidates if p.exists()]


_RELATIONS = text(
    """
    SELECT pg_relation_filepath(c.oid)
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i', 'm')
    UNION
    SELECT pg_relation_filepath(c.reltoastrelid)
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.reltoastrelid <> 0
    UNION
    SELECT pg_relation_filepath(i.indexrelid)
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_index i ON i.indrelid = c.reltoastrelid
    WHERE n.nspname = current_schema() AND c.reltoastrelid <> 0
    """
)


def postgres_relation_files(conn: Connection) -> list[Path] | None:
    """Data files (every segment and fork) of the relations of the connection's schema.

    Runs ``CHECKPOINT`` first so what the server holds in its buffers is on
    disk. None when the data directory cannot be read from this process (a
    remote server, or no permission): the caller should skip with that reason.
    """
    try:
        conn.execute(text("CHECKPOINT"))
        data_directory = Path(str(conn.execute(text("SHOW data_directory")).scalar_one()))
        relative = [str(p) for (p,) in conn.execute(_RELATIONS) if p is not None]
    except Exception:
        return None
    if not data_directory.is_dir():
        return None
    files: list[Path] = []
    for rel in relative:
        base = data_directory / rel
        try:
            files.extend(sorted(base.parent.glob(base.name + "*")))
        except OSError:
            return None
    try:
        for file in files[:1]:
            file.read_bytes()
    except OSError:
        return None
    return files


_OLDER_SNAPSHOTS = text(
    """
    SELECT count(*) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
      AND backend_xmin IS NOT NULL AND xact_start < :since
    """
)


def wait_for_older_snapshots(store: MemoryStore, *, timeout: float = 120.0) -> bool:
    """PostgreSQL: wait until no other session's transaction began before now.

    ``VACUUM FULL`` keeps row versions that a transaction still open in the
    database may see (on a shared server: anyone's), so a test proving that
    ``db vacuum`` removes them first waits for those transactions to end.
    True when none is left (at once on other stores), False after ``timeout``.
    """
    engine = getattr(store, "engine", None)
    if engine is None or engine.dialect.name != "postgresql":
        return True
    deadline = time.monotonic() + timeout
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        since = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
        while conn.execute(_OLDER_SNAPSHOTS, {"since": since}).scalar_one():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
    return True


def memory_files(store: MemoryStore) -> list[Path] | None:
    """Every file holding ``store``'s data, or None when they cannot be listed or read."""
    url = getattr(store, "url", None)
    engine = getattr(store, "engine", None)
    if url is None or engine is None:
        return None
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return None
        return sqlite_files(Path(url.database))
    if url.get_backend_name() == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            return postgres_relation_files(conn)
    return None


__all__ = [
    "MIN_WORD_LENGTH",
    "Trace",
    "encoded_forms",
    "memory_files",
    "postgres_relation_files",
    "scan",
    "sqlite_files",
    "wait_for_older_snapshots",
]

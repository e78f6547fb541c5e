"""Schema versions: creating, checking, upgrading and downgrading a database.

Alembic owns the schema; this module drives it through its Python API. The
migrations are found beside the installed package: ``phase_memory/_migrations``
in a wheel (``pyproject.toml`` force-includes ``migrations/`` and
``alembic.ini`` there), else the repository's ``migrations/`` next to the package.

Opening rules (:func:`prepare`):

- an empty database is created at the head revision, under the write lock;
- a database at the head revision is used as it is;
- an older revision is refused with :class:`SchemaVersionError` unless the
  caller asked to upgrade; upgrading first copies the file to
  ``<name>.bak-<revision>`` (SQLite backup API);
- a revision this version does not know is refused for writing, naming both;
- read-only opens never migrate.

Every migration runs inside one write transaction holding the migration lock
(``BEGIN IMMEDIATE`` on SQLite, ``pg_advisory_xact_lock`` on PostgreSQL), so
processes opening a database at the same time do not race.
"""

from __future__ import annotations

import io
import os
import sqlite3
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, inspect

from phase_memory.durable_files import fsync_directory
from phase_memory.errors import SchemaVersionError, StoreUnavailableError, ValidationError
from phase_memory.models import AuditOutcome, AuditRecord
from phase_memory.models.ids import new_id, utc_now
from phase_memory.sql import dialect, rows
from phase_memory.sql import tables as t
from phase_memory.sql.connections import Connections
from phase_memory.sql.engine import sqlite_file
from phase_memory.sql.errors import translated

UPGRADE_HINT = "run `phase-memory db upgrade` (or open it with upgrade=True)"

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Revision:
    """One migration of the history."""

    revision: str
    down_revision: str | None
    doc: str
    is_head: bool


def migrations_dir() -> Path:
    """Where the migration scripts are: inside the wheel, else in the repository."""
    for candidate in (_PACKAGE_DIR / "_migrations", _PACKAGE_DIR.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise StoreUnavailableError(
        "phase-memory's migrations are missing from this installation "
        f"(looked in {_PACKAGE_DIR / '_migrations'} and {_PACKAGE_DIR.parent / 'migrations'})"
    )


def alembic_ini() -> Path | None:
    """The ``alembic.ini`` shipped beside the migrations, if any."""
    directory = migrations_dir()
    for candidate in (directory / "alembic.ini", directory.parent / "alembic.ini"):
        if candidate.is_file():
            return candidate
    return None


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for the packaged migrations, optionally bound to ``connection``."""
    ini = alembic_ini()
    config = Config(str(ini) if ini is not None else None, stdout=io.StringIO())
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _scripts() -> ScriptDirectory:
    return _scripts_in(str(migrations_dir()))


@cache
def _scripts_in(directory: str) -> ScriptDirectory:
    config = alembic_config()
    config.set_main_option("script_location", directory)
    return ScriptDirectory.from_config(config)


def head_revision() -> str:
    """The newest revision this version of phase-memory knows."""
    head = _scripts().get_current_head()
    if head is None:  # pragma: no cover - the baseline always exists
        raise StoreUnavailableError("no migrations found")
    return head


def known_revisions() -> set[str]:
    """Every revision this version of phase-memory knows."""
    return {script.revision for script in _scripts().walk_revisions()}


def history() -> list[Revision]:
    """The migrations, newest first."""
    head = head_revision()
    result = []
    for script in _scripts().walk_revisions():
        down = script.down_revision
        result.append(
            Revision(
                revision=script.revision,
                down_revision=down if isinstance(down, str) or down is None else ",".join(down),
                doc=(script.doc or "").strip(),
                is_head=script.revision == head,
            )
        )
    return result


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at (None for a database Alembic never touched)."""
    return MigrationContext.configure(conn).get_current_revision()


def _has_foreign_tables(conn: Connection) -> bool:
    names = set(inspect(conn).get_table_names()) - {"alembic_version"}
    return bool(names)


def _check_known(current: str, where: str) -> None:
    head = head_revision()
    if current not in known_revisions():
        raise SchemaVersionError(
            f"{where} is at schema revision {current}, which this version of phase-memory "
            f"does not know (its newest is {head}); upgrade phase-memory to use it"
        )


def prepare(
    connections: Connections, *, upgrade: bool = False, where: str = "the database"
) -> str | None:
    """Make sure the database is at the head revision, following the opening rules.

    Returns the path of the backup taken before an upgrade, if any.
    """
    head = head_revision()
    with connections.read(where) as conn:
        current = current_revision(conn)
        foreign = current is None and _has_foreign_tables(conn)
    if current == head:
        return None
    if foreign:
        raise StoreUnavailableError(f"{where} is a database, but not a phase-memory one")
    if connections.read_only:
        if current is None:
            raise StoreUnavailableError(
                f"{where} holds no phase-memory schema yet; open it for writing once to create it"
            )
        if current not in known_revisions():
            return None  # newer than this version: reading is allowed, writing is not
        raise SchemaVersionError(
            f"{where} is at schema revision {current}, older than {head}; {UPGRADE_HINT}"
        )
    with connections.transaction() as conn, translated(where):
        dialect.lock_schema(conn)
        current = current_revision(conn)  # again, under the lock
        if current == head:
            return None
        if current is None:
            if _has_foreign_tables(conn):
                raise StoreUnavailableError(f"{where} is a database, but not a phase-memory one")
            command.upgrade(alembic_config(conn), "head")
            return None
        _check_known(current, where)
        if not upgrade:
            raise SchemaVersionError(
                f"{where} is at schema revision {current}, older than {head}; {UPGRADE_HINT}"
            )
        backup = backup_copy(connections.engine, current)
        command.upgrade(alembic_config(conn), "head")
        _audit_migration(conn, current, head, backup)
        return None if backup is None else str(backup)


def upgrade_database(connections: Connections, revision: str = "head") -> str | None:
    """Upgrade to ``revision`` (default: head), backing the file up first.

    Returns the backup's path (None for a database without a file, or when
    nothing had to change).
    """
    return _move(connections, revision, up=True)


def downgrade_database(connections: Connections, revision: str) -> str | None:
    """Downgrade to ``revision`` (``base`` drops everything), backing the file up first."""
    return _move(connections, revision, up=False)


def _move(connections: Connections, revision: str, *, up: bool) -> str | None:
    where = "the database"
    with connections.transaction() as conn, translated(where):
        dialect.lock_schema(conn)
        current = current_revision(conn)
        if current is not None:
            _check_known(current, where)
        target = head_revision() if revision == "head" else revision
        if current == target or (current is None and target == "base"):
            return None
        if target != "base" and target not in known_revisions():
            raise ValidationError(f"unknown schema revision {revision!r}")
        backup = backup_copy(connections.engine, current or "base")
        config = alembic_config(conn)
        try:
            if up:
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)
        except CommandError as exc:
            raise ValidationError(f"cannot move to revision {revision!r}: {exc}") from None
        after = current_revision(conn)
        if after is not None:
            _audit_migration(conn, current or "base", after, backup)
        return None if backup is None else str(backup)


def backup_copy(engine: Engine, revision: str) -> Path | None:
    """Copy a SQLite database file to ``<name>.bak-<revision>`` (numbered if taken).

    The copy is made under a temporary name and renamed into place once whole
    and synced, so a process killed while backing up never leaves a partial
    file under a backup's name. (Callers hold the migration lock, so one
    temporary name per database is enough; a leftover of a killed run is
    removed first.)
    """
    path = sqlite_file(engine.url)
    if path is None or not path.exists():
        return None
    target = path.with_name(f"{path.name}.bak-{revision}")
    number = 1
    while target.exists():
        number += 1
        target = path.with_name(f"{path.name}.bak-{revision}.{number}")
    partial = path.with_name(f".{path.name}.bak-partial")
    for leftover in (partial, partial.with_name(partial.name + "-journal")):
        leftover.unlink(missing_ok=True)
    source = sqlite3.connect(str(path))
    try:
        copy = sqlite3.connect(str(partial))
        try:
            source.backup(copy)
            # One self-contained file: no -wal / -shm beside the copy.
            copy.execute("PRAGMA journal_mode = DELETE").fetchall()
        finally:
            copy.close()
    finally:
        source.close()
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, target)
    fsync_directory(target.parent)
    return target


def _audit_migration(conn: Connection, before: str, after: str, backup: Path | None) -> None:
    record = AuditRecord(
        id=new_id(),
        at=utc_now(),
        operation="db.migrate",
        subject_ids=[],
        outcome=AuditOutcome.MIGRATED,
        details={"from": before, "to": after, "backup": None if backup is None else str(backup)},
    )
    conn.execute(t.audit_records.insert(), [rows.audit_row(record)])

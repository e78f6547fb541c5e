"""The global options and opening the memory database they name."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

import phase_memory as pm
from phase_memory.cli.errors import CliError

DEFAULT_DB = "phase-memory.db"
"""The database used when neither ``--db`` nor ``PHASE_MEMORY_DB`` names one."""
ENV_DB = "PHASE_MEMORY_DB"
MEMORY = ":memory:"
CLI_ACTOR = "cli"


@dataclass(frozen=True)
class CliState:
    """What the global options say: which database, and whether to show tracebacks."""

    db: str = DEFAULT_DB
    debug: bool = False

    @property
    def file(self) -> Path | None:
        """The SQLite file ``db`` names (None for ``:memory:`` and server URLs)."""
        return database_file(self.db)

    @property
    def shown(self) -> str:
        """The database as messages name it."""
        file = self.file
        if file is None:
            if "://" in self.db:
                try:
                    return make_url(self.db).render_as_string(hide_password=True)
                except ArgumentError:
                    return self.db
            return self.db
        if file.is_absolute() or file.parent != Path():
            return str(file)
        return f"./{file}"


def database_file(target: str) -> Path | None:
    """The SQLite file a ``--db`` value names, or None for ``:memory:`` and other URLs."""
    if target == MEMORY:
        return None
    if "://" not in target:
        return Path(target).expanduser()
    try:
        url = make_url(target)
    except ArgumentError as exc:
        raise CliError(f"--db {target!r} is not a valid database URL") from exc
    if url.get_backend_name() != "sqlite" or url.database in (None, "", MEMORY):
        return None
    database = url.database
    if database.startswith("file:"):
        database = database[5:].split("?", 1)[0]
    return Path(database)


def state_of(ctx: typer.Context) -> CliState:
    """The global options of this invocation."""
    root = ctx.find_root()
    obj = root.obj
    return obj if isinstance(obj, CliState) else CliState()


def open_memory(
    ctx: typer.Context, *, create: bool = False, read_only: bool = False
) -> pm.PhaseMemoryRuntime:
    """Open the database of ``--db``.

    Unless ``create``, a database file that does not exist is an error (rather
    than silently creating an empty one); a directory is always an error.
    """
    state = state_of(ctx)
    file = state.file
    if file is not None:
        if file.is_dir():
            raise CliError(f"{state.shown} is a directory, not a memory database (see --db)")
        if not file.exists() and not create:
            raise CliError(
                f"no memory database at {state.shown}; create one with `phase-memory init` "
                f"(or `phase-memory demo`), or name another with --db or {ENV_DB}"
            )
    return pm.open(state.db, read_only=read_only, actor=CLI_ACTOR)


def env_db() -> str | None:
    """The database named by the environment, if any."""
    return os.environ.get(ENV_DB) or None

"""``db upgrade | downgrade | current | history | checkpoint | vacuum``: schema and upkeep.
"""

from __future__ import annotations

from typing import Annotated

import typer

from phase_memory.cli.context import MEMORY, database_file, state_of
from phase_memory.cli.errors import CliError
from phase_memory.cli.options import JsonDocument, JsonLines
from phase_memory.cli.output import print_json, print_jsonl, say, table
from phase_memory.sql import (
    database_revision,
    downgrade_database,
    migration_history,
    open_sql_store,
    upgrade_database,
)

app = typer.Typer(
    help="Schema migrations (Alembic) and SQLite maintenance.", no_args_is_help=True
)


def _target(ctx: typer.Context) -> str:
    state = state_of(ctx)
    if state.db == MEMORY:
        raise CliError("--db :memory: has no schema to manage; name a database file or URL")
    return state.db


@app.command("current")
def current(
    ctx: typer.Context,
    as_json: JsonDocument = False,
) -> None:
    """The database's schema revision, and the newest this version knows."""
    target = _target(ctx)
    revision, head = database_revision(target)
    known = revision is None or any(r.revision == revision for r in migration_history())
    if as_json:
        print_json({"revision": revision, "head": head, "up_to_date": revision == head,
                    "known": known})
        return
    if revision is None:
        say(f"{state_of(ctx).shown}: no phase-memory schema yet (newest is {head})")
    elif revision == head:
        say(f"{revision} (head)")
    elif not known:
        # `db upgrade` would refuse: only a newer phase-memory can move this database.
        say(f"{revision} (newer than this version of phase-memory, whose newest is {head}; "
            "upgrade phase-memory to write to it: pip install -U phase-memory)")
    else:
        say(f"{revision} (newest is {head}; run `phase-memory db upgrade`)")


@app.command("history")
def history(
    ctx: typer.Context,
    as_json: JsonLines = False,
) -> None:
    """The migrations this version knows, newest first."""
    revisions = migration_history()
    if as_json:
        print_jsonl(
            {
                "revision": r.revision,
                "down_revision": r.down_revision,
                "doc": r.doc,
                "head": r.is_head,
            }
            for r in revisions
        )
        return
    table(
        "Migrations",
        ["revision", "down revision", "description"],
        (
            [r.revision + (" (head)" if r.is_head else ""), r.down_revision or "-", r.doc]
            for r in revisions
        ),
    )


@app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    revision: Annotated[
        str, typer.Argument(metavar="[REV]", help="Target revision (default: head).")
    ] = "head",
) -> None:
    """Upgrade the schema (a backup copy of the file is taken first)."""
    target = _target(ctx)
    before, _ = database_revision(target)
    backup = upgrade_database(target, revision)
    after, _ = database_revision(target)
    if before == after:
        say(f"Already at {after}; nothing to do")
        return
    say(f"Upgraded {before or 'base'} -> {after}")
    if backup:
        say(f"Backup of the previous file: {backup}")


@app.command("downgrade")
def downgrade(
    ctx: typer.Context,
    revision: Annotated[
        str, typer.Argument(metavar="REV", help="Target revision ('base' removes everything).")
    ],
) -> None:
    """Downgrade the schema to REV (a backup copy of the file is taken first)."""
    target = _target(ctx)
    before, _ = database_revision(target)
    backup = downgrade_database(target, revision)
    after, _ = database_revision(target)
    if before == after:
        say(f"Already at {after or 'base'}; nothing to do")
        return
    say(f"Downgraded {before or 'base'} -> {after or 'base'}")
    if backup:
        say(f"Backup of the previous file: {backup}")


@app.command("checkpoint")
def checkpoint(ctx: typer.Context) -> None:
    """Checkpoint the write-ahead log into the database file and truncate it (SQLite)."""
    with open_sql_store(_target(ctx), create=False) as store:
        if store.dialect_name != "sqlite":
            say(f"Nothing to checkpoint on {store.dialect_name}")
            return
        store.checkpoint()
    say("Checkpointed the write-ahead log")


@app.command("vacuum")
def vacuum(ctx: typer.Context) -> None:
    """Rewrite the storage so no freed or dead data stays on disk.

    SQLite: VACUUM (a new file, free pages returned). PostgreSQL: VACUUM FULL
    of every table of the memory (tables, TOAST and indexes written anew), which
    completes a forget's erasure on disk; it locks each table while it runs.
    """
    target = _target(ctx)
    file = database_file(target)
    size = file.stat().st_size if file is not None and file.exists() else None
    with open_sql_store(target, create=False) as store:
        older = store.vacuum()
        if store.dialect_name != "sqlite":
            say(f"Vacuumed (VACUUM FULL of every table) on {store.dialect_name}")
            if older:
                say(f"warning: {older} other transaction(s) were open in the database; the "
                    "row versions they may see were kept: run `phase-memory db vacuum` "
                    "again once they have ended")
            return
    after = file.stat().st_size if file is not None and file.exists() else None
    if size is not None and after is not None:
        say(f"Vacuumed: {size:,} -> {after:,} bytes")
    else:
        say("Vacuumed")

"""``audit list``: every durable change and every refusal."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from phase_memory.cli.context import open_memory
from phase_memory.cli.options import JsonLines
from phase_memory.cli.output import print_jsonl, short, table, when
from phase_memory.models import AuditOutcome

app = typer.Typer(help="The audit trail.", no_args_is_help=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    operation: Annotated[
        str | None, typer.Option("--operation", metavar="NAME", help="Only this operation.")
    ] = None,
    outcome: Annotated[
        AuditOutcome | None, typer.Option("--outcome", help="Only this outcome.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", metavar="N", min=1, help="At most N records.")
    ] = None,
    as_json: JsonLines = False,
) -> None:
    """List audit records in the order they were written."""
    with open_memory(ctx, read_only=True) as mem:
        records = mem.audit.list(operation=operation, outcome=outcome, limit=limit)
    if as_json:
        print_jsonl(records)
        return
    table(
        "Audit records",
        ["at", "actor", "operation", "outcome", "subjects", "details"],
        (
            [
                when(r.at),
                r.actor,
                r.operation,
                r.outcome.value,
                short(", ".join(r.subject_ids), 40),
                short(json.dumps(r.details, sort_keys=True, ensure_ascii=False), 50),
            ]
            for r in records
        ),
    )

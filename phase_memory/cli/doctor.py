"""``doctor``: what is broken in the database, and how to fix it."""

from __future__ import annotations

from typing import Annotated

import typer

from phase_memory.cli.context import open_memory
from phase_memory.cli.options import JsonDocument
from phase_memory.cli.output import print_json, say, table


def doctor(
    ctx: typer.Context,
    as_json: JsonDocument = False,
    forgotten: Annotated[
        str | None,
        typer.Option(
            "--forgotten", metavar="ID",
            help="Only verify that the forget of node ID left nothing behind.",
        ),
    ] = None,
) -> None:
    """Check the database: broken references, drift, forgotten leftovers, SQLite integrity.

    With ``--forgotten ID``, verify one forget again: the node row, its edges,
    stored plans, every event naming it, and the forget's certificate.
    Exit status 0 when clean (remarks of severity ``info`` allowed), 1 when
    errors or warnings are found.
    """
    with open_memory(ctx, read_only=True) as mem:
        report = mem.diagnose() if forgotten is None else mem.verify_forgotten(forgotten)
    if as_json:
        print_json({"ok": report.ok, **report.model_dump(mode="json")})
    elif not report.findings:
        say(f"doctor: no problems found ({len(report.checks)} checks)")
    else:
        problems = sum(1 for f in report.findings if f.severity != "info")
        title = f"doctor: {problems} problem(s)" if problems else "doctor: no problems, remarks"
        table(
            title,
            ["severity", "code", "where", "problem", "suggested fix"],
            (
                [f.severity, f.code, f.location, f.message, f.suggested_fix]
                for f in report.findings
            ),
        )
    if not report.ok:
        raise typer.Exit(1)

"""``doctor``: what is broken in the database, and how to fix it."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from phase_memory.cli._context import open_memory
from phase_memory.cli._output import jsonable, print_json, say, table


def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check the database: broken references, drift, forgotten leftovers, SQLite integrity.

    Exit status 0 when clean, 1 when problems are found.
    """
    with open_memory(ctx, read_only=True) as mem:
        report = mem.diagnose()
    findings: list[Any] = list(getattr(report, "findings", None) or [])
    if as_json:
        print_json(report)
    elif not findings:
        say("doctor: no problems found")
    else:
        table(
            f"doctor: {len(findings)} problem(s)",
            ["severity", "check", "where", "problem", "fix"],
            (
                [
                    _get(f, "severity"),
                    _get(f, "code"),
                    _get(f, "location"),
                    _get(f, "message"),
                    _get(f, "suggested_fix"),
                ]
                for f in findings
            ),
        )
    if findings:
        raise typer.Exit(1)


def _get(finding: Any, name: str) -> str:
    value = jsonable(getattr(finding, name, ""))
    return "" if value is None else str(value)

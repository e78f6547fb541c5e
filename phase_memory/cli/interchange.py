"""``import`` and ``export``: envelope JSON, events JSONL, workspace directories, MCP memory."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

import phase_memory as pm
from phase_memory.cli._context import MEMORY, open_memory, state_of
from phase_memory.cli._errors import CliError, CliUsageError
from phase_memory.cli._options import JsonDocument
from phase_memory.cli._output import counted, print_json, say, table
from phase_memory.errors import ImportProblem, ImportValidationError
from phase_memory.interchange import (
    AUDIT,
    ENVELOPE,
    EVENTS,
    MCP_MEMORY,
    WORKSPACE,
    detect_format,
    import_path,
)
from phase_memory.interchange.results import ExportResult, ImportResult


class ExportFormat(StrEnum):
    """What ``export`` writes."""

    envelope = ENVELOPE
    events = EVENTS
    workspace = WORKSPACE


def import_(
    ctx: typer.Context,
    source: Annotated[
        Path,
        typer.Argument(
            metavar="PATH",
            help="Envelope .json, events .jsonl, MCP memory.jsonl or a workspace directory.",
        ),
    ],
    check: Annotated[
        bool, typer.Option("--check", help="Validate and report; write nothing.")
    ] = False,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            metavar="ID",
            help='Profile for formats that name none (MCP memory.jsonl); default "default".',
        ),
    ] = None,
    as_json: JsonDocument = False,
) -> None:
    """Import a file or directory, all or nothing; the format is detected by its shape.

    The whole input is validated first: any problem and nothing is written
    (every problem is listed, with file, line and field).
    """
    try:
        kind = detect_format(source)
    except ImportValidationError as exc:
        raise CliError(f"{source}: {exc.problems[0].reason}") from exc
    if profile is not None and kind != MCP_MEMORY:
        raise CliUsageError(
            f"--profile applies to MCP memory.jsonl only; {source} is {_article(kind)} "
            "and names its own profiles"
        )
    state = state_of(ctx)
    file = state.file
    against_empty = check and file is not None and not file.exists()
    try:
        # A check of an import into a database that does not exist yet is made
        # against an empty memory, and creates no file.
        with (pm.open(MEMORY) if against_empty else open_memory(ctx, create=True)) as mem:
            result = import_path(mem, source, profile_id=profile, check_only=check)
    except ImportValidationError as exc:
        _report_problems(exc.problems, as_json, source, kind, check)
        raise CliError(str(exc)) from exc
    if result.problems:
        _report_problems(result.problems, as_json, source, kind, check)
        raise CliError(
            f"{source} has {len(result.problems)} problem(s); nothing was imported"
        )
    if as_json:
        print_json(result)
        return
    _say_import(result)


def _article(kind: str) -> str:
    names = {
        ENVELOPE: "a graph envelope",
        EVENTS: "an events file",
        AUDIT: "an audit file",
        WORKSPACE: "a workspace",
        MCP_MEMORY: "an MCP memory file",
    }
    return names.get(kind, kind)


def _say_import(result: ImportResult) -> None:
    what = _article(result.format)
    if result.check_only:
        say(f"{result.source} is {what} and valid: {counted(result.counts)} (nothing written)")
    else:
        say(f"Imported {what} from {result.source}: {counted(result.counts)}")


def _report_problems(
    problems: tuple[ImportProblem, ...] | list[ImportProblem],
    as_json: bool,
    source: Path,
    kind: str,
    check: bool,
) -> None:
    if as_json:
        print_json(
            {
                "format": kind,
                "source": str(source),
                "check_only": check,
                "problems": [
                    {
                        "file": p.file,
                        "line": p.line,
                        "pointer": p.pointer,
                        "field": p.field,
                        "reason": p.reason,
                    }
                    for p in problems
                ],
            }
        )
        return
    table(
        "Problems",
        ["file", "line", "where", "field", "reason"],
        ([p.file, p.line or "", p.pointer or "", p.field, p.reason] for p in problems),
    )


def export(
    ctx: typer.Context,
    target: Annotated[
        Path, typer.Argument(metavar="PATH", help="The file (or directory, for a workspace).")
    ],
    export_format: Annotated[
        ExportFormat | None,
        typer.Option(
            "--format",
            help="What to write (default: events for a .jsonl PATH, else envelope).",
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option("--profile", metavar="ID", help="Only this profile (envelope only)."),
    ] = None,
    as_json: JsonDocument = False,
) -> None:
    """Export the memory: a graph envelope, the events as JSONL, or a workspace directory.

    Files are written to a temporary name and renamed into place, so a crash
    never leaves half an export; the same memory always gives the same bytes.
    """
    chosen = export_format or (
        ExportFormat.events if target.suffix == ".jsonl" else ExportFormat.envelope
    )
    if profile is not None and chosen is not ExportFormat.envelope:
        raise CliUsageError("--profile applies to --format envelope only")
    with open_memory(ctx) as mem:
        result: ExportResult
        if chosen is ExportFormat.envelope:
            result = mem.export_envelope(target, profile_id=profile)
        elif chosen is ExportFormat.events:
            result = mem.export_events(target)
        else:
            result = mem.export_workspace(target)
    if as_json:
        print_json(result)
        return
    say(f"Exported {_article(result.format)} to {result.target}: {counted(result.counts)}")

"""``import`` and ``export``: envelope JSON, events JSONL, workspace directories, MCP memory."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

import phase_memory as pm
from phase_memory.cli.context import MEMORY, open_memory, state_of
from phase_memory.cli.errors import CliError, CliUsageError
from phase_memory.cli.options import JsonDocument
from phase_memory.cli.output import counted, print_json, progress_bar, say, table
from phase_memory.errors import ImportProblem, ImportValidationError
from phase_memory.interchange import (
    AUDIT,
    ENVELOPE,
    EVENTS,
    MCP_MEMORY,
    WORKSPACE,
    detect_format,
)
from phase_memory.interchange.results import ExportResult, ImportResult


class ExportFormat(StrEnum):
    """What ``export`` writes."""

    envelope = ENVELOPE
    events = EVENTS
    workspace = WORKSPACE
    mcp = "mcp"


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
    sync: Annotated[
        bool,
        typer.Option(
            "--sync",
            help="MCP memory.jsonl: make the profile follow the file (add, update, archive "
            "what is gone); a second run writes nothing.",
        ),
    ] = False,
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid",
            help="MCP memory.jsonl: import the valid lines and list the others with the reason.",
        ),
    ] = False,
    as_json: JsonDocument = False,
) -> None:
    """Import a file or directory, all or nothing; the format is detected by its shape.

    The whole input is validated first: any problem and nothing is written
    (every problem is listed, with file, line and field). An MCP memory.jsonl
    can instead be synced (--sync) or imported without its invalid lines
    (--skip-invalid); see docs/mcp-memory.md.
    """
    try:
        kind = detect_format(source)
    except ImportValidationError as exc:
        raise CliError(f"{source}: {exc.problems[0].reason}") from exc
    if kind != MCP_MEMORY:
        for given, option in ((profile is not None, "--profile"), (sync, "--sync"),
                              (skip_invalid, "--skip-invalid")):
            if given:
                raise CliUsageError(
                    f"{option} applies to MCP memory.jsonl only; {source} is "
                    f"{_article(kind)}" + (" and names its own profiles"
                                           if option == "--profile" else "")
                )
    state = state_of(ctx)
    file = state.file
    against_empty = check and file is not None and not file.exists()
    try:
        # A check of an import into a database that does not exist yet is made
        # against an empty memory, and creates no file.
        with (
            pm.open(MEMORY) if against_empty else open_memory(ctx, create=True)
        ) as mem, progress_bar() as bar:
            result = mem.import_path(
                source, profile_id=profile, mode="sync" if sync else "strict",
                skip_invalid=skip_invalid, check_only=check, progress=bar,
            )
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
    if result.skipped:
        table(
            "Skipped",
            ["line", "field", "reason"],
            ([p.line or "", p.field, p.reason] for p in result.skipped),
        )


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
    if "nodes_added" in result.counts:  # an MCP sync
        changes = _sync_changes(result.counts)
        if result.check_only:
            say(f"Checked a sync with {result.source}: {changes} (nothing written)")
        else:
            say(f"Synced with {result.source}: {changes}")
        return
    if result.check_only:
        say(f"{result.source} is {what} and valid: {counted(result.counts)} (nothing written)")
    else:
        say(f"Imported {what} from {result.source}: {counted(result.counts)}")


def _sync_changes(counts: dict[str, int]) -> str:
    """``nodes_added: 2, edges_removed: 1`` as ``2 nodes added, 1 edge removed``."""
    shown = []
    for key, number in counts.items():
        records, _, change = key.partition("_")
        if number and change != "unchanged":
            shown.append(f"{number} {records[:-1] if number == 1 else records} {change}")
    return ", ".join(shown) if shown else "nothing changed"


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
        typer.Option(
            "--profile",
            metavar="ID",
            help='Only this profile (envelope); the profile to write (mcp, default "default").',
        ),
    ] = None,
    as_json: JsonDocument = False,
) -> None:
    """Export the memory: a graph envelope, the events as JSONL, a workspace directory,
    or one profile as the MCP memory server's memory.jsonl (--format mcp).

    Files are written to a temporary name and renamed into place, so a crash
    never leaves half an export; the same memory always gives the same bytes.
    """
    chosen = export_format or (
        ExportFormat.events if target.suffix == ".jsonl" else ExportFormat.envelope
    )
    if profile is not None and chosen not in (ExportFormat.envelope, ExportFormat.mcp):
        raise CliUsageError("--profile applies to --format envelope and --format mcp only")
    with open_memory(ctx) as mem, progress_bar() as bar:
        result: ExportResult
        if chosen is ExportFormat.envelope:
            result = mem.export_envelope(target, profile_id=profile, progress=bar)
        elif chosen is ExportFormat.events:
            result = mem.export_events(target, progress=bar)
        elif chosen is ExportFormat.mcp:
            result = mem.export_mcp_memory(target, profile_id=profile or "default", progress=bar)
        else:
            result = mem.export_workspace(target, progress=bar)
    if as_json:
        print_json(result)
        return
    say(f"Exported {_article(result.format)} to {result.target}: {counted(result.counts)}")

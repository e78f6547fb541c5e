"""``events append | list | replay``: the append-only log."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from phase_memory.cli.context import open_memory
from phase_memory.cli.errors import CliError
from phase_memory.cli.options import JsonDocument, JsonLines
from phase_memory.cli.output import (
    event_summary,
    plain,
    print_json,
    print_jsonl,
    progress,
    say,
    table,
    when,
)
from phase_memory.errors import ImportValidationError

app = typer.Typer(
    help="The append-only event log: append, list, replay.", no_args_is_help=True
)


@app.command("append")
def append(
    ctx: typer.Context,
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE", help="JSON Lines, one event per line ('-' reads standard input)."
        ),
    ],
    check: Annotated[
        bool, typer.Option("--check", help="Validate and report; append nothing.")
    ] = False,
    as_json: JsonLines = False,
) -> None:
    """Append events (and apply their graph effects), all or nothing.

    Each line is an event: ``kind``, ``profile_id`` and ``payload`` at least;
    ``event_id`` and ``occurred_at`` are generated when omitted, and
    ``position`` is assigned by the log. Every line is validated first: one bad
    line and nothing is written.
    """
    if file == "-":
        with tempfile.TemporaryDirectory(prefix="phase-memory-") as directory:
            source = Path(directory) / "stdin.jsonl"
            source.write_text(sys.stdin.read(), encoding="utf-8")
            _append(ctx, source, "<stdin>", check, as_json)
        return
    source = Path(file)
    if not source.is_file():
        raise CliError(f"{file} is not a file" if source.exists() else f"{file} does not exist")
    _append(ctx, source, file, check, as_json)


def _append(ctx: typer.Context, source: Path, name: str, check: bool, as_json: bool) -> None:
    with source.open(encoding="utf-8", errors="replace") as handle:
        if not any(line.strip() for line in handle):
            raise CliError(f"{name} holds no events")
    with open_memory(ctx, create=not check) as mem:
        before = mem.events.last_position()
        try:
            result = mem.import_events(source, check_only=check)
        except ImportValidationError as exc:
            raise CliError(str(exc).replace(str(source), name)) from exc
        if result.problems:
            raise CliError(str(ImportValidationError(result.problems)).replace(str(source), name))
        appended = [] if check else mem.events.list(after=before)
    count = result.counts.get("events", 0)
    if check:
        say(f"{name} is valid: {count} event(s) (nothing appended)")
    elif as_json:
        print_jsonl(appended)
    else:
        first, last = appended[0].position, appended[-1].position
        say(f"Appended {len(appended)} event(s) at positions {first}..{last}")


@app.command("list")
def list_(
    ctx: typer.Context,
    profile: Annotated[
        str | None, typer.Option("--profile", metavar="ID", help="Only this profile's events.")
    ] = None,
    path: Annotated[
        str | None,
        typer.Option("--path", metavar="ID", help="Only events recorded in this path."),
    ] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", metavar="KIND", help="Only events of this kind (repeatable)."),
    ] = None,
    after: Annotated[
        int | None, typer.Option("--after", metavar="N", help="Only events after position N.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", metavar="N", min=1, help="At most N events.")
    ] = None,
    as_json: JsonLines = False,
) -> None:
    """List events in position order."""
    with open_memory(ctx, read_only=True) as mem:
        found = mem.events.list(
            profile_id=profile, kinds=kind or None, path_id=path, after=after, limit=limit
        )
    if as_json:
        print_jsonl(found)
        return
    table(
        "Events",
        ["pos", "kind", "profile", "path", "occurred", "what"],
        (
            [
                e.position,
                e.kind,
                e.profile_id,
                e.path_id or "",
                when(e.occurred_at),
                event_summary(e.payload),
            ]
            for e in found
        ),
    )


@app.command("replay")
def replay(
    ctx: typer.Context,
    until: Annotated[
        int | None,
        typer.Option("--until", metavar="N", min=0, help="Replay up to position N (time travel)."),
    ] = None,
    path: Annotated[
        str | None,
        typer.Option("--path", metavar="ID", help="Only this path's effective history."),
    ] = None,
    snapshot: Annotated[
        bool,
        typer.Option("--snapshot", help="With --json, include the whole snapshot."),
    ] = False,
    as_json: JsonDocument = False,
) -> None:
    """Fold the log into a graph snapshot and report what replay did."""
    with open_memory(ctx, read_only=True) as mem, progress("replaying"):
        if path is not None:
            mem.paths.get(path)  # a clear NotFoundError for a mistyped id
        result = mem.events.replay(until=until, path_id=path)
    snap, report = result.snapshot, result.report
    counts = {
        "profiles": len(snap.profiles),
        "nodes": len(snap.nodes),
        "edges": len(snap.edges),
        "paths": len(snap.paths),
        "activation_plans": len(snap.activation_plans),
    }
    if as_json:
        document: dict[str, Any] = {
            "until": until,
            "path_id": path,
            "position": snap.position,
            "counts": counts,
            "report": report,
        }
        if snapshot:
            document["snapshot"] = snap
        print_json(document)
        return
    scope = f" along path {path}" if path else ""
    upto = f" up to position {until}" if until is not None else ""
    say(f"Replayed{scope}{upto}: {report.applied} event(s) applied, at position {snap.position}")
    say(
        "Snapshot: "
        + ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in counts.items())
    )
    if report.not_replayable:
        kinds = ", ".join(f"{k} x{n}" for k, n in sorted(report.not_replayable.items()))
        say(f"Not replayable (stored only): {plain(kinds)}")
    if report.redacted:
        say(f"Redacted payloads (forgotten content): {report.redacted}")
    if report.problems:
        table(
            "Problems",
            ["pos", "kind", "event", "reason"],
            ([p.position, p.kind, p.event_id, p.reason] for p in report.problems),
        )
    else:
        say("No problems.")



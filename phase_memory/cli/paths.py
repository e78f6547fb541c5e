"""``paths list | show | open | branch | merge | abandon | activate``: conversational branches."""

from __future__ import annotations

from typing import Annotated

import typer

from phase_memory.cli.context import open_memory
from phase_memory.cli.options import JsonDocument, JsonLines
from phase_memory.cli.output import (
    event_summary,
    fields,
    plain,
    print_json,
    print_jsonl,
    say,
    table,
    when,
)
from phase_memory.models import MemoryPath

app = typer.Typer(
    help="Conversational paths: branches that are merged, abandoned or compacted.",
    no_args_is_help=True,
)



def _status(path: MemoryPath) -> str:
    parts = [path.status.value]
    if path.active:
        parts.append("active")
    if path.compaction_status.value != "none":
        parts.append(path.compaction_status.value)
    return ", ".join(parts)


def _say_path(verb: str, path: MemoryPath) -> None:
    say(f"{verb} path {path.id} ({_status(path)}) in profile {path.profile_id}")


@app.command("list")
def list_(
    ctx: typer.Context,
    profile: Annotated[
        str | None, typer.Option("--profile", metavar="ID", help="Only this profile's paths.")
    ] = None,
    as_json: JsonLines = False,
) -> None:
    """List paths (by id) with their status and lineage."""
    with open_memory(ctx, read_only=True) as mem:
        found = mem.paths.list(profile)
    if as_json:
        print_jsonl(found)
        return
    table(
        "Paths",
        ["id", "profile", "status", "parent", "fork event", "merged into", "created"],
        (
            [
                p.id,
                p.profile_id,
                _status(p),
                p.parent_path_id or "",
                p.fork_event_id or "",
                p.merged_into_path_id or "",
                when(p.created_at),
            ]
            for p in found
        ),
    )


@app.command("show")
def show(
    ctx: typer.Context,
    path_id: Annotated[str, typer.Argument(metavar="ID", help="The path.")],
    as_json: JsonDocument = False,
) -> None:
    """One path: its fields, its lineage and its effective history."""
    with open_memory(ctx, read_only=True) as mem:
        path = mem.paths.get(path_id)
        lineage = mem.paths.lineage(path_id)
        history = mem.paths.events(path_id)
    if as_json:
        print_json(
            {
                "path": path,
                "lineage": [p.id for p in lineage],
                "events": history,
            }
        )
        return
    fields(
        [
            ("id", path.id),
            ("profile", path.profile_id),
            ("status", _status(path)),
            ("lineage", " > ".join(p.id for p in lineage)),
            ("fork event", path.fork_event_id),
            ("merged into", path.merged_into_path_id),
            ("merge event", path.merge_event_id),
            ("abandoned because", path.abandoned_reason),
            ("summary node", path.summary_node_id),
            ("created", when(path.created_at)),
            ("updated", when(path.updated_at)),
        ]
    )
    say()
    table(
        "Effective history",
        ["pos", "kind", "recorded in", "payload"],
        (
            [
                e.position,
                e.kind,
                e.path_id or "(shared)",
                event_summary(e.payload),
            ]
            for e in history
        ),
    )


@app.command("open")
def open_(
    ctx: typer.Context,
    profile: Annotated[str, typer.Option("--profile", metavar="ID", help="The profile.")],
    path_id: Annotated[
        str | None,
        typer.Option("--id", metavar="ID", help="Id of the new path (default: generated)."),
    ] = None,
    as_json: JsonDocument = False,
) -> None:
    """Start a new conversation: a root path, active in its own tree."""
    with open_memory(ctx) as mem:
        path = mem.paths.open(profile, path_id=path_id)
    if as_json:
        print_json(path)
        return
    _say_path("Opened", path)


@app.command("branch")
def branch(
    ctx: typer.Context,
    path_id: Annotated[str, typer.Argument(metavar="ID", help="The parent path.")],
    at: Annotated[
        str | None,
        typer.Option("--at", metavar="EVENT", help="Fork at this event (default: the latest)."),
    ] = None,
    new_id: Annotated[
        str | None,
        typer.Option("--id", metavar="ID", help="Id of the branch (default: generated)."),
    ] = None,
    activate: Annotated[
        bool, typer.Option("--activate", help="Make the branch the active path of its tree.")
    ] = False,
    as_json: JsonDocument = False,
) -> None:
    """Fork a branch from a path at one of its events."""
    with open_memory(ctx) as mem:
        child = mem.paths.branch(path_id, at=at, new_path_id=new_id, activate=activate)
    if as_json:
        print_json(child)
        return
    _say_path("Branched", child)
    say(f"  from {path_id} at event {child.fork_event_id}")


@app.command("merge")
def merge(
    ctx: typer.Context,
    path_id: Annotated[str, typer.Argument(metavar="ID", help="The branch to merge.")],
    into: Annotated[str, typer.Option("--into", metavar="ID", help="The target path.")],
    as_json: JsonDocument = False,
) -> None:
    """Merge a branch into another path; its events join the target's history."""
    with open_memory(ctx) as mem:
        merged = mem.paths.merge(path_id, into=into)
    if as_json:
        print_json(merged)
        return
    say(f"Merged path {merged.id} into {into} (merge event {merged.merge_event_id})")


@app.command("abandon")
def abandon(
    ctx: typer.Context,
    path_id: Annotated[str, typer.Argument(metavar="ID", help="The path.")],
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why (kept on the path).")
    ],
    as_json: JsonDocument = False,
) -> None:
    """Abandon a path; its events are kept."""
    with open_memory(ctx) as mem:
        path = mem.paths.abandon(path_id, reason=reason)
    if as_json:
        print_json(path)
        return
    say(f"Abandoned path {path.id}: {plain(reason)}")


@app.command("activate")
def activate(
    ctx: typer.Context,
    path_id: Annotated[str, typer.Argument(metavar="ID", help="The path.")],
    as_json: JsonDocument = False,
) -> None:
    """Make a path the active one of its conversation tree."""
    with open_memory(ctx) as mem:
        path = mem.paths.activate(path_id)
    if as_json:
        print_json(path)
        return
    _say_path("Activated", path)

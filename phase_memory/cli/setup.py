"""``init`` and ``info``: create a memory database, and say what it holds."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from phase_memory import __version__
from phase_memory.cli.context import open_memory, state_of
from phase_memory.cli.options import JsonDocument
from phase_memory.cli.output import fields, print_json, say, table
from phase_memory.models import Profile, utc_now
from phase_memory.runtime import PhaseMemoryRuntime


def init(
    ctx: typer.Context,
    profile: Annotated[
        str | None,
        typer.Option("--profile", metavar="ID", help="Also create this profile (default policy)."),
    ] = None,
    name: Annotated[
        str,
        typer.Option("--name", metavar="TEXT", help="Name of the profile created with --profile."),
    ] = "",
) -> None:
    """Create the memory database (at the newest schema); harmless if it exists."""
    state = state_of(ctx)
    file = state.file
    existed = file is not None and file.exists()
    with open_memory(ctx, create=True) as mem:
        revision = _revision(mem)
        at = f" (schema revision {revision})" if revision else ""
        if existed:
            say(f"{state.shown} already exists{at}; nothing to do")
        else:
            say(f"Created {state.shown}{at}")
        if profile is not None:
            if mem.graph.find_profile(profile) is not None:
                say(f"Profile {profile!r} already exists")
            else:
                now = utc_now()
                mem.save_profile(
                    Profile(id=profile, name=name or profile, created_at=now, updated_at=now)
                )
                say(f"Created profile {profile!r}")


def info(
    ctx: typer.Context,
    as_json: JsonDocument = False,
) -> None:
    """What the database holds: schema revision, counts, profiles."""
    state = state_of(ctx)
    with open_memory(ctx, read_only=True) as mem:
        report = _info(mem, state.shown)
        file = state.file
        if file is not None and file.exists():
            report["size_bytes"] = file.stat().st_size
    if as_json:
        print_json(report)
        return
    counts = report["counts"]
    fields(
        [
            ("database", report["database"]),
            ("backend", report["backend"]),
            ("schema revision", report["schema_revision"] or "-"),
            ("phase-memory", report["version"]),
            ("size", f"{report['size_bytes']:,} bytes" if "size_bytes" in report else "-"),
            ("events", f"{report['events']} (last position {report['last_position']})"),
            ("audit records", report["audit_records"]),
            *((name.replace("_", " "), count) for name, count in counts.items()),
        ]
    )
    say()
    table(
        "Profiles",
        ["id", "name", "nodes", "edges", "paths", "plans"],
        (
            [p["id"], p["name"], p["nodes"], p["edges"], p["paths"], p["activation_plans"]]
            for p in report["profiles"]
        ),
    )


def _info(mem: PhaseMemoryRuntime, shown: str) -> dict[str, Any]:
    profiles = []
    for profile in mem.graph.list_profiles():
        counts = mem.graph.counts(profile.id)
        profiles.append(
            {
                "id": profile.id,
                "name": profile.name,
                **{k: v for k, v in counts.items() if k != "profiles"},
            }
        )
    last = mem.events.last_position()
    return {
        "database": shown,
        "backend": getattr(mem.store, "dialect_name", "memory"),
        "schema_revision": _revision(mem),
        "version": __version__,
        "counts": mem.graph.counts(),
        "events": sum(1 for _ in mem.events.iter()) if last else 0,
        "last_position": last,
        "audit_records": len(mem.audit.list()),
        "profiles": profiles,
    }


def _revision(mem: PhaseMemoryRuntime) -> str | None:
    revision = getattr(mem.store, "revision", None)
    value = revision() if callable(revision) else None
    return value if isinstance(value, str) else None

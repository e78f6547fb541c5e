"""``demo``: build a sample assistant memory and walk through the main job, step by step."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from phase_memory.cli.context import CliState, open_memory, state_of
from phase_memory.cli.errors import CliError
from phase_memory.cli.output import counted, plain, say
from phase_memory.errors import ReviewRequiredError
from phase_memory.models import (
    Approval,
    LifecycleAction,
    LifecycleKind,
    MemoryNode,
    new_id,
    utc_now,
)
from phase_memory.runtime import PhaseMemoryRuntime
from phase_memory.samples import Sample, load_assistant, seed

QUESTION = "What do I need for the Lisbon trip: passport, hotel?"
FORGET_NODE = "fact-old-address"
SQLITE_HEADER = b"SQLite format 3\x00"
MAIN, HOTEL, DETOUR = "chat-lisbon", "chat-lisbon-hotel", "chat-lisbon-detour"


def default_export(state: CliState) -> Path:
    """Where the demo writes its envelope: beside the database file, else here."""
    file = state.file
    if file is None:
        return Path("phase-memory-export.json")
    return file.with_name(f"{file.stem}-export.json")


def demo(
    ctx: typer.Context,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Delete an existing database file and start over.")
    ] = False,
    export_to: Annotated[
        Path | None,
        typer.Option(
            "--export",
            metavar="PATH",
            help="Where to write the envelope (default: beside the database, NAME-export.json).",
        ),
    ] = None,
) -> None:
    """Build a sample assistant memory and walk through the main job.

    Loads a profile with a policy and about fifty memories, holds a conversation
    with a merged and an abandoned branch, activates memories for a question,
    shows the review gate refusing and then applying a forget, runs doctor and
    exports a graph envelope. If the database file exists already the demo stops
    (exit status 1) and suggests --fresh, which recreates it.
    """
    state = state_of(ctx)
    file = state.file
    if file is not None and file.exists() and not file.is_dir():
        if not fresh:
            raise CliError(
                f"{state.shown} exists already; run `phase-memory demo --fresh` to recreate it "
                "(its contents are deleted), or choose another file with --db"
            )
        if not _is_sqlite(file):
            raise CliError(
                f"{state.shown} is not a SQLite database; --fresh only recreates database files"
            )
        for leftover in (file, *(file.with_name(file.name + s) for s in ("-wal", "-shm"))):
            leftover.unlink(missing_ok=True)
    export_path = export_to or default_export(state)
    with open_memory(ctx, create=True) as mem:
        if file is None and mem.graph.find_profile(load_assistant().profile.id) is not None:
            raise CliError(f"{state.shown} holds the demo profile already; use an empty database")
        say(f"[bold]phase-memory demo[/bold]: a sample assistant memory in {plain(state.shown)}")
        sample = _step_graph(mem)
        _step_paths(mem, sample)
        _step_activation(mem, sample)
        _step_review_gate(mem, sample)
        clean = _step_doctor(mem)
        _step_export(mem, export_path)
    say()
    say("Look around:")
    db = "" if state.db == "phase-memory.db" else f" --db {state.db}"
    for line in (
        f"phase-memory{db} nodes list --profile assistant",
        f"phase-memory{db} paths show {MAIN}",
        f"phase-memory{db} audit list",
        f"sqlite3 {state.shown}" if file is not None else "",
    ):
        if line:
            say(f"  {plain(line)}")
    if not clean:
        raise typer.Exit(1)


def _is_sqlite(file: Path) -> bool:
    """Whether a file is empty or starts with the SQLite header (safe for --fresh to delete)."""
    with file.open("rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    return header in (b"", SQLITE_HEADER)


def _heading(number: int, title: str) -> None:
    say()
    say(f"[bold]{number}. {plain(title)}[/bold]")


def _step_graph(mem: PhaseMemoryRuntime) -> Sample:
    _heading(1, "Memory graph")
    sample = seed(mem)
    policy = sample.profile.policy
    say(
        f"   profile {sample.profile.id!r} ({plain(sample.profile.name)}): "
        f"{len(sample.nodes)} memories, {len(sample.edges)} relations"
    )
    gated = ", ".join(sorted(k.value for k in policy.review_required))
    say(f"   policy: review required for {gated}; redact at {policy.redact_at.value}")
    say(f"   {mem.events.last_position()} events in the log so far")
    return sample


def _step_paths(mem: PhaseMemoryRuntime, sample: Sample) -> None:
    _heading(2, "A conversation with branches")
    profile = sample.profile.id
    mem.paths.open(profile, path_id=MAIN)
    race_day = _learn(
        mem, profile, MAIN, "fact-race-day", "Race day: Sunday 6 October, start 8:00",
        "Learned in chat: the half marathon starts at 8:00 on the bridge.",
    )
    say(f"   opened {MAIN}; learned {race_day.label!r}")
    mem.paths.branch(MAIN, new_path_id=HOTEL)
    hotel = _learn(
        mem, profile, HOTEL, "pref-hotel-near-start", "Wants to walk to the start line",
        "Prefers a hotel within walking distance of the race start.",
    )
    mem.paths.merge(HOTEL, into=MAIN)
    say(f"   branch {HOTEL}: learned {hotel.label!r}; merged into {MAIN}")
    mem.paths.branch(MAIN, new_path_id=DETOUR)
    wrong = _learn(
        mem, profile, DETOUR, "fact-race-day-wrong", "Race day: 13 October",
        "A misunderstanding about the race date.",
    )
    reason = "Sam corrected the date: the race is on 6 October"
    mem.paths.abandon(DETOUR, reason=reason)
    say(f"   branch {DETOUR}: noted {wrong.label!r}; abandoned ({reason})")
    history = mem.paths.events(MAIN)
    shared = sum(1 for e in history if e.path_id is None)
    say(
        f"   {MAIN} remembers {len(history) - shared} conversation events (the merged "
        f"branch's included, the abandoned one's not) and {shared} shared ones"
    )


def _learn(
    mem: PhaseMemoryRuntime, profile: str, path: str, node_id: str, label: str, content: str
) -> MemoryNode:
    return mem.save_node(
        MemoryNode(
            id=node_id, profile_id=profile, kind="fact", label=label, content=content,
            salience=0.7, created_at=utc_now(), updated_at=utc_now(),
        ),
        path_id=path,
    )


def _step_activation(mem: PhaseMemoryRuntime, sample: Sample) -> None:
    _heading(3, f"Activation for {QUESTION!r}")
    plan = mem.activate(sample.profile.id, QUESTION, budget=6, path_id=MAIN)
    for item in plan.items:
        label = f"{item.node_id} (content withheld)" if item.redacted else item.label or ""
        why = ", ".join(r for r in item.reasons if not r.startswith("redacted"))
        if item.redacted:
            why += ", redacted: sensitivity at or above the policy's redact_at"
        say(f"   {item.rank}. {plain(label)}  ({item.score:.2f}; {plain(why)})")
    say(f"   stored as plan {plan.id} (budget {plan.budget})")


def _step_review_gate(mem: PhaseMemoryRuntime, sample: Sample) -> None:
    _heading(4, "Review gate: forgetting an old address")
    forget = LifecycleAction(
        id=new_id(), kind=LifecycleKind.FORGET, profile_id=sample.profile.id, targets=[FORGET_NODE],
        reason="Sam asked the assistant not to keep the old address",
    )
    try:
        mem.apply([forget])
    except ReviewRequiredError:
        say(f"   forget {FORGET_NODE} without approval: refused (review required by policy)")
    else:  # pragma: no cover - the sample policy gates forget
        raise CliError("the review gate let an unapproved forget through")
    approved = forget.model_copy(
        update={
            "approval": Approval(
                approved_by="sam", approved_at=utc_now(), note="confirmed in settings"
            )
        }
    )
    result = mem.apply([approved])
    node = mem.graph.get_node(FORGET_NODE)
    erased = len(result.redacted_event_ids)
    say(
        f"   with an approval by 'sam': applied; node is {node.state.value}, "
        f"content erased from {erased} earlier event(s)"
    )


def _step_doctor(mem: PhaseMemoryRuntime) -> bool:
    _heading(5, "doctor")
    report = mem.diagnose()
    if report.ok:
        say(f"   no problems found ({len(report.checks)} checks)")
    for finding in report.findings:
        say(f"   {finding.severity}: {plain(finding.location)}: {plain(finding.message)}")
    return report.ok


def _step_export(mem: PhaseMemoryRuntime, target: Path) -> None:
    _heading(6, "Export")
    result = mem.export_envelope(target)
    say(f"   graph envelope written to {plain(str(target))} ({counted(result.counts)})")

"""Child processes of the reliability suite: ``python reliability_worker.py MODE ARGS...``.

Every worker prints one line per acknowledged write *after* the call that made
it returned, flushing stdout, so the parent knows exactly what the library
promised to have stored when it kills the worker. A line ``ready`` says the
database is open and the timed work starts now; ``done`` that it finished.
Failures are printed as ``error <ExceptionType> <message>`` (never a traceback
on purpose: the parent asserts on the type).
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path


def say(*parts: object) -> None:
    sys.stdout.write(" ".join(str(p) for p in parts) + "\n")
    sys.stdout.flush()


def wait_for(go: str | None) -> None:
    """Spin until the file ``go`` exists (a start barrier shared by several workers)."""
    if not go:
        return
    deadline = time.monotonic() + 60
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            raise SystemExit("the start barrier never opened")
        time.sleep(0.0005)


def note_event(event_id: str, profile_id: str, text: str = "") -> object:
    from phase_memory import MemoryEvent

    return MemoryEvent(
        event_id=event_id,
        kind="note.appended",
        profile_id=profile_id,
        payload={"text": text or f"note {event_id}", "n": len(event_id)},
        actor="reliability",
    )


# --- crash workers ----------------------------------------------------------------------------


def append_forever(db: str, profile_id: str, seed: str) -> None:
    """Record events (batches of 1-4, through the runtime and straight to the log) until killed."""
    import phase_memory as pm

    rng = random.Random(seed)
    mem = pm.open(db, synchronous=rng.choice(["normal", "full"]))
    say("ready")
    n = 0
    while True:
        batch = [note_event(f"{seed}-{n + i}", profile_id, "x" * rng.randrange(2000))
                 for i in range(rng.randint(1, 4))]
        n += len(batch)
        if rng.random() < 0.5:
            mem.record_many(batch)  # type: ignore[arg-type]
        else:
            mem.events.append(batch)  # type: ignore[arg-type]
        say("ack", *(e.event_id for e in batch))  # type: ignore[attr-defined]


def graph_forever(db: str, profile_id: str, seed: str) -> None:
    """Save nodes and edges, delete some, until killed; print each acknowledged change."""
    import phase_memory as pm
    from phase_memory import MemoryEdge, MemoryNode

    rng = random.Random(seed)
    mem = pm.open(db)
    say("ready")
    nodes: list[str] = []
    edges: list[str] = []
    n = 0
    while True:
        n += 1
        roll = rng.random()
        if roll < 0.15 and len(edges) > 2:
            edge_id = edges.pop(rng.randrange(len(edges)))
            mem.delete_edge(edge_id)
            say("del-edge", edge_id)
        elif roll < 0.25 and len(nodes) > 3:
            node_id = nodes.pop(rng.randrange(len(nodes)))
            mem.delete_node(node_id)
            edges = [e for e in edges if node_id not in e.split("~")]
            say("del-node", node_id)
        elif roll < 0.55 and len(nodes) > 1:
            a, b = rng.sample(nodes, 2)
            edge_id = f"{a}~{b}~{n}"
            mem.save_edge(MemoryEdge(id=edge_id, profile_id=profile_id, source_id=a,
                                     target_id=b, kind="related"))
            edges.append(edge_id)
            say("edge", edge_id)
        else:
            node_id = f"{seed}-n{n}"
            saved = mem.save_node(MemoryNode(
                id=node_id, profile_id=profile_id, kind="note", label=f"node {n}",
                content="words " * rng.randrange(200),
            ))
            nodes.append(node_id)
            say("node", node_id, saved.version)


def import_once(db: str, fmt: str, src: str) -> None:
    import phase_memory as pm

    with pm.open(db) as mem:
        say("ready")
        if fmt == "envelope":
            mem.import_envelope(src)
        elif fmt == "events":
            mem.import_events(src)
        elif fmt == "workspace":
            mem.import_workspace(src)
        else:
            mem.import_mcp_memory(src, profile_id="mcp")
    say("done")


def upgrade_once(db: str) -> None:
    from phase_memory.sql import upgrade_database

    say("ready")
    backup = upgrade_database(db)
    say("done", backup)


# --- concurrency workers ----------------------------------------------------------------------


def concurrent_append(db: str, ids_file: str, out: str, go: str, busy: str) -> None:
    """Record the events listed in ``ids_file`` one by one; report each outcome to ``out``."""
    import phase_memory as pm
    from phase_memory.errors import DuplicateEventError, PhaseMemoryError

    ids = json.loads(Path(ids_file).read_text())
    results: list[list[object]] = []
    say("ready")
    wait_for(go)
    mem = pm.open(db, busy_timeout=float(busy))
    try:
        for i, event_id in enumerate(ids):
            event = note_event(event_id, "shared")
            try:
                if i % 2:
                    stored = mem.record(event)  # type: ignore[arg-type]
                    results.append(["ok", event_id, stored.position])
                else:
                    (position,) = mem.events.append([event])  # type: ignore[list-item]
                    results.append(["ok", event_id, position])
            except DuplicateEventError as exc:
                results.append(["dup", event_id, exc.event_id])
            except PhaseMemoryError as exc:
                results.append(["error", event_id, f"{type(exc).__name__}: {exc}"])
    finally:
        mem.close()
        Path(out).write_text(json.dumps(results))
    say("done")


def tail(db: str, total: str, out: str, go: str) -> None:
    """Tail the log with ``after=`` until ``total`` events were seen; record what was seen."""
    import phase_memory as pm
    from phase_memory.errors import PhaseMemoryError

    expected = int(total)
    seen: list[list[object]] = []
    errors: list[str] = []
    say("ready")
    wait_for(go)
    mem = pm.open(db, read_only=True)
    last = 0
    deadline = time.monotonic() + 300
    try:
        while len(seen) < expected and time.monotonic() < deadline:
            try:
                batch = mem.events.list(after=last, limit=random.choice([1, 7, 50, 500]))
            except PhaseMemoryError as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            for event in batch:
                seen.append([event.position, event.event_id])
                last = event.position or last
            if not batch:
                time.sleep(0.001)
    finally:
        mem.close()
        Path(out).write_text(json.dumps({"seen": seen, "errors": errors}))
    say("done")


def open_new(db: str, go: str, event_id: str) -> None:
    """Open a (brand-new) database at the barrier and record one event."""
    import phase_memory as pm
    from phase_memory import Profile
    from phase_memory.errors import PhaseMemoryError

    say("ready")
    wait_for(go)
    try:
        with pm.open(db) as mem:
            mem.save_profile(Profile(id=event_id, name=event_id))
            mem.record(note_event(event_id, event_id))  # type: ignore[arg-type]
    except PhaseMemoryError as exc:
        say("error", type(exc).__name__, exc)
        return
    say("done")


# --- faults -------------------------------------------------------------------------------------


def fill_until_limit(db: str, headroom: str) -> None:
    """Append under RLIMIT_FSIZE (SIGXFSZ ignored) until a write fails; report how it failed."""
    import resource
    import signal

    import phase_memory as pm

    mem = pm.open(db)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    limit = os.path.getsize(db) + int(headroom)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    say("ready", limit)
    n = 0
    try:
        while n < 100_000:
            batch = [note_event(f"big-{n + i}", "p", "y" * 3000) for i in range(3)]
            n += len(batch)
            mem.record_many(batch)  # type: ignore[arg-type]
            say("ack", *(e.event_id for e in batch))  # type: ignore[attr-defined]
    except BaseException as exc:  # the test asserts on what this was
        say("error", type(exc).__name__, " ".join(str(exc).split()))
        is_library_error = isinstance(exc, pm.PhaseMemoryError)
        # The database stays usable for reading in this very process.
        try:
            count = len(mem.events.list())
            say("readable", count)
        except BaseException as again:
            say("unreadable", type(again).__name__, again)
        if not is_library_error:
            raise SystemExit(3) from None
    finally:
        mem.close()


MODES = {
    "append": append_forever,
    "graph": graph_forever,
    "import": import_once,
    "upgrade": upgrade_once,
    "concurrent-append": concurrent_append,
    "tail": tail,
    "open-new": open_new,
    "fill": fill_until_limit,
}

if __name__ == "__main__":
    MODES[sys.argv[1]](*sys.argv[2:])

"""One writer and four readers, each its own process, on one database for 10 s."""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import phase_memory as pm
from benchmarks import data, dbfiles
from benchmarks.harness import Context, Row, finish, median, rate, ratio_of, start_subprocess

WRITER_NODES = 50_000
"""Nodes the writer may save (far more than it manages in the time)."""
STARTUP_S = 3.0
"""Time given to the processes to start before they all begin at once."""


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _wait(start_at: float) -> None:
    time.sleep(max(0.0, start_at - time.time()))


# --- the processes ------------------------------------------------------------------------


def _writer_nodes(seed_nodes: int) -> Iterator[dict[str, Any]]:
    """New nodes (ids after the seeded ones), made lazily."""
    rng = random.Random(9)
    for n in range(seed_nodes, seed_nodes + WRITER_NODES):
        yield data.node(n, rng)


def pm_writer(db: str, start_at: float, seconds: float, seed_nodes: int) -> dict[str, Any]:
    nodes = (pm.MemoryNode.model_validate({**n, "version": 0})
             for n in _writer_nodes(seed_nodes))
    commits = lock_errors = 0
    with pm.open(db) as mem:
        _wait(start_at)
        deadline = time.time() + seconds
        for node in nodes:
            if time.time() >= deadline:
                break
            try:
                mem.save_node(node)
                commits += 1
            except pm.PhaseMemoryError as exc:
                if not _is_lock_error(exc):
                    raise
                lock_errors += 1
    return {"ops": commits, "lock_errors": lock_errors, "seconds": seconds}


def pm_reader(db: str, start_at: float, seconds: float, seed: int, seed_nodes: int
              ) -> dict[str, Any]:
    rng = random.Random(seed)
    reads = lock_errors = 0
    with pm.open(db, read_only=True) as mem:
        graph, events = mem.graph, mem.events
        _wait(start_at)
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                if reads % 2:
                    graph.find_node(data.node_id(rng.randrange(seed_nodes)))
                else:
                    events.list(after=rng.randrange(seed_nodes), limit=10)
                reads += 1
            except pm.PhaseMemoryError as exc:
                if not _is_lock_error(exc):
                    raise
                lock_errors += 1
    return {"ops": reads, "lock_errors": lock_errors, "seconds": seconds}


RAW_FIND_NODE = f"SELECT {', '.join(data.NODE_COLUMNS)} FROM nodes WHERE id = ?"
RAW_LIST_EVENTS = (
    "SELECT position, event_id, kind, profile_id, path_id, occurred_at, payload, schema_version, "
    "actor, causation_id FROM events WHERE position > ? ORDER BY position LIMIT 10"
)


def raw_writer(db: str, start_at: float, seconds: float, seed_nodes: int) -> dict[str, Any]:
    from datetime import UTC, datetime

    plain = _writer_nodes(seed_nodes)
    commits = lock_errors = 0
    conn = dbfiles.raw_connect(db)
    execute = conn.execute
    _wait(start_at)
    deadline = time.time() + seconds
    for k, node in enumerate(plain):
        if time.time() >= deadline:
            break
        event = {
            "event_id": data.event_id(k, 7), "kind": "node.saved", "profile_id": data.PROFILE_ID,
            "path_id": None, "occurred_at": datetime.now(UTC), "payload": {"node": node},
            "schema_version": 1, "actor": "system", "causation_id": None,
        }
        try:
            execute("BEGIN IMMEDIATE")
            execute(data.INSERT_EVENT, data.event_row(event))
            execute(data.UPSERT_NODE, data.node_row(node))
            execute("COMMIT")
            commits += 1
        except sqlite3.OperationalError as exc:
            if conn.in_transaction:
                execute("ROLLBACK")
            if not _is_lock_error(exc):
                raise
            lock_errors += 1
    conn.close()
    return {"ops": commits, "lock_errors": lock_errors, "seconds": seconds}


def raw_reader(db: str, start_at: float, seconds: float, seed: int, seed_nodes: int
               ) -> dict[str, Any]:
    rng = random.Random(seed)
    reads = lock_errors = 0
    conn = dbfiles.raw_connect(db)
    execute = conn.execute
    _wait(start_at)
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if reads % 2:
                execute(RAW_FIND_NODE, (data.node_id(rng.randrange(seed_nodes)),)).fetchone()
            else:
                execute(RAW_LIST_EVENTS, (rng.randrange(seed_nodes),)).fetchall()
            reads += 1
        except sqlite3.OperationalError as exc:
            if not _is_lock_error(exc):
                raise
            lock_errors += 1
    conn.close()
    return {"ops": reads, "lock_errors": lock_errors, "seconds": seconds}


# --- the workload -------------------------------------------------------------------------


def _seeded(ctx: Context, seed_nodes: int) -> Any:
    """The profile and ``seed_nodes`` nodes, recorded through the runtime."""

    def build() -> Any:
        path = ctx.fresh_db("mixed-seed")
        with pm.open(path) as mem:
            mem.save_profile(pm.Profile.model_validate(data.profile()))
            events = [
                {"event_id": data.event_id(k, 9), "kind": "node.saved",
                 "profile_id": data.PROFILE_ID, "path_id": None, "occurred_at": data.moment(k),
                 "payload": {"node": node}, "schema_version": 1, "actor": "bench",
                 "causation_id": None}
                for k, node in enumerate(data.nodes(seed_nodes))
            ]
            mem.record_many(data.event_models(events))
        dbfiles.checkpoint(path)
        return path

    return ctx.cached(f"mixed-seed-{seed_nodes}", build)


def _one_run(ctx: Context, side: str, i: int, sizes: dict[str, Any]) -> dict[str, Any]:
    readers, seconds, seed_nodes = sizes["readers"], sizes["seconds"], sizes["seed_nodes"]
    db = dbfiles.copy_db(_seeded(ctx, seed_nodes), ctx.workdir / f"mixed-{side}-{i}.db")
    start_at = time.time() + STARTUP_S
    writer = start_subprocess(f"concurrency:{side}_writer", db=str(db), start_at=start_at,
                              seconds=seconds, seed_nodes=seed_nodes)
    reader_procs = [
        start_subprocess(f"concurrency:{side}_reader", db=str(db), start_at=start_at,
                         seconds=seconds, seed=r, seed_nodes=seed_nodes)
        for r in range(readers)
    ]
    written = finish(writer, f"{side}_writer")
    read = [finish(p, f"{side}_reader") for p in reader_procs]
    dbfiles.remove_db(db)
    return {
        "commits_per_s": written["ops"] / seconds,
        "reads_per_s": sum(r["ops"] for r in read) / seconds,
        "lock_errors": written["lock_errors"] + sum(r["lock_errors"] for r in read),
    }


def mixed(ctx: Context, sizes: dict[str, Any]) -> Row:
    """Writer: ``mem.save_node`` in a loop; readers: ``find_node`` / ``events.list``."""
    readers, seconds = sizes["readers"], sizes["seconds"]
    pm_runs, raw_runs = [], []
    for i in range(ctx.repeat):
        pm_runs.append(_one_run(ctx, "pm", i, sizes))
        raw_runs.append(_one_run(ctx, "raw", i, sizes))
    pm_commits = median([r["commits_per_s"] for r in pm_runs])
    raw_commits = median([r["commits_per_s"] for r in raw_runs])
    pm_reads = median([r["reads_per_s"] for r in pm_runs])
    raw_reads = median([r["reads_per_s"] for r in raw_runs])
    pm_errors = sum(r["lock_errors"] for r in pm_runs)
    raw_errors = sum(r["lock_errors"] for r in raw_runs)
    ratio = ratio_of(pm_commits, raw_commits)
    return Row(
        name="mixed_1w4r", title=f"1 writer + {readers} reader processes, {seconds:g} s",
        n=f"1w+{readers}r {seconds:g}s",
        pm=f"{rate(pm_commits, 'commits/s')}, {rate(pm_reads, 'reads/s')}, "
           f"{pm_errors} lock err",
        raw=f"{rate(raw_commits, 'commits/s')}, {rate(raw_reads, 'reads/s')}, "
            f"{raw_errors} lock err",
        ratio=ratio, target="0 lock errors, writer >= 0.50x raw",
        met=pm_errors == 0 and ratio is not None and ratio >= 0.50,
        figures={"pm": pm_runs, "raw": raw_runs},
    )

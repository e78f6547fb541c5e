"""Several processes on one database file at once: nothing lost, nothing doubled, nobody locked out.

- Writers append events one by one (half through ``mem.record``, half straight
  to ``mem.events.append``); 10 % of the ids are given to every writer on
  purpose. The log ends up holding each distinct id exactly once, at
  contiguous positions; for a shared id exactly one writer succeeded and every
  other got :class:`DuplicateEventError`; no writer saw ``StoreBusyError``.
- Readers tail the log with ``after=`` while the writers run and see every
  event exactly once, in position order.
- Processes opening a brand-new file at the same moment race to create the
  schema: every one succeeds and the file has one schema at the head revision.
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import pytest
from reliability_helpers import Worker, integrity, spawn

import phase_memory as pm
from phase_memory.sql.migrate import head_revision
from phase_memory.testing.builders import profile

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes")

BUSY_TIMEOUT = "5.0"
"""The default busy timeout: within it, nobody may see 'database is locked'."""


def _release(workers: list[Worker], go: Path) -> None:
    for worker in workers:
        worker.wait_ready()
    go.touch()


def test_concurrent_appenders_and_tailing_readers(
    tmp_path: Path, stress: bool, stats: Counter[str]
) -> None:
    writers, per_writer = (8, 500) if stress else (4, 100)
    shared = [f"shared-{j:04d}" for j in range(per_writer // 10)]
    db = tmp_path / "memory.db"
    with pm.open(db) as mem:
        mem.save_profile(profile("shared"))
    go = tmp_path / "go"
    rng = random.Random(4040)
    lists: list[list[str]] = []
    for w in range(writers):
        ids = shared + [f"w{w}-{k:04d}" for k in range(per_writer - len(shared))]
        rng.shuffle(ids)
        lists.append(ids)
    expected_ids = set(shared) | {i for ids in lists for i in ids}
    total = len(expected_ids)

    workers: list[Worker] = []
    outputs: list[Path] = []
    for w, ids in enumerate(lists):
        ids_file = tmp_path / f"ids-{w}.json"
        ids_file.write_text(json.dumps(ids))
        outputs.append(tmp_path / f"writer-{w}.json")
        workers.append(spawn("concurrent-append", str(db), str(ids_file), str(outputs[-1]),
                             str(go), BUSY_TIMEOUT))
    readers = [tmp_path / f"reader-{r}.json" for r in range(2)]
    # The readers stop after seeing the profile's event and the ``total`` appended ones.
    reader_workers = [spawn("tail", str(db), str(total + 1), str(out), str(go)) for out in readers]
    _release(workers + reader_workers, go)
    for worker in workers + reader_workers:
        assert worker.finish(timeout=600) == 0, worker.stderr

    # What the writers were told.
    outcomes: dict[str, list[tuple[str, object]]] = {}
    errors: list[str] = []
    for out in outputs:
        for status, event_id, detail in json.loads(out.read_text()):
            outcomes.setdefault(event_id, []).append((status, detail))
            if status == "error":
                errors.append(f"{event_id}: {detail}")
    assert not errors, f"{len(errors)} writes failed, e.g. {errors[:3]}"
    assert not any("locked" in e or "StoreBusyError" in e for e in errors)

    # What the log holds: each distinct id once, at positions 1..N.
    with pm.open(db) as mem:
        log = [(e.position, e.event_id) for e in mem.events.iter() if e.kind == "note.appended"]
        first = mem.events.list()[0].position
    ids_in_log = [event_id for _, event_id in log]
    assert len(ids_in_log) == len(set(ids_in_log)), "an event id is stored twice"
    assert set(ids_in_log) == expected_ids
    positions = [p for p, _ in log]
    assert positions == list(range(positions[0], positions[0] + total))
    assert first is not None and first < positions[0]  # the profile event came first
    stored_at = dict((event_id, position) for position, event_id in log)

    for event_id, results in outcomes.items():
        oks = [detail for status, detail in results if status == "ok"]
        dups = [detail for status, detail in results if status == "dup"]
        assert len(oks) == 1, f"{event_id}: {results}"
        assert oks[0] == stored_at[event_id], f"{event_id}: told position {oks[0]}"
        assert all(detail == event_id for detail in dups)
        if event_id in shared:
            assert len(dups) == writers - 1, f"{event_id}: {results}"
        else:
            assert not dups
    stats["acknowledged"] += total

    # What the tailing readers saw: every event once, in order.
    everything = [[p, i] for p, i in log]
    for out in readers:
        report = json.loads(out.read_text())
        assert report["errors"] == []
        seen = [entry for entry in report["seen"] if entry[1] in expected_ids]
        assert seen == everything, f"{out.name} saw {len(seen)} of {len(everything)} events"
    assert integrity(db) == []


def test_processes_creating_one_new_database_at_once(
    tmp_path: Path, stress: bool, stats: Counter[str]
) -> None:
    trials, racers = (20, 4) if stress else (3, 2)
    head = head_revision()
    for trial in range(trials):
        directory = tmp_path / f"trial-{trial}"
        directory.mkdir()
        db = directory / "new.db"
        go = directory / "go"
        workers = [spawn("open-new", str(db), str(go), f"racer-{n}") for n in range(racers)]
        _release(workers, go)
        for worker in workers:
            assert worker.finish(timeout=120) == 0, worker.stderr
        lines = [line for worker in workers for line in worker.lines if line != "ready"]
        assert lines == ["done"] * racers, f"trial {trial}: {lines}"
        assert integrity(db) == []
        conn = sqlite3.connect(str(db))
        try:
            versions = [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]
            events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        finally:
            conn.close()
        assert versions == [head], f"trial {trial}: {versions}"
        assert events == 2 * racers
        with pm.open(db) as mem:
            assert mem.diagnose().ok
        stats["acknowledged"] += 2 * racers

"""Processes killed with SIGKILL at random moments leave a sound database.

Four kinds of work are interrupted: appending events, recording graph changes,
importing (every format) and upgrading the schema. After each kill the
database passes ``PRAGMA integrity_check``, holds every write the worker
acknowledged (it prints the ids only after the call returned), shows no
half-done import or upgrade, and opens again with ``pm.open``.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from reliability_helpers import integrity, spawn, tables

import phase_memory as pm
from phase_memory.sql import downgrade_database
from phase_memory.sql.migrate import head_revision
from phase_memory.testing.builders import edge, node, profile

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL and fork-free spawn")


def trials(stress: bool) -> int:
    return 20 if stress else 3


def _state(db: Path, *, diagnose: bool = False) -> dict[str, object]:
    """What an import may change: log position, event ids, graph counts, audit size.

    With ``diagnose``, also asserts that ``diagnose()`` finds nothing wrong.
    """
    with pm.open(db) as mem:
        if diagnose:
            report = mem.diagnose()
            assert report.ok, [f.message for f in report.findings]
        return {
            "last_position": mem.events.last_position(),
            "events": len(mem.events.list()),
            "graph": mem.graph.counts(),
            "audit": len(mem.audit.list()),
        }


def _check_sound(db: Path) -> None:
    assert integrity(db) == []
    with pm.open(db) as mem:
        report = mem.diagnose()
    assert report.ok, [f.message for f in report.findings]


# --- appending ------------------------------------------------------------------------------


def test_killed_appender_keeps_every_acknowledged_event(
    tmp_path: Path, stress: bool, stats: Counter[str]
) -> None:
    db = tmp_path / "memory.db"
    with pm.open(db) as mem:
        mem.save_profile(profile("p"))
    rng = random.Random(1010)
    for trial in range(trials(stress)):
        seed = f"t{trial}"
        worker = spawn("append", str(db), "p", seed)
        worker.wait_ready()
        time.sleep(rng.uniform(0.02, 1.2))
        worker.kill()
        acked = worker.acknowledged()
        assert integrity(db) == [], f"trial {trial}"
        with pm.open(db) as mem:
            stored = [e.event_id for e in mem.events.iter() if e.event_id.startswith(seed + "-")]
        lost = sorted(set(acked) - set(stored), key=lambda i: int(i.split("-")[1]))
        stats["crash_trials"] += 1
        stats["acknowledged"] += len(acked)
        stats["lost"] += len(lost)
        assert not lost, f"trial {trial}: acknowledged events missing after the kill: {lost[:5]}"
        # Batches are atomic and in order: the stored ids are a prefix of the worker's
        # sequence, at most one unacknowledged batch (<= 4 events) past the last ack.
        numbers = [int(i.split("-")[1]) for i in stored]
        assert numbers == list(range(len(numbers))), f"trial {trial}: a gap or a reordering"
        assert len(numbers) - len(acked) <= 4
    _check_sound(db)


# --- graph changes --------------------------------------------------------------------------


def test_killed_graph_writer_keeps_every_acknowledged_change(
    tmp_path: Path, stress: bool, stats: Counter[str]
) -> None:
    db = tmp_path / "memory.db"
    with pm.open(db) as mem:
        mem.save_profile(profile("p"))
    rng = random.Random(2020)
    for trial in range(trials(stress)):
        worker = spawn("graph", str(db), "p", f"g{trial}")
        worker.wait_ready()
        time.sleep(rng.uniform(0.02, 1.2))
        worker.kill()
        # Replay the acknowledged changes into the expected graph. Only the change in
        # flight when the kill came (not acknowledged) may or may not be there.
        nodes: set[str] = set()
        edges: set[str] = set()
        gone_nodes: set[str] = set()
        gone_edges: set[str] = set()
        acked = 0
        for line in worker.lines:
            kind, _, rest = line.partition(" ")
            target = rest.split(" ")[0]
            if kind == "node":
                nodes.add(target)
            elif kind == "edge":
                edges.add(target)
            elif kind == "del-edge":
                edges.discard(target)
                gone_edges.add(target)
            elif kind == "del-node":
                nodes.discard(target)
                gone_nodes.add(target)
                dropped = {e for e in edges if target in e.split("~")}
                edges -= dropped
                gone_edges |= dropped
            else:
                continue
            acked += 1
        assert integrity(db) == [], f"trial {trial}"
        with pm.open(db) as mem:
            stored_nodes = {n.id for n in mem.graph.list_nodes("p")}
            stored_edges = {e.id for e in mem.graph.list_edges("p")}
        stats["crash_trials"] += 1
        stats["acknowledged"] += acked
        # A node or edge acknowledged as saved may only be missing if the change in
        # flight deleted it: at most one node (and the edges it took along) or one edge.
        missing_nodes = nodes - stored_nodes
        missing_edges = edges - stored_edges
        stray = {e for e in missing_edges if not any(n in e.split("~") for n in missing_nodes)}
        lost = len(missing_nodes) + len(stray) if len(missing_nodes) + len(stray) > 1 else 0
        stats["lost"] += lost
        assert lost == 0, (trial, missing_nodes, missing_edges)
        assert not (gone_nodes & stored_nodes), f"trial {trial}: a deleted node came back"
        assert not (gone_edges & stored_edges), f"trial {trial}: a deleted edge came back"
        _check_sound(db)  # the graph tables equal a replay of the log (no drift)


# --- imports --------------------------------------------------------------------------------

IMPORT_RECORDS = 800


def _write_sources(tmp_path: Path, count: int) -> dict[str, Path]:
    """One big file per importer (and a workspace directory)."""
    sources: dict[str, Path] = {}
    envelope = tmp_path / "big.json"
    with envelope.open("w", encoding="utf-8") as handle:
        handle.write('{"envelope": "markitect.graph", "schema_version": 1, "nodes": [\n')
        for i in range(count):
            record = node(f"env-{i:06d}", "p", content="text " * 20).model_dump(mode="json")
            handle.write(("," if i else "") + json.dumps(record) + "\n")
        handle.write("], \"edges\": [\n")
        for i in range(1, count // 2):
            record = edge(f"env-e{i:06d}", f"env-{i - 1:06d}", f"env-{i:06d}", "p")
            handle.write(("," if i > 1 else "") + json.dumps(record.model_dump(mode="json")))
        handle.write("]}\n")
    sources["envelope"] = envelope

    events = tmp_path / "big.jsonl"
    with events.open("w", encoding="utf-8") as handle:
        for i in range(count):
            payload = {"node": node(f"ev-{i:06d}", "p").model_dump(mode="json")}
            event = pm.MemoryEvent(event_id=f"import-{i:06d}", kind="node.saved",
                                   profile_id="p", payload=payload)
            handle.write(event.model_dump_json(exclude={"position"}) + "\n")
    sources["events"] = events

    mcp = tmp_path / "memory.jsonl"
    with mcp.open("w", encoding="utf-8") as handle:
        for i in range(count):
            handle.write(json.dumps({"type": "entity", "name": f"E{i}", "entityType": "thing",
                                     "observations": [f"fact {i}", "more"]}) + "\n")
        for i in range(1, count):
            handle.write(json.dumps({"type": "relation", "from": f"E{i - 1}", "to": f"E{i}",
                                     "relationType": "next"}) + "\n")
    sources["mcp"] = mcp

    workspace = tmp_path / "workspace"
    with pm.open(tmp_path / "source.db") as mem:
        mem.save_profile(profile("w"))
        for start in range(0, count, 250):
            events_batch = [
                pm.MemoryEvent(kind="node.saved", profile_id="w",
                               payload={"node": node(f"ws-{i:06d}", "w").model_dump(mode="json")})
                for i in range(start, min(count, start + 250))
            ]
            mem.record_many(events_batch)
        mem.export_workspace(workspace)
    sources["workspace"] = workspace
    return sources


def _base_database(path: Path, fmt: str) -> Path:
    with pm.open(path) as mem:
        if fmt != "workspace":  # a workspace imports into an empty memory only
            mem.save_profile(profile("p"))
            mem.save_node(node("already-here", "p"))
    return path


@pytest.fixture(scope="module")
def import_sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _write_sources(tmp_path_factory.mktemp("sources"), IMPORT_RECORDS)


@pytest.mark.parametrize("fmt", ["envelope", "events", "mcp", "workspace"])
def test_killed_import_writes_nothing(
    tmp_path: Path, fmt: str, import_sources: dict[str, Path], stress: bool,
    stats: Counter[str],
) -> None:
    base = _base_database(tmp_path / "base.db", fmt)
    before = _state(base)
    # One uninterrupted run tells how long the import takes and what it leaves.
    full = tmp_path / "full.db"
    shutil.copy(base, full)
    worker = spawn("import", str(full), fmt, str(import_sources[fmt]))
    worker.wait_ready()
    started = time.monotonic()
    assert worker.finish() == 0, worker.stderr
    duration = time.monotonic() - started
    assert "done" in worker.lines
    after = _state(full)
    assert after != before
    rng = random.Random(f"import-{fmt}")
    outcomes: Counter[str] = Counter()
    for trial in range(trials(stress)):
        db = tmp_path / f"trial-{trial}.db"
        shutil.copy(base, db)
        worker = spawn("import", str(db), fmt, str(import_sources[fmt]))
        worker.wait_ready()
        time.sleep(rng.uniform(0, duration * 1.05))
        worker.kill()
        assert integrity(db) == [], f"trial {trial}"
        state = _state(db, diagnose=True)
        stats["crash_trials"] += 1
        if "done" in worker.lines:
            assert state == after
            outcomes["finished"] += 1
        else:
            assert state in (before, after), f"trial {trial}: a partial import: {state}"
            outcomes["nothing" if state == before else "committed"] += 1
        db.unlink()
    print(f"{fmt}: import takes {duration:.2f}s; kill outcomes {dict(outcomes)}")


# --- schema upgrades ------------------------------------------------------------------------


def _older_database(path: Path) -> Path:
    """A database one step behind: at head, then downgraded (only a baseline exists: to base)."""
    with pm.open(path):
        pass
    downgrade_database(path, "base")
    for backup in path.parent.glob(path.name + ".bak-*"):
        backup.unlink()
    return path


def test_killed_upgrade_leaves_the_original_or_its_backup_usable(
    tmp_path: Path, stress: bool, stats: Counter[str]
) -> None:
    template = _older_database(tmp_path / "older.db")
    older_tables = tables(template)
    head = head_revision()
    # Time one uninterrupted upgrade.
    probe = tmp_path / "probe.db"
    shutil.copy(template, probe)
    worker = spawn("upgrade", str(probe))
    worker.wait_ready()
    started = time.monotonic()
    assert worker.finish() == 0, worker.stderr
    duration = time.monotonic() - started
    head_tables = tables(probe)
    rng = random.Random(3030)
    outcomes: Counter[str] = Counter()
    for trial in range(trials(stress)):
        directory = tmp_path / f"trial-{trial}"
        directory.mkdir()
        db = directory / "memory.db"
        shutil.copy(template, db)
        worker = spawn("upgrade", str(db))
        worker.wait_ready()
        time.sleep(rng.uniform(0, duration * 1.05))
        worker.kill()
        stats["crash_trials"] += 1
        assert integrity(db) == [], f"trial {trial}"
        found = tables(db)
        assert found in (older_tables, head_tables), f"trial {trial}: a half-upgraded schema"
        outcomes["upgraded" if found == head_tables else "original"] += 1
        # Every backup beside it is a whole copy of the original, never a partial file.
        for backup in directory.glob("memory.db.bak-*"):
            assert integrity(backup) == [], backup
            assert tables(backup) == older_tables, f"trial {trial}: partial backup {backup.name}"
        leftovers = [p.name for p in directory.iterdir()
                     if p.name not in ("memory.db", "memory.db-wal", "memory.db-shm")
                     and ".bak-" not in p.name]
        assert not leftovers or all(".tmp" in n for n in leftovers), leftovers
        # The database opens: at head already, or the interrupted upgrade can run again.
        with pm.open(db, upgrade=True) as mem:
            assert mem.store.revision() == head  # type: ignore[attr-defined]
    print(f"upgrade takes {duration:.2f}s; kill outcomes {dict(outcomes)}")

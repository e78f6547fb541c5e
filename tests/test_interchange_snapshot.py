"""Exports read one state of the memory, and writers are not held up meanwhile.

An export reads inside the store's read transaction (a WAL snapshot on
SQLite): another process's write commits at once, and the files written
show the memory as it was when the export started reading.
"""

from __future__ import annotations

import json
from pathlib import Path

import phase_memory as pm
from phase_memory.testing.builders import P1, node, profile


def _seeded(path: Path) -> None:
    with pm.open(path) as mem:
        mem.save_profile(profile())
        for n in range(3):
            mem.save_node(node(f"n{n}", label=f"note {n}"))


def test_a_write_during_a_workspace_export_commits_and_stays_out_of_the_files(
    tmp_path: Path,
) -> None:
    db = tmp_path / "memory.db"
    _seeded(db)
    written: list[str] = []

    def write_meanwhile(stage: str, completed: int, total: int | None) -> None:
        if written:
            return
        # Another writer, waiting at most 0.2 s for the write lock: an export
        # holding the lock would make this raise StoreBusyError.
        with pm.open(db, busy_timeout=0.2) as other:
            other.save_node(node("meanwhile", label="written during the export"))
        written.append(stage)

    with pm.open(db) as mem:
        mem.export_workspace(tmp_path / "ws", progress=write_meanwhile)
        assert written  # the write committed while the export ran
        graph = json.loads((tmp_path / "ws" / "graph.json").read_text(encoding="utf-8"))
        assert sorted(n["id"] for n in graph["nodes"]) == ["n0", "n1", "n2"]
        events = (tmp_path / "ws" / "events.jsonl").read_text(encoding="utf-8")
        assert "meanwhile" not in events
        assert mem.graph.find_node("meanwhile") is not None  # and it is in the memory

        mem.export_workspace(tmp_path / "ws-after")
    graph = json.loads((tmp_path / "ws-after" / "graph.json").read_text(encoding="utf-8"))
    assert "meanwhile" in {n["id"] for n in graph["nodes"]}


def test_an_envelope_export_of_a_read_only_memory_works(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    _seeded(db)
    with pm.open(db, read_only=True) as mem:
        result = mem.export_envelope(tmp_path / "graph.json", profile_id=P1)
    assert result.counts["nodes"] == 3

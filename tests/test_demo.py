"""``phase-memory demo``: builds the sample memory and walks through the main job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import phase_memory as pm
from phase_memory.cli import app
from phase_memory.models import NodeState, PathStatus
from phase_memory.samples import load_assistant


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"PHASE_MEMORY_DB": None})
    return result.exit_code, result.stdout, result.stderr


def test_sample_is_a_realistic_memory() -> None:
    sample = load_assistant()
    assert sample.profile.policy.review_required  # a profile with a policy
    assert len(sample.nodes) >= 50 and len(sample.edges) >= 50
    kinds = {n.kind for n in sample.nodes}
    assert {"person", "preference", "project", "fact"} <= kinds
    assert sum(1 for n in sample.nodes if n.sensitivity.value == "secret") == 1
    ids = {n.id for n in sample.nodes}
    assert all(e.source_id in ids and e.target_id in ids for e in sample.edges)


def test_demo_builds_the_database_and_walks_the_main_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run("demo")
    assert code == 0, out + err
    assert err == ""
    for step in ("1. Memory graph", "2. A conversation", "3. Activation", "4. Review gate",
                 "5. doctor", "6. Export"):
        assert step in out
    assert "refused" in out and "applied" in out and "no problems found" in out
    db = tmp_path / "phase-memory.db"
    export = tmp_path / "phase-memory-export.json"
    assert db.exists() and export.exists()
    envelope = json.loads(export.read_text(encoding="utf-8"))
    assert envelope["envelope"] == "markitect.graph"
    with pm.open(db, read_only=True) as mem:
        statuses = {p.id: p.status for p in mem.paths.list("assistant")}
        assert PathStatus.MERGED in statuses.values()
        assert PathStatus.ABANDONED in statuses.values()
        assert mem.graph.get_node("fact-old-address").state is NodeState.FORGOTTEN
        assert mem.graph.list_activation_plans("assistant")
        outcomes = {r.outcome.value for r in mem.audit.list(operation=None)}
        assert {"denied", "applied"} <= outcomes


def test_demo_twice_says_the_file_exists_and_fresh_recreates_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("demo")[0] == 0
    code, out, err = run("demo")
    assert code == 1
    assert "exists already" in err and "--fresh" in err
    assert len(err.splitlines()) == 1
    code, out, err = run("demo", "--fresh")
    assert code == 0, out + err
    with pm.open(tmp_path / "phase-memory.db", read_only=True) as mem:
        assert len(mem.paths.list()) == 3  # rebuilt, not added to


def test_demo_honours_db_and_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    code, out, err = run("--db", "sub/mine.db", "demo")
    assert code == 0, out + err
    assert (tmp_path / "sub" / "mine.db").exists()
    assert (tmp_path / "sub" / "mine-export.json").exists()
    assert not (tmp_path / "phase-memory.db").exists()
    code, out, err = run("--db", ":memory:", "demo", "--export", "out.json")
    assert code == 0, out + err
    assert (tmp_path / "out.json").exists()


def test_fresh_deletes_only_database_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("my precious notes\n", encoding="utf-8")
    code, _out, err = run("--db", "notes.txt", "demo", "--fresh")
    assert code == 1 and "not a SQLite database" in err
    assert notes.read_text(encoding="utf-8") == "my precious notes\n"

"""``phase-memory review list | show | approve | reject``: a person decides what agents
proposed; every failure is one line and exit status 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import phase_memory as pm
from phase_memory.models import LifecycleAction, MemoryNode, NodeState, Profile
from tests.test_cli import run_cli


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "memory.db")
    with pm.open(path, actor="agent") as mem:
        mem.save_profile(Profile(id="sam", name="Sam"))
        for label in ("lives in Lisbon", "likes tea"):
            mem.save_node(MemoryNode(id=label.split()[-1], profile_id="sam", kind="fact",
                                     label=label))
        for target in ("Lisbon", "tea"):
            mem.review.propose([LifecycleAction(id=f"forget-{target}", kind="forget",
                                                profile_id="sam", targets=[target],
                                                reason="outdated")])
    return path


def test_list_show_approve_reject(db: str) -> None:
    listed = run_cli(["--db", db, "review", "list", "--json"])
    assert listed.code == 0, listed
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["forget-Lisbon", "forget-tea"]
    assert rows[0]["proposed_by"] == "agent" and rows[0]["status"] == "pending"

    shown = run_cli(["--db", db, "review", "show", "forget-Lisbon"])
    assert shown.code == 0 and "lives in Lisbon" in shown.stdout and "archived" in shown.stdout

    approved = run_cli(["--db", db, "review", "approve", "forget-Lisbon", "--by", "ann",
                        "--note", "moved away"])
    assert approved.code == 0, approved
    assert approved.stdout.startswith("approved forget-Lisbon")
    rejected = run_cli(["--db", db, "review", "reject", "forget-tea", "--by", "ann",
                        "--reason", "still likes tea"])
    assert rejected.code == 0 and "restored 1 node" in rejected.stdout

    with pm.open(db, read_only=True) as mem:
        assert mem.graph.get_node("Lisbon").state is NodeState.FORGOTTEN
        assert mem.graph.get_node("tea").state is NodeState.ACTIVE
    assert run_cli(["--db", db, "review", "list", "--json"]).stdout == ""
    everything = run_cli(["--db", db, "review", "list", "--all", "--json"])
    assert [json.loads(line)["status"] for line in everything.stdout.splitlines()] == [
        "approved", "rejected"]


def test_failures_are_one_line(db: str) -> None:
    missing = run_cli(["--db", db, "review", "approve", "nope", "--by", "ann"])
    assert missing.code == 1 and missing.stderr.strip() == (
        "error: no proposal 'nope' in the review queue")
    run_cli(["--db", db, "review", "approve", "forget-tea", "--by", "ann"])
    again = run_cli(["--db", db, "review", "reject", "forget-tea", "--by", "ann",
                     "--reason", "x"])
    assert again.code == 1 and again.stderr.count("\n") == 1
    assert "already approved by ann" in again.stderr
    usage = run_cli(["--db", db, "review", "approve", "forget-Lisbon"])
    assert usage.code == 2 and "--by" in usage.stderr

"""Hostile identifiers and hostile workspaces.

An id holding quotes, SQL, ``..``, ``/``, NUL or control characters is either
refused by validation or stored and exported safely: the export never writes
outside its target directory, and the files import back to the same memory.
A workspace import never reads outside its directory, symlinks included.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pydantic
import pytest

import phase_memory as pm
from phase_memory.errors import ImportValidationError, PhaseMemoryError
from phase_memory.testing.builders import edge, node, profile

HOSTILE_IDS = [
    "'", '"', "`", "\\", "'; DROP TABLE events; --", 'Robert"); DELETE FROM nodes; --',
    "1 OR 1=1", "..", ".", "../../../../tmp/escaped", "/etc/passwd", "a/b/c", "..\\..\\x",
    "C:\\Windows\\win.ini", "nul\x00byte", "bell\x07", "esc\x1b[31m", "del\x7f", "line\nbreak",
    "%2e%2e%2f", "%", ".hidden", "-rf", "~", "$HOME", "*", "?", "CON", "aux.json",
    "\u202eevil.json", "\ufeffbom", "\u0085nel", "zero\u200bwidth", "😀" * 100, "é" * 200,
    "%" * 200, "/" * 200, "a" * 200, "a" * 201, " padded ", "tab\tinside",
]


def _stored_or_refused(make: object) -> object | None:
    try:
        return make()  # type: ignore[operator]
    except (pydantic.ValidationError, PhaseMemoryError):
        return None


def _all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def test_hostile_ids_are_refused_or_exported_inside_the_target(
    tmp_path: Path, stats: Counter[str]
) -> None:
    db = tmp_path / "memory.db"
    outer = tmp_path / "outer"
    target = outer / "deep" / "workspace"
    target.mkdir(parents=True)
    stored: list[str] = []
    with pm.open(db) as mem:
        for n, hostile in enumerate(HOSTILE_IDS):
            stats["fuzz_inputs"] += 1
            saved = _stored_or_refused(lambda h=hostile: mem.save_profile(profile(h, name=h)))
            if saved is None:
                continue
            stored.append(hostile)
            mem.save_node(node(f"node-{n}", hostile, label=hostile, content=hostile,
                               attributes={hostile[:50]: hostile}))
            _stored_or_refused(lambda h=hostile: mem.save_node(node(h, h, label=h)))
            _stored_or_refused(
                lambda h=hostile, n=n: mem.save_edge(edge(h, f"node-{n}", f"node-{n}", h)))
        assert stored, "every hostile id was refused: nothing left to test"
        # What validation refused really is refused; what it kept comes back unchanged.
        assert {p.id for p in mem.graph.list_profiles()} == set(stored)
        for hostile in stored:
            assert mem.graph.get_profile(hostile).name == hostile
        before = _all_files(tmp_path) - _all_files(target)
        mem.export_workspace(target)
        for hostile in stored:
            mem.export_envelope(target / "one-profile.json", profile_id=hostile)
            mem.export_events(target / "one-profile.jsonl", profile_id=hostile)
    after = _all_files(tmp_path)
    outside = {p for p in after - before if target not in p.parents and p != target}
    outside -= {db, Path(f"{db}-wal"), Path(f"{db}-shm")}
    assert not outside, f"an export wrote outside its directory: {sorted(outside)[:5]}"
    profile_files = list((target / "profiles").iterdir())
    assert len(profile_files) == len(stored)
    assert all(f.parent == target / "profiles" for f in profile_files)
    for f in profile_files:
        assert not f.name.startswith("."), f.name
        assert len(f.name.encode()) <= 255
    # Import into an empty memory and export again: the same bytes.
    for extra in ("one-profile.json", "one-profile.jsonl"):
        (target / extra).unlink()
    with pm.open(tmp_path / "copy.db") as copy:
        copy.import_workspace(target)
        assert {p.id for p in copy.graph.list_profiles()} == set(stored)
        copy.export_workspace(tmp_path / "again")
    for path in sorted(target.rglob("*")):
        if path.is_file() and path.name != "metadata.json":
            again = tmp_path / "again" / path.relative_to(target)
            assert again.read_bytes() == path.read_bytes(), path.name


def test_hostile_mcp_profile_ids(tmp_path: Path) -> None:
    src = tmp_path / "memory.jsonl"
    src.write_text('{"type": "entity", "name": "Ada", "entityType": "person"}\n')
    with pm.open(tmp_path / "memory.db") as mem:
        for hostile in HOSTILE_IDS:
            try:
                mem.import_mcp_memory(src, profile_id=hostile)
            except ImportValidationError:
                continue
            assert mem.graph.get_profile(hostile).id == hostile


# --- workspace imports read inside their directory only ---------------------------------------


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    with pm.open(tmp_path / "source.db") as mem:
        mem.save_profile(profile("x"))
        mem.save_node(node("n1", "x"))
        mem.export_workspace(tmp_path / "ws")
    return tmp_path / "ws"


def _refused_without_writing(tmp_path: Path, workspace: Path) -> ImportValidationError:
    with pm.open(tmp_path / f"target-{len(list(tmp_path.glob('target-*')))}.db") as mem:
        with pytest.raises(ImportValidationError) as refused:
            mem.import_workspace(workspace)
        assert mem.events.last_position() == 0
        assert mem.graph.counts()["profiles"] == 0
    return refused.value


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
@pytest.mark.parametrize(
    "member", ["profiles/x.json", "events.jsonl", "graph.json", "metadata.json",
               "audit.jsonl", "activation-plans.jsonl", "profiles"]
)
def test_workspace_symlinks_pointing_outside_are_refused(
    tmp_path: Path, workspace: Path, member: str
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    original = workspace / member
    copy = outside / original.name
    if original.is_dir():
        shutil.copytree(original, copy)
        shutil.rmtree(original)
    else:
        shutil.copy(original, copy)
        original.unlink()
    original.symlink_to(copy)
    refused = _refused_without_writing(tmp_path, workspace)
    assert any("symlink" in p.reason or "outside" in p.reason for p in refused.problems), (
        [str(p) for p in refused.problems]
    )


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_workspace_symlink_inside_the_directory_is_refused_too(
    tmp_path: Path, workspace: Path
) -> None:
    # Even a link to a file of the workspace itself is refused: a workspace is plain files.
    (workspace / "profiles" / "y.json").symlink_to(workspace / "profiles" / "x.json")
    _refused_without_writing(tmp_path, workspace)

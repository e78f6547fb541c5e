"""Odd places and odd inputs get one clear error (issue 23), through the library and the CLI.

The CLI runs as the console script does (``python -m phase_memory.cli`` in a
subprocess): every failure is one ``error:`` line, never a traceback. The
read-only media test mounts a directory read-only for real (``unshare -m`` and
``mount -o ro,bind``) and is skipped, with the reason, where that is not permitted.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import phase_memory as pm
from phase_memory.errors import (
    ImportValidationError,
    StoreUnavailableError,
    ValidationError,
)
from phase_memory.models import MemoryEvent
from phase_memory.models.limits import MAX_LINE_BYTES, MAX_PAYLOAD_DEPTH
from phase_memory.testing.builders import P1, node, profile
from phase_memory.testing.spec_limits import nested

CLI = [sys.executable, "-m", "phase_memory.cli"]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120, check=False)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The single ``error:`` line a failed command printed (and nothing like a traceback)."""
    shown = f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    assert done.returncode != 0, shown
    assert "Traceback" not in done.stdout + done.stderr, shown
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), shown
    assert "unexpected" not in lines[0], shown
    return lines[0]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A memory database with a profile and a node, closed (no -wal, no -shm left)."""
    path = tmp_path / "memory.db"
    with pm.open(path) as mem:
        mem.save_profile(profile(P1))
        mem.save_node(node("n1"))
    return path


# --- 1. a payload at the depth limit is read by every reader, the CLI too -----------------


def test_the_cli_reads_a_payload_at_the_depth_limit(db: Path, tmp_path: Path) -> None:
    payload = nested(MAX_PAYLOAD_DEPTH)
    with pm.open(db) as mem:
        mem.record(MemoryEvent(event_id="deep", kind="note.taken", profile_id=P1,
                               payload=payload))
    listed = cli("--db", str(db), "events", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [json.loads(line)["payload"] for line in listed.stdout.splitlines()][-1] == payload
    for command in (["events", "list"], ["events", "replay"], ["doctor"],
                    ["export", str(tmp_path / "out.jsonl"), "--format", "events"]):
        done = cli("--db", str(db), *command)
        assert done.returncode == 0, (command, done.stdout, done.stderr)


def test_an_imported_line_over_the_line_limit_is_a_problem(db: Path, tmp_path: Path) -> None:
    src = tmp_path / "events.jsonl"
    with src.open("wb") as handle:
        handle.write(b'{"event_id": "long", "payload": {"x": "')
        handle.write(b"y" * MAX_LINE_BYTES)
        handle.write(b'"}}\n')
    with pm.open(db) as mem:
        before = mem.events.last_position()
        with pytest.raises(ImportValidationError, match="MAX_LINE_BYTES") as refused:
            mem.import_events(src)
        assert [p.line for p in refused.value.problems] == [1]
        assert mem.events.last_position() == before


# --- 4. read-only media ----------------------------------------------------------------------


def _read_only_mount(directory: Path, script: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (Python) with ``directory`` bind-mounted read-only, in a private mount
    namespace; skip the test, saying why, where that is not permitted."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("unshare/mount are not installed: cannot make a read-only mount")
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount --bind -o ro '{directory}' '{directory}'"],
        capture_output=True, text=True, check=False,
    )
    if probe.returncode != 0:
        pytest.skip(f"a read-only bind mount is not permitted here: {probe.stderr.strip()}")
    command = (f"mount --bind -o ro '{directory}' '{directory}' && "
               f"! touch '{directory}/probe' 2>/dev/null && "
               f"exec '{sys.executable}' -c \"$0\"")
    return subprocess.run(["unshare", "-m", "sh", "-c", command, script],
                          capture_output=True, text=True, timeout=120, check=False)


def test_read_only_open_on_read_only_media(db: Path) -> None:
    assert not db.with_name(db.name + "-shm").exists()
    script = f"""
import phase_memory as pm, sys
with pm.open({str(db)!r}, read_only=True) as mem:
    print(mem.graph.get_node("n1").label, len(mem.events.list()), mem.diagnose().ok)
sys.argv = ["phase-memory", "--db", {str(db)!r}, "nodes", "list", "--json"]
from phase_memory.cli.app import main
main()
"""
    done = _read_only_mount(db.parent, script)
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()[:2]
    assert first == "label of n1 2 True"
    assert json.loads(second)["id"] == "n1"
    assert sorted(p.name for p in db.parent.iterdir()) == ["memory.db"]


def test_uncheckpointed_wal_on_read_only_media_is_refused_clearly(db: Path,
                                                                   tmp_path: Path) -> None:
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    writer = sqlite3.connect(db)
    try:
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        writer.execute("UPDATE nodes SET label = 'changed' WHERE id = 'n1'")
        writer.commit()
        shutil.copy(db, shipped / "memory.db")
        shutil.copy(db.with_name("memory.db-wal"), shipped / "memory.db-wal")
    finally:
        writer.close()
    assert (shipped / "memory.db-wal").stat().st_size > 0
    script = f"""
import phase_memory as pm
try:
    pm.open({str(shipped / "memory.db")!r}, read_only=True)
except pm.PhaseMemoryError as exc:
    print(type(exc).__name__, exc)
"""
    done = _read_only_mount(shipped, script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(StoreUnavailableError.__name__), done.stdout
    assert "db checkpoint" in done.stdout


# --- 5. unsupported URLs ---------------------------------------------------------------------


@pytest.mark.parametrize("url", ["mysql://user@host/db", "postgresql+asyncpg://user@host/db",
                                 "oracle://user@host/db"])
def test_unsupported_urls_name_what_is_supported(url: str) -> None:
    with pytest.raises(ValidationError, match=r"postgresql\+psycopg://") as refused:
        pm.open(url)
    assert url in str(refused.value)
    line = one_error_line(cli("--db", url, "info"))
    assert "sqlite:///" in line


def test_sqlite_pysqlite_urls_are_supported(db: Path) -> None:
    with pm.open(f"sqlite+pysqlite:///{db}", read_only=True) as mem:
        assert mem.graph.get_node("n1").label == "label of n1"


def test_a_missing_driver_names_the_extra_to_install() -> None:
    script = """
import sys
sys.modules["psycopg"] = None  # psycopg not installed
import phase_memory as pm
try:
    pm.open("postgresql+psycopg://postgres@127.0.0.1/test")
except pm.PhaseMemoryError as exc:
    print(type(exc).__name__, exc)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("StoreUnavailableError"), done.stdout
    assert "pip install 'phase-memory[postgres]'" in done.stdout


# --- 6. errors name what the user named ------------------------------------------------------


@pytest.mark.parametrize("fmt", ["envelope", "events"])
def test_export_onto_a_directory_names_the_target(db: Path, tmp_path: Path, fmt: str) -> None:
    target = tmp_path / "adir"
    target.mkdir()
    line = one_error_line(cli("--db", str(db), "export", "adir", "--format", fmt, cwd=tmp_path))
    assert "adir" in line and ".tmp" not in line, line
    with pm.open(db) as mem, pytest.raises(IsADirectoryError) as raised:
        mem.export_events(target)
    assert raised.value.filename == str(target)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_export_into_a_missing_directory_names_the_target(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "graph.json"
    line = one_error_line(cli("--db", str(db), "export", str(target)))
    assert str(target) in line and ".tmp" not in line, line


# --- 7. advice never points to a command that will refuse ------------------------------------


def test_db_current_of_a_newer_database_advises_upgrading_phase_memory(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff00000000'")
    current = cli("--db", str(db), "db", "current")
    assert current.returncode == 0, current.stderr
    assert "ffff00000000" in current.stdout
    assert "db upgrade" not in current.stdout
    assert "upgrade phase-memory" in current.stdout
    as_json = json.loads(cli("--db", str(db), "db", "current", "--json").stdout)
    assert as_json["known"] is False
    assert "does not know" in one_error_line(cli("--db", str(db), "db", "upgrade"))


# --- 8. integers of 2**63 and beyond on the command line -------------------------------------


@pytest.mark.parametrize("args", [
    ["events", "list", "--after", str(2**63)],
    ["events", "list", "--limit", str(2**63)],
    ["events", "replay", "--until", str(2**63)],
    ["activate", "--profile", P1, "x", "--budget", str(2**63)],
])
def test_huge_integers_on_the_command_line_are_one_line(db: Path, args: list[str]) -> None:
    line = one_error_line(cli("--db", str(db), *args))
    assert "MAX_" in line, line


def test_huge_integers_in_imports_are_one_line(db: Path, tmp_path: Path) -> None:
    src = tmp_path / "events.jsonl"
    src.write_text(json.dumps({"event_id": "big", "kind": "note.taken", "profile_id": P1,
                               "occurred_at": "2024-05-01T12:00:00Z", "payload": {},
                               "schema_version": 2**63}) + "\n", encoding="utf-8")
    for command in (["import", str(src)], ["events", "append", str(src)]):
        line = one_error_line(cli("--db", str(db), *command))
        assert "schema_version" in line, line

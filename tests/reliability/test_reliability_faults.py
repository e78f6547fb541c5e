"""Faults of the storage underneath: a full file system, read-only files, wrong or broken files.

Each one surfaces as one clear :class:`PhaseMemoryError` (through the CLI: one
line on stderr, exit status 1, no traceback) and never damages what was
stored before it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from reliability_helpers import integrity, spawn

import phase_memory as pm
from phase_memory.errors import PhaseMemoryError, StoreUnavailableError
from phase_memory.testing.builders import node, profile

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file semantics")


def _cli_command(db: Path | str, args: tuple[str, ...]) -> list[str]:
    return [sys.executable, "-m", "phase_memory.cli", "--db", str(db), *args]


def cli(db: Path | str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m phase_memory.cli --db DB ARGS``."""
    return clis(db, args)[0]


def clis(db: Path | str, *commands: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
    """Run several commands against ``db`` side by side (CLI start-up dominates the time)."""
    env = {**os.environ, "COLUMNS": "200"}
    running = [
        (args, subprocess.Popen(_cli_command(db, args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env))
        for args in commands
    ]
    results = []
    for _args, process in running:
        out, err = process.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit status 1, exactly one line on stderr, no traceback; returns that line."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0].lower()
    for needle in needles:
        assert needle.lower() in line, line
    return lines[0]


def _memory(path: Path, nodes: int = 200) -> Path:
    with pm.open(path) as mem:
        mem.save_profile(profile("p"))
        for i in range(nodes):
            mem.save_node(node(f"n{i:04d}", "p", content="some words " * 40))
        mem.store.checkpoint()  # type: ignore[attr-defined]
    return path


# --- a file-size limit ----------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs RLIMIT_FSIZE")
@pytest.mark.parametrize("headroom", [0, 300_000])
def test_write_beyond_the_file_size_limit_fails_cleanly(
    tmp_path: Path, headroom: int, stats: Counter[str]
) -> None:
    db = tmp_path / "memory.db"
    with pm.open(db) as mem:
        mem.save_profile(profile("p"))
    worker = spawn("fill", str(db), str(headroom))
    code = worker.finish(timeout=120)
    assert code == 0, (worker.lines[-3:], worker.stderr)
    error = next(line for line in worker.lines if line.startswith("error "))
    kind, _, message = error[len("error "):].partition(" ")
    assert kind == "StoreUnavailableError", error
    assert "file size limit" in message, error
    assert any(line.startswith("readable") for line in worker.lines), worker.lines[-3:]
    acked = worker.acknowledged()
    assert integrity(db) == []
    with pm.open(db) as mem:
        stored = {e.event_id for e in mem.events.list()}
        lost = set(acked) - stored
        stats["acknowledged"] += len(acked)
        stats["lost"] += len(lost)
        assert not lost
        # The memory goes on working once there is room again.
        mem.save_node(node("after", "p"))
        assert mem.diagnose().ok


# --- a read-only database file ---------------------------------------------------------------


def _make_immutable(path: Path) -> bool:
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0


@pytest.fixture
def read_only_db(tmp_path: Path) -> object:
    """A database file nobody may write, root included (``chattr +i``, else ``chmod``)."""
    db = _memory(tmp_path / "memory.db", nodes=5)
    if os.geteuid() == 0:
        if not _make_immutable(db):
            pytest.skip("running as root and chattr +i is not available: root ignores chmod")
        try:
            yield db
        finally:
            subprocess.run(["chattr", "-i", str(db)], check=False)
    else:
        db.chmod(0o444)
        try:
            yield db
        finally:
            db.chmod(0o644)


def test_read_only_file_reads_and_refuses_writes(read_only_db: Path, tmp_path: Path) -> None:
    db = read_only_db
    info, doctor = clis(db, ("info",), ("doctor",))
    assert info.returncode == 0, info.stderr
    assert doctor.returncode == 0, doctor.stderr
    with pm.open(db) as mem:
        assert len(mem.graph.list_nodes("p")) == 5
        with pytest.raises(StoreUnavailableError, match="read-only"):
            mem.save_node(node("refused", "p"))
    events = tmp_path / "events.jsonl"
    event = pm.MemoryEvent(event_id="e-new", kind="note.added", profile_id="p", payload={})
    events.write_text(event.model_dump_json(exclude={"position"}) + "\n")
    for result in clis(db, ("import", str(events)), ("events", "append", str(events))):
        line = assert_one_line_failure(result, "read-only")
        # A storage failure, not a problem of the input file.
        assert "import refused" not in line, line
        assert "Problems" not in result.stdout, result.stdout


def test_read_only_open_refuses_writes(tmp_path: Path) -> None:
    db = _memory(tmp_path / "memory.db", nodes=3)
    with pm.open(db, read_only=True) as mem:
        with pytest.raises(StoreUnavailableError, match="read-only"):
            mem.save_node(node("refused", "p"))
        assert len(mem.graph.list_nodes("p")) == 3


# --- wrong and broken files ------------------------------------------------------------------


def test_a_directory_given_as_the_database(tmp_path: Path) -> None:
    directory = tmp_path / "not-a-file"
    directory.mkdir()
    for result in clis(directory, ("info",), ("doctor",)):
        assert_one_line_failure(result, "directory")
    with pytest.raises(PhaseMemoryError, match="directory"):
        pm.open(directory)


NOT_SQLITE = {
    "text": b"hello, this is a text file and not a database\n",
    "zeros": b"\x00" * 4096,
    "bad-header": b"SQLite format 3\x00" + b"\xff" * 200,
}


def test_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    files = {}
    for name, content in NOT_SQLITE.items():
        files[name] = tmp_path / f"{name}.db"
        files[name].write_bytes(content)
    running = [(name, command) for name in files for command in ("info", "doctor")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda job: cli(files[job[0]], job[1]), running))
    for result in results:
        assert_one_line_failure(result)
    for name, path in files.items():
        with pytest.raises(PhaseMemoryError):
            pm.open(path)
        assert path.read_bytes() == NOT_SQLITE[name], "opening it must not change the file"


@pytest.mark.parametrize("where", ["middle", "tail", "header-page"])
def test_corrupted_pages(tmp_path: Path, where: str) -> None:
    db = _memory(tmp_path / "memory.db")
    size = db.stat().st_size
    offset = {"middle": size // 2, "tail": size - 4096, "header-page": 100}[where]
    with db.open("r+b") as handle:
        handle.seek(offset)
        handle.write(bytes((i * 37 + 11) % 256 for i in range(4096)))
    info, doctor = clis(db, ("info",), ("doctor",))
    if info.returncode != 0:
        assert_one_line_failure(info)
    assert doctor.returncode == 1, (doctor.stdout, doctor.stderr)
    assert "Traceback" not in doctor.stdout + doctor.stderr
    output = (doctor.stdout + doctor.stderr).lower()
    assert "malformed" in output or "integrity" in output or "corrupt" in output, output
    if doctor.stderr.strip():
        assert len(doctor.stderr.strip().splitlines()) == 1, doctor.stderr
    # Through the library: diagnose() says so, or opening it fails with a clear error.
    try:
        mem = pm.open(db, read_only=True)
    except PhaseMemoryError:
        return
    with mem:
        report = mem.diagnose()
    assert not report.ok
    assert {"storage.integrity", "storage.unreadable"} & report.codes(), report.codes()

"""The ``phase-memory`` command as a real process: ``python -m phase_memory.cli``.

Runs the same scenario as ``test_cli.py`` (every command, success path and
main error path), so exit statuses, stdout/stderr separation and the
no-traceback rule hold outside CliRunner too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import SCENARIO, Outcome, Step, check_outcome, make_workdir, missing


def run_process(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> Outcome:
    environment = {k: v for k, v in os.environ.items() if k != "PHASE_MEMORY_DB"}
    environment["COLUMNS"] = "200"
    environment.update(env or {})
    done = subprocess.run(
        [sys.executable, "-m", "phase_memory.cli", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Outcome(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield make_workdir(tmp_path_factory.mktemp("cli-process"))


# ``--json`` variants print through the same code as the plain ones: CliRunner covers them.
PROCESS_SCENARIO = [s for s in SCENARIO if not s.name.endswith("-json")]


@pytest.mark.parametrize("step", PROCESS_SCENARIO, ids=lambda s: s.name)
def test_scenario(step: Step, workdir: Path) -> None:
    if missing(step.needs):
        pytest.skip(f"{step.needs} is not there yet")
    check_outcome(step, run_process(step.args, workdir))


def test_console_script_is_the_same_command(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "phase-memory"
    if not script.exists():
        pytest.skip("the phase-memory console script is not installed next to this Python")
    done = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert done.returncode == 0 and done.stdout.startswith("phase-memory ")


def test_debug_prints_the_traceback(tmp_path: Path) -> None:
    (tmp_path / "corrupt.db").write_bytes(b"not a database\n" * 20)
    outcome = run_process(["--debug", "--db", "corrupt.db", "info"], tmp_path)
    assert outcome.code == 1
    assert "Traceback" in outcome.stderr and "StoreUnavailableError" in outcome.stderr
    plain = run_process(["--db", "corrupt.db", "info"], tmp_path)
    assert plain.code == 1 and "Traceback" not in plain.stderr


def test_environment_names_the_database(tmp_path: Path) -> None:
    outcome = run_process(["init"], tmp_path, env={"PHASE_MEMORY_DB": "env.db"})
    assert outcome.code == 0, outcome
    assert (tmp_path / "env.db").exists() and not (tmp_path / "phase-memory.db").exists()


def test_demo_end_to_end(tmp_path: Path) -> None:
    first = run_process(["demo"], tmp_path)
    assert first.code == 0, first
    assert first.stderr == ""
    again = run_process(["demo"], tmp_path)
    assert again.code == 1 and "--fresh" in again.stderr
    assert again.stderr.count("\n") == 1
    fresh = run_process(["demo", "--fresh"], tmp_path)
    assert fresh.code == 0, fresh


def test_broken_pipe_is_quiet(tmp_path: Path) -> None:
    """``phase-memory events list | head -1`` must not print a traceback."""
    run_process(["demo"], tmp_path)
    done = subprocess.run(
        f"'{sys.executable}' -m phase_memory.cli events list --json | head -1",
        shell=True, cwd=tmp_path, capture_output=True, text=True, check=False,
        env={k: v for k, v in os.environ.items() if k != "PHASE_MEMORY_DB"},
    )
    assert done.stdout.count("\n") == 1
    assert "Traceback" not in done.stderr, done.stderr

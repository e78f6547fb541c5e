"""The benchmarks keep running: ``python -m benchmarks --quick --only durable_append``.

Only that the command works and prints its line in the documented format is
checked here, never how fast anything is (CI runs ``python -m benchmarks
--quick`` in full separately).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ["workload", "N", "phase-memory", "raw sqlite3", "ratio", "target", "met"]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def test_quick_benchmark_prints_its_row(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "durable_append",
         "--output", str(output), "--workdir", str(tmp_path / "work")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    header = next(line for line in lines if line.startswith("|") and "workload" in line)
    assert _cells(header) == COLUMNS
    rows = [line for line in lines if line.startswith("| durable_append ")]
    assert len(rows) == 1, done.stdout
    name, n, pm, raw, ratio, target, met = _cells(rows[0])
    assert name == "durable_append"
    assert n == "100"
    assert re.fullmatch(r"[\d,]+ appends/s", pm), pm
    assert re.fullmatch(r"[\d,]+ appends/s", raw), raw
    assert re.fullmatch(r"\d+\.\d\dx", ratio), ratio
    assert target == ">= 0.60x raw"
    assert met in ("yes", "no")
    assert "machine: " in done.stdout and "SQLite" in done.stdout

    document = json.loads(output.read_text(encoding="utf-8"))
    assert document["mode"] == "quick"
    assert document["machine"]["nproc"] >= 1
    [result] = document["results"]
    assert result["name"] == "durable_append"
    assert result["ratio"] > 0
    assert len(result["figures"]["pm_appends_per_s"]) == 1


def test_unknown_workload_is_refused() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "no_such_workload"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 2
    assert "unknown workload" in done.stderr

"""The pieces every workload uses: context, results, medians, subprocess sides."""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import dbfiles

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Context:
    """What a workload gets: sizes mode, repeats, a scratch directory."""

    quick: bool
    repeat: int
    workdir: Path
    _template: Path | None = None
    _cache: dict[str, Any] = field(default_factory=dict)

    def template(self) -> Path:
        """The empty library-made database every side copies."""
        if self._template is None:
            self._template = dbfiles.make_template(self.workdir / "template.db")
        return self._template

    def fresh_db(self, name: str) -> Path:
        """A new copy of the template."""
        return dbfiles.copy_db(self.template(), self.workdir / f"{name}.db")

    def cached(self, key: str, build: Callable[[], Any]) -> Any:
        """Build a fixture once per run (several workloads share some)."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]


@dataclass
class Row:
    """One line of the results table (and one entry of the JSON file)."""

    name: str
    title: str
    n: str
    pm: str
    raw: str
    ratio: float | None
    target: str
    met: bool | None
    """None: not judged (skipped, peer not installed, informational)."""
    note: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Workload:
    """A named benchmark with full and quick sizes."""

    name: str
    title: str
    run: Callable[[Context, dict[str, Any]], Row]
    full: dict[str, Any]
    quick: dict[str, Any]

    def sizes(self, quick: bool) -> dict[str, Any]:
        return dict(self.quick if quick else self.full)


# --- measuring -----------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@contextmanager
def quiet_gc() -> Iterator[None]:
    """Collect before a timed region (so one side does not pay for the other's garbage)."""
    gc.collect()
    yield


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> Timer:
        gc.collect()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def alternate(repeat: int, pm: Callable[[int], float], raw: Callable[[int], float]
              ) -> tuple[list[float], list[float]]:
    """Run the sides in turns (pm, raw, pm, raw, ...) so drift hits both alike."""
    pm_values: list[float] = []
    raw_values: list[float] = []
    for i in range(repeat):
        pm_values.append(pm(i))
        raw_values.append(raw(i))
    return pm_values, raw_values


# --- sides in a subprocess -----------------------------------------------------------


def in_subprocess(function: str, **kwargs: Any) -> dict[str, Any]:
    """Run ``benchmarks.worker`` ``function(**kwargs)`` in a fresh interpreter.

    Returns its JSON result plus ``max_rss_mb`` (the child's peak resident set).
    """
    command = [sys.executable, "-m", "benchmarks.worker", function, json.dumps(kwargs)]
    env = {**os.environ, "PYTHONPATH": _pythonpath()}
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, env=env,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{function} failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def start_subprocess(function: str, **kwargs: Any) -> subprocess.Popen[str]:
    """Start ``benchmarks.worker`` ``function(**kwargs)``; read it with :func:`finish`."""
    command = [sys.executable, "-m", "benchmarks.worker", function, json.dumps(kwargs)]
    env = {**os.environ, "PYTHONPATH": _pythonpath()}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=REPO_ROOT, env=env)


def finish(process: subprocess.Popen[str], function: str) -> dict[str, Any]:
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{function} failed:\n{err[-4000:]}")
    return dict(json.loads(out.strip().splitlines()[-1]))


def _pythonpath() -> str:
    current = os.environ.get("PYTHONPATH")
    return str(REPO_ROOT) if not current else f"{REPO_ROOT}{os.pathsep}{current}"


# --- formatting -----------------------------------------------------------------------


def rate(value: float, unit: str) -> str:
    """``123,456 events/s``."""
    if value != value:  # NaN
        return "-"
    return f"{value:,.0f} {unit}"


def ms(value: float) -> str:
    return f"{value * 1000:.3f}" if value < 0.01 else f"{value * 1000:.2f}"


def ratio_of(pm: float, raw: float) -> float | None:
    if not raw or pm != pm or raw != raw:
        return None
    return pm / raw

"""Fixtures of the reliability suite, and the summary line it prints at the end.

Counts are small by default (CI); ``pytest --stress`` raises them (the option
is registered in ``tests/conftest.py``, which pytest reads before parsing the
command line). The summary line counts what the suite tried::

    reliability: N crash trials, M acknowledged events, 0 lost; K fuzz inputs, 0 unhandled
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

STATS: Counter[str] = Counter()
"""Counters the tests add to: crash_trials, acknowledged, lost, fuzz_inputs, unhandled."""


def stress_enabled(config: pytest.Config) -> bool:
    try:
        return bool(config.getoption("--stress"))
    except ValueError:  # the option is not registered (a foreign rootdir)
        return os.environ.get("PHASE_MEMORY_STRESS") == "1"


@pytest.fixture(scope="session")
def stress(pytestconfig: pytest.Config) -> bool:
    """Whether the run asked for stress counts."""
    return stress_enabled(pytestconfig)


@pytest.fixture(scope="session")
def stats() -> Counter[str]:
    return STATS


def summary_line() -> str:
    return (
        f"{STATS['crash_trials']} crash trials, {STATS['acknowledged']} acknowledged events, "
        f"{STATS['lost']} lost; {STATS['fuzz_inputs']} fuzz inputs, "
        f"{STATS['unhandled']} unhandled"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not any(STATS.values()):
        return
    mode = "stress" if stress_enabled(terminalreporter.config) else "default"
    terminalreporter.write_sep("-", "reliability summary")
    terminalreporter.write_line(f"reliability ({mode} counts): {summary_line()}")
    target = os.environ.get("PHASE_MEMORY_RELIABILITY_SUMMARY")
    if target:
        Path(target).write_text(
            json.dumps({"mode": mode, "line": summary_line(), **STATS}, indent=2) + "\n"
        )

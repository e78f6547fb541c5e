"""PhaseMemorySaver against LangGraph's own conformance package, on SQLite and PostgreSQL.

Every capability (base and extended) must be detected and pass. Each capability
suite gets a fresh saver: its own profile in the same database, so the suites
also show that threads of different profiles never mix.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import (
    BASE_CAPABILITIES,
    EXTENDED_CAPABILITIES,
)
from langgraph.checkpoint.conformance.report import CapabilityReport
from sqlalchemy.engine import URL

import phase_memory as pm
from phase_memory.langgraph import PhaseMemorySaver


def _validate(target: str | URL) -> CapabilityReport:
    numbers = itertools.count()

    @checkpointer_test(name="PhaseMemorySaver")
    async def saver() -> AsyncIterator[PhaseMemorySaver]:
        with pm.open(target) as mem:
            yield PhaseMemorySaver(mem, profile_id=f"conformance-{next(numbers)}")

    return asyncio.run(validate(saver))


def _assert_everything_passes(report: CapabilityReport) -> None:
    failures = {
        name: result.failures for name, result in report.results.items() if not result.passed
    }
    assert failures == {}
    assert report.passed_all_base()
    for capability in BASE_CAPABILITIES | EXTENDED_CAPABILITIES:
        result = report.results[capability.value]
        assert result.detected and result.passed, capability.value
        assert result.tests_passed > 0 and result.tests_failed == 0


def test_conformance_on_sqlite(tmp_path: Path) -> None:
    _assert_everything_passes(_validate(str(tmp_path / "memory.db")))


@pytest.mark.postgres
def test_conformance_on_postgres(postgres_url: URL) -> None:
    _assert_everything_passes(_validate(postgres_url.render_as_string(hide_password=False)))


def test_conformance_on_the_in_memory_adapter() -> None:
    _assert_everything_passes(_validate(":memory:"))

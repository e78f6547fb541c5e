"""Runs the packaged conformance suite against every adapter available here (PostgreSQL too
when PHASE_MEMORY_TEST_POSTGRES_URL is set: see tests/postgres_support.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import postgres_support
import pytest
from hypothesis import settings
from sqlalchemy.engine import URL

from phase_memory.memory import InMemoryStore
from phase_memory.sql import open_sql_store
from phase_memory.testing.fixtures import StoreFactory

pytest_plugins = ["phase_memory.testing.fixtures"]


# --- PostgreSQL (tests/postgres_support.py) -------------------------------------------------
# One schema per run, emptied between tests; skipped without the URL variable, and
# a failed run (not skips) when PHASE_MEMORY_REQUIRE_POSTGRES=1 and the server is down.

_POSTGRES_URL = postgres_support.configured_url()
_POSTGRES_RUN = postgres_support.PostgresRun(_POSTGRES_URL) if _POSTGRES_URL else None
_POSTGRES_PROBLEM: list[str] = [] if _POSTGRES_URL else [postgres_support.SKIP_REASON]


def _postgres() -> postgres_support.PostgresRun:
    if _POSTGRES_PROBLEM or _POSTGRES_RUN is None:
        pytest.skip(_POSTGRES_PROBLEM[0] if _POSTGRES_PROBLEM else postgres_support.SKIP_REASON)
    return _POSTGRES_RUN


def _postgres_factory() -> Any:
    factory = StoreFactory(
        "postgres",
        lambda tmp: _postgres().fresh_store(tmp),
        reopen=lambda tmp: _postgres().reopen(tmp),
    )
    if _POSTGRES_URL is None:
        return pytest.param(factory, marks=pytest.mark.skip(reason=postgres_support.SKIP_REASON))
    return factory


@pytest.fixture
def postgres_url() -> Iterator[URL]:
    """The URL of an empty PostgreSQL schema of the run, for this test (skips without one)."""
    with _postgres().fresh_url() as url:
        yield url


def pytest_sessionstart(session: pytest.Session) -> None:
    if _POSTGRES_URL is None:
        if postgres_support.required():
            pytest.exit(
                f"{postgres_support.REQUIRE_VARIABLE}=1 but {postgres_support.URL_VARIABLE} "
                "is not set: PostgreSQL tests must run here",
                returncode=pytest.ExitCode.USAGE_ERROR,
            )
        return
    problem = postgres_support.unreachable_reason(_POSTGRES_URL)
    if problem is None:
        return
    if postgres_support.required():
        pytest.exit(
            f"{problem} ({postgres_support.REQUIRE_VARIABLE}=1: PostgreSQL tests must run, "
            "not be skipped)",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
    _POSTGRES_PROBLEM.append(problem)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _POSTGRES_RUN is not None:
        _POSTGRES_RUN.drop()


def _factories() -> list[Any]:
    factories = [
        StoreFactory("memory", lambda tmp: InMemoryStore()),
        StoreFactory(
            "sqlite-file",
            lambda tmp: open_sql_store(tmp / "memory.db"),
            reopen=lambda tmp: open_sql_store(tmp / "memory.db"),
        ),
        StoreFactory("sqlite-memory", lambda tmp: open_sql_store("sqlite://")),
        _postgres_factory(),
    ]
    return factories


@pytest.fixture(params=_factories(), ids=lambda f: f.name)
def store_factory(request: pytest.FixtureRequest) -> StoreFactory:
    """The adapter under test (parametrised over every available adapter)."""
    return request.param  # type: ignore[no-any-return]


# --- reliability suite (tests/reliability) ----------------------------------------------
# The option lives here because pytest only reads pytest_addoption from conftests it
# loads before parsing the command line (this one, at the top of testpaths).


# --- hypothesis: derandomized by default, random exploration only under --stress ----------
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("stress", derandomize=False, max_examples=500, print_blob=True)


def pytest_configure(config: pytest.Config) -> None:
    stress = bool(config.getoption("--stress", default=False))
    settings.load_profile("stress" if stress else "ci")
    if stress:
        # The packaged specs (phase_memory.testing) read this to raise their example counts.
        os.environ["PHASE_MEMORY_STRESS"] = "1"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stress",
        action="store_true",
        default=False,
        help="run tests/reliability with stress counts (many crash trials, processes, fuzz "
        "inputs) and hypothesis property tests at random with many examples",
    )

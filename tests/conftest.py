"""Runs the packaged conformance suite against every adapter available here (PostgreSQL too
when PHASE_MEMORY_TEST_POSTGRES_URL is set: see tests/postgres_support.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import postgres_support
import pytest
from hypothesis import HealthCheck, Phase, settings
from sqlalchemy.engine import URL

from phase_memory.memory import InMemoryStore
from phase_memory.models import Profile
from phase_memory.sql import SqlStore, open_sql_store
from phase_memory.testing.fixtures import StoreFactory

pytest_plugins = ["phase_memory.testing.fixtures"]


# --- hypothesis profiles ------------------------------------------------------------------
# CI must not fail at random: by default every property test runs a fixed, derandomized
# set of examples (the same on every run and machine), with no example database. The
# random exploration runs with ``--stress`` (or PHASE_MEMORY_STRESS=1). Registered and
# loaded here, at import, before any test module builds its settings objects.

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "stress",
    derandomize=False,
    deadline=None,
    max_examples=500,
    print_blob=True,
    phases=list(Phase),
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("stress" if os.environ.get("PHASE_MEMORY_STRESS") == "1" else "ci")


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


@pytest.fixture(params=["sqlite", "postgres"])
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """A fresh SQL store, on a SQLite file and on PostgreSQL, holding profile ``p``."""
    if request.param == "sqlite":
        opened = open_sql_store(tmp_path / "memory.db")
    else:
        url: URL = request.getfixturevalue("postgres_url")
        opened = open_sql_store(url)
    with opened:
        opened.graph.save_profile(Profile(id="p", name="p"))
        yield opened


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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stress",
        action="store_true",
        default=False,
        help=(
            "stress run: tests/reliability with stress counts (many crash trials, processes, "
            "fuzz inputs) and hypothesis's random 'stress' profile instead of the "
            "derandomized 'ci' one"
        ),
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--stress"):
        # Settings objects made at import keep the profile they were made under; those
        # made later (and @settings decorators' unset values) follow this one.
        settings.load_profile("stress")
        # The packaged specs (phase_memory.testing) read this to raise their example counts.
        os.environ["PHASE_MEMORY_STRESS"] = "1"

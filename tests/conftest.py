"""Runs the packaged conformance suite against every adapter available here."""

from __future__ import annotations

import pytest

from phase_memory.memory import InMemoryStore
from phase_memory.sql import open_sql_store
from phase_memory.testing.fixtures import StoreFactory

pytest_plugins = ["phase_memory.testing.fixtures"]


def _factories() -> list[StoreFactory]:
    factories = [
        StoreFactory("memory", lambda tmp: InMemoryStore()),
        StoreFactory(
            "sqlite-file",
            lambda tmp: open_sql_store(tmp / "memory.db"),
            reopen=lambda tmp: open_sql_store(tmp / "memory.db"),
        ),
        StoreFactory("sqlite-memory", lambda tmp: open_sql_store("sqlite://")),
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
        help="run tests/reliability with stress counts (many crash trials, processes, fuzz inputs)",
    )

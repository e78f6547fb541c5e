"""The BaseStore conformance suite (phase_memory.testing.spec_langgraph_store) on every store.

LangGraph's InMemoryStore is the reference; PhaseMemoryStore runs on the
in-memory adapter, SQLite and PostgreSQL. The differences: without an
embedding model InMemoryStore ignores ``query`` (returns every item, unscored),
while PhaseMemoryStore ranks by full-text activation (``ranks_queries``); a put
over an existing item keeps its ``created_at`` here (as LangGraph's SQL stores
do), while InMemoryStore gives it a new one (``keeps_created_at``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langgraph.store.memory import InMemoryStore

import phase_memory as pm
from phase_memory.langgraph import PhaseMemoryStore
from phase_memory.testing.spec_langgraph_store import *  # noqa: F403
from phase_memory.testing.spec_langgraph_store import StoreUnderTest


@pytest.fixture(params=["langgraph-in-memory", "memory", "sqlite", "postgres"])
def langgraph_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreUnderTest]:
    if request.param == "langgraph-in-memory":
        yield StoreUnderTest(InMemoryStore(), keeps_created_at=False)
        return
    if request.param == "memory":
        target = ":memory:"
    elif request.param == "sqlite":
        target = str(tmp_path / "memory.db")
    else:
        target = request.getfixturevalue("postgres_url").render_as_string(hide_password=False)
    with pm.open(target) as mem:
        yield StoreUnderTest(PhaseMemoryStore(mem), ranks_queries=True)

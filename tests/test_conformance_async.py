"""The runtime conformance specs, driven through AsyncPhaseMemoryRuntime on every adapter.

The ``mem`` fixture here replaces the sync one: each spec's calls are awaited
on the async runtime (phase_memory/testing/async_runtime.py), over the same
stores as tests/test_conformance_runtime*.py (memory, SQLite, PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from phase_memory.protocols import MemoryStore
from phase_memory.testing.async_runtime import BlockingRuntime, blocking_runtime
from phase_memory.testing.spec_activation import *  # noqa: F403
from phase_memory.testing.spec_diagnostics import *  # noqa: F403
from phase_memory.testing.spec_interchange import *  # noqa: F403
from phase_memory.testing.spec_mcp_memory import *  # noqa: F403
from phase_memory.testing.spec_paths import *  # noqa: F403
from phase_memory.testing.spec_review import *  # noqa: F403
from phase_memory.testing.spec_review_queue import *  # noqa: F403
from phase_memory.testing.spec_runtime import *  # noqa: F403
from phase_memory.testing.spec_runtime_properties import *  # noqa: F403


@pytest.fixture
def mem(store: MemoryStore) -> Iterator[BlockingRuntime]:
    """The runtime under test: the async runtime over a fresh store, driven from sync code."""
    yield from blocking_runtime(store)

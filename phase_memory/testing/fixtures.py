"""Fixtures of the conformance suite: one store factory, parametrised by the user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from phase_memory.protocols import MemoryStore
from phase_memory.runtime.runtime import PhaseMemoryRuntime


@dataclass(frozen=True)
class StoreFactory:
    """How to make a fresh, empty store of one adapter in a temporary directory.

    ``reopen`` (optional) opens the same data again, for durability tests.
    """

    name: str
    make: Callable[[Path], MemoryStore]
    reopen: Callable[[Path], MemoryStore] | None = None


@pytest.fixture
def store(store_factory: StoreFactory, tmp_path: Path) -> Iterator[MemoryStore]:
    """A fresh, empty store of the adapter under test."""
    made = store_factory.make(tmp_path)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def mem(store: MemoryStore) -> Iterator[PhaseMemoryRuntime]:
    """A runtime over a fresh store of the adapter under test."""
    runtime = PhaseMemoryRuntime(store)
    yield runtime


def requires(store: MemoryStore, capability: str) -> None:
    """Skip the calling test unless the store has ``capability`` (a field or extra)."""
    caps = store.capabilities
    if not (getattr(caps, capability, False) or capability in caps.extras):
        pytest.skip(f"adapter lacks capability {capability!r}")

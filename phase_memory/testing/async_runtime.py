"""Runs the runtime conformance specs through :class:`~phase_memory.AsyncPhaseMemoryRuntime`.

The spec functions are sync and take a ``mem`` fixture shaped like
:class:`~phase_memory.PhaseMemoryRuntime`. :class:`BlockingRuntime` is that
shape over an async runtime: each call is awaited on an event loop running in
a thread of its own (anyio's blocking portal), every listing is read with
``async for`` (so the paged streaming is what the specs check). Use it from a
test module that re-exports spec modules::

    import pytest
    from phase_memory.testing.async_runtime import blocking_runtime

    @pytest.fixture
    def mem(store):
        yield from blocking_runtime(store)

    from phase_memory.testing.spec_runtime import *  # noqa: F403

What the async parts leave out on purpose (store-level writes such as
``mem.graph.apply``, which specs use to build broken states) is reached on
the sync store. A transaction spanning several runtime calls
(``mem.store.transaction()``) is a sync-only API: specs using it are skipped.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from functools import partial
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from phase_memory.protocols import MemoryStore
from phase_memory.runtime.async_lanes import AsyncListing
from phase_memory.runtime.async_parts import (
    AsyncAuditReader,
    AsyncEventLogReader,
    AsyncGraphReader,
    AsyncPathsAPI,
)
from phase_memory.runtime.async_review import AsyncReviewQueue
from phase_memory.runtime.async_runtime import AsyncPhaseMemoryRuntime
from phase_memory.runtime.runtime import PhaseMemoryRuntime

_PARTS = (AsyncPathsAPI, AsyncGraphReader, AsyncEventLogReader, AsyncAuditReader,
          AsyncReviewQueue)


def blocking_runtime(store: MemoryStore) -> Iterator[BlockingRuntime]:
    """A :class:`BlockingRuntime` over an async runtime over ``store``, for a ``mem`` fixture."""
    with start_blocking_portal() as portal:
        runtime = AsyncPhaseMemoryRuntime(PhaseMemoryRuntime(store))
        yield BlockingRuntime(runtime, portal, fallback=runtime.sync)


async def _collect(listing: AsyncListing[Any]) -> list[Any]:
    return [item async for item in listing]


class BlockingRuntime:
    """Sync calls on an async runtime (or one of its parts), through a blocking portal.

    ``fallback``: the sync object whose attributes stand in for the names the
    async object does not have.
    """

    def __init__(self, target: object, portal: BlockingPortal, *, fallback: Any) -> None:
        self._target = target
        self._portal = portal
        self._fallback = fallback

    @property
    def store(self) -> _SyncStore:
        """The sync store, without multi-call transactions (a sync-only API)."""
        return _SyncStore(self._fallback.store)

    def __getattr__(self, name: str) -> Any:
        if not hasattr(self._target, name):
            return getattr(self._fallback, name)
        found = getattr(self._target, name)
        if isinstance(found, _PARTS):
            return BlockingRuntime(found, self._portal, fallback=getattr(self._fallback, name))
        if inspect.iscoroutinefunction(found):
            return partial(self._call_coroutine, found)
        if callable(found):
            return partial(self._call, found)
        return found

    def _call_coroutine(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return self._portal.call(partial(method, *args, **kwargs))

    def _call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        result = method(*args, **kwargs)
        if isinstance(result, AsyncListing):
            return self._portal.call(_collect, result)
        return result


class _SyncStore:
    """The sync store with ``transaction()`` refused (the specs that use it are skipped)."""

    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def transaction(self) -> AbstractContextManager[None]:
        pytest.skip("a transaction over several runtime calls is a sync-runtime API")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


__all__ = ["BlockingRuntime", "blocking_runtime"]

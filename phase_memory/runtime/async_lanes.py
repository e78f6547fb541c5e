"""Worker-thread lanes of the asyncio runtime, and listings as async iterators.

:class:`WorkerLanes` runs the sync runtime's calls on anyio worker threads:
writes on a lane of one (one writer at a time, as in the sync runtime),
reads on a lane of several. A call that has started in its thread always
runs to its end (``abandon_on_cancel=False``) and returns its result; a
cancellation that arrived meanwhile lands at the caller's next ``await``. So a
transaction is never cut in half and no thread is left behind still holding
the store. A call cancelled while it waits for its lane never starts.

:class:`AsyncListing` is what every listing of the async runtime returns:
``async for`` streams it a page at a time (each page fetched by one worker
call, so neither the loop nor a connection waits between pages), and
``await`` gives the whole list in one call.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from functools import partial
from itertools import islice
from typing import Generic, ParamSpec, TypeVar

import anyio
import anyio.to_thread

from phase_memory.errors import ValidationError

T = TypeVar("T")
P = ParamSpec("P")

PAGE_SIZE = 500
"""Records fetched by one worker call while an :class:`AsyncListing` is iterated."""

DEFAULT_MAX_READERS = 8
"""Reads running at once on one async runtime, unless ``max_readers`` says otherwise."""


class WorkerLanes:
    """The writer lane (capacity 1) and the reader lane of one async runtime."""

    def __init__(self, max_readers: int = DEFAULT_MAX_READERS) -> None:
        check_max_readers(max_readers)
        self.writer = anyio.CapacityLimiter(1)
        self.readers = anyio.CapacityLimiter(max_readers)

    async def write(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``call`` on the writer lane: one at a time, never abandoned half-way."""
        return await anyio.to_thread.run_sync(partial(call, *args, **kwargs), limiter=self.writer)

    async def read(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``call`` on the reader lane, beside other reads and the writer."""
        return await anyio.to_thread.run_sync(partial(call, *args, **kwargs), limiter=self.readers)

    def listing(
        self,
        source: Callable[[], Iterator[T] | builtins.list[T]],
        *,
        stream: Callable[[], Iterator[T]] | None = None,
    ) -> AsyncListing[T]:
        """An :class:`AsyncListing` of what ``source`` (a sync call) returns.

        ``stream``: a sync iterator of the same records that fetches them in
        pages, used by ``async for`` instead of ``source``.
        """
        return AsyncListing(self, source, stream=stream)


class AsyncListing(Generic[T]):
    """Records of an async runtime's listing: ``async for`` streams, ``await`` collects.

    Nothing is read until the listing is iterated or awaited; errors (an
    unknown id, a closed store) are raised there. Each ``async for`` reads
    afresh.
    """

    def __init__(
        self,
        lanes: WorkerLanes,
        source: Callable[[], Iterator[T] | builtins.list[T]],
        *,
        stream: Callable[[], Iterator[T]] | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._lanes = lanes
        self._source = source
        self._stream_source = stream or source
        self._page_size = page_size

    def __aiter__(self) -> AsyncIterator[T]:
        return self._stream()

    async def _stream(self) -> AsyncIterator[T]:
        # The sync iterator is advanced a page per worker call. The store's own
        # iterators hold no connection between pages (keyset pages), so a page
        # may be read by a different worker thread than the one before it.
        iterator = await self._lanes.read(_iterate, self._stream_source)
        while True:
            page = await self._lanes.read(_take, iterator, self._page_size)
            for item in page:
                yield item
            if len(page) < self._page_size:
                return

    async def to_list(self) -> builtins.list[T]:
        """Every record, read by one worker call."""
        return await self._lanes.read(_collect, self._source)

    def __await__(self) -> Generator[object, None, builtins.list[T]]:
        return self.to_list().__await__()


def check_max_readers(max_readers: int) -> None:
    """Refuse a reader lane of no threads (ValidationError naming the value)."""
    if isinstance(max_readers, bool) or not isinstance(max_readers, int) or max_readers < 1:
        raise ValidationError(f"max_readers must be a whole number >= 1, not {max_readers!r}")


def _iterate(source: Callable[[], Iterator[T] | builtins.list[T]]) -> Iterator[T]:
    return iter(source())


def _take(iterator: Iterator[T], count: int) -> builtins.list[T]:
    return builtins.list(islice(iterator, count))


def _collect(source: Callable[[], Iterator[T] | builtins.list[T]]) -> builtins.list[T]:
    found = source()
    return found if isinstance(found, builtins.list) else builtins.list(found)


__all__ = ["DEFAULT_MAX_READERS", "PAGE_SIZE", "AsyncListing", "WorkerLanes", "check_max_readers"]

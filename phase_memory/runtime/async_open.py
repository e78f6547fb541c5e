"""``pm.open_async``: open a memory for asyncio code, on a worker thread."""

from __future__ import annotations

import os
from collections.abc import Callable, Generator
from types import TracebackType
from typing import Literal

import anyio.to_thread

from phase_memory.runtime.async_lanes import DEFAULT_MAX_READERS, check_max_readers
from phase_memory.runtime.async_runtime import AsyncPhaseMemoryRuntime
from phase_memory.runtime.open import open as open_sync
from phase_memory.runtime.runtime import PhaseMemoryRuntime


class AsyncOpening:
    """What :func:`open_async` returns: ``async with`` it, or ``await`` it.

    The database is opened (and, on a new file, created by its migrations) on
    a worker thread when the ``async with`` block is entered or the object is
    awaited; ``async with`` closes the runtime at the end of the block.
    """

    def __init__(
        self, opener: Callable[[], PhaseMemoryRuntime], *, max_readers: int
    ) -> None:
        self._opener = opener
        self._max_readers = max_readers
        self._runtime: AsyncPhaseMemoryRuntime | None = None

    async def _open(self) -> AsyncPhaseMemoryRuntime:
        # Opening reads files and may run migrations: a worker thread does it.
        runtime = await anyio.to_thread.run_sync(self._opener)
        return AsyncPhaseMemoryRuntime(runtime, max_readers=self._max_readers)

    def __await__(self) -> Generator[object, None, AsyncPhaseMemoryRuntime]:
        return self._open().__await__()

    async def __aenter__(self) -> AsyncPhaseMemoryRuntime:
        self._runtime = await self._open()
        return self._runtime

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runtime is not None:
            runtime, self._runtime = self._runtime, None
            await runtime.close()


def open_async(
    target: str | os.PathLike[str] = "phase-memory.db",
    *,
    read_only: bool = False,
    upgrade: bool = False,
    busy_timeout: float = 5.0,
    synchronous: Literal["normal", "full"] = "normal",
    journal_mode: Literal["wal", "delete"] = "wal",
    actor: str = "system",
    max_readers: int = DEFAULT_MAX_READERS,
) -> AsyncOpening:
    """Open a memory for asyncio code: ``async with pm.open_async(target) as mem:``.

    Takes the options of :func:`phase_memory.open` (same meaning, same errors),
    plus ``max_readers``: how many reads of this runtime run at once on worker
    threads (writes run one at a time). ``mem = await pm.open_async(target)``
    works too; then ``await mem.close()`` when done.
    """
    check_max_readers(max_readers)

    def opener() -> PhaseMemoryRuntime:
        return open_sync(
            target, read_only=read_only, upgrade=upgrade, busy_timeout=busy_timeout,
            synchronous=synchronous, journal_mode=journal_mode, actor=actor,
        )

    return AsyncOpening(opener, max_readers=max_readers)


__all__ = ["AsyncOpening", "open_async"]

"""The runtime: :class:`PhaseMemoryRuntime` and :func:`open`, their asyncio twins."""

from phase_memory.runtime.async_lanes import AsyncListing
from phase_memory.runtime.async_open import AsyncOpening, open_async
from phase_memory.runtime.async_parts import (
    AsyncAuditReader,
    AsyncEventLogReader,
    AsyncGraphReader,
    AsyncPathsAPI,
)
from phase_memory.runtime.async_review import AsyncReviewQueue
from phase_memory.runtime.async_runtime import AsyncPhaseMemoryRuntime
from phase_memory.runtime.open import open
from phase_memory.runtime.paths import PathsAPI
from phase_memory.runtime.review_queue import Proposal, ProposeResult, ReviewQueue
from phase_memory.runtime.runtime import PhaseMemoryRuntime

__all__ = [
    "AsyncAuditReader",
    "AsyncEventLogReader",
    "AsyncGraphReader",
    "AsyncListing",
    "AsyncOpening",
    "AsyncPathsAPI",
    "AsyncPhaseMemoryRuntime",
    "AsyncReviewQueue",
    "PathsAPI",
    "PhaseMemoryRuntime",
    "Proposal",
    "ProposeResult",
    "ReviewQueue",
    "open",
    "open_async",
]

"""AsyncPhaseMemoryRuntime: the runtime for asyncio (and trio) code (``pm.open_async`` opens one).

How it works: the sync :class:`~phase_memory.PhaseMemoryRuntime` runs on anyio
worker threads (``anyio.to_thread.run_sync`` with capacity limiters, see
``runtime/async_lanes.py``). Writes take a lane of one, so this runtime has
one writer at a time exactly as the sync runtime has (on SQLite its write
transactions still start with ``BEGIN IMMEDIATE``); reads take a lane of
``max_readers`` threads and run beside the writer and each other. On SQLite
each worker thread keeps its own connections (``sql/connections.py``); the
in-memory adapter guards its state with its own re-entrant lock. Calls that
must see one state across many statements (``diagnose`` and the exports) take
the writer's lane, so no write of this runtime lands in their middle.

Why worker threads and not SQLAlchemy's asyncio extension (``aiosqlite``,
psycopg's async driver):

- One code path. Worker threads run the very recorder, fold, transactions and
  SQL statements the sync runtime runs, on all three adapters; the asyncio
  extension would need a second, ``await``-shaped copy of every store and of
  the in-memory adapter, which the conformance suite would then have to keep
  equal to the first forever.
- Faster. ``aiosqlite`` itself runs each SQLite connection on a thread of
  its own and hops to it for every statement (and SQLAlchemy's asyncio layer
  adds a greenlet switch per call), where a worker thread hops once per
  runtime call (a ``save_node`` is a handful of statements). Measured on this
  project's shared 2-core VM (``python -m benchmarks.measure_async_choice``,
  2,000 transactions into an SQLite WAL file, two runs at a load of 12):
  one INSERT per transaction, sync SQLAlchemy on a worker thread 700-980
  tx/s against 220-380 tx/s for the asyncio engine over ``aiosqlite``; one
  INSERT and three SELECTs, 490-775 against 145-170 tx/s (the floor, sync on
  the calling thread with no loop: 1,670-1,780 and 1,020-1,150 tx/s). With
  the whole runtime call on the thread the hop matters less still: the
  ``async_record`` benchmark (10,000 ``await mem.save_node``) runs at about
  the sync runtime's rate (``docs/performance.md``).
- No new dependency besides anyio (which Starlette, httpx and the MCP SDK
  already bring); the asyncio extension needs ``greenlet`` and an async
  driver per database.
- Cancellation is simple to make safe: a started call finishes in its thread
  (see below), where an ``await``-ed driver can be interrupted between
  ``BEGIN`` and ``COMMIT`` and must be rolled back on the way out.

Cancellation: a call that waits for its lane when cancelled never starts. A
call already running in its thread runs to its end (anyio's
``abandon_on_cancel=False``): a write commits in full, or fails and rolls
back in full. Its result (or its error) is then returned to the awaiting
coroutine as usual, and the cancellation lands at that coroutine's next
``await``. So a cancelled write is all or nothing, the caller learns which
when the call returned, and the runtime is usable at once afterwards.

The event loop keeps running while a call works: the worker thread holds
Python's GIL for at most the interpreter's switch interval (5 ms by default)
at a time. tests/test_async_loop.py runs a 1 ms heartbeat beside a
100,000-record import and a 10,000-event ``record_many``. What no thread can
prevent is CPython's full garbage collection, which stops every thread for a
walk over every object of the process (how long depends on the host's heap,
not on this library); that test explains how it keeps those passes out.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import TypeVar

from phase_memory.diagnostics import RepairReport
from phase_memory.interchange.mcp_memory import ImportMode
from phase_memory.interchange.progress import ProgressCallback
from phase_memory.interchange.results import ExportResult, ImportResult
from phase_memory.models import (
    ActivationPlan,
    FactVersion,
    LifecycleAction,
    MemoryEdge,
    MemoryEvent,
    MemoryNode,
    Profile,
)
from phase_memory.protocols import MemoryStore
from phase_memory.recorder import Recorder
from phase_memory.runtime.async_lanes import DEFAULT_MAX_READERS, AsyncListing, WorkerLanes
from phase_memory.runtime.async_parts import (
    AsyncAuditReader,
    AsyncEventLogReader,
    AsyncGraphReader,
    AsyncPathsAPI,
)
from phase_memory.runtime.async_review import AsyncReviewQueue
from phase_memory.runtime.lifecycle import ApplyResult, ReviewPlan
from phase_memory.runtime.runtime import PhaseMemoryRuntime

_T = TypeVar("_T")


class AsyncPhaseMemoryRuntime:
    """The asyncio face of :class:`~phase_memory.PhaseMemoryRuntime`: the same methods, awaited.

    Make one with :func:`open_async` (``async with pm.open_async(target) as mem:``)
    or around a sync runtime you already have (``AsyncPhaseMemoryRuntime(runtime)``;
    it then owns it and closes it). Errors, results and transactions are those of
    the sync runtime. Listings return an
    :class:`~phase_memory.runtime.async_lanes.AsyncListing`.
    """

    def __init__(
        self, runtime: PhaseMemoryRuntime, *, max_readers: int = DEFAULT_MAX_READERS
    ) -> None:
        self._runtime = runtime
        self._lanes = WorkerLanes(max_readers)
        self.paths = AsyncPathsAPI(runtime, self._lanes)
        self.graph = AsyncGraphReader(runtime, self._lanes)
        self.events = AsyncEventLogReader(runtime, self._lanes)
        self.audit = AsyncAuditReader(runtime, self._lanes)
        self.review = AsyncReviewQueue(runtime, self._lanes)

    @property
    def sync(self) -> PhaseMemoryRuntime:
        """The sync runtime underneath (its calls block: run them on a worker thread)."""
        return self._runtime

    @property
    def recorder(self) -> Recorder:
        """The sync recorder underneath (its calls block: prefer the async methods)."""
        return self._runtime.recorder

    @property
    def store(self) -> MemoryStore:
        """The sync store underneath (its calls block: prefer the async parts)."""
        return self._runtime.store

    @property
    def actor(self) -> str:
        """Who the events and audit records this runtime writes name as their actor."""
        return self._runtime.actor

    # --- lifetime ---------------------------------------------------------------

    async def close(self) -> None:
        """Wait for the running write, then release the store's connections and files."""
        await self._lanes.write(self._runtime.close)

    async def __aenter__(self) -> AsyncPhaseMemoryRuntime:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- recording ----------------------------------------------------------------

    async def record(self, event: MemoryEvent) -> MemoryEvent:
        """Append one event and apply its graph effect atomically; return it with its position."""
        return await self._lanes.write(self._runtime.record, event)

    async def record_many(self, events: Sequence[MemoryEvent]) -> list[MemoryEvent]:
        """Append events and apply their graph effects in one transaction (all or nothing)."""
        batch = list(events)
        return await self._lanes.write(self._runtime.record_many, batch)

    async def record_trusted(self, events: Sequence[MemoryEvent]) -> list[MemoryEvent]:
        """:meth:`record_many` for events whose payloads were built from validated models."""
        batch = list(events)
        return await self._lanes.write(self._runtime.record_trusted, batch)

    async def run_in_transaction(self, work: Callable[[PhaseMemoryRuntime], _T]) -> _T:
        """Run ``work(sync_runtime)`` as one write: one transaction, on the writer's lane.

        For a unit of work made of several runtime calls that must see one state
        and commit or roll back together (look up, then write): every call
        ``work`` makes on the sync runtime joins the transaction. On SQLite the
        transaction starts with ``BEGIN IMMEDIATE``, so another process's writes
        cannot land between the look-up and the write.
        """

        def in_transaction() -> _T:
            with self._runtime.store.transaction():
                return work(self._runtime)

        return await self._lanes.write(in_transaction)

    async def run_reading(self, work: Callable[[PhaseMemoryRuntime], _T]) -> _T:
        """Run ``work(sync_runtime)`` as a read: on the reader lane, outside any transaction.

        For a unit of work made of several reads (look up, then look around):
        it runs beside other reads and beside the writer, so it never waits for
        a write in progress, in this process or another (SQLite in WAL mode,
        PostgreSQL). Each store call reads the latest committed state, so a write
        may land between two of its calls; ``work`` must only read (a unit that
        writes belongs in :meth:`run_in_transaction`).
        """
        return await self._lanes.read(work, self._runtime)

    # --- convenience writers --------------------------------------------------

    async def save_profile(self, profile: Profile) -> Profile:
        """Record ``profile.saved``; keeps the original ``created_at`` on updates."""
        return await self._lanes.write(self._runtime.save_profile, profile)

    async def save_node(
        self,
        node: MemoryNode,
        *,
        expected_version: int | None = None,
        path_id: str | None = None,
        supersedes: str | None = None,
        correction: bool = False,
    ) -> MemoryNode:
        """Record ``node.saved`` with the next version; return the node as stored.

        ``supersedes`` / ``correction``: as :meth:`PhaseMemoryRuntime.save_node`.
        """
        return await self._lanes.write(
            self._runtime.save_node, node, expected_version=expected_version, path_id=path_id,
            supersedes=supersedes, correction=correction,
        )

    async def save_edge(
        self, edge: MemoryEdge, *, path_id: str | None = None, correction: bool = False
    ) -> MemoryEdge:
        """Record ``edge.saved``; single-valued kinds supersede the source's current edge."""
        return await self._lanes.write(
            self._runtime.save_edge, edge, path_id=path_id, correction=correction
        )

    async def delete_node(self, node_id: str, *, path_id: str | None = None) -> None:
        """Record ``node.deleted``; the node's edges go with it."""
        await self._lanes.write(self._runtime.delete_node, node_id, path_id=path_id)

    async def delete_edge(self, edge_id: str, *, path_id: str | None = None) -> None:
        """Record ``edge.deleted``."""
        await self._lanes.write(self._runtime.delete_edge, edge_id, path_id=path_id)

    # --- lifecycle, activation ---------------------------------------------------

    async def plan(self, actions: Sequence[LifecycleAction]) -> ReviewPlan:
        """Which actions need review and what each would touch; writes nothing."""
        batch = list(actions)
        return await self._lanes.read(self._runtime.plan, batch)

    async def apply(self, actions: Sequence[LifecycleAction]) -> ApplyResult:
        """Apply lifecycle actions atomically; refuse review-required ones without approval."""
        batch = list(actions)
        return await self._lanes.write(self._runtime.apply, batch)

    async def activate(
        self,
        profile_id: str,
        query: str,
        *,
        budget: int | None = None,
        path_id: str | None = None,
        valid_at: datetime | None = None,
        include_superseded: bool = False,
    ) -> ActivationPlan:
        """Rank the profile's memories for ``query`` and store the plan (valid now by default)."""
        return await self._lanes.write(
            self._runtime.activate, profile_id, query, budget=budget, path_id=path_id,
            valid_at=valid_at, include_superseded=include_superseded,
        )

    def history(self, record_id: str) -> AsyncListing[FactVersion]:
        """Every version of node or edge ``record_id``, oldest first, on both time axes."""
        return self._lanes.listing(lambda: self._runtime.history(record_id))

    # --- diagnostics and interchange (on the writer's lane: one consistent state) ----

    async def diagnose(self) -> RepairReport:
        """Check the store for broken references, drift, leftovers of forgotten content."""
        return await self._lanes.write(self._runtime.diagnose)

    async def verify_forgotten(self, node_id: str) -> RepairReport:
        """Check again that node ``node_id``'s forget left nothing (``doctor --forgotten``)."""
        return await self._lanes.write(self._runtime.verify_forgotten, node_id)

    async def export_envelope(
        self,
        out: str | os.PathLike[str],
        *,
        profile_id: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ExportResult:
        """Write the graph (or one profile) as a deterministic Markitect graph envelope."""
        return await self._lanes.write(
            self._runtime.export_envelope, out, profile_id=profile_id, progress=progress
        )

    async def import_envelope(
        self,
        src: str | os.PathLike[str],
        *,
        check_only: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ImportResult:
        """Validate then import a graph envelope, all or nothing."""
        return await self._lanes.write(
            self._runtime.import_envelope, src, check_only=check_only, progress=progress
        )

    async def export_events(
        self,
        out: str | os.PathLike[str],
        *,
        profile_id: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ExportResult:
        """Write the event log (or one profile's events) as JSONL in position order."""
        return await self._lanes.write(
            self._runtime.export_events, out, profile_id=profile_id, progress=progress
        )

    async def import_events(
        self,
        src: str | os.PathLike[str],
        *,
        check_only: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ImportResult:
        """Validate then append (and project) the events of a JSONL file, all or nothing."""
        return await self._lanes.write(
            self._runtime.import_events, src, check_only=check_only, progress=progress
        )

    async def export_audit(
        self, out: str | os.PathLike[str], *, progress: ProgressCallback | None = None
    ) -> ExportResult:
        """Write the audit records as JSONL in write order."""
        return await self._lanes.write(self._runtime.export_audit, out, progress=progress)

    async def import_audit(
        self,
        src: str | os.PathLike[str],
        *,
        check_only: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ImportResult:
        """Validate then import audit records from JSONL, all or nothing."""
        return await self._lanes.write(
            self._runtime.import_audit, src, check_only=check_only, progress=progress
        )

    async def export_workspace(
        self, directory: str | os.PathLike[str], *, progress: ProgressCallback | None = None
    ) -> ExportResult:
        """Write the whole memory as a workspace directory."""
        return await self._lanes.write(
            self._runtime.export_workspace, directory, progress=progress
        )

    async def import_workspace(
        self,
        directory: str | os.PathLike[str],
        *,
        check_only: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ImportResult:
        """Validate then import a workspace directory into this (empty) memory."""
        return await self._lanes.write(
            self._runtime.import_workspace, directory, check_only=check_only, progress=progress
        )

    async def import_mcp_memory(
        self,
        src: str | os.PathLike[str],
        *,
        profile_id: str = "default",
        mode: ImportMode = "strict",
        skip_invalid: bool = False,
        check_only: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ImportResult:
        """Import the MCP memory server's ``memory.jsonl`` into a profile (default "default").

        ``mode="sync"`` makes the profile follow the file; ``skip_invalid=True``
        imports the valid lines and lists the others (see ``docs/mcp-memory.md``).
        """
        return await self._lanes.write(
            self._runtime.import_mcp_memory, src, profile_id=profile_id, mode=mode,
            skip_invalid=skip_invalid, check_only=check_only, progress=progress,
        )

    async def import_path(
        self,
        src: str | os.PathLike[str],
        *,
        profile_id: str | None = None,
        mode: ImportMode = "strict",
        skip_invalid: bool = False,
        check_only: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ImportResult:
        """Import whatever format ``src`` holds (``detect_format``), as ``phase-memory import``."""
        return await self._lanes.write(
            self._runtime.import_path, src, profile_id=profile_id, mode=mode,
            skip_invalid=skip_invalid, check_only=check_only, progress=progress,
        )

    async def export_mcp_memory(
        self,
        out: str | os.PathLike[str],
        *,
        profile_id: str = "default",
        progress: ProgressCallback | None = None,
    ) -> ExportResult:
        """Write a profile as the MCP memory server's ``memory.jsonl`` (its exact line format)."""
        return await self._lanes.write(
            self._runtime.export_mcp_memory, out, profile_id=profile_id, progress=progress
        )


__all__ = ["AsyncPhaseMemoryRuntime"]

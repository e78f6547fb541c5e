"""The parts of :class:`~phase_memory.AsyncPhaseMemoryRuntime`: paths, graph, events, audit.

Each mirrors its sync counterpart one for one (tests/test_async_mirror.py
holds them to it): a method that reads or writes one thing is a coroutine;
a method whose sync twin returns a list or an iterator of records returns an
:class:`~phase_memory.runtime.async_lanes.AsyncListing` (``async for`` it, or
``await`` it for the list). The graph, events and audit parts are read-only:
durable changes go through the runtime's writers, which record the events.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from phase_memory.models import (
    ActivationPlan,
    AuditOutcome,
    AuditRecord,
    GraphSnapshot,
    MemoryEdge,
    MemoryEvent,
    MemoryNode,
    MemoryPath,
    NodeState,
    Profile,
    ReplayResult,
    ValidAt,
)
from phase_memory.protocols import EventPayload, MemoryEventLog, Neighbourhood, TextMatch
from phase_memory.runtime.async_lanes import PAGE_SIZE, AsyncListing, WorkerLanes

if TYPE_CHECKING:
    from phase_memory.runtime.runtime import PhaseMemoryRuntime

GRAPH_WRITES = frozenset(
    {"save_profile", "delete_profile", "save_node", "delete_node", "save_edge", "delete_edge",
     "save_path", "delete_path", "apply"}
)
"""Methods of the sync graph store the async graph part leaves out: write through the runtime."""

EVENT_LOG_WRITES = frozenset({"append", "replace_payloads"})
"""Methods of the sync event log the async events part leaves out (record through the runtime)."""

AUDIT_WRITES = frozenset({"record", "replace_details"})
"""Methods of the sync audit sink the async audit part leaves out (the runtime audits)."""


class AsyncPathsAPI:
    """``mem.paths`` of the async runtime: :class:`~phase_memory.PathsAPI` as coroutines."""

    def __init__(self, runtime: PhaseMemoryRuntime, lanes: WorkerLanes) -> None:
        self._runtime = runtime
        self._lanes = lanes

    async def get(self, path_id: str) -> MemoryPath:
        """The path with this id."""
        return await self._lanes.read(self._runtime.paths.get, path_id)

    def list(self, profile_id: str | None = None) -> AsyncListing[MemoryPath]:
        """Paths by id, optionally of one profile."""
        return self._lanes.listing(lambda: self._runtime.paths.list(profile_id))

    async def open(
        self, profile_id: str, *, path_id: str | None = None, active: bool = True
    ) -> MemoryPath:
        """Start a new conversation: a root path, active in its own tree by default."""
        return await self._lanes.write(
            self._runtime.paths.open, profile_id, path_id=path_id, active=active
        )

    async def branch(
        self,
        path_id: str,
        *,
        at: str | None = None,
        new_path_id: str | None = None,
        activate: bool = False,
    ) -> MemoryPath:
        """Fork a child path from ``path_id`` at event ``at`` (default: its latest event)."""
        return await self._lanes.write(
            self._runtime.paths.branch, path_id, at=at, new_path_id=new_path_id,
            activate=activate,
        )

    async def merge(self, path_id: str, *, into: str) -> MemoryPath:
        """Merge ``path_id`` into ``into``: its own events join the target's history."""
        return await self._lanes.write(self._runtime.paths.merge, path_id, into=into)

    async def abandon(self, path_id: str, *, reason: str) -> MemoryPath:
        """Mark the path abandoned, keeping its events."""
        return await self._lanes.write(self._runtime.paths.abandon, path_id, reason=reason)

    async def activate(self, path_id: str) -> MemoryPath:
        """Make this path the active one of its conversation tree."""
        return await self._lanes.write(self._runtime.paths.activate, path_id)

    def lineage(self, path_id: str) -> AsyncListing[MemoryPath]:
        """The path and its ancestors, root first."""
        return self._lanes.listing(lambda: self._runtime.paths.lineage(path_id))

    def events(self, path_id: str) -> AsyncListing[MemoryEvent]:
        """The path's effective history: inherited prefix, own events, merged branches."""
        return self._lanes.listing(lambda: self._runtime.paths.events(path_id))


class AsyncGraphReader:
    """``mem.graph`` of the async runtime: the graph store's reads as coroutines."""

    def __init__(self, runtime: PhaseMemoryRuntime, lanes: WorkerLanes) -> None:
        self._runtime = runtime
        self._lanes = lanes

    async def get_profile(self, profile_id: str) -> Profile:
        """The profile with this id (NotFoundError if none)."""
        return await self._lanes.read(lambda: self._runtime.graph.get_profile(profile_id))

    async def find_profile(self, profile_id: str) -> Profile | None:
        """The profile with this id, or None."""
        return await self._lanes.read(lambda: self._runtime.graph.find_profile(profile_id))

    def list_profiles(self) -> AsyncListing[Profile]:
        """Every profile, by id."""
        return self._lanes.listing(lambda: self._runtime.graph.list_profiles())

    async def get_node(self, node_id: str) -> MemoryNode:
        """The node with this id (NotFoundError if none)."""
        return await self._lanes.read(lambda: self._runtime.graph.get_node(node_id))

    async def find_node(self, node_id: str) -> MemoryNode | None:
        """The node with this id, or None."""
        return await self._lanes.read(lambda: self._runtime.graph.find_node(node_id))

    async def find_nodes(self, node_ids: Iterable[str]) -> dict[str, MemoryNode]:
        """The nodes of these ids that exist, keyed by id, in the order of ``node_ids``."""
        ids = builtins.list(node_ids)  # read here: the caller's iterable stays on the loop
        return await self._lanes.read(lambda: self._runtime.graph.find_nodes(ids))

    async def find_nodes_by_name(
        self, profile_id: str, names: Iterable[str]
    ) -> dict[str, builtins.list[MemoryNode]]:
        """Nodes of ``profile_id`` whose ``mcp_name`` attribute is one of ``names``, by name."""
        wanted = builtins.list(names)  # read here: the caller's iterable stays on the loop
        return await self._lanes.read(
            lambda: self._runtime.graph.find_nodes_by_name(profile_id, wanted)
        )

    def list_nodes(
        self,
        profile_id: str,
        kind: str | None = None,
        state: NodeState | None = None,
        *,
        valid_at: ValidAt = "now",
    ) -> AsyncListing[MemoryNode]:
        """Nodes of a profile valid at ``valid_at``, optionally of one kind and state, by id."""
        return self._lanes.listing(
            lambda: self._runtime.graph.list_nodes(
                profile_id, kind=kind, state=state, valid_at=valid_at
            )
        )

    def iter_nodes(self, profile_id: str | None = None) -> AsyncListing[MemoryNode]:
        """Stream nodes by id (all profiles when ``profile_id`` is None)."""
        return self._lanes.listing(lambda: self._runtime.graph.iter_nodes(profile_id))

    async def get_edge(self, edge_id: str) -> MemoryEdge:
        """The edge with this id (NotFoundError if none)."""
        return await self._lanes.read(lambda: self._runtime.graph.get_edge(edge_id))

    async def find_edge(self, edge_id: str) -> MemoryEdge | None:
        """The edge with this id, or None."""
        return await self._lanes.read(lambda: self._runtime.graph.find_edge(edge_id))

    def list_edges(
        self,
        profile_id: str,
        source_id: str | None = None,
        target_id: str | None = None,
        kind: str | None = None,
        *,
        valid_at: ValidAt = "now",
    ) -> AsyncListing[MemoryEdge]:
        """Edges of a profile valid at ``valid_at``, optionally by source, target and kind."""
        return self._lanes.listing(
            lambda: self._runtime.graph.list_edges(
                profile_id, source_id=source_id, target_id=target_id, kind=kind,
                valid_at=valid_at,
            )
        )

    def iter_edges(self, profile_id: str | None = None) -> AsyncListing[MemoryEdge]:
        """Stream edges by id (all profiles when ``profile_id`` is None)."""
        return self._lanes.listing(lambda: self._runtime.graph.iter_edges(profile_id))

    async def get_path(self, path_id: str) -> MemoryPath:
        """The path with this id (NotFoundError if none)."""
        return await self._lanes.read(lambda: self._runtime.graph.get_path(path_id))

    async def find_path(self, path_id: str) -> MemoryPath | None:
        """The path with this id, or None."""
        return await self._lanes.read(lambda: self._runtime.graph.find_path(path_id))

    def list_paths(self, profile_id: str | None = None) -> AsyncListing[MemoryPath]:
        """Paths by id, optionally of one profile."""
        return self._lanes.listing(lambda: self._runtime.graph.list_paths(profile_id))

    async def get_activation_plan(self, plan_id: str) -> ActivationPlan:
        """A stored activation plan (NotFoundError if none)."""
        return await self._lanes.read(lambda: self._runtime.graph.get_activation_plan(plan_id))

    def list_activation_plans(self, profile_id: str | None = None) -> AsyncListing[ActivationPlan]:
        """Stored activation plans, optionally of one profile."""
        return self._lanes.listing(lambda: self._runtime.graph.list_activation_plans(profile_id))

    def edges_touching(self, node_id: str) -> AsyncListing[MemoryEdge]:
        """Edges with this node at either end."""
        return self._lanes.listing(lambda: self._runtime.graph.edges_touching(node_id))

    def paths_in_tree(self, root_path_id: str) -> AsyncListing[MemoryPath]:
        """Every path of the conversation tree rooted at ``root_path_id``."""
        return self._lanes.listing(lambda: self._runtime.graph.paths_in_tree(root_path_id))

    def plans_mentioning(self, node_id: str) -> AsyncListing[ActivationPlan]:
        """Stored activation plans with an item for this node."""
        return self._lanes.listing(lambda: self._runtime.graph.plans_mentioning(node_id))

    async def neighbourhood(
        self, node_id: str, depth: int = 1, *, valid_at: ValidAt = "now"
    ) -> Neighbourhood:
        """The nodes and edges valid at ``valid_at`` within ``depth`` hops of a node."""
        return await self._lanes.read(
            lambda: self._runtime.graph.neighbourhood(node_id, depth, valid_at=valid_at)
        )

    async def counts(self, profile_id: str | None = None) -> dict[str, int]:
        """How many profiles, nodes, edges, paths (of one profile, or all)."""
        return await self._lanes.read(lambda: self._runtime.graph.counts(profile_id))

    def search_text(
        self, profile_id: str, terms: Sequence[str], limit: int
    ) -> AsyncListing[TextMatch]:
        """Nodes of a profile matching any of ``terms`` (plain words), best first."""
        words = builtins.list(terms)
        return self._lanes.listing(
            lambda: self._runtime.graph.search_text(profile_id, words, limit)
        )

    def search_substring(
        self, profile_id: str, text: str, limit: int
    ) -> AsyncListing[TextMatch]:
        """Nodes of a profile whose kind, label or content holds ``text``, best first."""
        return self._lanes.listing(
            lambda: self._runtime.graph.search_substring(profile_id, text, limit)
        )

    async def snapshot(self) -> GraphSnapshot:
        """Everything stored, as a snapshot comparable with a replay."""
        return await self._lanes.read(lambda: self._runtime.graph.snapshot())


class AsyncEventLogReader:
    """``mem.events`` of the async runtime: the event log's reads as coroutines."""

    def __init__(self, runtime: PhaseMemoryRuntime, lanes: WorkerLanes) -> None:
        self._runtime = runtime
        self._lanes = lanes

    async def get(self, event_id: str) -> MemoryEvent:
        """The event with this id (position set)."""
        return await self._lanes.read(lambda: self._runtime.events.get(event_id))

    def list(
        self,
        profile_id: str | None = None,
        kinds: Sequence[str] | None = None,
        path_id: str | None = None,
        after: int | None = None,
        limit: int | None = None,
        *,
        newest_first: bool = False,
    ) -> AsyncListing[MemoryEvent]:
        """Events in position order, filtered; ``after`` is an exclusive position.

        ``async for`` reads it in pages by position (bounded memory however
        long the log); ``await`` reads it with one call of the sync log.
        ``newest_first=True`` (descending positions) is read with one call
        either way: the log has no upper bound to page down by.
        """
        kind_list = None if kinds is None else builtins.list(kinds)

        def source() -> Iterator[MemoryEvent] | builtins.list[MemoryEvent]:
            return self._runtime.events.list(
                profile_id, kind_list, path_id, after, limit, newest_first=newest_first
            )

        def pages() -> Iterator[MemoryEvent]:
            return _event_pages(self._runtime.events, profile_id, kind_list, path_id, after, limit)

        return self._lanes.listing(source, stream=None if newest_first else pages)

    def payloads(
        self,
        profile_id: str | None = None,
        kinds: Sequence[str] | None = None,
        path_id: str | None = None,
        after: int | None = None,
        limit: int | None = None,
        *,
        newest_first: bool = False,
    ) -> AsyncListing[EventPayload]:
        """:meth:`list`'s events as (position, id, kind, path, payload), read with one call."""
        kind_list = None if kinds is None else builtins.list(kinds)
        return self._lanes.listing(
            lambda: self._runtime.events.payloads(
                profile_id, kind_list, path_id, after, limit, newest_first=newest_first
            )
        )

    def newest_per_path(
        self, root_path_id: str, kinds: Sequence[str] | None = None
    ) -> AsyncListing[EventPayload]:
        """The newest event (of ``kinds``) on each path of a conversation tree, by path id."""
        kind_list = None if kinds is None else builtins.list(kinds)
        return self._lanes.listing(
            lambda: self._runtime.events.newest_per_path(root_path_id, kind_list)
        )

    def iter(
        self, profile_id: str | None = None, after: int | None = None, until: int | None = None
    ) -> AsyncListing[MemoryEvent]:
        """Stream events in position order, ``after`` < position <= ``until``."""
        return self._lanes.listing(lambda: self._runtime.events.iter(profile_id, after, until))

    async def replay(self, until: int | None = None, path_id: str | None = None) -> ReplayResult:
        """Fold the log (up to ``until``, along ``path_id``'s history) into a snapshot."""
        return await self._lanes.read(lambda: self._runtime.events.replay(until, path_id))

    async def last_position(self) -> int:
        """The position of the newest event, 0 when the log is empty."""
        return await self._lanes.read(lambda: self._runtime.events.last_position())

    def find_mentioning(self, text: str, *others: str) -> AsyncListing[MemoryEvent]:
        """Events whose payload contains ``text`` (or any of ``others``) anywhere."""
        return self._lanes.listing(lambda: self._runtime.events.find_mentioning(text, *others))


class AsyncAuditReader:
    """``mem.audit`` of the async runtime: the audit records, as an async listing."""

    def __init__(self, runtime: PhaseMemoryRuntime, lanes: WorkerLanes) -> None:
        self._runtime = runtime
        self._lanes = lanes

    def list(
        self,
        operation: str | None = None,
        outcome: AuditOutcome | None = None,
        after: datetime | None = None,
        limit: int | None = None,
    ) -> AsyncListing[AuditRecord]:
        """Audit records in the order they were written, optionally filtered.

        Read with one call of the sync sink (its listing has no position to
        page by), then handed out a page at a time.
        """
        return self._lanes.listing(
            lambda: self._runtime.audit.list(operation, outcome, after, limit)
        )

    def find_mentioning(self, text: str, *others: str) -> AsyncListing[AuditRecord]:
        """Audit records whose details contain ``text`` (or any of ``others``), in write order."""
        return self._lanes.listing(lambda: self._runtime.audit.find_mentioning(text, *others))


def _event_pages(
    log: MemoryEventLog,
    profile_id: str | None,
    kinds: builtins.list[str] | None,
    path_id: str | None,
    after: int | None,
    limit: int | None,
) -> Iterator[MemoryEvent]:
    """The events of one listing, fetched by position a page at a time (no connection kept)."""
    remaining = limit
    cursor = after
    while remaining is None or remaining > 0:
        size = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
        page = log.list(profile_id, kinds, path_id, cursor, size)
        yield from page
        if len(page) < size:
            return
        cursor = page[-1].position
        if remaining is not None:
            remaining -= len(page)


__all__ = [
    "AUDIT_WRITES",
    "EVENT_LOG_WRITES",
    "GRAPH_WRITES",
    "AsyncAuditReader",
    "AsyncEventLogReader",
    "AsyncGraphReader",
    "AsyncPathsAPI",
]

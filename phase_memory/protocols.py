"""The store protocols every adapter implements.

``MemoryGraphStore``, ``MemoryEventLog`` and ``AuditSink`` are the public
protocols of the specification. ``MemoryStore`` bundles the three with the one
thing the runtime needs beyond them: a transaction spanning all three, so an
event and its graph effect commit together or not at all.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol, runtime_checkable

from phase_memory.models import (
    ActivationPlan,
    AuditOutcome,
    AuditRecord,
    GraphSnapshot,
    JsonObject,
    MemoryEdge,
    MemoryEvent,
    MemoryNode,
    MemoryPath,
    NodeState,
    Profile,
    ReplayResult,
    ValidAt,
)
from phase_memory.models.effects import Effect


@dataclass(frozen=True)
class MalformedRow:
    """A stored row that does not read back as its record (edited by hand, say)."""

    table: str
    record_id: str
    column: str
    """The first column found malformed ("" when unknown)."""
    value: str
    """The bad value, as ``repr`` and shortened."""
    reason: str


class EventPayload(NamedTuple):
    """An event's place and payload, without the rest (:meth:`MemoryEventLog.payloads`)."""

    position: int
    event_id: str
    kind: str
    path_id: str | None
    payload: JsonObject


@dataclass(frozen=True)
class Neighbourhood:
    """Nodes within ``depth`` hops of a centre node, and the edges between them."""

    centre_id: str
    nodes: list[MemoryNode]
    edges: list[MemoryEdge]


@dataclass(frozen=True)
class TextMatch:
    """A node matched by full-text search, with its relevance (higher is better)."""

    node_id: str
    relevance: float
    node: MemoryNode | None = None
    """The matched node itself, when the adapter read it with the match (saves a lookup)."""


@dataclass(frozen=True)
class StoreCapabilities:
    """Optional abilities of an adapter; the conformance suite skips what is absent."""

    durable: bool = False
    """Data survives closing and reopening the store."""
    concurrent_processes: bool = False
    """Several processes may use the same store at once."""
    sql: bool = False
    """Backed by an SQL database (integrity checks, raw inspection)."""
    extras: frozenset[str] = field(default_factory=frozenset)


@runtime_checkable
class MemoryGraphStore(Protocol):
    """Profiles, nodes, edges, paths and stored activation plans.

    ``get_*`` raise :class:`~phase_memory.errors.NotFoundError`; ``find_*``
    return None instead. Listings are ordered by id.
    """

    def save_profile(self, profile: Profile) -> Profile:
        """Insert or replace a profile."""
        ...

    def get_profile(self, profile_id: str) -> Profile:
        """The profile with this id."""
        ...

    def find_profile(self, profile_id: str) -> Profile | None:
        """The profile with this id, or None."""
        ...

    def list_profiles(self) -> list[Profile]:
        """Every profile, by id."""
        ...

    def delete_profile(self, profile_id: str) -> None:
        """Delete an empty profile; IntegrityError if anything still belongs to it."""
        ...

    def save_node(self, node: MemoryNode, *, expected_version: int | None = None) -> MemoryNode:
        """Insert or update a node; the stored version is the previous one plus one.

        With ``expected_version``, raise ConflictError unless the stored version
        equals it (0 meaning "must not exist yet").
        """
        ...

    def get_node(self, node_id: str) -> MemoryNode:
        """The node with this id."""
        ...

    def find_node(self, node_id: str) -> MemoryNode | None:
        """The node with this id, or None."""
        ...

    def find_nodes(self, node_ids: Iterable[str]) -> dict[str, MemoryNode]:
        """The nodes of these ids that exist, keyed by id, in the order of ``node_ids``.

        Ids without a node are left out and a repeated id counts once; the
        nodes may belong to any profile and be in any state. One lookup for
        many ids (the SQL store runs one statement per few hundred ids).
        """
        ...

    def find_nodes_by_name(
        self, profile_id: str, names: Iterable[str]
    ) -> dict[str, list[MemoryNode]]:
        """Nodes of ``profile_id`` whose ``mcp_name`` attribute is one of ``names``.

        Keyed by name (names no node has are left out), each name's nodes in
        any state by (``created_at``, ``id``). Adapters find them through an
        index on the attribute, never by reading every node of the profile.
        See :data:`~phase_memory.models.NAME_ATTRIBUTE`.
        """
        ...

    def list_nodes(
        self,
        profile_id: str,
        kind: str | None = None,
        state: NodeState | None = None,
        *,
        valid_at: ValidAt = "now",
    ) -> list[MemoryNode]:
        """Nodes of a profile, optionally of one kind and state.

        ``valid_at``: the nodes valid now (the default), at a datetime, or
        ``"any"`` (every version, superseded ones included).
        """
        ...

    def iter_nodes(self, profile_id: str | None = None) -> Iterator[MemoryNode]:
        """Stream nodes by id (all profiles when ``profile_id`` is None)."""
        ...

    def delete_node(self, node_id: str) -> None:
        """Delete a node and every edge touching it."""
        ...

    def save_edge(self, edge: MemoryEdge) -> MemoryEdge:
        """Insert or replace an edge; both endpoints must exist in the edge's profile."""
        ...

    def get_edge(self, edge_id: str) -> MemoryEdge:
        """The edge with this id."""
        ...

    def find_edge(self, edge_id: str) -> MemoryEdge | None:
        """The edge with this id, or None."""
        ...

    def list_edges(
        self,
        profile_id: str,
        source_id: str | None = None,
        target_id: str | None = None,
        kind: str | None = None,
        *,
        valid_at: ValidAt = "now",
    ) -> list[MemoryEdge]:
        """Edges of a profile, optionally filtered by endpoint and kind.

        ``valid_at`` as for :meth:`list_nodes`.
        """
        ...

    def iter_edges(self, profile_id: str | None = None) -> Iterator[MemoryEdge]:
        """Stream edges by id (all profiles when ``profile_id`` is None)."""
        ...

    def delete_edge(self, edge_id: str) -> None:
        """Delete an edge."""
        ...

    def save_path(self, path: MemoryPath) -> MemoryPath:
        """Insert or replace a path; at most one active path per conversation tree."""
        ...

    def get_path(self, path_id: str) -> MemoryPath:
        """The path with this id."""
        ...

    def find_path(self, path_id: str) -> MemoryPath | None:
        """The path with this id, or None."""
        ...

    def list_paths(self, profile_id: str | None = None) -> list[MemoryPath]:
        """Paths, by id, optionally of one profile."""
        ...

    def delete_path(self, path_id: str) -> None:
        """Delete a path that no event and no other path refers to."""
        ...

    def get_activation_plan(self, plan_id: str) -> ActivationPlan:
        """A stored activation plan."""
        ...

    def list_activation_plans(self, profile_id: str | None = None) -> list[ActivationPlan]:
        """Stored activation plans, by id."""
        ...

    def edges_touching(self, node_id: str) -> list[MemoryEdge]:
        """Edges with ``node_id`` at either end, by id (part of the replay GraphView)."""
        ...

    def paths_in_tree(self, root_path_id: str) -> list[MemoryPath]:
        """Paths whose ``tree_id`` is ``root_path_id``, by id (part of the GraphView)."""
        ...

    def plans_mentioning(self, node_id: str) -> list[ActivationPlan]:
        """Stored plans with an item for ``node_id``, by id (part of the GraphView)."""
        ...

    def neighbourhood(
        self, node_id: str, depth: int = 1, *, valid_at: ValidAt = "now"
    ) -> Neighbourhood:
        """Nodes reachable from ``node_id`` within ``depth`` hops (either direction).

        Only edges and nodes valid at ``valid_at`` (as for :meth:`list_nodes`)
        are walked and returned; the centre always is.
        """
        ...

    def counts(self, profile_id: str | None = None) -> dict[str, int]:
        """Numbers of profiles, nodes, edges, paths and activation plans."""
        ...

    def search_text(self, profile_id: str, terms: Sequence[str], limit: int) -> list[TextMatch]:
        """Active nodes whose label or content holds any of ``terms``, best first.

        ``terms`` are plain words; adapters quote them, so no input is query syntax.
        Adapters may fill each match's ``node`` (the built-in ones do).
        """
        ...

    def search_substring(self, profile_id: str, text: str, limit: int) -> list[TextMatch]:
        """Active nodes whose kind, label or content holds ``text``, ignoring case, best first.

        A substring match (parts of words, text inside a run of CJK characters,
        symbols), as the MCP memory server's search does; ``text`` is never syntax.
        Label hits rank above the others. Adapters use an index where they have one.
        Text holding a NUL character matches nothing (no index can hold one).
        """
        ...

    def apply(self, effects: Iterable[Effect]) -> None:
        """Write the exact records of replay effects (the runtime's projection)."""
        ...

    def snapshot(self) -> GraphSnapshot:
        """Everything stored, as a snapshot comparable with a replay."""
        ...


@runtime_checkable
class MemoryEventLog(Protocol):
    """The append-only event log."""

    def append(
        self, events: Sequence[MemoryEvent], *, expected_position: int | None = None
    ) -> builtins.list[int]:
        """Append a batch atomically and return the positions assigned.

        A duplicate ``event_id`` raises DuplicateEventError and writes nothing;
        ``expected_position`` that differs from :meth:`last_position` raises
        ConflictError.
        """
        ...

    def get(self, event_id: str) -> MemoryEvent:
        """The event with this id (position set)."""
        ...

    def list(
        self,
        profile_id: str | None = None,
        kinds: Sequence[str] | None = None,
        path_id: str | None = None,
        after: int | None = None,
        limit: int | None = None,
        *,
        newest_first: bool = False,
    ) -> builtins.list[MemoryEvent]:
        """Events in position order, filtered; ``after`` is an exclusive position.

        ``newest_first=True`` returns them in descending position order (with
        ``limit``: the newest matching events), e.g. a path's latest event.
        """
        ...

    def payloads(
        self,
        profile_id: str | None = None,
        kinds: Sequence[str] | None = None,
        path_id: str | None = None,
        after: int | None = None,
        limit: int | None = None,
        *,
        newest_first: bool = False,
    ) -> builtins.list[EventPayload]:
        """:meth:`list`'s events as (position, id, kind, path, payload), nothing more.

        For readers that need no more (the LangGraph saver reads its checkpoints
        this way): no whole event is built and validated for each row.
        """
        ...

    def newest_per_path(
        self, root_path_id: str, kinds: Sequence[str] | None = None
    ) -> builtins.list[EventPayload]:
        """The newest event (of ``kinds``) on each path of a conversation tree, by path id.

        The tree is the one rooted at ``root_path_id`` (every path whose
        ``root_path_id`` it is, the root included); a path with no such event
        is left out. The tips of a conversation's branches in one read: the
        LangGraph saver finds a thread's latest checkpoint this way.
        """
        ...

    def iter(
        self, profile_id: str | None = None, after: int | None = None, until: int | None = None
    ) -> Iterator[MemoryEvent]:
        """Stream events in position order, ``after`` < position <= ``until``."""
        ...

    def replay(
        self, until: int | None = None, path_id: str | None = None
    ) -> ReplayResult:
        """Fold the log (up to ``until``, along ``path_id``'s history) into a snapshot."""
        ...

    def last_position(self) -> int:
        """The position of the newest event, 0 when the log is empty."""
        ...

    def find_mentioning(self, text: str, *others: str) -> builtins.list[MemoryEvent]:
        """Events whose payload contains ``text`` (or any of ``others``) anywhere.

        In position order, each event once (used to erase forgotten content).
        """
        ...

    def replace_payloads(self, payloads: Mapping[str, JsonObject]) -> None:
        """Rewrite payloads by event id. Only ``forget`` uses this: it erases content."""
        ...


@runtime_checkable
class AuditSink(Protocol):
    """Where audit records go."""

    def record(self, record: AuditRecord) -> None:
        """Store one audit record."""
        ...

    def list(
        self,
        operation: str | None = None,
        outcome: AuditOutcome | None = None,
        after: datetime | None = None,
        limit: int | None = None,
    ) -> builtins.list[AuditRecord]:
        """Audit records in the order they were written, optionally filtered."""
        ...

    def find_mentioning(self, text: str, *others: str) -> builtins.list[AuditRecord]:
        """Audit records whose details contain ``text`` (or any of ``others``) anywhere.

        In write order, each record once (used by ``forget``).
        """
        ...

    def replace_details(self, details: Mapping[str, JsonObject]) -> None:
        """Rewrite audit details by record id. Only ``forget`` uses this: it scrubs text."""
        ...


@dataclass(frozen=True)
class StorageErasure:
    """What a store's storage did, after a forget committed, to drop the erased content."""

    storage: str
    """One line: what happened below the rows, and what (if anything) is left to do."""
    pages_cleared: int = 0
    """Free pages of the file, all zero-filled (SQLite)."""
    wal_checkpointed: bool | None = None
    """The write-ahead log was checkpointed and emptied; None where there is none."""
    vacuum_required: bool = False
    """Earlier row versions stay on disk until ``phase-memory db vacuum`` (PostgreSQL)."""


IN_MEMORY_ERASURE = StorageErasure(storage="in memory: nothing is kept below the records")
"""The erasure of a store that keeps no files."""


@runtime_checkable
class Maintainable(Protocol):
    """A store with upkeep of its files (the SQL stores): ``db checkpoint`` and ``db vacuum``."""

    def checkpoint(self) -> None:
        """Move the write-ahead log into the database file and empty it (SQLite)."""
        ...

    def vacuum(self) -> int:
        """Rewrite the storage so no freed or dead data stays on disk.

        Returns how many other transactions were open meanwhile (PostgreSQL):
        the row versions they may still see are kept; 0 on SQLite.
        """
        ...

    def settle_erasure(self) -> StorageErasure:
        """Called after a forget commits: drop what the storage keeps below the rows."""
        ...

    def free_pages_holding_data(self) -> int | None:
        """Free pages of the file still holding data (SQLite files); None where unknown."""
        ...


WRITE_IN_READ_TRANSACTION = "writing inside a read transaction is refused"
"""The message of the StoreUnavailableError a write inside ``read_transaction`` raises."""


@runtime_checkable
class MemoryStore(Protocol):
    """The three stores of one backend, and a transaction spanning them."""

    @property
    def graph(self) -> MemoryGraphStore:
        """The graph store."""
        ...

    @property
    def events(self) -> MemoryEventLog:
        """The event log."""
        ...

    @property
    def audit(self) -> AuditSink:
        """The audit sink."""
        ...

    @property
    def capabilities(self) -> StoreCapabilities:
        """What optional abilities this adapter has."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """A write transaction: every store call inside commits or rolls back together.

        Nested use joins the outer transaction.
        """
        ...

    def read_transaction(self) -> AbstractContextManager[None]:
        """A read-only transaction: every store read inside sees one state of the memory.

        Several reads that must agree (a path and its newest event, say) run
        inside one; it also spares each read its own connection. Inside
        :meth:`transaction` it joins the write transaction, nested use joins
        the outer one, and a write inside it raises StoreUnavailableError.
        """
        ...

    def integrity_findings(self) -> list[str]:
        """Low-level storage problems (SQLite integrity and foreign-key checks)."""
        ...

    def readable_graph(self) -> tuple[GraphSnapshot, list[MalformedRow]]:
        """Every well-formed stored graph record, and where each malformed row is.

        What diagnostics read: unlike ``graph.snapshot()`` it does not stop at
        the first row that fails to read.
        """
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...

"""The data of one in-memory store, its lock, and transactions with rollback."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from phase_memory.errors import IntegrityError, StoreUnavailableError
from phase_memory.models import AuditRecord, MemoryEvent
from phase_memory.protocols import WRITE_IN_READ_TRANSACTION
from phase_memory.replay import (
    Effect,
    GraphState,
    PutActivationPlan,
    PutEdge,
    PutNode,
    PutPath,
    PutProfile,
    RemoveEdge,
    RemoveNode,
)


@dataclass
class _Journal:
    """What a transaction changed, so that a failure can put it back."""

    undo_graph: list[tuple[str, str, Any]] = field(default_factory=list)
    events_len: int = 0
    audit_len: int = 0
    old_payloads: dict[int, MemoryEvent] = field(default_factory=dict)
    old_audit: dict[int, AuditRecord] = field(default_factory=dict)


class SharedState:
    """Graph records, events and audit records of one in-memory store.

    Writes hold ``lock`` (re-entrant) for the whole transaction; readers take
    it briefly, so a reader never sees half a transaction.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.graph = GraphState()
        self.events: list[MemoryEvent] = []
        self.event_index: dict[str, int] = {}
        self.audit: list[AuditRecord] = []
        self._journal: _Journal | None = None
        self._reading = 0  # read transactions open (only the lock's holder changes it)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run a block atomically; nested blocks join the outer transaction."""
        with self.lock:
            if self._journal is not None:
                yield
                return
            if self._reading:
                raise StoreUnavailableError(WRITE_IN_READ_TRANSACTION)
            journal = _Journal(events_len=len(self.events), audit_len=len(self.audit))
            self._journal = journal
            try:
                yield
                self._check_event_paths(journal)
            except BaseException:
                self._rollback(journal)
                raise
            finally:
                self._journal = None

    @contextmanager
    def read_transaction(self) -> Iterator[None]:
        """Hold the lock for a block of reads, so they see one state; writing is refused.

        Inside :meth:`transaction` it joins it.
        """
        with self.lock:
            if self._journal is not None:
                yield
                return
            self._reading += 1
            try:
                yield
            finally:
                self._reading -= 1

    def _check_event_paths(self, journal: _Journal) -> None:
        """At commit, every new event's path must exist (a deferred foreign key, as on SQL)."""
        for event in self.events[journal.events_len :]:
            if event.path_id is not None and event.path_id not in self.graph.paths:
                raise IntegrityError(
                    f"event {event.event_id!r} refers to path {event.path_id!r}, "
                    "which does not exist"
                )

    def _rollback(self, journal: _Journal) -> None:
        for index, event in journal.old_payloads.items():
            if index < journal.events_len:
                self.events[index] = event
        for event in self.events[journal.events_len :]:
            del self.event_index[event.event_id]
        del self.events[journal.events_len :]
        for index, record in journal.old_audit.items():
            if index < journal.audit_len:
                self.audit[index] = record
        del self.audit[journal.audit_len :]
        graph = self.graph
        for table, key, old in reversed(journal.undo_graph):
            if table == "profiles":
                if old is None:
                    graph.profiles.pop(key, None)
                else:
                    graph.apply_one(PutProfile(old))
            elif table == "nodes":
                graph.apply_one(RemoveNode(key) if old is None else PutNode(old))
            elif table == "edges":
                graph.apply_one(RemoveEdge(key) if old is None else PutEdge(old))
            elif table == "paths":
                if old is None:
                    self._drop_path(key)
                else:
                    graph.apply_one(PutPath(old))
            elif table == "plans":
                if old is None:
                    graph.remove_plan(key)
                else:
                    graph.apply_one(PutActivationPlan(old))

    def _remember(self, table: str, key: str, old: Any) -> None:
        if self._journal is not None:
            self._journal.undo_graph.append((table, key, old))

    def apply(self, effects: Sequence[Effect]) -> None:
        """Apply effects to the graph, journalling the previous records."""
        graph = self.graph
        for effect in effects:
            match effect:
                case PutProfile(profile):
                    self._remember("profiles", profile.id, graph.profiles.get(profile.id))
                case PutNode(node):
                    self._remember("nodes", node.id, graph.nodes.get(node.id))
                case RemoveNode(node_id):
                    self._remember("nodes", node_id, graph.nodes.get(node_id))
                case PutEdge(edge):
                    self._remember("edges", edge.id, graph.edges.get(edge.id))
                case RemoveEdge(edge_id):
                    self._remember("edges", edge_id, graph.edges.get(edge_id))
                case PutPath(path):
                    self._remember("paths", path.id, graph.paths.get(path.id))
                case PutActivationPlan(plan):
                    self._remember("plans", plan.id, graph.plans.get(plan.id))
            graph.apply_one(effect)

    def remove_profile(self, profile_id: str) -> None:
        """Delete a profile record (callers check that nothing belongs to it)."""
        self._remember("profiles", profile_id, self.graph.profiles.get(profile_id))
        self.graph.profiles.pop(profile_id, None)

    def remove_path(self, path_id: str) -> None:
        """Delete a path record (callers check that nothing refers to it)."""
        self._remember("paths", path_id, self.graph.paths.get(path_id))
        self._drop_path(path_id)

    def _drop_path(self, path_id: str) -> None:
        path = self.graph.paths.pop(path_id, None)
        if path is not None:
            self.graph.forget_path_index(path)

    def replace_audit(self, index: int, record: AuditRecord) -> None:
        """Replace a stored audit record (forgotten text scrubbed), journalled."""
        if self._journal is not None and index not in self._journal.old_audit:
            self._journal.old_audit[index] = self.audit[index]
        self.audit[index] = record

    def replace_event(self, index: int, event: MemoryEvent) -> None:
        """Replace a stored event (payload redaction), journalled."""
        if self._journal is not None and index not in self._journal.old_payloads:
            self._journal.old_payloads[index] = self.events[index]
        self.events[index] = event

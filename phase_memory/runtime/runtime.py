"""PhaseMemoryRuntime: the main entry point over one store.

Every runtime write is an event: it is appended to the log and its graph
effect (decided by :func:`phase_memory.replay.effects_of`) is applied to the
graph in the same transaction, so the tables never drift from the events.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, cast

from pydantic import ValidationError as PydanticValidationError

from phase_memory.errors import (
    ConflictError,
    IntegrityError,
    LimitExceededError,
    ReviewRequiredError,
    ValidationError,
)
from phase_memory.models import (
    EdgeDeleted,
    EdgeSaved,
    MemoryEdge,
    MemoryEvent,
    MemoryNode,
    NodeDeleted,
    NodeSaved,
    Profile,
    ProfileSaved,
    new_id,
    utc_now,
)
from phase_memory.models.base import DomainModel
from phase_memory.models.events import (
    PAYLOAD_MODELS,
    REDACTION_KEY,
    SUPPORTED_SCHEMA_VERSIONS,
    payload_of,
)
from phase_memory.models.limits import version_problem
from phase_memory.protocols import AuditSink, MemoryEventLog, MemoryGraphStore, MemoryStore
from phase_memory.replay import LoggedEvent, MalformedEvent, ReplayConflict, effects_of
from phase_memory.runtime.paths import PathsAPI
from phase_memory.runtime.review_queue import ReviewQueue
from phase_memory.runtime.write_checks import EventView, check_writable

if TYPE_CHECKING:
    from phase_memory.diagnostics import RepairReport
    from phase_memory.interchange.mcp_memory import ImportMode
    from phase_memory.interchange.results import ExportResult, ImportResult
    from phase_memory.models import ActivationPlan, LifecycleAction
    from phase_memory.runtime.lifecycle import ApplyResult, ReviewPlan


class PhaseMemoryRuntime:
    """Records events with their graph effects, and runs paths, lifecycle and activation.

    Use :func:`phase_memory.open` to make one; it is a context manager.
    ``actor`` is written on the events and audit records the runtime creates.
    """

    def __init__(self, store: MemoryStore, *, actor: str = "system") -> None:
        self.store = store
        self.actor = actor
        self.paths = PathsAPI(self)
        self.review = ReviewQueue(self)

    # --- the three stores -----------------------------------------------------

    @property
    def graph(self) -> MemoryGraphStore:
        """The graph store (read it freely; write through the runtime)."""
        return self.store.graph

    @property
    def events(self) -> MemoryEventLog:
        """The event log."""
        return self.store.events

    @property
    def audit(self) -> AuditSink:
        """The audit sink."""
        return self.store.audit

    # --- lifetime ---------------------------------------------------------------

    def close(self) -> None:
        """Release the store's connections and files."""
        self.store.close()

    def __enter__(self) -> PhaseMemoryRuntime:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- recording ----------------------------------------------------------------

    def record(self, event: MemoryEvent) -> MemoryEvent:
        """Append one event and apply its graph effect atomically; return it with its position."""
        return self.record_many([event])[0]

    def record_many(self, events: Sequence[MemoryEvent]) -> list[MemoryEvent]:
        """Append events and apply their graph effects in one transaction.

        If any event breaks its profile's policy, refers to a missing record or
        targets a closed path, nothing is written and the error is raised.
        Payloads of replayable kinds are stored complete (the payload model's
        defaults filled in), so a later replay folds exactly what was applied.
        """
        completed = [_with_complete_payload(e) for e in events]
        return _positioned(completed, self._record_many(completed))

    def record_trusted(self, events: Sequence[MemoryEvent]) -> list[MemoryEvent]:
        """:meth:`record_many` for events whose payloads were built from validated models.

        The runtime's own writers and the importers use it to skip a second
        validation of every payload; everything else (policy, gate, references)
        is checked as usual.
        """
        return _positioned(events, self._record_many(events))

    def _record_many(
        self,
        events: Sequence[MemoryEvent],
        known_nodes: dict[str, MemoryNode | None] | None = None,
        parsed: DomainModel | None = None,
    ) -> list[int]:
        """:meth:`record_many` returning the positions, with what a writer of one event knows.

        ``known_nodes``: nodes it just looked up; ``parsed``: the payload model
        it dumped the event's payload from (the fold need not validate it again).
        """
        if not events:
            return []
        assert (known_nodes is None and parsed is None) or len(events) == 1
        store = self.store
        try:
            with store.transaction():
                positions = store.events.append(events)
                # Each event is checked against the graph as the events before it in
                # the batch left it (a batch may save a profile, then nodes in it).
                for event, position in zip(events, positions, strict=True):
                    view = cast(MemoryGraphStore, EventView(store.graph, known_nodes))
                    check_writable(view, event)
                    self._project(LoggedEvent.of(event, position, parsed), view)
        except ReviewRequiredError as refused:
            # The review gate refused an event: nothing was written; keep the refusal.
            from phase_memory.runtime.lifecycle import audit_refused_events

            audit_refused_events(self, events, refused)
            raise
        return positions

    def _project(self, event: LoggedEvent, view: MemoryGraphStore | None = None) -> None:
        try:
            effects = effects_of(event, view or self.store.graph)
        except MalformedEvent as exc:
            raise ValidationError(f"{event.kind} {event.event_id}: {exc}") from None
        except ReplayConflict as exc:
            raise IntegrityError(f"{event.kind} {event.event_id}: {exc}") from None
        self.store.graph.apply(effects)

    def _event(
        self,
        kind: str,
        profile_id: str,
        payload: DomainModel,
        *,
        path_id: str | None = None,
        causation_id: str | None = None,
    ) -> MemoryEvent:
        """Build an event from trusted parts (already validated models)."""
        return MemoryEvent.model_construct(
            event_id=new_id(),
            kind=kind,
            profile_id=profile_id,
            path_id=path_id,
            occurred_at=utc_now(),
            payload=payload_of(payload),
            schema_version=1,
            actor=self.actor,
            causation_id=causation_id,
            position=None,
        )

    # --- convenience writers --------------------------------------------------

    def save_profile(self, profile: Profile) -> Profile:
        """Record ``profile.saved``; keeps the original ``created_at`` on updates."""
        with self.store.transaction():
            current = self.store.graph.find_profile(profile.id)
            stored = profile.model_copy(
                update={
                    "created_at": current.created_at if current else profile.created_at,
                    "updated_at": utc_now() if current else profile.updated_at,
                }
            )
            payload = ProfileSaved(profile=stored)
            saved = self._event("profile.saved", profile.id, payload)
            self._record_many([saved], parsed=payload)
        return stored

    def save_node(
        self,
        node: MemoryNode,
        *,
        expected_version: int | None = None,
        path_id: str | None = None,
    ) -> MemoryNode:
        """Record ``node.saved`` with the next version; return the node as stored.

        ``expected_version`` makes the save conditional (0: the node must be new).
        """
        with self.store.transaction():
            current = self.store.graph.find_node(node.id)
            version = current.version if current is not None else 0
            if expected_version is not None and expected_version != version:
                raise ConflictError(
                    f"node {node.id!r} is at version {version}, expected {expected_version}"
                )
            problem = version_problem(f"node {node.id!r}'s next version", version + 1)
            if problem is not None:
                raise LimitExceededError(problem)
            stored = node.model_copy(
                update={
                    "version": version + 1,
                    "created_at": current.created_at if current else node.created_at,
                    "updated_at": utc_now() if current else node.updated_at,
                }
            )
            payload = NodeSaved(node=stored)
            event = self._event("node.saved", node.profile_id, payload, path_id=path_id)
            # The fold looks the node up again: hand it the one just read, and the payload.
            self._record_many([event], known_nodes={node.id: current}, parsed=payload)
        return stored

    def save_edge(self, edge: MemoryEdge, *, path_id: str | None = None) -> MemoryEdge:
        """Record ``edge.saved``; both endpoints must exist in the edge's profile."""
        with self.store.transaction():
            current = self.store.graph.find_edge(edge.id)
            stored = edge.model_copy(
                update={
                    "created_at": current.created_at if current else edge.created_at,
                    "updated_at": utc_now() if current else edge.updated_at,
                }
            )
            payload = EdgeSaved(edge=stored)
            saved = self._event("edge.saved", edge.profile_id, payload, path_id=path_id)
            self._record_many([saved], parsed=payload)
        return stored

    def delete_node(self, node_id: str, *, path_id: str | None = None) -> None:
        """Record ``node.deleted``; the node's edges go with it."""
        with self.store.transaction():
            node = self.store.graph.get_node(node_id)
            deleted = self._event(
                "node.deleted", node.profile_id, NodeDeleted(node_id=node_id), path_id=path_id
            )
            self.record_trusted([deleted])

    def delete_edge(self, edge_id: str, *, path_id: str | None = None) -> None:
        """Record ``edge.deleted``."""
        with self.store.transaction():
            edge = self.store.graph.get_edge(edge_id)
            deleted = self._event(
                "edge.deleted", edge.profile_id, EdgeDeleted(edge_id=edge_id), path_id=path_id
            )
            self.record_trusted([deleted])

    # --- lifecycle, activation (see runtime/lifecycle.py, runtime/activation.py) --

    def plan(self, actions: Sequence[LifecycleAction]) -> ReviewPlan:
        """Which actions need review and what each would touch; writes nothing."""
        from phase_memory.runtime.lifecycle import plan_actions

        return plan_actions(self, actions)

    def apply(self, actions: Sequence[LifecycleAction]) -> ApplyResult:
        """Apply lifecycle actions atomically; refuse review-required ones without approval."""
        from phase_memory.runtime.lifecycle import apply_actions

        return apply_actions(self, actions)

    def activate(
        self,
        profile_id: str,
        query: str,
        *,
        budget: int | None = None,
        path_id: str | None = None,
    ) -> ActivationPlan:
        """Rank the profile's memories for ``query`` and store the plan."""
        from phase_memory.runtime.activation import activate

        return activate(self, profile_id, query, budget=budget, path_id=path_id)

    # --- diagnostics and interchange (see diagnostics.py, interchange/) --------

    def diagnose(self) -> RepairReport:
        """Check the store for broken references, drift, leftovers of forgotten content."""
        from phase_memory.diagnostics import diagnose

        return diagnose(self)

    def verify_forgotten(self, node_id: str) -> RepairReport:
        """Check again that node ``node_id``'s forget left nothing (``doctor --forgotten``)."""
        from phase_memory.diagnostics import verify_forgotten

        return verify_forgotten(self.store, node_id)

    def export_envelope(
        self,
        out: str | os.PathLike[str],
        *,
        profile_id: str | None = None,
        progress: bool | None = None,
    ) -> ExportResult:
        """Write the graph (or one profile) as a deterministic Markitect graph envelope.

        ``progress``: show a progress bar (default: when stderr is a terminal).
        """
        from phase_memory.interchange.envelope import export_envelope

        return export_envelope(self, out, profile_id=profile_id, progress=progress)

    def import_envelope(
        self,
        src: str | os.PathLike[str],
        *,
        check_only: bool = False,
        progress: bool | None = None,
    ) -> ImportResult:
        """Validate then import a graph envelope, all or nothing.

        Raises ImportValidationError listing every problem (nothing written);
        ``check_only=True`` returns the problems in the result instead.
        """
        from phase_memory.interchange.envelope import import_envelope

        return import_envelope(self, src, check_only=check_only, progress=progress)

    def export_events(
        self,
        out: str | os.PathLike[str],
        *,
        profile_id: str | None = None,
        progress: bool | None = None,
    ) -> ExportResult:
        """Write the event log (or one profile's events) as JSONL in position order."""
        from phase_memory.interchange.jsonl import export_events

        return export_events(self, out, profile_id=profile_id, progress=progress)

    def import_events(
        self,
        src: str | os.PathLike[str],
        *,
        check_only: bool = False,
        progress: bool | None = None,
    ) -> ImportResult:
        """Validate then append (and project) the events of a JSONL file, all or nothing."""
        from phase_memory.interchange.jsonl import import_events

        return import_events(self, src, check_only=check_only, progress=progress)

    def export_audit(
        self, out: str | os.PathLike[str], *, progress: bool | None = None
    ) -> ExportResult:
        """Write the audit records as JSONL in write order."""
        from phase_memory.interchange.jsonl import export_audit

        return export_audit(self, out, progress=progress)

    def import_audit(
        self,
        src: str | os.PathLike[str],
        *,
        check_only: bool = False,
        progress: bool | None = None,
    ) -> ImportResult:
        """Validate then import audit records from JSONL, all or nothing."""
        from phase_memory.interchange.jsonl import import_audit

        return import_audit(self, src, check_only=check_only, progress=progress)

    def export_workspace(
        self, directory: str | os.PathLike[str], *, progress: bool | None = None
    ) -> ExportResult:
        """Write the whole memory as a workspace directory."""
        from phase_memory.interchange.workspace import export_workspace

        return export_workspace(self, directory, progress=progress)

    def import_workspace(
        self,
        directory: str | os.PathLike[str],
        *,
        check_only: bool = False,
        progress: bool | None = None,
    ) -> ImportResult:
        """Validate then import a workspace directory into this (empty) memory."""
        from phase_memory.interchange.workspace import import_workspace

        return import_workspace(self, directory, check_only=check_only, progress=progress)

    def import_mcp_memory(
        self,
        src: str | os.PathLike[str],
        *,
        profile_id: str = "default",
        mode: ImportMode = "strict",
        skip_invalid: bool = False,
        check_only: bool = False,
        progress: bool | None = None,
    ) -> ImportResult:
        """Import the MCP memory server's ``memory.jsonl`` into a profile (default "default").

        ``mode="strict"`` adds the file to the profile, all or nothing;
        ``mode="sync"`` makes the profile follow the file (entities matched by
        name: added, updated, archived when gone, restored when back; a second
        sync of the same file writes nothing). ``skip_invalid=True`` imports
        the valid lines and lists the others in ``ImportResult.skipped``.
        See ``docs/mcp-memory.md``.
        """
        from phase_memory.interchange.mcp_memory import import_mcp_memory

        return import_mcp_memory(
            self, src, profile_id=profile_id, mode=mode, skip_invalid=skip_invalid,
            check_only=check_only, progress=progress,
        )

    def export_mcp_memory(
        self,
        out: str | os.PathLike[str],
        *,
        profile_id: str = "default",
        progress: bool | None = None,
    ) -> ExportResult:
        """Write a profile as the MCP memory server's ``memory.jsonl`` (its exact line format).

        Active nodes become entities and the edges between them relations, with
        the original ``entityType`` / ``relationType`` strings an import kept.
        """
        from phase_memory.interchange.mcp_export import export_mcp_memory

        return export_mcp_memory(self, out, profile_id=profile_id, progress=progress)


def _positioned(events: Sequence[MemoryEvent], positions: list[int]) -> list[MemoryEvent]:
    """The events as recorded: each with the position the log assigned."""
    return [e.model_copy(update={"position": p}) for e, p in zip(events, positions, strict=True)]


def _with_complete_payload(event: MemoryEvent) -> MemoryEvent:
    """The event with its payload completed by its payload model (unchanged if malformed).

    A malformed payload is left as it is: the projection refuses it with a
    ValidationError that names the event.
    """
    model = PAYLOAD_MODELS.get(event.kind)
    if (
        model is None
        or event.schema_version not in SUPPORTED_SCHEMA_VERSIONS
        or REDACTION_KEY in event.payload
    ):
        return event
    try:
        complete = model.model_validate(event.payload).model_dump(mode="json")
    except PydanticValidationError:
        return event
    return event if complete == event.payload else event.model_copy(update={"payload": complete})

"""The Recorder: the one writer every runtime part, importer and integration goes through.

For each write it builds the event, checks it (the profile's policy, paths, the
review gate: :func:`~phase_memory.recorder.checks.check_writable`), and in one
store transaction appends it to the log and applies the graph effects the
replay fold decides (:func:`phase_memory.replay.effects_of`). A refusal at the
review gate leaves a ``denied`` audit record. Nothing else writes events.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, cast

from pydantic import ValidationError as PydanticValidationError

from phase_memory.errors import (
    ConflictError,
    IntegrityError,
    LimitExceededError,
    ReviewRequiredError,
    ValidationError,
)
from phase_memory.models import (
    AuditOutcome,
    AuditRecord,
    EdgeDeleted,
    EdgeSaved,
    EdgeSuperseded,
    MemoryEdge,
    MemoryEvent,
    MemoryNode,
    NodeDeleted,
    NodeSaved,
    NodeSuperseded,
    Profile,
    ProfileSaved,
    effective_from,
    new_id,
    utc_now,
)
from phase_memory.models.base import DomainModel
from phase_memory.models.effects import Effect
from phase_memory.models.events import (
    PAYLOAD_MODELS,
    REDACTION_KEY,
    SUPPORTED_SCHEMA_VERSIONS,
    payload_of,
)
from phase_memory.models.limits import next_version
from phase_memory.protocols import AuditSink, MemoryEventLog, MemoryGraphStore, MemoryStore
from phase_memory.recorder.checks import EventView, check_writable
from phase_memory.replay import (
    GraphView,
    LimitReached,
    LoggedEvent,
    MalformedEvent,
    ReplayConflict,
    effects_of,
)

REFUSED_OPERATION = "lifecycle.record"
"""The audit operation of an event ``record`` refused at the review gate."""


class StoreParts:
    """The three parts of ``self.store`` as properties: shared by the recorder and the runtime."""

    store: MemoryStore

    @property
    def graph(self) -> MemoryGraphStore:
        """The graph store (read it freely; write through the recorder or the runtime)."""
        return self.store.graph

    @property
    def events(self) -> MemoryEventLog:
        """The event log."""
        return self.store.events

    @property
    def audit(self) -> AuditSink:
        """The audit sink."""
        return self.store.audit


class Recorder(StoreParts):
    """Builds, checks, appends and applies events over one store, one transaction each call.

    ``actor`` is written on the events and audit records it creates.
    """

    def __init__(self, store: MemoryStore, *, actor: str = "system") -> None:
        self.store = store
        self.actor = actor

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One store transaction: the writes inside commit together or not at all."""
        with self.store.transaction():
            yield

    # --- building -----------------------------------------------------------------

    def new_event(
        self,
        kind: str,
        profile_id: str,
        payload: DomainModel,
        *,
        path_id: str | None = None,
        causation_id: str | None = None,
    ) -> MemoryEvent:
        """An event of ``kind`` carrying ``payload`` (an already validated model), now."""
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

    # --- recording ------------------------------------------------------------------

    def record_many(self, events: Sequence[MemoryEvent]) -> list[MemoryEvent]:
        """Check, append and apply events in one transaction; return them with positions.

        If any event breaks its profile's policy, refers to a missing record,
        targets a closed path or needs review, nothing is written and the error
        is raised. Payloads of replayable kinds are stored complete (the payload
        model's defaults filled in), so a later replay folds exactly what was applied.
        """
        completed = [complete_payload(e) for e in events]
        return positioned(completed, self.record_events(completed))

    def record_trusted(self, events: Sequence[MemoryEvent]) -> list[MemoryEvent]:
        """:meth:`record_many` for events whose payloads were built from validated models.

        It only skips completing every payload again; policy, gate and
        references are checked as usual.
        """
        return positioned(events, self.record_events(events))

    def record_events(
        self,
        events: Sequence[MemoryEvent],
        *,
        known_nodes: dict[str, MemoryNode | None] | None = None,
        parsed: DomainModel | None = None,
    ) -> list[int]:
        """Check, append and apply ``events`` in one transaction; return their positions.

        What a writer of one event already knows saves lookups: ``known_nodes``
        (nodes it just read) and ``parsed`` (the payload model it dumped the
        payload from, so the fold need not validate it again).
        """
        if not events:
            return []
        if (known_nodes is not None or parsed is not None) and len(events) != 1:
            raise ValueError("known_nodes and parsed describe a single event")
        store = self.store
        try:
            with store.transaction():
                positions = store.events.append(events)
                graph = store.graph
                # Each event is checked against the graph as the events before it in
                # the batch left it (a batch may save a profile, then nodes in it).
                for event, position in zip(events, positions, strict=True):
                    view = cast(MemoryGraphStore, EventView(graph, known_nodes))
                    check_writable(view, event)
                    effects = fold(LoggedEvent.of(event, position, parsed), view)
                    if effects:  # most kinds outside the graph's (a checkpoint) have none
                        graph.apply(effects)
        except ReviewRequiredError as refused:
            self.audit_refusal(events, refused)
            raise
        return positions

    def record_folded(
        self,
        batch: Sequence[tuple[MemoryEvent, DomainModel]],
        view: GraphView,
        effects_of_event: EffectsOf,
    ) -> list[int]:
        """The batch entry point of bulk importers: many events, one write of their effects.

        Every event passes the same checks as in :meth:`record_events` (against
        ``view``, which must show the graph as the earlier events of the batch
        leave it), and ``effects_of_event`` (a fold entry point of
        :mod:`phase_memory.replay`) decides its effects; the effects of the whole
        batch are then applied in one call. Call inside :meth:`transaction`.
        """
        if not batch:
            return []
        store = self.store
        positions = store.events.append([event for event, _ in batch])
        effects: list[Effect] = []
        checked_view = cast(MemoryGraphStore, view)
        for (event, payload), position in zip(batch, positions, strict=True):
            check_writable(checked_view, event)
            logged = LoggedEvent.of(event, position, payload)
            try:
                effects.extend(effects_of_event(logged, payload, view))
            except LimitReached as exc:
                raise LimitExceededError(f"{event.kind} {event.event_id}: {exc}") from None
            except MalformedEvent as exc:
                raise ValidationError(f"{event.kind} {event.event_id}: {exc}") from None
            except ReplayConflict as exc:
                raise IntegrityError(f"{event.kind} {event.event_id}: {exc}") from None
        store.graph.apply(effects)
        return positions

    def audit_refusal(self, events: Sequence[MemoryEvent], error: ReviewRequiredError) -> None:
        """Keep a ``denied`` audit record for events refused at the review gate.

        Written in a transaction of its own, after the refused write was rolled back.
        """
        record = AuditRecord(
            id=new_id(), at=utc_now(), actor=self.actor, operation=REFUSED_OPERATION,
            subject_ids=list(error.denied), outcome=AuditOutcome.DENIED,
            details={
                "event_ids": [e.event_id for e in events][:100],
                "event_kinds": sorted({e.kind for e in events}),
                "profile_ids": sorted({e.profile_id for e in events}),
                "denied_because": str(error),
            },
        )
        with self.store.transaction():
            self.store.audit.record(record)

    # --- the convenience writers ------------------------------------------------------

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
            saved = self.new_event("profile.saved", profile.id, payload)
            self.record_events([saved], parsed=payload)
        return stored

    def save_node(
        self,
        node: MemoryNode,
        *,
        expected_version: int | None = None,
        path_id: str | None = None,
        supersedes: str | None = None,
        correction: bool = False,
    ) -> MemoryNode:
        """Record ``node.saved`` with the next version; return the node as stored.

        ``expected_version`` makes the save conditional (0: the node must be new).
        ``supersedes``: the id of a node this one replaces in the world; a
        ``node.superseded`` event follows, which ends the old node's valid time
        where this one's starts (nothing is deleted). A start before the old
        node's is refused unless ``correction=True`` (recorded on the event).
        ``valid_from`` / ``valid_to`` left unset on an update keep the stored ones.
        """
        with self.store.transaction():
            current = self.store.graph.find_node(node.id)
            version = current.version if current is not None else 0
            if expected_version is not None and expected_version != version:
                raise ConflictError(
                    f"node {node.id!r} is at version {version}, expected {expected_version}"
                )
            stored = node.model_copy(
                update={
                    "version": next_version(f"node {node.id!r}'s next version", version),
                    "created_at": current.created_at if current else node.created_at,
                    "updated_at": utc_now() if current else node.updated_at,
                    **kept_valid_time(node, current),
                }
            )
            payload = NodeSaved(node=stored)
            event = self.new_event("node.saved", node.profile_id, payload, path_id=path_id)
            # The fold looks the node up again: hand it the one just read, and the payload.
            self.record_events([event], known_nodes={node.id: current}, parsed=payload)
            if supersedes is not None:
                change = NodeSuperseded(
                    node_id=supersedes, superseded_by=stored.id, correction=correction
                )
                self.record_events([self.new_event(
                    "node.superseded", node.profile_id, change, path_id=path_id,
                    causation_id=event.event_id,
                )], parsed=change)
        return stored

    def save_edge(
        self, edge: MemoryEdge, *, path_id: str | None = None, correction: bool = False
    ) -> MemoryEdge:
        """Record ``edge.saved``; both endpoints must exist in the edge's profile.

        For a kind in the profile's ``single_valued_edge_kinds``, an open-ended
        edge supersedes the current (open-ended) edges of that kind from the
        same source: an ``edge.superseded`` event each ends their valid time
        where this one's starts; nothing is deleted. A start before a current
        edge's is refused unless ``correction=True`` (recorded on the events).
        ``valid_from`` / ``valid_to`` left unset on an update keep the stored ones.
        """
        with self.store.transaction():
            graph = self.store.graph
            current = graph.find_edge(edge.id)
            stored = edge.model_copy(
                update={
                    "created_at": current.created_at if current else edge.created_at,
                    "updated_at": utc_now() if current else edge.updated_at,
                    **kept_valid_time(edge, current),
                }
            )
            payload = EdgeSaved(edge=stored)
            saved = self.new_event("edge.saved", edge.profile_id, payload, path_id=path_id)
            events = [saved]
            profile = graph.find_profile(edge.profile_id)
            if (
                profile is not None
                and profile.policy.is_single_valued(edge.kind)
                and stored.valid_to is None
            ):
                start = effective_from(stored)
                for other in graph.list_edges(
                    edge.profile_id, source_id=edge.source_id, kind=edge.kind, valid_at="any"
                ):
                    # The current edges; a correction also ends those it overlaps.
                    if other.id != edge.id and (
                        other.valid_to is None or (correction and other.valid_to > start)
                    ):
                        change = EdgeSuperseded(
                            edge_id=other.id, superseded_by=edge.id, correction=correction
                        )
                        events.append(self.new_event(
                            "edge.superseded", edge.profile_id, change, path_id=path_id,
                            causation_id=saved.event_id,
                        ))
            if len(events) == 1:
                self.record_events(events, parsed=payload)
            else:
                self.record_events(events)
        return stored

    def delete_node(self, node_id: str, *, path_id: str | None = None) -> None:
        """Record ``node.deleted``; the node's edges go with it."""
        with self.store.transaction():
            node = self.store.graph.get_node(node_id)
            deleted = self.new_event(
                "node.deleted", node.profile_id, NodeDeleted(node_id=node_id), path_id=path_id
            )
            self.record_events([deleted])

    def delete_edge(self, edge_id: str, *, path_id: str | None = None) -> None:
        """Record ``edge.deleted``."""
        with self.store.transaction():
            edge = self.store.graph.get_edge(edge_id)
            deleted = self.new_event(
                "edge.deleted", edge.profile_id, EdgeDeleted(edge_id=edge_id), path_id=path_id
            )
            self.record_events([deleted])


class EffectsOf(Protocol):
    """A fold entry point for :meth:`Recorder.record_folded`: an event's effects."""

    def __call__(
        self, event: LoggedEvent, payload: Any, view: GraphView
    ) -> list[Effect]: ...  # pragma: no cover - a protocol


def kept_valid_time(
    record: MemoryNode | MemoryEdge, current: MemoryNode | MemoryEdge | None
) -> dict[str, Any]:
    """The stored valid time an update keeps: the fields the caller left unset."""
    if current is None:
        return {}
    given = record.model_fields_set
    return {
        name: getattr(current, name)
        for name in ("valid_from", "valid_to")
        if name not in given and getattr(current, name) is not None
    }


def fold(event: LoggedEvent, view: GraphView) -> list[Effect]:
    """The effects of one event, with the fold's conflicts as public errors."""
    try:
        return effects_of(event, view)
    except LimitReached as exc:
        raise LimitExceededError(f"{event.kind} {event.event_id}: {exc}") from None
    except MalformedEvent as exc:
        raise ValidationError(f"{event.kind} {event.event_id}: {exc}") from None
    except ReplayConflict as exc:
        raise IntegrityError(f"{event.kind} {event.event_id}: {exc}") from None


def positioned(events: Sequence[MemoryEvent], positions: list[int]) -> list[MemoryEvent]:
    """The events as recorded: each with the position the log assigned."""
    return [e.model_copy(update={"position": p}) for e, p in zip(events, positions, strict=True)]


def complete_payload(event: MemoryEvent) -> MemoryEvent:
    """The event with its payload completed by its payload model (unchanged if malformed).

    A malformed payload is left as it is: the fold refuses it with a
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


__all__ = [
    "REFUSED_OPERATION",
    "EffectsOf",
    "Recorder",
    "complete_payload",
    "fold",
    "kept_valid_time",
    "positioned",
]

"""Replaying a log: every event folded, in position order, into a snapshot and a report."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import partial
from typing import Any

from pydantic import ValidationError

from phase_memory.models import (
    EdgeSaved,
    MemoryEdge,
    MemoryNode,
    NodeSaved,
    ReplayProblem,
    ReplayReport,
    ReplayResult,
)
from phase_memory.models.events import SUPPORTED_SCHEMA_VERSIONS
from phase_memory.models.limits import STORED
from phase_memory.replay.effects import MalformedEvent, ReplayConflict
from phase_memory.replay.fold import HANDLERS, unknown_version
from phase_memory.replay.graph_state import APPLY, GraphState
from phase_memory.replay.logged_event import LoggedEvent
from phase_memory.replay.path_history import effective_history


def replay(
    events: Iterable[tuple[Any, ...]],
    *,
    until: int | None = None,
    path_id: str | None = None,
) -> ReplayResult:
    """Fold events (in position order) into a snapshot plus a report.

    ``events`` are :class:`LoggedEvent` s, or plain rows of the same fields in
    the same order. ``until`` stops after that position (time travel);
    ``path_id`` folds only that path's effective history (see
    :func:`effective_history`).
    """
    if until is not None:
        events = (e for e in events if e[_POSITION] <= until)
    if path_id is not None:
        events = effective_history([_logged(e) for e in events], path_id)
    state = GraphState()
    problems: list[ReplayProblem] = []
    applied = redacted = 0
    not_replayable: dict[str, int] = defaultdict(int)
    position = 0
    # effects_of and GraphState.apply_one, unrolled: this loop runs once per
    # event of the log, and the calls between them cost as much as the fold.
    # Fields are read by index, so a row needs no LoggedEvent unless it goes on
    # to a handler.
    handlers, supported, apply = HANDLERS, SUPPORTED_SCHEMA_VERSIONS, APPLY
    profiles, nodes, put_edge = state.profiles, state.nodes, state.put_edge
    # Stored payloads passed the input limits when written: not walked again.
    node_saved = partial(NodeSaved.__pydantic_validator__.validate_json, context=STORED)
    edge_saved = partial(EdgeSaved.__pydantic_validator__.validate_json, context=STORED)
    # The snapshot's records are most of what the collector traverses while
    # the fold runs (the library leaves the collector alone): every record
    # validated with all its fields set shares one fields-set per model, so it
    # is two tracked containers (the model and its __dict__), not three. Safe
    # because the models are frozen: pydantic copies a model's fields-set
    # before changing it (model_copy) and never changes it in place otherwise.
    node_fields, edge_fields = set(MemoryNode.model_fields), set(MemoryEdge.model_fields)
    n_node_fields, n_edge_fields = len(node_fields), len(edge_fields)
    setattr_ = object.__setattr__
    for row in events:
        if row[_POSITION] > position:
            position = row[_POSITION]
        kind = row[_KIND]
        handler = handlers.get(kind)
        if handler is None:
            not_replayable[kind] += 1
            continue
        payload = row[_PAYLOAD]
        # Most of a log is node and edge saves read as JSON text. The plain
        # case of each (valid payload, references in place) is folded right
        # here, as _saved_node / _saved_edge would; anything else (invalid or
        # redacted payload, missing references, a node changing profile)
        # goes on to the handler, which decides it and says why.
        if type(payload) is str and row[_SCHEMA_VERSION] in supported:
            if kind == "node.saved":
                try:
                    node: MemoryNode | None = node_saved(payload).node
                except ValidationError:
                    node = None
                if node is not None and node.profile_id in profiles:
                    current = nodes.get(node.id)
                    if current is None or current.profile_id == node.profile_id:
                        if len(node.__pydantic_fields_set__) == n_node_fields:
                            setattr_(node, "__pydantic_fields_set__", node_fields)
                        nodes[node.id] = node
                        applied += 1
                        continue
            elif kind == "edge.saved":
                try:
                    edge: MemoryEdge | None = edge_saved(payload).edge
                except ValidationError:
                    edge = None
                if edge is not None:
                    source, target = nodes.get(edge.source_id), nodes.get(edge.target_id)
                    if (
                        source is not None
                        and target is not None
                        and source.profile_id == edge.profile_id == target.profile_id
                    ):
                        if len(edge.__pydantic_fields_set__) == n_edge_fields:
                            setattr_(edge, "__pydantic_fields_set__", edge_fields)
                        put_edge(edge)
                        applied += 1
                        continue
        event = _logged(row)
        try:
            if event.schema_version not in supported:
                raise MalformedEvent(unknown_version(event))
            effects = handler(event, state)
        except ReplayConflict as exc:
            problems.append(
                ReplayProblem(
                    position=event.position, event_id=event.event_id, kind=event.kind,
                    reason=str(exc),
                )
            )
            continue
        for effect in effects:
            apply[type(effect)](state, effect)
        applied += 1
        if event.is_redacted():
            redacted += 1
    snapshot = state.to_snapshot(position, consume=True)
    report = ReplayReport(
        applied=applied,
        not_replayable=dict(sorted(not_replayable.items())),
        redacted=redacted,
        problems=problems,
    )
    return ReplayResult.model_construct(snapshot=snapshot, report=report)


_POSITION, _KIND, _SCHEMA_VERSION, _PAYLOAD = (
    LoggedEvent._fields.index(name) for name in ("position", "kind", "schema_version", "payload")
)


def _logged(row: tuple[Any, ...]) -> LoggedEvent:
    """A row of LoggedEvent's fields as a LoggedEvent (itself if it is one)."""
    return row if type(row) is LoggedEvent else LoggedEvent(*row)

"""The review gate at the lowest level the runtime writes through: ``record``.

:func:`phase_memory.runtime.lifecycle.apply_actions` checks each action against
its profile's policy before it builds anything. This module checks again, on
every event :meth:`PhaseMemoryRuntime.record` is asked to write, so a
hand-built event cannot do what a review-required action does without an
approval:

- ``lifecycle.applied`` is refused when its action's kind is review-required
  under the profile's policy and the action carries no approval, and when its
  records are not what its action produces (an "archive" that erases content,
  say), so an approval-free kind cannot smuggle the effect of another;
- the raw kinds that do part of a review-required action and have no place for
  an approval (``nodes.merged``, ``path.compacted``, and ``node.state_changed``,
  ``node.saved`` or ``graph.imported`` changing an existing node's lifecycle
  state: archived is an archive, active again a restore, forgotten a forget)
  are refused while that action is review-required: use
  :meth:`PhaseMemoryRuntime.apply` instead.

``record``, the events importer and the envelope importer all pass every
event through :func:`check_event`; no event kind changes a node's state
without it.

Only the stored profile policy decides; nothing the caller passes can turn the
check off.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError as PydanticValidationError

from phase_memory.errors import ReviewRequiredError, ValidationError
from phase_memory.models import (
    LifecycleAction,
    LifecycleApplied,
    LifecycleKind,
    MemoryEvent,
    MemoryNode,
    NodeState,
    Profile,
)
from phase_memory.protocols import MemoryGraphStore

GATED_KINDS = frozenset(
    {
        "lifecycle.applied",
        "nodes.merged",
        "path.compacted",
        "node.state_changed",
        "node.saved",
        "graph.imported",
    }
)
"""Event kinds :func:`check_event` looks at; every other kind passes untouched."""

_RAW_KIND_ACTION = {
    "nodes.merged": LifecycleKind.MERGE_NODES,
    "path.compacted": LifecycleKind.COMPACT_PATH,
}


def needs_review(profile: Profile, kind: LifecycleKind | str) -> bool:
    """Whether the profile's stored policy requires an approval for ``kind``."""
    return LifecycleKind(kind) in profile.policy.review_required


def check_event(graph: MemoryGraphStore, profile: Profile, event: MemoryEvent) -> None:
    """Refuse an event that would do a review-required action without approval.

    Raises :class:`ReviewRequiredError` (gate) or :class:`ValidationError`
    (a ``lifecycle.applied`` payload inconsistent with its action).
    """
    kind = event.kind
    if kind == "lifecycle.applied":
        _check_lifecycle_applied(graph, profile, event)
    elif kind in _RAW_KIND_ACTION:
        action_kind = _RAW_KIND_ACTION[kind]
        if needs_review(profile, action_kind):
            raise _raw_refusal(event, action_kind)
    else:
        for node_id, state in _state_changes(event):
            changed = _transition(graph, node_id, state)
            if changed is not None and needs_review(profile, changed):
                raise _raw_refusal(event, changed)


def _raw_refusal(event: MemoryEvent, kind: LifecycleKind) -> ReviewRequiredError:
    error = ReviewRequiredError([event.event_id], [kind.value])
    error.args = (
        f"{event.kind} event {event.event_id} does what a {kind.value!r} action does, "
        f"which profile {event.profile_id!r} requires review for; "
        "submit an approved LifecycleAction through apply() instead; nothing was written",
    )
    return error


def _state_changes(event: MemoryEvent) -> list[tuple[Any, Any]]:
    """``(node_id, state)`` of every node record the event writes (raw, unvalidated)."""
    payload = event.payload
    if event.kind == "node.state_changed":
        return [(payload.get("node_id"), payload.get("state"))]
    if event.kind == "node.saved":
        records = [payload.get("node")]
    else:  # graph.imported
        nodes = payload.get("nodes")
        records = nodes if isinstance(nodes, list) else []
    return [(r.get("id"), r.get("state")) for r in records if isinstance(r, dict)]


_ACTION_OF_STATE = {
    NodeState.ARCHIVED.value: LifecycleKind.ARCHIVE,
    NodeState.ACTIVE.value: LifecycleKind.RESTORE,
    NodeState.FORGOTTEN.value: LifecycleKind.FORGET,
}


def _transition(graph: MemoryGraphStore, node_id: Any, state: Any) -> LifecycleKind | None:
    """The lifecycle action a write of ``state`` to an existing node amounts to, if any."""
    if not isinstance(node_id, str) or state is None:
        return None
    action_kind = _ACTION_OF_STATE.get(state)
    if action_kind is None:
        return None  # malformed: the fold reports it
    current = graph.find_node(node_id)
    # A node that does not exist yet, or keeps its state, changes no lifecycle state.
    if current is None or current.state.value == state:
        return None
    return action_kind


def _check_lifecycle_applied(
    graph: MemoryGraphStore, profile: Profile, event: MemoryEvent
) -> None:
    try:
        applied = LifecycleApplied.model_validate(
            {k: v for k, v in event.payload.items() if k != "redacted"}
        )
    except PydanticValidationError:
        return  # malformed: the projection reports it as an IntegrityError
    action = applied.action
    if action.profile_id != event.profile_id:
        raise ValidationError(
            f"lifecycle action {action.id} belongs to profile {action.profile_id!r}, "
            f"not to the event's profile {event.profile_id!r}"
        )
    if needs_review(profile, action.kind) and action.approval is None:
        raise ReviewRequiredError([action.id], [action.kind.value])
    problem = _shape_problem(graph, applied)
    if problem is not None:
        raise ValidationError(
            f"lifecycle.applied event {event.event_id} ({action.kind.value}): {problem}; "
            "nothing was written"
        )


def _same_except(a: MemoryNode | Any, b: MemoryNode | Any, *fields: str) -> bool:
    skip = {*fields, "version", "updated_at"}
    return bool(a.model_dump(exclude=skip) == b.model_dump(exclude=skip))


def _shape_problem(graph: MemoryGraphStore, applied: LifecycleApplied) -> str | None:
    """Why the records do not match what the action produces (None when they do)."""
    action: LifecycleAction = applied.action
    kind = action.kind
    targets = set(action.targets)
    if applied.removed_edge_ids and kind not in (LifecycleKind.FORGET, LifecycleKind.MERGE_NODES):
        return "only forget and merge_nodes remove edges"
    if applied.edges and kind not in (LifecycleKind.MERGE_NODES, LifecycleKind.REWEIGHT):
        return "only merge_nodes and reweight write edges"
    if applied.path is not None and kind is not LifecycleKind.COMPACT_PATH:
        return "only compact_path writes a path"
    for node in applied.nodes:
        current = graph.find_node(node.id)
        if kind is LifecycleKind.COMPACT_PATH:
            if current is not None:
                return f"the summary node {node.id!r} must be new"
            if applied.path is None or applied.path.summary_node_id != node.id:
                return "the summary node must be the path's summary_node_id"
            continue
        if node.id not in targets or current is None:
            return f"node {node.id!r} is not an existing target of the action"
        if kind in (LifecycleKind.ARCHIVE, LifecycleKind.RESTORE):
            wanted = NodeState.ARCHIVED if kind is LifecycleKind.ARCHIVE else NodeState.ACTIVE
            if node.state is not wanted or not _same_except(node, current, "state"):
                return f"{kind.value} may only change the state of node {node.id!r}"
        elif kind is LifecycleKind.REWEIGHT:
            if not _same_except(node, current, "salience"):
                return f"reweight may only change the salience of node {node.id!r}"
        elif kind is LifecycleKind.FORGET:
            erased = node.label == "" and node.content is None and not node.attributes
            if node.state is not NodeState.FORGOTTEN or not erased:
                return f"the tombstone of node {node.id!r} must be forgotten and empty"
            if not _same_except(node, current, "state", "label", "content", "attributes"):
                return f"forget may only erase node {node.id!r}"
        elif kind is LifecycleKind.MERGE_NODES:
            survivor = action.targets[0]
            if (
                node.id == survivor
                or node.state is not NodeState.ARCHIVED
                or node.attributes.get("merged_into") != survivor
            ):
                return f"node {node.id!r} must be an archived tombstone pointing to {survivor!r}"
    if kind is LifecycleKind.FORGET:
        touching = {e.id for node_id in targets for e in graph.edges_touching(node_id)}
        if not touching <= set(applied.removed_edge_ids):
            return "forget must remove every edge touching the forgotten nodes"
    for edge in applied.edges:
        current_edge = graph.find_edge(edge.id)
        if current_edge is None:
            return f"edge {edge.id!r} does not exist"
        if kind is LifecycleKind.REWEIGHT and (
            edge.id not in targets or not _same_except(edge, current_edge, "weight")
        ):
            return f"reweight may only change the weight of target edge {edge.id!r}"
        if kind is LifecycleKind.MERGE_NODES and not (
            {current_edge.source_id, current_edge.target_id} & targets
        ):
            return f"edge {edge.id!r} does not touch a merged node"
    if kind is LifecycleKind.COMPACT_PATH and (
        applied.path is None or applied.path.id != action.targets[0]
    ):
        return "compact_path must write its target path"
    return None


__all__ = ["GATED_KINDS", "check_event", "needs_review"]

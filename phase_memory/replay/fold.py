"""The fold: the graph effects of one event, given the graph before it.

One handler per event kind with a graph effect (:data:`HANDLERS`). Replay
and the runtime both call :func:`effects_of`, so the tables and a replay of
the log cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from phase_memory.errors import LimitExceededError
from phase_memory.models import (
    ActivationPlan,
    ActivationPlanned,
    EdgeDeleted,
    EdgeSaved,
    EdgeSuperseded,
    GraphImported,
    LifecycleApplied,
    LifecycleKind,
    MemoryEdge,
    MemoryNode,
    MemoryPath,
    NodeDeleted,
    NodeSaved,
    NodesMerged,
    NodeState,
    NodeStateChanged,
    NodeSuperseded,
    PathAbandoned,
    PathActivated,
    PathCompacted,
    PathMerged,
    PathOpened,
    PathStatus,
    ProfileSaved,
)
from phase_memory.models.base import CompactionStatus
from phase_memory.models.events import PAYLOAD_MODELS, SUPPORTED_SCHEMA_VERSIONS
from phase_memory.models.limits import next_version
from phase_memory.replay.effects import (
    Effect,
    GraphView,
    LimitReached,
    MalformedEvent,
    PutActivationPlan,
    PutEdge,
    PutNode,
    PutPath,
    PutProfile,
    RemoveEdge,
    RemoveNode,
    ReplayConflict,
)
from phase_memory.replay.logged_event import LoggedEvent, parse_payload
from phase_memory.replay.write_rules import (
    check_node,
    check_owner,
    check_path,
    superseded_until,
)


def effects_of(event: LoggedEvent, view: GraphView) -> list[Effect]:
    """The graph effects of one event, given the graph before it.

    Returns ``[]`` for kinds without a graph effect. Raises
    :class:`ReplayConflict` when the payload is malformed, its schema version
    unknown, or it refers to records that do not exist.
    """
    handler = HANDLERS.get(event.kind)
    if handler is None:
        return []
    if event.schema_version not in SUPPORTED_SCHEMA_VERSIONS:
        raise MalformedEvent(unknown_version(event))
    return handler(event, view)


def unknown_version(event: LoggedEvent) -> str:
    """Why an event of a schema version this version does not know is refused."""
    return f"unknown schema_version {event.schema_version} for {event.kind}"


def _next_version(node: MemoryNode) -> int:
    """The node's version plus one, refused (LimitReached) past MAX_VERSION."""
    try:
        return next_version(f"node {node.id!r}'s next version", node.version)
    except LimitExceededError as exc:
        raise LimitReached(str(exc)) from None


def _need_profile(view: GraphView, profile_id: str) -> None:
    if view.find_profile(profile_id) is None:
        raise ReplayConflict(f"profile {profile_id!r} does not exist")


def _need_node(view: GraphView, node_id: str) -> MemoryNode:
    node = view.find_node(node_id)
    if node is None:
        raise ReplayConflict(f"node {node_id!r} does not exist")
    return node


def _need_path(view: GraphView, path_id: str) -> MemoryPath:
    path = view.find_path(path_id)
    if path is None:
        raise ReplayConflict(f"path {path_id!r} does not exist")
    return path


def check_edge_endpoints(
    edge: MemoryEdge, find_node: Any, extra_nodes: dict[str, MemoryNode] | None = None
) -> None:
    """Raise ReplayConflict unless both endpoints exist in the edge's profile."""
    profile_id = edge.profile_id
    for end in (edge.source_id, edge.target_id):
        node = extra_nodes.get(end) if extra_nodes else None
        if node is None:
            node = find_node(end)
        if node is None:
            raise ReplayConflict(f"edge {edge.id!r} refers to missing node {end!r}")
        if node.profile_id != profile_id:
            raise ReplayConflict(
                f"edge {edge.id!r} joins node {end!r} of another profile ({node.profile_id!r})"
            )


def _profile_saved(event: LoggedEvent, view: GraphView) -> list[Effect]:
    profile = parse_payload(event, ProfileSaved).profile
    check_owner("profile", profile.id, profile.id, event.profile_id)
    return [PutProfile(profile)]


def _node_saved(event: LoggedEvent, view: GraphView) -> list[Effect]:
    return [PutNode(_saved_node(event, view))]


def _saved_node(event: LoggedEvent, view: GraphView) -> MemoryNode:
    """The node a ``node.saved`` event puts, checked against the graph."""
    node = parse_payload(event, NodeSaved).node
    check_node(node)
    _need_profile(view, node.profile_id)
    current = view.find_node(node.id)
    if (
        current is not None
        and current.profile_id != node.profile_id
        and view.edges_touching(node.id)
    ):
        raise ReplayConflict(
            f"node {node.id!r} has edges in profile {current.profile_id!r}; "
            f"it cannot move to {node.profile_id!r}"
        )
    return node


def _node_state_changed(event: LoggedEvent, view: GraphView) -> list[Effect]:
    change = parse_payload(event, NodeStateChanged)
    node = _need_node(view, change.node_id)
    if change.state is NodeState.FORGOTTEN and node.state is not NodeState.FORGOTTEN:
        # A state change keeps the node's content: only a forget action erases it.
        check_node(node.model_copy(update={"state": change.state}))
    version = change.version if change.version is not None else _next_version(node)
    return [
        PutNode(
            node.model_copy(
                update={"state": change.state, "version": version, "updated_at": event.occurred_at}
            )
        )
    ]


def _node_deleted(event: LoggedEvent, view: GraphView) -> list[Effect]:
    node_id = parse_payload(event, NodeDeleted).node_id
    _need_node(view, node_id)
    effects: list[Effect] = [RemoveEdge(e.id) for e in view.edges_touching(node_id)]
    effects.append(RemoveNode(node_id))
    return effects


def _nodes_merged(event: LoggedEvent, view: GraphView) -> list[Effect]:
    merge = parse_payload(event, NodesMerged)
    _need_node(view, merge.survivor_id)
    effects: list[Effect] = []
    moved: dict[str, MemoryEdge] = {}
    removed: set[str] = set()
    for merged_id in merge.merged_ids:
        if merged_id == merge.survivor_id:
            raise ReplayConflict("a node cannot be merged into itself")
        merged = _need_node(view, merged_id)
        for edge in view.edges_touching(merged_id):
            current = moved.get(edge.id, edge)
            ends = {
                "source_id": merge.survivor_id
                if current.source_id in merge.merged_ids
                else current.source_id,
                "target_id": merge.survivor_id
                if current.target_id in merge.merged_ids
                else current.target_id,
            }
            if ends["source_id"] == ends["target_id"]:
                removed.add(edge.id)  # an edge between merged nodes would become a self-loop
                moved.pop(edge.id, None)
            elif edge.id not in removed:
                moved[edge.id] = current.model_copy(
                    update={**ends, "updated_at": event.occurred_at}
                )
        effects.append(PutNode(merged_tombstone(merged, merge.survivor_id, event.occurred_at)))
    effects.extend(RemoveEdge(edge_id) for edge_id in sorted(removed))
    effects.extend(PutEdge(edge) for _, edge in sorted(moved.items()))
    return effects


def merged_tombstone(node: MemoryNode, survivor_id: str, at: datetime) -> MemoryNode:
    """The archived record a merged node leaves behind, pointing to its survivor."""
    return node.model_copy(
        update={
            "state": NodeState.ARCHIVED,
            "attributes": {**node.attributes, "merged_into": survivor_id},
            "version": _next_version(node),
            "updated_at": at,
        }
    )


def _edge_saved(event: LoggedEvent, view: GraphView) -> list[Effect]:
    return [PutEdge(_saved_edge(event, view))]


def _saved_edge(event: LoggedEvent, view: GraphView) -> MemoryEdge:
    """The edge an ``edge.saved`` event puts, checked against the graph."""
    edge = parse_payload(event, EdgeSaved).edge
    check_edge_endpoints(edge, view.find_node)
    return edge


def _edge_deleted(event: LoggedEvent, view: GraphView) -> list[Effect]:
    edge_id = parse_payload(event, EdgeDeleted).edge_id
    if view.find_edge(edge_id) is None:
        raise ReplayConflict(f"edge {edge_id!r} does not exist")
    return [RemoveEdge(edge_id)]


def _node_superseded(event: LoggedEvent, view: GraphView) -> list[Effect]:
    change = parse_payload(event, NodeSuperseded)
    old = _need_node(view, change.node_id)
    new = _need_node(view, change.superseded_by)
    if old.id == new.id:
        raise MalformedEvent(f"node {old.id!r} cannot supersede itself")
    check_owner("node", old.id, old.profile_id, event.profile_id)
    check_owner("node", new.id, new.profile_id, event.profile_id)
    valid_to = superseded_until("node", old, new, correction=change.correction)
    return [
        PutNode(
            old.model_copy(
                update={
                    "valid_to": valid_to,
                    "version": old.version + 1,
                    "updated_at": event.occurred_at,
                }
            )
        )
    ]


def _edge_superseded(event: LoggedEvent, view: GraphView) -> list[Effect]:
    change = parse_payload(event, EdgeSuperseded)
    old = view.find_edge(change.edge_id)
    new = view.find_edge(change.superseded_by)
    for edge_id, edge in ((change.edge_id, old), (change.superseded_by, new)):
        if edge is None:
            raise ReplayConflict(f"edge {edge_id!r} does not exist")
    assert old is not None and new is not None
    if old.id == new.id:
        raise MalformedEvent(f"edge {old.id!r} cannot supersede itself")
    check_owner("edge", old.id, old.profile_id, event.profile_id)
    check_owner("edge", new.id, new.profile_id, event.profile_id)
    if (old.source_id, old.kind) != (new.source_id, new.kind):
        raise MalformedEvent(
            f"edge {new.id!r} cannot supersede edge {old.id!r}: a superseding edge leaves "
            "the same source node with the same kind"
        )
    valid_to = superseded_until("edge", old, new, correction=change.correction)
    return [PutEdge(old.model_copy(update={"valid_to": valid_to, "updated_at": event.occurred_at}))]


def _path_opened(event: LoggedEvent, view: GraphView) -> list[Effect]:
    path = parse_payload(event, PathOpened).path
    check_owner("path", path.id, path.profile_id, event.profile_id)
    check_path(path, lambda node_id: view.find_node(node_id) is not None)
    _need_profile(view, path.profile_id)
    if path.parent_path_id is not None:
        _need_path(view, path.parent_path_id)
    return _activate(path, view) if path.active else [PutPath(path)]


def _activate(path: MemoryPath, view: GraphView) -> list[Effect]:
    effects: list[Effect] = [
        PutPath(other.model_copy(update={"active": False}))
        for other in view.paths_in_tree(path.tree_id)
        if other.active and other.id != path.id
    ]
    effects.append(PutPath(path))
    return effects


def _path_merged(event: LoggedEvent, view: GraphView) -> list[Effect]:
    merge = parse_payload(event, PathMerged)
    source = _need_path(view, merge.source_path_id)
    _need_path(view, merge.target_path_id)
    return [
        PutPath(
            source.model_copy(
                update={
                    "status": PathStatus.MERGED,
                    "active": False,
                    "merged_into_path_id": merge.target_path_id,
                    "merge_event_id": event.event_id,
                    "updated_at": event.occurred_at,
                }
            )
        )
    ]


def _path_abandoned(event: LoggedEvent, view: GraphView) -> list[Effect]:
    abandon = parse_payload(event, PathAbandoned)
    path = _need_path(view, abandon.path_id)
    return [
        PutPath(
            path.model_copy(
                update={
                    "status": PathStatus.ABANDONED,
                    "active": False,
                    "abandoned_reason": abandon.reason,
                    "updated_at": event.occurred_at,
                }
            )
        )
    ]


def _path_compacted(event: LoggedEvent, view: GraphView) -> list[Effect]:
    compact = parse_payload(event, PathCompacted)
    path = _need_path(view, compact.path_id)
    return [
        PutPath(
            path.model_copy(
                update={
                    "compaction_status": CompactionStatus.COMPACTED,
                    "summary_node_id": compact.summary_node_id,
                    "updated_at": event.occurred_at,
                }
            )
        )
    ]


def _path_activated(event: LoggedEvent, view: GraphView) -> list[Effect]:
    path = _need_path(view, parse_payload(event, PathActivated).path_id)
    if path.status is not PathStatus.OPEN:
        raise ReplayConflict(f"path {path.id!r} is {path.status.value} and cannot be active")
    activated = path.model_copy(update={"active": True, "updated_at": event.occurred_at})
    return _activate(activated, view)


def _lifecycle_applied(event: LoggedEvent, view: GraphView) -> list[Effect]:
    applied = parse_payload(event, LifecycleApplied)
    effects: list[Effect] = [RemoveEdge(edge_id) for edge_id in applied.removed_edge_ids]
    for node in applied.nodes:
        _need_profile(view, node.profile_id)
        effects.append(PutNode(node))
    new_nodes = {node.id: node for node in applied.nodes}
    for edge in applied.edges:
        check_edge_endpoints(edge, view.find_node, new_nodes)
        effects.append(PutEdge(edge))
    if applied.path is not None:
        effects.append(PutPath(applied.path))
    if applied.action.kind is LifecycleKind.FORGET:
        for node_id in applied.action.targets:
            for plan in view.plans_mentioning(node_id):
                effects.append(PutActivationPlan(redact_plan(plan, node_id)))
    return effects


def redact_plan(plan: ActivationPlan, node_id: str) -> ActivationPlan:
    """The plan with the label and content of ``node_id`` erased from its items."""
    items = [
        item.model_copy(update={"label": None, "content": None, "redacted": True})
        if item.node_id == node_id
        else item
        for item in plan.items
    ]
    return plan.model_copy(update={"items": items})


def _activation_planned(event: LoggedEvent, view: GraphView) -> list[Effect]:
    plan = parse_payload(event, ActivationPlanned).plan
    _need_profile(view, plan.profile_id)
    return [PutActivationPlan(plan)]


def _graph_imported(event: LoggedEvent, view: GraphView) -> list[Effect]:
    return graph_imported_effects(event, parse_payload(event, GraphImported), view)


def graph_imported_effects(
    event: LoggedEvent,
    imported: GraphImported,
    view: GraphView,
    *,
    endpoints_checked: bool = False,
) -> list[Effect]:
    """The effects of a ``graph.imported`` event whose payload is ``imported``.

    The batch entry point of the envelope importer, which has already checked
    every edge's endpoints against its file and the database in one streaming
    pass (``endpoints_checked``): it skips looking each endpoint up again here.
    Every other rule holds as for any event.
    """
    profile_id = event.profile_id
    effects: list[Effect] = []
    for profile in imported.profiles:
        check_owner("profile", profile.id, profile.id, profile_id)
        effects.append(PutProfile(profile))
    known_profiles = {p.id for p in imported.profiles}
    for node in imported.nodes:
        check_owner("node", node.id, node.profile_id, profile_id)
        check_node(node)
        if node.profile_id not in known_profiles:
            _need_profile(view, node.profile_id)
            known_profiles.add(node.profile_id)
        effects.append(PutNode(node))
    new_nodes = {node.id: node for node in imported.nodes}
    for edge in imported.edges:
        check_owner("edge", edge.id, edge.profile_id, profile_id)
        if not endpoints_checked:
            check_edge_endpoints(edge, view.find_node, new_nodes)
        effects.append(PutEdge(edge))

    def node_exists(node_id: str) -> bool:
        return node_id in new_nodes or view.find_node(node_id) is not None

    for path in imported.paths:
        check_owner("path", path.id, path.profile_id, profile_id)
        check_path(path, node_exists)
        effects.append(PutPath(path))
    return effects


HANDLERS: dict[str, Callable[[LoggedEvent, GraphView], list[Effect]]] = {
    "profile.saved": _profile_saved,
    "node.saved": _node_saved,
    "node.state_changed": _node_state_changed,
    "node.deleted": _node_deleted,
    "nodes.merged": _nodes_merged,
    "edge.saved": _edge_saved,
    "edge.deleted": _edge_deleted,
    "node.superseded": _node_superseded,
    "edge.superseded": _edge_superseded,
    "path.opened": _path_opened,
    "path.branched": _path_opened,
    "path.merged": _path_merged,
    "path.abandoned": _path_abandoned,
    "path.compacted": _path_compacted,
    "path.activated": _path_activated,
    "lifecycle.applied": _lifecycle_applied,
    "activation.planned": _activation_planned,
    "graph.imported": _graph_imported,
}
assert set(HANDLERS) == set(PAYLOAD_MODELS)

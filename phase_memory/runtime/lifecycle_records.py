"""The records a lifecycle action writes, computed from the graph as it is now.

:func:`build` turns one action into the ``lifecycle.applied`` payload (nodes,
edges, removed edges, a path) without writing anything; planning shows it,
applying records it. A merge is decided by the same fold that replays
``nodes.merged``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from phase_memory.errors import LimitExceededError, PathStateError, ValidationError
from phase_memory.models import (
    LifecycleAction,
    LifecycleApplied,
    LifecycleKind,
    MemoryEdge,
    MemoryNode,
    NodesMerged,
    NodeState,
    new_id,
)
from phase_memory.models.base import CompactionStatus
from phase_memory.models.events import payload_of
from phase_memory.models.limits import next_version
from phase_memory.protocols import MemoryGraphStore
from phase_memory.replay import LimitReached, LoggedEvent, PutEdge, PutNode, RemoveEdge, effects_of


class UnknownTargets(Exception):
    """Targets of an action that are not in its profile (or the profile itself is missing)."""

    def __init__(self, targets: list[str]) -> None:
        super().__init__(", ".join(targets))
        self.targets = targets


def _unknown_targets(graph: MemoryGraphStore, action: LifecycleAction) -> list[str]:
    missing: list[str] = []
    if graph.find_profile(action.profile_id) is None:
        missing.append(action.profile_id)
    for target in action.targets:
        if action.kind is LifecycleKind.COMPACT_PATH:
            found: Any = graph.find_path(target)
        elif action.kind is LifecycleKind.REWEIGHT:
            found = graph.find_node(target) or graph.find_edge(target)
        else:
            found = graph.find_node(target)
        if found is None or found.profile_id != action.profile_id:
            missing.append(target)
    return missing


def _number(params: dict[str, Any], key: str, action: LifecycleAction) -> float:
    value = params.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{action.kind.value} action {action.id} needs a number {key!r}")
    return float(value)


def build(graph: MemoryGraphStore, action: LifecycleAction, now: datetime) -> LifecycleApplied:
    """The records ``action`` writes, given the graph as it is now (nothing is written)."""
    missing = _unknown_targets(graph, action)
    if missing:
        raise UnknownTargets(missing)
    kind = action.kind
    nodes: list[MemoryNode] = []
    edges: list[MemoryEdge] = []
    removed: list[str] = []
    path = None
    if kind in (LifecycleKind.ARCHIVE, LifecycleKind.RESTORE, LifecycleKind.FORGET):
        for target in dict.fromkeys(action.targets):
            node = graph.get_node(target)
            if node.state is NodeState.FORGOTTEN:
                raise ValidationError(f"node {target!r} is forgotten; nothing is left to change")
            update: dict[str, Any] = {
                "state": {
                    LifecycleKind.ARCHIVE: NodeState.ARCHIVED,
                    LifecycleKind.RESTORE: NodeState.ACTIVE,
                    LifecycleKind.FORGET: NodeState.FORGOTTEN,
                }[kind],
                "version": next_version(f"node {target!r}'s next version", node.version),
                "updated_at": now,
            }
            if kind is LifecycleKind.FORGET:
                update.update(label="", content=None, attributes={})
                removed.extend(e.id for e in graph.edges_touching(target) if e.id not in removed)
            nodes.append(node.model_copy(update=update))
    elif kind is LifecycleKind.MERGE_NODES:
        nodes, edges, removed = _merge(graph, action, now)
    elif kind is LifecycleKind.REWEIGHT:
        nodes, edges = _reweight(graph, action, now)
    elif kind is LifecycleKind.COMPACT_PATH:
        summary, path = _compact(graph, action, now)
        nodes = [summary]
    return LifecycleApplied(
        action=action, nodes=nodes, edges=edges, removed_edge_ids=removed, path=path
    )


def _merge(
    graph: MemoryGraphStore, action: LifecycleAction, now: datetime
) -> tuple[list[MemoryNode], list[MemoryEdge], list[str]]:
    survivor, *merged = action.targets
    if not merged or survivor in merged or len(set(merged)) != len(merged):
        raise ValidationError(
            "merge_nodes needs a survivor and at least one other, distinct node to merge into it"
        )
    for node_id in action.targets:
        if graph.get_node(node_id).state is NodeState.FORGOTTEN:
            raise ValidationError(f"node {node_id!r} is forgotten and cannot be merged")
    # The same fold that replays nodes.merged decides the edges and tombstones.
    event = LoggedEvent(
        position=0, event_id=action.id, kind="nodes.merged", profile_id=action.profile_id,
        path_id=None, occurred=now, schema_version=1,
        payload=payload_of(NodesMerged(survivor_id=survivor, merged_ids=merged)),
    )
    nodes: list[MemoryNode] = []
    edges: list[MemoryEdge] = []
    removed: list[str] = []
    try:
        effects = effects_of(event, graph)
    except LimitReached as exc:
        raise LimitExceededError(str(exc)) from None
    for effect in effects:
        if isinstance(effect, PutNode):
            nodes.append(effect.node)
        elif isinstance(effect, PutEdge):
            edges.append(effect.edge)
        elif isinstance(effect, RemoveEdge):
            removed.append(effect.edge_id)
    return nodes, edges, removed


def _reweight(
    graph: MemoryGraphStore, action: LifecycleAction, now: datetime
) -> tuple[list[MemoryNode], list[MemoryEdge]]:
    nodes: list[MemoryNode] = []
    edges: list[MemoryEdge] = []
    for target in dict.fromkeys(action.targets):
        node = graph.find_node(target)
        if node is not None:
            salience = _number(action.params, "salience", action)
            if not 0.0 <= salience <= 1.0:
                raise ValidationError(f"salience must be between 0 and 1, got {salience}")
            if node.state is NodeState.FORGOTTEN:
                raise ValidationError(f"node {target!r} is forgotten; nothing is left to change")
            nodes.append(
                node.model_copy(
                    update={
                        "salience": salience,
                        "version": next_version(f"node {target!r}'s next version", node.version),
                        "updated_at": now,
                    }
                )
            )
        else:
            edge = graph.get_edge(target)
            weight = _number(action.params, "weight", action)
            edges.append(edge.model_copy(update={"weight": weight, "updated_at": now}))
    return nodes, edges


def _compact(
    graph: MemoryGraphStore, action: LifecycleAction, now: datetime
) -> tuple[MemoryNode, Any]:
    if len(action.targets) != 1:
        raise ValidationError("compact_path takes exactly one target: the path id")
    path = graph.get_path(action.targets[0])
    if path.compaction_status is CompactionStatus.COMPACTED:
        raise PathStateError(f"path {path.id!r} is already compacted")
    params = action.params
    label = params.get("label", f"Summary of path {path.id}")
    content = params.get("content")
    kind = params.get("kind", "summary")
    node_id = params.get("node_id") or new_id()
    try:
        summary = MemoryNode(
            id=node_id, profile_id=action.profile_id, kind=kind, label=label, content=content,
            attributes={"summarises_path": path.id}, created_at=now, updated_at=now, version=1,
        )
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        raise ValidationError(
            f"compact_path params: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
        ) from None
    if graph.find_node(summary.id) is not None:
        raise ValidationError(f"node {summary.id!r} exists already; a summary must be new")
    compacted = path.model_copy(
        update={
            "compaction_status": CompactionStatus.COMPACTED,
            "summary_node_id": summary.id,
            "updated_at": now,
        }
    )
    return summary, compacted

"""An in-memory graph that the fold can read and effects can write.

Replay folds into one; the in-memory adapter keeps its data in one.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from phase_memory.models import (
    NAME_ATTRIBUTE,
    ActivationPlan,
    GraphSnapshot,
    MemoryEdge,
    MemoryNode,
    MemoryPath,
    Profile,
    is_name,
)
from phase_memory.replay.effects import (
    Effect,
    PutActivationPlan,
    PutEdge,
    PutNode,
    PutPath,
    PutProfile,
    RemoveEdge,
    RemoveNode,
)


class GraphState:
    """Mutable graph records with the indexes the fold needs.

    Replay folds into one; the in-memory adapter keeps its data in one.
    """

    def __init__(self) -> None:
        self.profiles: dict[str, Profile] = {}
        self.nodes: dict[str, MemoryNode] = {}
        self.edges: dict[str, MemoryEdge] = {}
        self.paths: dict[str, MemoryPath] = {}
        self.plans: dict[str, ActivationPlan] = {}
        self._edges_by_node: dict[str, set[str]] | None = None
        """Edge ids by endpoint, built on first use (a replay of saves never needs it)."""
        self._nodes_by_name: dict[tuple[str, str], set[str]] | None = None
        """Node ids by (profile, ``mcp_name`` attribute), built on first use."""
        self._paths_by_tree: dict[str, set[str]] = defaultdict(set)
        self._plans_by_node: dict[str, set[str]] = defaultdict(set)

    # GraphView
    def find_profile(self, profile_id: str) -> Profile | None:
        return self.profiles.get(profile_id)

    def find_node(self, node_id: str) -> MemoryNode | None:
        return self.nodes.get(node_id)

    def find_edge(self, edge_id: str) -> MemoryEdge | None:
        return self.edges.get(edge_id)

    def find_path(self, path_id: str) -> MemoryPath | None:
        return self.paths.get(path_id)

    def edges_touching(self, node_id: str) -> list[MemoryEdge]:
        return [self.edges[e] for e in sorted(self._edge_index().get(node_id, ()))]

    def _edge_index(self) -> dict[str, set[str]]:
        index = self._edges_by_node
        if index is None:
            index = self._edges_by_node = defaultdict(set)
            for edge in self.edges.values():
                index[edge.source_id].add(edge.id)
                index[edge.target_id].add(edge.id)
        return index

    def nodes_named(self, profile_id: str, name: str) -> list[MemoryNode]:
        """Nodes of ``profile_id`` whose ``mcp_name`` attribute is ``name``, by (created_at, id)."""
        found = [self.nodes[i] for i in self._name_index().get((profile_id, name), ())]
        found.sort(key=lambda n: (n.created_at, n.id))
        return found

    def _name_index(self) -> dict[tuple[str, str], set[str]]:
        index = self._nodes_by_name
        if index is None:
            index = self._nodes_by_name = defaultdict(set)
            for node in self.nodes.values():
                key = _name_key(node)
                if key is not None:
                    index[key].add(node.id)
        return index

    def paths_in_tree(self, root_path_id: str) -> list[MemoryPath]:
        return [self.paths[p] for p in sorted(self._paths_by_tree.get(root_path_id, ()))]

    def plans_mentioning(self, node_id: str) -> list[ActivationPlan]:
        return [self.plans[p] for p in sorted(self._plans_by_node.get(node_id, ()))]

    # writing
    def apply(self, effects: Iterable[Effect]) -> None:
        """Apply effects in order."""
        for effect in effects:
            self.apply_one(effect)

    def apply_one(self, effect: Effect) -> None:
        """Apply one effect."""
        # A dispatch table rather than a match statement: a replay applies one
        # effect per event, and trying the cases in turn showed in its profile.
        APPLY[type(effect)](self, effect)

    def _put_profile(self, effect: PutProfile) -> None:
        self.profiles[effect.profile.id] = effect.profile

    def _put_node(self, effect: PutNode) -> None:
        node = effect.node
        if self._nodes_by_name is not None:  # not built yet: nothing to keep in step
            self._unindex_name(self.nodes.get(node.id))
            key = _name_key(node)
            if key is not None:
                self._nodes_by_name[key].add(node.id)
        self.nodes[node.id] = node

    def _unindex_name(self, node: MemoryNode | None) -> None:
        if node is None or self._nodes_by_name is None:
            return
        key = _name_key(node)
        ids = self._nodes_by_name.get(key) if key is not None else None
        if key is not None and ids is not None:
            ids.discard(node.id)
            if not ids:
                del self._nodes_by_name[key]

    def put_edge(self, edge: MemoryEdge) -> None:
        """Insert or replace an edge (what a :class:`PutEdge` effect does)."""
        index = self._edges_by_node
        if index is None:  # not built yet: nothing to keep in step
            self.edges[edge.id] = edge
            return
        old = self.edges.get(edge.id)
        if old is not None:
            self._unindex_edge(old)
        self.edges[edge.id] = edge
        index[edge.source_id].add(edge.id)
        index[edge.target_id].add(edge.id)

    def _remove_node(self, effect: RemoveNode) -> None:
        old = self.nodes.pop(effect.node_id, None)
        if old is not None and self._nodes_by_name is not None:
            self._unindex_name(old)

    def _put_edge(self, effect: PutEdge) -> None:
        self.put_edge(effect.edge)

    def _remove_edge(self, effect: RemoveEdge) -> None:
        old = self.edges.pop(effect.edge_id, None)
        if old is not None and self._edges_by_node is not None:
            self._unindex_edge(old)

    def _put_path(self, effect: PutPath) -> None:
        path = effect.path
        old_path = self.paths.get(path.id)
        if old_path is not None:
            self._paths_by_tree[old_path.tree_id].discard(path.id)
        self.paths[path.id] = path
        self._paths_by_tree[path.tree_id].add(path.id)

    def _put_plan(self, effect: PutActivationPlan) -> None:
        plan = effect.plan
        self.remove_plan(plan.id)
        self.plans[plan.id] = plan
        for item in plan.items:
            self._plans_by_node[item.node_id].add(plan.id)

    def remove_plan(self, plan_id: str) -> None:
        """Drop a stored plan and its entries in the node index."""
        old = self.plans.pop(plan_id, None)
        if old is None:
            return
        for item in old.items:
            ids = self._plans_by_node.get(item.node_id)
            if ids is not None:
                ids.discard(plan_id)
                if not ids:
                    del self._plans_by_node[item.node_id]

    def forget_path_index(self, path: MemoryPath) -> None:
        """Drop a removed path from the tree index."""
        self._paths_by_tree[path.tree_id].discard(path.id)

    def _unindex_edge(self, edge: MemoryEdge) -> None:
        index = self._edges_by_node
        if index is None:
            return
        for end in (edge.source_id, edge.target_id):
            ids = index.get(end)
            if ids is not None:
                ids.discard(edge.id)
                if not ids:
                    del index[end]

    def to_snapshot(self, position: int = 0, *, consume: bool = False) -> GraphSnapshot:
        """A frozen snapshot of the current records (keys sorted by id).

        ``consume=True`` hands this state's own dicts to the snapshot where their
        keys are in order already (a replay's usually are: ids are time-sorted):
        only for a state that is not used again.
        """
        ordered = _ordered if consume else _sorted_copy
        return GraphSnapshot.model_construct(
            profiles=ordered(self.profiles),
            nodes=ordered(self.nodes),
            edges=ordered(self.edges),
            paths=ordered(self.paths),
            activation_plans=ordered(self.plans),
            position=position,
        )


_V = TypeVar("_V")


def _name_key(node: MemoryNode) -> tuple[str, str] | None:
    name = node.attributes.get(NAME_ATTRIBUTE)
    return (node.profile_id, name) if is_name(name) else None


def _sorted_copy(records: dict[str, _V]) -> dict[str, _V]:
    return dict(sorted(records.items()))


def _ordered(records: dict[str, _V]) -> dict[str, _V]:
    """``records`` itself if its keys are in order, else a sorted copy."""
    keys = list(records)
    if all(map(operator.lt, keys, keys[1:])):
        return records
    return _sorted_copy(records)


APPLY: dict[type, Callable[[GraphState, Any], None]] = {
    PutProfile: GraphState._put_profile,
    PutNode: GraphState._put_node,
    RemoveNode: GraphState._remove_node,
    PutEdge: GraphState._put_edge,
    RemoveEdge: GraphState._remove_edge,
    PutPath: GraphState._put_path,
    PutActivationPlan: GraphState._put_plan,
}

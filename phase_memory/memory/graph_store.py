"""In-memory graph store: the reference semantics for every adapter."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from phase_memory.errors import ConflictError, IntegrityError, NotFoundError
from phase_memory.memory.state import SharedState
from phase_memory.models import (
    ActivationPlan,
    GraphSnapshot,
    MemoryEdge,
    MemoryNode,
    MemoryPath,
    NodeState,
    Profile,
    ValidAt,
    resolve_valid_at,
)
from phase_memory.models.limits import next_version
from phase_memory.protocols import Neighbourhood, TextMatch
from phase_memory.replay import (
    Effect,
    PutEdge,
    PutNode,
    PutPath,
    PutProfile,
    RemoveEdge,
    RemoveNode,
    ReplayConflict,
    check_edge_endpoints,
)
from phase_memory.text_search import simple_relevance


def _get(found: Any, what: str, key: str) -> Any:
    if found is None:
        raise NotFoundError(f"{what} {key!r} does not exist")
    return found


class InMemoryGraphStore:
    """:class:`~phase_memory.protocols.MemoryGraphStore` kept in Python dicts."""

    def __init__(self, shared: SharedState) -> None:
        self._shared = shared
        self._state = shared.graph

    def _write(self, fn: Callable[[], Any]) -> Any:
        with self._shared.transaction():
            return fn()

    # profiles
    def save_profile(self, profile: Profile) -> Profile:
        """Insert or replace a profile."""
        self._write(lambda: self._shared.apply([PutProfile(profile)]))
        return profile

    def get_profile(self, profile_id: str) -> Profile:
        """The profile with this id."""
        return _get(self.find_profile(profile_id), "profile", profile_id)  # type: ignore[no-any-return]

    def find_profile(self, profile_id: str) -> Profile | None:
        """The profile with this id, or None."""
        with self._shared.lock:
            return self._state.profiles.get(profile_id)

    def list_profiles(self) -> list[Profile]:
        """Every profile, by id."""
        with self._shared.lock:
            return [self._state.profiles[k] for k in sorted(self._state.profiles)]

    def delete_profile(self, profile_id: str) -> None:
        """Delete a profile that nothing belongs to any more."""

        def delete() -> None:
            self.get_profile(profile_id)
            state = self._state
            owned = (
                any(n.profile_id == profile_id for n in state.nodes.values())
                or any(p.profile_id == profile_id for p in state.paths.values())
                or any(p.profile_id == profile_id for p in state.plans.values())
                or any(e.profile_id == profile_id for e in self._shared.events)
            )
            if owned:
                raise IntegrityError(
                    f"profile {profile_id!r} still owns nodes, paths, activation plans or events"
                )
            self._shared.remove_profile(profile_id)

        self._write(delete)

    # nodes
    def save_node(self, node: MemoryNode, *, expected_version: int | None = None) -> MemoryNode:
        """Insert or update a node, bumping its version."""

        def save() -> MemoryNode:
            if node.profile_id not in self._state.profiles:
                raise IntegrityError(f"profile {node.profile_id!r} does not exist")
            current = self._state.nodes.get(node.id)
            current_version = current.version if current is not None else 0
            if (
                current is not None
                and current.profile_id != node.profile_id
                and self._state.edges_touching(node.id)
            ):
                raise IntegrityError(
                    f"node {node.id!r} has edges in profile {current.profile_id!r}; "
                    f"it cannot move to {node.profile_id!r}"
                )
            if expected_version is not None and expected_version != current_version:
                raise ConflictError(
                    f"node {node.id!r} is at version {current_version}, "
                    f"expected {expected_version}"
                )
            stored = node.model_copy(update={
                "version": next_version(f"node {node.id!r}'s next version", current_version)
            })
            self._shared.apply([PutNode(stored)])
            return stored

        return self._write(save)  # type: ignore[no-any-return]

    def get_node(self, node_id: str) -> MemoryNode:
        """The node with this id."""
        return _get(self.find_node(node_id), "node", node_id)  # type: ignore[no-any-return]

    def find_node(self, node_id: str) -> MemoryNode | None:
        """The node with this id, or None."""
        with self._shared.lock:
            return self._state.nodes.get(node_id)

    def find_nodes(self, node_ids: Iterable[str]) -> dict[str, MemoryNode]:
        """The nodes of these ids that exist, keyed by id, in the order of ``node_ids``."""
        with self._shared.lock:
            nodes = self._state.nodes
            return {key: nodes[key] for key in node_ids if key in nodes}

    def find_nodes_by_name(
        self, profile_id: str, names: Iterable[str]
    ) -> dict[str, list[MemoryNode]]:
        """Nodes of ``profile_id`` whose ``mcp_name`` attribute is one of ``names``, by name.

        From an index of names kept beside the nodes (built on first use).
        """
        with self._shared.lock:
            found = {name: self._state.nodes_named(profile_id, name) for name in names}
        return {name: nodes for name, nodes in found.items() if nodes}

    def list_nodes(
        self,
        profile_id: str,
        kind: str | None = None,
        state: NodeState | None = None,
        *,
        valid_at: ValidAt = "now",
    ) -> list[MemoryNode]:
        """Nodes of a profile valid at ``valid_at``, optionally of one kind and state, by id."""
        at = resolve_valid_at(valid_at)
        with self._shared.lock:
            return [
                n
                for _, n in sorted(self._state.nodes.items())
                if n.profile_id == profile_id
                and (kind is None or n.kind == kind)
                and (state is None or n.state == state)
                and (at is None or n.valid_at(at))
            ]

    def iter_nodes(self, profile_id: str | None = None) -> Iterator[MemoryNode]:
        """Nodes by id, optionally of one profile."""
        with self._shared.lock:
            nodes = [n for _, n in sorted(self._state.nodes.items())]
        return iter([n for n in nodes if profile_id is None or n.profile_id == profile_id])

    def delete_node(self, node_id: str) -> None:
        """Delete a node and its edges."""

        def delete() -> None:
            self.get_node(node_id)
            effects: list[Effect] = [RemoveEdge(e.id) for e in self._state.edges_touching(node_id)]
            effects.append(RemoveNode(node_id))
            self._shared.apply(effects)

        self._write(delete)

    # edges
    def save_edge(self, edge: MemoryEdge) -> MemoryEdge:
        """Insert or replace an edge whose endpoints exist in its profile."""

        def save() -> None:
            try:
                check_edge_endpoints(edge, self._state.find_node)
            except ReplayConflict as exc:
                raise IntegrityError(str(exc)) from None
            self._shared.apply([PutEdge(edge)])

        self._write(save)
        return edge

    def get_edge(self, edge_id: str) -> MemoryEdge:
        """The edge with this id."""
        return _get(self.find_edge(edge_id), "edge", edge_id)  # type: ignore[no-any-return]

    def find_edge(self, edge_id: str) -> MemoryEdge | None:
        """The edge with this id, or None."""
        with self._shared.lock:
            return self._state.edges.get(edge_id)

    def list_edges(
        self,
        profile_id: str,
        source_id: str | None = None,
        target_id: str | None = None,
        kind: str | None = None,
        *,
        valid_at: ValidAt = "now",
    ) -> list[MemoryEdge]:
        """Edges of a profile valid at ``valid_at``, filtered by endpoints and kind, by id."""
        at = resolve_valid_at(valid_at)
        with self._shared.lock:
            if source_id is not None or target_id is not None:
                candidates = self._state.edges_touching(source_id or target_id or "")
            else:
                candidates = [e for _, e in sorted(self._state.edges.items())]
            return [
                e
                for e in candidates
                if e.profile_id == profile_id
                and (source_id is None or e.source_id == source_id)
                and (target_id is None or e.target_id == target_id)
                and (kind is None or e.kind == kind)
                and (at is None or e.valid_at(at))
            ]

    def iter_edges(self, profile_id: str | None = None) -> Iterator[MemoryEdge]:
        """Edges by id, optionally of one profile."""
        with self._shared.lock:
            edges = [e for _, e in sorted(self._state.edges.items())]
        return iter([e for e in edges if profile_id is None or e.profile_id == profile_id])

    def delete_edge(self, edge_id: str) -> None:
        """Delete an edge."""

        def delete() -> None:
            self.get_edge(edge_id)
            self._shared.apply([RemoveEdge(edge_id)])

        self._write(delete)

    # paths
    def save_path(self, path: MemoryPath) -> MemoryPath:
        """Insert or replace a path (one active path per tree)."""

        def save() -> None:
            state = self._state
            if path.profile_id not in state.profiles:
                raise IntegrityError(f"profile {path.profile_id!r} does not exist")
            if path.parent_path_id is not None and path.parent_path_id not in state.paths:
                raise IntegrityError(f"parent path {path.parent_path_id!r} does not exist")
            if path.active:
                others = [
                    p.id for p in state.paths_in_tree(path.tree_id) if p.active and p.id != path.id
                ]
                if others:
                    raise ConflictError(
                        f"path {others[0]!r} is already the active path of tree {path.tree_id!r}"
                    )
            self._shared.apply([PutPath(path)])

        self._write(save)
        return path

    def get_path(self, path_id: str) -> MemoryPath:
        """The path with this id."""
        return _get(self.find_path(path_id), "path", path_id)  # type: ignore[no-any-return]

    def find_path(self, path_id: str) -> MemoryPath | None:
        """The path with this id, or None."""
        with self._shared.lock:
            return self._state.paths.get(path_id)

    def list_paths(self, profile_id: str | None = None) -> list[MemoryPath]:
        """Paths by id, optionally of one profile."""
        with self._shared.lock:
            return [
                p
                for _, p in sorted(self._state.paths.items())
                if profile_id is None or p.profile_id == profile_id
            ]

    def delete_path(self, path_id: str) -> None:
        """Delete a path no event and no other path refers to."""

        def delete() -> None:
            self.get_path(path_id)
            if any(e.path_id == path_id for e in self._shared.events) or any(
                path_id in (p.parent_path_id, p.root_path_id, p.merged_into_path_id)
                for p in self._state.paths.values()
                if p.id != path_id
            ):
                raise IntegrityError(f"path {path_id!r} is still referred to")
            self._shared.remove_path(path_id)

        self._write(delete)

    # plans
    def get_activation_plan(self, plan_id: str) -> ActivationPlan:
        """A stored activation plan."""
        with self._shared.lock:
            return _get(self._state.plans.get(plan_id), "activation plan", plan_id)  # type: ignore[no-any-return]

    def list_activation_plans(self, profile_id: str | None = None) -> list[ActivationPlan]:
        """Stored activation plans by id."""
        with self._shared.lock:
            return [
                p
                for _, p in sorted(self._state.plans.items())
                if profile_id is None or p.profile_id == profile_id
            ]

    # the GraphView the replay fold reads (see phase_memory.replay)
    def edges_touching(self, node_id: str) -> list[MemoryEdge]:
        """Edges with ``node_id`` at either end, by id."""
        with self._shared.lock:
            return self._state.edges_touching(node_id)

    def paths_in_tree(self, root_path_id: str) -> list[MemoryPath]:
        """Paths of the conversation tree rooted at ``root_path_id``, by id."""
        with self._shared.lock:
            return self._state.paths_in_tree(root_path_id)

    def plans_mentioning(self, node_id: str) -> list[ActivationPlan]:
        """Stored plans with an item for ``node_id``, by id."""
        with self._shared.lock:
            return self._state.plans_mentioning(node_id)

    # queries
    def neighbourhood(
        self, node_id: str, depth: int = 1, *, valid_at: ValidAt = "now"
    ) -> Neighbourhood:
        """Nodes within ``depth`` hops of ``node_id`` and the edges among them.

        Only edges and nodes valid at ``valid_at`` are walked and returned (the
        centre always is).
        """
        at = resolve_valid_at(valid_at)
        with self._shared.lock:
            self.get_node(node_id)
            nodes_by_id = self._state.nodes

            def holds(record: MemoryNode | MemoryEdge) -> bool:
                return at is None or record.valid_at(at)

            seen = {node_id}
            frontier = {node_id}
            for _ in range(max(depth, 0)):
                reached: set[str] = set()
                for current in frontier:
                    for edge in self._state.edges_touching(current):
                        if not holds(edge):
                            continue
                        reached.update(
                            end
                            for end in (edge.source_id, edge.target_id)
                            if end == node_id or holds(nodes_by_id[end])
                        )
                frontier = reached - seen
                seen |= reached
            edges = [
                e
                for _, e in sorted(self._state.edges.items())
                if e.source_id in seen and e.target_id in seen and holds(e)
            ]
            nodes = [self._state.nodes[n] for n in sorted(seen)]
        return Neighbourhood(centre_id=node_id, nodes=nodes, edges=edges)

    def counts(self, profile_id: str | None = None) -> dict[str, int]:
        """How many records of each kind are stored."""

        def mine(records: Iterable[Any]) -> int:
            return sum(1 for r in records if profile_id is None or r.profile_id == profile_id)

        with self._shared.lock:
            state = self._state
            return {
                "profiles": len(state.profiles)
                if profile_id is None
                else int(profile_id in state.profiles),
                "nodes": mine(state.nodes.values()),
                "edges": mine(state.edges.values()),
                "paths": mine(state.paths.values()),
                "activation_plans": mine(state.plans.values()),
            }

    def search_text(self, profile_id: str, terms: Sequence[str], limit: int) -> list[TextMatch]:
        """Active nodes matching any term, best first (a simple term-frequency scorer)."""
        folded = [term.casefold() for term in terms]
        with self._shared.lock:
            nodes = [
                n
                for n in self._state.nodes.values()
                if n.profile_id == profile_id and n.state is NodeState.ACTIVE
            ]
        scored = [
            TextMatch(node_id=n.id, relevance=score, node=n)
            for n in nodes
            if (score := simple_relevance(folded, n.label, n.content)) > 0
        ]
        scored.sort(key=lambda m: (-m.relevance, m.node_id))
        return scored[:limit]

    def search_substring(self, profile_id: str, text: str, limit: int) -> list[TextMatch]:
        """Active nodes whose kind, label or content holds ``text`` (any case), best first.

        Label hits rank above kind and content hits, ties by id.
        """
        needle = text.casefold()
        if not needle.strip() or limit <= 0 or "\x00" in needle:
            return []  # as on SQL, where no index holds a NUL
        with self._shared.lock:
            nodes = [
                n
                for n in self._state.nodes.values()
                if n.profile_id == profile_id and n.state is NodeState.ACTIVE
            ]
        found = []
        for n in nodes:
            in_label = needle in n.label.casefold()
            if in_label or needle in n.kind.casefold() or needle in (n.content or "").casefold():
                found.append(TextMatch(node_id=n.id, relevance=2.0 if in_label else 1.0, node=n))
        found.sort(key=lambda m: (-m.relevance, m.node_id))
        return found[:limit]

    def apply(self, effects: Iterable[Effect]) -> None:
        """Write the exact records of replay effects."""
        self._write(lambda: self._shared.apply(list(effects)))

    def snapshot(self) -> GraphSnapshot:
        """Everything stored, as a snapshot."""
        with self._shared.lock:
            return self._state.to_snapshot()

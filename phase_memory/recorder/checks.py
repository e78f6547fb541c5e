"""What every recorded event must pass before it is applied: policy, paths, the review gate.

:func:`check_writable` runs for every event the recorder records, inside the
write transaction and before the event's graph effect, against an
:class:`EventView` of the graph (the records the checks and the fold share).
"""

from __future__ import annotations

from typing import Any

from phase_memory.errors import (
    ConflictError,
    IntegrityError,
    NotFoundError,
    PathStateError,
    PolicyViolationError,
)
from phase_memory.models import MemoryEvent, MemoryNode, MemoryPath, PathStatus, Profile
from phase_memory.protocols import MemoryGraphStore
from phase_memory.recorder.review_gate import GATED_KINDS, check_event
from phase_memory.replay import kind_refusal


def check_writable(graph: MemoryGraphStore, event: MemoryEvent) -> None:
    """Refuse an event that breaks its profile's policy or targets a closed or unknown path.

    Raises NotFoundError, PolicyViolationError, PathStateError, ConflictError,
    IntegrityError, or ReviewRequiredError (the review gate).
    """
    payload = event.payload
    if event.kind == "profile.saved":
        if event.path_id is not None:
            _check_path_open(graph, event)
        return
    profile = graph.find_profile(event.profile_id)
    if profile is None and event.kind == "graph.imported":
        profiles = {p.get("id") for p in _list_of(payload.get("profiles"))}
        if event.profile_id in profiles:
            return
    if profile is None:
        raise NotFoundError(f"profile {event.profile_id!r} does not exist")
    if event.path_id is not None:
        _check_path_open(graph, event)
    _check_path_target(graph, event)
    if event.kind in GATED_KINDS:
        check_event(graph, profile, event)  # the review gate, below every writer
    for node in _records(event, "node", "nodes"):
        kind = node.get("kind")
        refusal = kind_refusal(profile, "node", kind) if isinstance(kind, str) else None
        if refusal is not None:
            if event.kind == "lifecycle.applied" and _keeps_kind(graph, node):
                continue  # archiving or forgetting a node the policy has since dropped
            raise PolicyViolationError(refusal)
        if node.get("profile_id", event.profile_id) != event.profile_id:
            raise PolicyViolationError("a node must belong to the event's profile")
    for edge in _records(event, "edge", "edges"):
        kind = edge.get("kind")
        refusal = kind_refusal(profile, "edge", kind) if isinstance(kind, str) else None
        if refusal is not None:
            raise PolicyViolationError(refusal)
        if edge.get("profile_id", event.profile_id) != event.profile_id:
            raise PolicyViolationError("an edge must belong to the event's profile")

def _check_path_open(graph: MemoryGraphStore, event: MemoryEvent) -> None:
    assert event.path_id is not None
    path = graph.find_path(event.path_id)
    opened = event.payload.get("path")
    opens_it = (
        event.kind in ("path.opened", "path.branched")
        and isinstance(opened, dict)
        and opened.get("id") == event.path_id
    )
    if path is None:
        if not opens_it:
            raise NotFoundError(f"path {event.path_id!r} does not exist")
        assert isinstance(opened, dict)
        if opened.get("profile_id") != event.profile_id:
            raise PolicyViolationError("a path must belong to the event's profile")
        parent_id = opened.get("parent_path_id")
        parent = _graph_path(graph, parent_id)
        if parent is not None and parent.profile_id != event.profile_id:
            raise IntegrityError(
                f"parent path {parent.id!r} belongs to profile {parent.profile_id!r}"
            )
        return
    if opens_it:
        raise ConflictError(f"path {path.id!r} already exists")
    if path.profile_id != event.profile_id:
        raise IntegrityError(f"path {path.id!r} belongs to profile {path.profile_id!r}")
    if path.status is not PathStatus.OPEN:
        raise PathStateError(
            f"path {path.id!r} is {path.status.value}; no more events can be recorded in it"
        )

def _check_path_target(graph: MemoryGraphStore, event: MemoryEvent) -> None:
    """Refuse merging, abandoning or activating a path that is no longer open."""
    if event.kind == "path.merged":
        target = event.payload.get("source_path_id")
    elif event.kind in ("path.abandoned", "path.activated"):
        target = event.payload.get("path_id")
    else:
        return
    if not isinstance(target, str):
        return  # a malformed payload: the fold reports it
    path = graph.find_path(target)
    if path is None:
        raise NotFoundError(f"path {target!r} does not exist")
    if path.status is not PathStatus.OPEN:
        raise PathStateError(f"path {path.id!r} is already {path.status.value}")


def _graph_path(graph: MemoryGraphStore, path_id: Any) -> MemoryPath | None:
    """The stored path named by a payload value, if it is an id of one."""
    return graph.find_path(path_id) if isinstance(path_id, str) else None


def _keeps_kind(graph: MemoryGraphStore, record: dict[str, Any]) -> bool:
    """Whether ``record`` rewrites an existing node without changing its kind."""
    node_id = record.get("id")
    current = graph.find_node(node_id) if isinstance(node_id, str) else None
    return current is not None and current.kind == record.get("kind")


class EventView:
    """The graph as one event's checks and fold see it.

    The policy checks and the fold both look up the event's profile (and a
    save its node); within one event nothing is written between those
    lookups, so each record is read once. Everything else goes to the store.
    """

    __slots__ = ("_graph", "_nodes", "_profiles")

    def __init__(
        self, graph: MemoryGraphStore, nodes: dict[str, MemoryNode | None] | None = None
    ) -> None:
        self._graph = graph
        self._profiles: dict[str, Profile | None] = {}
        self._nodes: dict[str, MemoryNode | None] = dict(nodes) if nodes else {}

    def find_profile(self, profile_id: str) -> Profile | None:
        if profile_id not in self._profiles:
            self._profiles[profile_id] = self._graph.find_profile(profile_id)
        return self._profiles[profile_id]

    def find_node(self, node_id: str) -> MemoryNode | None:
        if node_id not in self._nodes:
            self._nodes[node_id] = self._graph.find_node(node_id)
        return self._nodes[node_id]

    def find_path(self, path_id: str) -> MemoryPath | None:
        """The path with this id, or None (the graph store's, unchanged by the batch)."""
        # Every event on a path asks (is it open?): a method, not __getattr__'s fallback.
        return self._graph.find_path(path_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._graph, name)


def _list_of(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _records(event: MemoryEvent, single: str, plural: str) -> list[dict[str, Any]]:
    """The node or edge records an event's payload carries (for policy checks)."""
    payload = event.payload
    found = _list_of(payload.get(plural))
    one = payload.get(single)
    if isinstance(one, dict):
        found.append(one)
    return found

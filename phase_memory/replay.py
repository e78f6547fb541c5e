"""The one fold of events into graph records, shared by replay and every adapter.

:func:`effects_of` turns one event into *effects* (put or remove one record),
looking at the current graph through a read-only :class:`GraphView`. Replay
applies the effects to an in-memory :class:`GraphState`; the runtime applies
the very same effects to the graph tables in the transaction that appends the
event. One function decides every graph effect, so the tables and a replay of
the log cannot disagree.
"""

from __future__ import annotations

import gc
import json
import operator
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol, TypeVar

from pydantic import ValidationError

from phase_memory.models import (
    ActivationPlan,
    ActivationPlanned,
    DomainModel,
    EdgeDeleted,
    EdgeSaved,
    GraphImported,
    GraphSnapshot,
    LifecycleApplied,
    LifecycleKind,
    MemoryEdge,
    MemoryEvent,
    MemoryNode,
    MemoryPath,
    NodeDeleted,
    NodeSaved,
    NodesMerged,
    NodeState,
    NodeStateChanged,
    PathAbandoned,
    PathActivated,
    PathCompacted,
    PathMerged,
    PathOpened,
    PathStatus,
    Profile,
    ProfileSaved,
    ReplayProblem,
    ReplayReport,
    ReplayResult,
)
from phase_memory.models.base import CompactionStatus
from phase_memory.models.events import (
    PAYLOAD_MODELS,
    REDACTION_KEY,
    SUPPORTED_SCHEMA_VERSIONS,
)

# --- effects ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PutProfile:
    """Insert or replace a profile."""

    profile: Profile


@dataclass(frozen=True, slots=True)
class PutNode:
    """Insert or replace a node, exactly as given."""

    node: MemoryNode


@dataclass(frozen=True, slots=True)
class RemoveNode:
    """Delete a node (its edges are removed by separate effects first)."""

    node_id: str


@dataclass(frozen=True, slots=True)
class PutEdge:
    """Insert or replace an edge."""

    edge: MemoryEdge


@dataclass(frozen=True, slots=True)
class RemoveEdge:
    """Delete an edge."""

    edge_id: str


@dataclass(frozen=True, slots=True)
class PutPath:
    """Insert or replace a path."""

    path: MemoryPath


@dataclass(frozen=True, slots=True)
class PutActivationPlan:
    """Insert or replace a stored activation plan and its items."""

    plan: ActivationPlan


Effect = PutProfile | PutNode | RemoveNode | PutEdge | RemoveEdge | PutPath | PutActivationPlan


class ReplayConflict(Exception):
    """An event cannot be applied to the current graph (not a public error).

    Replay records it as a problem; the runtime turns it into IntegrityError.
    """


class MalformedEvent(ReplayConflict):
    """The event itself is unusable: malformed payload or unknown schema version.

    The runtime turns it into ValidationError (nothing is wrong with the graph).
    """


# --- the read-only view the fold needs ---------------------------------------


class GraphView(Protocol):
    """What the fold may look up while deciding an event's effects."""

    def find_profile(self, profile_id: str) -> Profile | None: ...

    def find_node(self, node_id: str) -> MemoryNode | None: ...

    def find_edge(self, edge_id: str) -> MemoryEdge | None: ...

    def find_path(self, path_id: str) -> MemoryPath | None: ...

    def edges_touching(self, node_id: str) -> list[MemoryEdge]: ...

    def paths_in_tree(self, root_path_id: str) -> list[MemoryPath]: ...

    def plans_mentioning(self, node_id: str) -> list[ActivationPlan]: ...


# --- logged events: the fold's input -----------------------------------------


class LoggedEvent(NamedTuple):
    """An event as read from a log: ``payload`` may still be raw JSON text.

    Adapters hand these to the fold without building a :class:`MemoryEvent`,
    so payloads are parsed once, straight into their payload model. It is a
    tuple: :func:`replay` also takes plain rows holding these fields in this
    order (what a SQL adapter reads) and makes one only when it needs one.
    """

    position: int
    event_id: str
    kind: str
    profile_id: str
    path_id: str | None
    occurred: datetime | str
    """When it happened; SQLite hands over its stored text (see :attr:`occurred_at`)."""
    schema_version: int
    payload: dict[str, Any] | str
    parsed: DomainModel | None = None
    """The payload as its model, when the writer built the payload from one.

    The fold uses it as it is instead of validating ``payload`` again.
    """

    @classmethod
    def of(
        cls, event: MemoryEvent, position: int | None = None, parsed: DomainModel | None = None
    ) -> LoggedEvent:
        """Wrap a model event (``position`` overrides the event's own).

        ``parsed``: the payload model ``event.payload`` was dumped from, if any.
        """
        return cls(
            position=position if position is not None else (event.position or 0),
            event_id=event.event_id,
            kind=event.kind,
            profile_id=event.profile_id,
            path_id=event.path_id,
            occurred=event.occurred_at,
            schema_version=event.schema_version,
            payload=event.payload,
            parsed=parsed,
        )

    @property
    def occurred_at(self) -> datetime:
        """When the event happened (timezone-aware UTC)."""
        # Only the few kinds that stamp records with it ask: most events of a
        # replay never pay for parsing it.
        value = self.occurred
        return datetime.fromisoformat(value) if isinstance(value, str) else value

    def payload_dict(self) -> dict[str, Any]:
        """The payload as a dict (parsing it if it is still text)."""
        if isinstance(self.payload, str):
            parsed = json.loads(self.payload)
            if not isinstance(parsed, dict):
                raise MalformedEvent("payload is not a JSON object")
            return parsed
        return self.payload

    def is_redacted(self) -> bool:
        """Whether ``forget`` erased this payload (it carries the redaction marker on top)."""
        payload = self.payload
        if isinstance(payload, str):
            if REDACTION_KEY not in payload:
                return False
            try:
                return REDACTION_KEY in self.payload_dict()
            except (ValueError, MalformedEvent):
                return False
        return REDACTION_KEY in payload


_M = TypeVar("_M", bound=DomainModel)


def _parse(event: LoggedEvent, model: type[_M]) -> _M:
    parsed = event.parsed
    if parsed is not None and type(parsed) is model:
        return parsed
    payload = event.payload
    try:
        # The models' own pydantic-core validators, called directly: the same
        # validation as model_validate(_json), without its per-call keyword handling.
        validator = model.__pydantic_validator__
        if isinstance(payload, str):
            try:
                parsed_text: _M = validator.validate_json(payload)
                return parsed_text
            except ValidationError:
                # A payload erased by forget carries the redaction marker, which
                # the model (extra="forbid") refuses: read it without the marker.
                if REDACTION_KEY not in payload:
                    raise
            payload = event.payload_dict()
        if REDACTION_KEY in payload:
            payload = {k: v for k, v in payload.items() if k != REDACTION_KEY}
        validated: _M = validator.validate_python(payload)
        return validated
    except (ValidationError, ValueError) as exc:
        raise MalformedEvent(f"malformed payload: {_first_error(exc)}") from exc


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "payload"
        return f"{where}: {err['msg']}"
    return str(exc)


# --- the fold -----------------------------------------------------------------


def effects_of(event: LoggedEvent, view: GraphView) -> list[Effect]:
    """The graph effects of one event, given the graph before it.

    Returns ``[]`` for kinds without a graph effect. Raises
    :class:`ReplayConflict` when the payload is malformed, its schema version
    unknown, or it refers to records that do not exist.
    """
    handler = _HANDLERS.get(event.kind)
    if handler is None:
        return []
    if event.schema_version not in SUPPORTED_SCHEMA_VERSIONS:
        raise MalformedEvent(_unknown_version(event))
    return handler(event, view)


def _unknown_version(event: LoggedEvent) -> str:
    return f"unknown schema_version {event.schema_version} for {event.kind}"


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
    return [PutProfile(_parse(event, ProfileSaved).profile)]


def _node_saved(event: LoggedEvent, view: GraphView) -> list[Effect]:
    return [PutNode(_saved_node(event, view))]


def _saved_node(event: LoggedEvent, view: GraphView) -> MemoryNode:
    """The node a ``node.saved`` event puts, checked against the graph."""
    node = _parse(event, NodeSaved).node
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
    change = _parse(event, NodeStateChanged)
    node = _need_node(view, change.node_id)
    version = change.version if change.version is not None else node.version + 1
    return [
        PutNode(
            node.model_copy(
                update={"state": change.state, "version": version, "updated_at": event.occurred_at}
            )
        )
    ]


def _node_deleted(event: LoggedEvent, view: GraphView) -> list[Effect]:
    node_id = _parse(event, NodeDeleted).node_id
    _need_node(view, node_id)
    effects: list[Effect] = [RemoveEdge(e.id) for e in view.edges_touching(node_id)]
    effects.append(RemoveNode(node_id))
    return effects


def _nodes_merged(event: LoggedEvent, view: GraphView) -> list[Effect]:
    merge = _parse(event, NodesMerged)
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
            "version": node.version + 1,
            "updated_at": at,
        }
    )


def _edge_saved(event: LoggedEvent, view: GraphView) -> list[Effect]:
    return [PutEdge(_saved_edge(event, view))]


def _saved_edge(event: LoggedEvent, view: GraphView) -> MemoryEdge:
    """The edge an ``edge.saved`` event puts, checked against the graph."""
    edge = _parse(event, EdgeSaved).edge
    check_edge_endpoints(edge, view.find_node)
    return edge


def _edge_deleted(event: LoggedEvent, view: GraphView) -> list[Effect]:
    edge_id = _parse(event, EdgeDeleted).edge_id
    if view.find_edge(edge_id) is None:
        raise ReplayConflict(f"edge {edge_id!r} does not exist")
    return [RemoveEdge(edge_id)]


def _path_opened(event: LoggedEvent, view: GraphView) -> list[Effect]:
    path = _parse(event, PathOpened).path
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
    merge = _parse(event, PathMerged)
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
    abandon = _parse(event, PathAbandoned)
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
    compact = _parse(event, PathCompacted)
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
    path = _need_path(view, _parse(event, PathActivated).path_id)
    if path.status is not PathStatus.OPEN:
        raise ReplayConflict(f"path {path.id!r} is {path.status.value} and cannot be active")
    activated = path.model_copy(update={"active": True, "updated_at": event.occurred_at})
    return _activate(activated, view)


def _lifecycle_applied(event: LoggedEvent, view: GraphView) -> list[Effect]:
    applied = _parse(event, LifecycleApplied)
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
    plan = _parse(event, ActivationPlanned).plan
    _need_profile(view, plan.profile_id)
    return [PutActivationPlan(plan)]


def _graph_imported(event: LoggedEvent, view: GraphView) -> list[Effect]:
    imported = _parse(event, GraphImported)
    effects: list[Effect] = [PutProfile(p) for p in imported.profiles]
    known_profiles = {p.id for p in imported.profiles}
    for node in imported.nodes:
        if node.profile_id not in known_profiles:
            _need_profile(view, node.profile_id)
            known_profiles.add(node.profile_id)
        effects.append(PutNode(node))
    new_nodes = {node.id: node for node in imported.nodes}
    for edge in imported.edges:
        check_edge_endpoints(edge, view.find_node, new_nodes)
        effects.append(PutEdge(edge))
    effects.extend(PutPath(path) for path in imported.paths)
    return effects


_HANDLERS = {
    "profile.saved": _profile_saved,
    "node.saved": _node_saved,
    "node.state_changed": _node_state_changed,
    "node.deleted": _node_deleted,
    "nodes.merged": _nodes_merged,
    "edge.saved": _edge_saved,
    "edge.deleted": _edge_deleted,
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
assert set(_HANDLERS) == set(PAYLOAD_MODELS)


# --- an in-memory graph that the fold can read and effects can write ----------


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
        _APPLY[type(effect)](self, effect)

    def _put_profile(self, effect: PutProfile) -> None:
        self.profiles[effect.profile.id] = effect.profile

    def _put_node(self, effect: PutNode) -> None:
        self.nodes[effect.node.id] = effect.node

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
        self.nodes.pop(effect.node_id, None)

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


def _sorted_copy(records: dict[str, _V]) -> dict[str, _V]:
    return dict(sorted(records.items()))


def _ordered(records: dict[str, _V]) -> dict[str, _V]:
    """``records`` itself if its keys are in order, else a sorted copy."""
    keys = list(records)
    if all(map(operator.lt, keys, keys[1:])):
        return records
    return _sorted_copy(records)


_APPLY: dict[type, Callable[[GraphState, Any], None]] = {
    PutProfile: GraphState._put_profile,
    PutNode: GraphState._put_node,
    RemoveNode: GraphState._remove_node,
    PutEdge: GraphState._put_edge,
    RemoveEdge: GraphState._remove_edge,
    PutPath: GraphState._put_path,
    PutActivationPlan: GraphState._put_plan,
}


# --- replay --------------------------------------------------------------------


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
    handlers, supported, apply = _HANDLERS, SUPPORTED_SCHEMA_VERSIONS, _APPLY
    profiles, nodes, put_edge = state.profiles, state.nodes, state.put_edge
    node_saved = NodeSaved.__pydantic_validator__.validate_json
    edge_saved = EdgeSaved.__pydantic_validator__.validate_json
    with _gc_paused():
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
                            put_edge(edge)
                            applied += 1
                            continue
            event = _logged(row)
            try:
                if event.schema_version not in supported:
                    raise MalformedEvent(_unknown_version(event))
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


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a fold runs.

    A fold allocates hundreds of thousands of long-lived records and almost
    no reference cycles; with the collector on, each full collection walks
    the whole growing snapshot again, which made replay of 200,000 events
    about a third slower (benchmarks: replay). Reference counting still frees
    everything as usual; the collector is back on when the fold ends.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        # Everything the fold made is young to the collector: the first young
        # collection after this would walk all of it (a tenth of a second per
        # hundred thousand records) only to find it alive. Move the young
        # objects straight to the oldest generation instead (freeze then
        # unfreeze: two list splices), where a full collection sees them in
        # its own time. Young garbage cycles of the program wait for that same
        # full collection rather than the next young one.
        gc.freeze()
        gc.unfreeze()
        gc.enable()


def effective_history(events: Sequence[LoggedEvent], path_id: str) -> list[LoggedEvent]:
    """The events a path "remembers", in the order they apply.

    A branch inherits its parent's effective history up to and including the
    fork event, then has its own events; a merged branch's own events enter the
    target's history just before the ``path.merged`` event that merged them.
    Events without a ``path_id`` (shared memory) belong to every path of their
    profile, at their position. Unknown paths have an empty history.
    """
    by_path: dict[str, list[LoggedEvent]] = defaultdict(list)
    shared: dict[str, list[LoggedEvent]] = defaultdict(list)
    parents: dict[str, tuple[str | None, str | None, str]] = {}
    for event in events:
        if event.path_id is None:
            shared[event.profile_id].append(event)
        else:
            by_path[event.path_id].append(event)
        if event.kind in ("path.opened", "path.branched"):
            try:
                path = _parse(event, PathOpened).path
            except ReplayConflict:
                continue
            parents[path.id] = (path.parent_path_id, path.fork_event_id, path.profile_id)

    def merged_source(event: LoggedEvent) -> str | None:
        try:
            return _parse(event, PathMerged).source_path_id
        except ReplayConflict:
            return None

    def keyed_own(pid: str, seen: frozenset[str]) -> list[tuple[int, int, int, LoggedEvent]]:
        # A path's own events keyed by position; the events of a branch merged
        # into it are keyed by the position of the ``path.merged`` event (and
        # sort just before it, in the branch's own order).
        keyed: list[tuple[int, int, int, LoggedEvent]] = []
        for event in by_path.get(pid, ()):
            if event.kind == "path.merged":
                source = merged_source(event)
                if source is not None and source not in seen:
                    merged_in = contribution(source, seen | {source})
                    keyed.extend((event.position, 0, sub, e) for sub, e in enumerate(merged_in))
            keyed.append((event.position, 1, 0, event))
        return keyed

    def contribution(pid: str, seen: frozenset[str]) -> list[LoggedEvent]:
        # What a path brings to the target it is merged into: its own events,
        # with the branches merged into it in turn, but no shared events (the
        # target has those at their own positions already).
        return [item[3] for item in sorted(keyed_own(pid, seen), key=_sort_key)]

    def history(pid: str, seen: frozenset[str]) -> list[LoggedEvent]:
        if pid not in parents:
            return []
        parent, fork_event_id, profile_id = parents[pid]
        prefix: list[LoggedEvent] = []
        fork_position = 0
        if parent is not None and parent not in seen:
            inherited = history(parent, seen | {parent})
            for index, event in enumerate(inherited):
                if event.event_id == fork_event_id:
                    prefix = inherited[: index + 1]
                    fork_position = event.position
                    break
        # Shared events after the fork, unless the prefix holds them already (a
        # fork at an event merged in from another branch sorts after them).
        in_prefix = {e.event_id for e in prefix}
        keyed = keyed_own(pid, seen)
        keyed.extend(
            (e.position, 1, 0, e)
            for e in shared.get(profile_id, ())
            if e.position > fork_position and e.event_id not in in_prefix
        )
        keyed.sort(key=_sort_key)
        return prefix + [item[3] for item in keyed]

    return history(path_id, frozenset({path_id}))


def _sort_key(item: tuple[int, int, int, LoggedEvent]) -> tuple[int, int, int]:
    return item[0], item[1], item[2]

"""Checks of an events file, one event at a time, before anything is written.

:class:`EventChecker` follows the file in order and keeps only ids and small
facts (which profiles, paths, nodes and edges exist, which paths are closed,
each profile's policy), looking up what the file does not mention in the
database once. It finds what would make recording the events fail: duplicate
ids, unknown profiles and paths, events in closed paths, references to missing
nodes and edges, policy violations, payloads that do not match their kind, and
unknown payload schema versions.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError as PydanticValidationError

from phase_memory.errors import NotFoundError
from phase_memory.interchange.problems import Problems
from phase_memory.models import MemoryEvent, PathStatus, Profile
from phase_memory.models.events import PAYLOAD_MODELS, REDACTION_KEY, SUPPORTED_SCHEMA_VERSIONS
from phase_memory.protocols import MemoryStore
from phase_memory.replay import kind_refusal

_PATH_KINDS = {"path.opened", "path.branched"}


class EventChecker:
    """Checks events in file order against what earlier lines and the database hold."""

    def __init__(self, store: MemoryStore, file: str, problems: Problems) -> None:
        self._store = store
        self._file = file
        self._problems = problems
        self._event_ids: set[str] = set()
        self._profiles: dict[str, Profile | None] = {}
        self._paths: dict[str, tuple[str, PathStatus] | None] = {}
        self._nodes: dict[str, str | None] = {}
        self._edges: dict[str, bool] = {}
        self._line = 0
        self.count = 0
        stored = store.graph.counts()
        self._look = {kind: n > 0 for kind, n in stored.items()}
        self._look["events"] = store.events.last_position() > 0

    # --- what exists ----------------------------------------------------------

    def _profile(self, profile_id: str) -> Profile | None:
        if profile_id not in self._profiles:
            found = self._store.graph.find_profile(profile_id) if self._look["profiles"] else None
            self._profiles[profile_id] = found
        return self._profiles[profile_id]

    def _path(self, path_id: str) -> tuple[str, PathStatus] | None:
        if path_id not in self._paths:
            stored = self._store.graph.find_path(path_id) if self._look["paths"] else None
            self._paths[path_id] = None if stored is None else (stored.profile_id, stored.status)
        return self._paths[path_id]

    def _node(self, node_id: str) -> str | None:
        """The profile of an existing node, None when it does not exist."""
        if node_id not in self._nodes:
            stored = self._store.graph.find_node(node_id) if self._look["nodes"] else None
            self._nodes[node_id] = None if stored is None else stored.profile_id
        return self._nodes[node_id]

    def _edge(self, edge_id: str) -> bool:
        if edge_id not in self._edges:
            self._edges[edge_id] = (
                self._look["edges"] and self._store.graph.find_edge(edge_id) is not None
            )
        return self._edges[edge_id]

    def _event_exists(self, event_id: str) -> bool:
        if not self._look["events"]:
            return False
        try:
            self._store.events.get(event_id)
        except NotFoundError:
            return False
        return True

    # --- checking -----------------------------------------------------------------

    def check(self, raw: Any, line: int) -> MemoryEvent | None:
        """Check one parsed line; return the event when it is well formed."""
        self.count += 1
        try:
            event = MemoryEvent.model_validate(raw)
        except PydanticValidationError as exc:
            self._problems.add_validation(self._file, exc, line=line)
            return None
        self._line = line
        if event.event_id in self._event_ids:
            self._add("event_id", f"duplicate event id {event.event_id!r} in this file")
        elif self._event_exists(event.event_id):
            self._add("event_id", f"event {event.event_id!r} already exists in the database")
        self._event_ids.add(event.event_id)
        payload = self._payload(event)
        self._check_context(event, payload)
        if payload is not None:
            self._follow(event, payload)
        return event

    def _add(self, field: str, reason: str) -> None:
        self._problems.add(self._file, field, reason, line=self._line)

    def _payload(self, event: MemoryEvent) -> Any:
        """The payload model of a replayable event (None if it has none or is malformed)."""
        model = PAYLOAD_MODELS.get(event.kind)
        if model is None:
            return None
        if event.schema_version not in SUPPORTED_SCHEMA_VERSIONS:
            known = ", ".join(str(v) for v in sorted(SUPPORTED_SCHEMA_VERSIONS))
            self._add("schema_version", f"unknown schema_version {event.schema_version} for "
                                        f"{event.kind}; this version of phase-memory reads {known}")
            return None
        payload = {k: v for k, v in event.payload.items() if k != REDACTION_KEY}
        try:
            return model.model_validate(payload)
        except PydanticValidationError as exc:
            self._problems.add_validation(self._file, exc, line=self._line,
                                          field_prefix="payload.")
            return None

    def _check_context(self, event: MemoryEvent, payload: Any) -> None:
        """The event's profile and path must exist (or be created by this very event)."""
        kind = event.kind
        creates_profile = kind == "profile.saved" or (
            kind == "graph.imported"
            and payload is not None
            and any(p.id == event.profile_id for p in payload.profiles)
        )
        if not creates_profile and self._profile(event.profile_id) is None:
            self._add("profile_id", f"profile {event.profile_id!r} does not exist "
                                    "(neither earlier in this file nor in the database)")
        if event.path_id is None:
            return
        opens_it = kind in _PATH_KINDS and payload is not None and payload.path.id == event.path_id
        found = self._path(event.path_id)
        if found is None:
            if not opens_it:
                self._add("path_id", f"path {event.path_id!r} does not exist "
                                     "(neither earlier in this file nor in the database)")
            return
        profile_id, status = found
        if profile_id != event.profile_id:
            self._add("path_id", f"path {event.path_id!r} belongs to profile {profile_id!r}")
        elif status is not PathStatus.OPEN:
            self._add("path_id", f"path {event.path_id!r} is {status.value}; no more events "
                                 "can be recorded in it")

    def _need_path(self, path_id: str, field: str) -> None:
        if self._path(path_id) is None:
            self._add(field, f"path {path_id!r} does not exist "
                             "(neither earlier in this file nor in the database)")

    def _need_node(self, node_id: str, field: str) -> None:
        if self._node(node_id) is None:
            self._add(field, f"node {node_id!r} does not exist "
                             "(neither earlier in this file nor in the database)")

    def _check_policy(self, event: MemoryEvent, nodes: list[Any], edges: list[Any]) -> None:
        profile = self._profiles.get(event.profile_id) or self._profile(event.profile_id)
        for node in nodes:
            if node.profile_id != event.profile_id:
                self._add("payload", f"node {node.id!r} belongs to profile {node.profile_id!r}, "
                                     f"not to the event's profile {event.profile_id!r}")
            elif profile is not None and (refusal := kind_refusal(profile, "node", node.kind)):
                self._add("payload", refusal)
        for edge in edges:
            if edge.profile_id != event.profile_id:
                self._add("payload", f"edge {edge.id!r} belongs to profile {edge.profile_id!r}, "
                                     f"not to the event's profile {event.profile_id!r}")
            elif profile is not None and (refusal := kind_refusal(profile, "edge", edge.kind)):
                self._add("payload", refusal)

    def _put_edges(self, edges: list[Any], field: str) -> None:
        for edge in edges:
            for end in (edge.source_id, edge.target_id):
                owner = self._node(end)
                if owner is None:
                    self._add(field, f"edge {edge.id!r} refers to missing node {end!r}")
                elif owner != edge.profile_id:
                    self._add(field, f"edge {edge.id!r} joins node {end!r} of another profile "
                                     f"({owner!r})")
            self._edges[edge.id] = True

    def _follow(self, event: MemoryEvent, payload: Any) -> None:
        """Check the event's references, then note what it creates or removes."""
        kind = event.kind
        if kind == "profile.saved":
            self._profiles[payload.profile.id] = payload.profile
        elif kind == "graph.imported":
            for profile in payload.profiles:
                self._profiles[profile.id] = profile
            self._check_policy(event, payload.nodes, payload.edges)
            for node in payload.nodes:
                self._nodes[node.id] = node.profile_id
            self._put_edges(payload.edges, "payload.edges")
            for path in payload.paths:
                self._paths[path.id] = (path.profile_id, path.status)
        elif kind == "node.saved":
            self._check_policy(event, [payload.node], [])
            self._nodes[payload.node.id] = payload.node.profile_id
        elif kind in ("node.state_changed", "node.deleted"):
            self._need_node(payload.node_id, "payload.node_id")
            if kind == "node.deleted":
                self._nodes[payload.node_id] = None
        elif kind == "nodes.merged":
            self._need_node(payload.survivor_id, "payload.survivor_id")
            for merged in payload.merged_ids:
                self._need_node(merged, "payload.merged_ids")
        elif kind == "edge.saved":
            self._check_policy(event, [], [payload.edge])
            self._put_edges([payload.edge], "payload.edge")
        elif kind == "edge.deleted":
            if not self._edge(payload.edge_id):
                self._add("payload.edge_id", f"edge {payload.edge_id!r} does not exist "
                                             "(neither earlier in this file nor in the database)")
            self._edges[payload.edge_id] = False
        elif kind == "node.superseded":
            self._need_node(payload.node_id, "payload.node_id")
            self._need_node(payload.superseded_by, "payload.superseded_by")
        elif kind == "edge.superseded":
            for field, edge_id in (("payload.edge_id", payload.edge_id),
                                   ("payload.superseded_by", payload.superseded_by)):
                if not self._edge(edge_id):
                    self._add(field, f"edge {edge_id!r} does not exist "
                                     "(neither earlier in this file nor in the database)")
        elif kind in _PATH_KINDS:
            if payload.path.parent_path_id is not None:
                self._need_path(payload.path.parent_path_id, "payload.path.parent_path_id")
            self._paths[payload.path.id] = (payload.path.profile_id, payload.path.status)
        elif kind == "path.merged":
            self._need_path(payload.target_path_id, "payload.target_path_id")
            self._close(payload.source_path_id, "payload.source_path_id", PathStatus.MERGED)
        elif kind == "path.abandoned":
            self._close(payload.path_id, "payload.path_id", PathStatus.ABANDONED)
        elif kind in ("path.compacted", "path.activated"):
            self._need_path(payload.path_id, "payload.path_id")
        elif kind == "lifecycle.applied":
            self._check_policy(event, payload.nodes, payload.edges)
            for node in payload.nodes:
                self._nodes[node.id] = node.profile_id
            for edge_id in payload.removed_edge_ids:
                self._edges[edge_id] = False
            self._put_edges(payload.edges, "payload.edges")
            if payload.path is not None:
                self._paths[payload.path.id] = (payload.path.profile_id, payload.path.status)

    def _close(self, path_id: str, field: str, status: PathStatus) -> None:
        found = self._path(path_id)
        if found is None:
            self._need_path(path_id, field)
        else:
            self._paths[path_id] = (found[0], status)


def touched_by(event: MemoryEvent) -> tuple[set[str], set[str]]:
    """Profiles and paths an event creates or changes (batching must not run past these)."""
    payload = event.payload
    profiles: set[str] = set()
    paths: set[str] = set()
    kind = event.kind
    if kind == "profile.saved":
        profiles.add(event.profile_id)
        inner = payload.get("profile")
        if isinstance(inner, dict) and isinstance(inner.get("id"), str):
            profiles.add(str(inner["id"]))
    elif kind == "graph.imported":
        profiles.update(_ids(payload.get("profiles")))
        paths.update(_ids(payload.get("paths")))
    elif kind.startswith("path.") or kind == "lifecycle.applied":
        if event.path_id is not None:
            paths.add(event.path_id)
        for key in ("path_id", "source_path_id", "target_path_id"):
            value = payload.get(key)
            if isinstance(value, str):
                paths.add(value)
        paths.update(_ids([payload.get("path")]))
    return profiles, paths


def _ids(records: Any) -> set[str]:
    if not isinstance(records, list):
        return set()
    return {r["id"] for r in records if isinstance(r, dict) and isinstance(r.get("id"), str)}

"""Events of the append-only log and the payload models of the replayable kinds."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from phase_memory.errors import LimitExceededError
from phase_memory.models.activation import ActivationPlan
from phase_memory.models.base import DomainModel, NodeState, PayloadObject
from phase_memory.models.graph import MemoryEdge, MemoryNode
from phase_memory.models.ids import (
    Identifier,
    UtcDatetime,
    check_identifier,
    new_id,
    utc_now,
)
from phase_memory.models.lifecycle import LifecycleAction
from phase_memory.models.limits import (
    MAX_ID_LENGTH,
    MAX_INTEGER,
    MAX_PAYLOAD_BYTES,
    MAX_PAYLOAD_DEPTH,
    MAX_VERSION,
    MIN_INTEGER,
    Text,
    int64_problem,
    json_problem,
    version_problem,
    within_json,
)
from phase_memory.models.paths import MemoryPath
from phase_memory.models.profile import Profile

_DOTTED = re.compile(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*")


def _check_event_kind(value: str) -> str:
    # A dotted name of at most 200 characters is always a valid identifier: the
    # common case costs one regex match (this runs for every event read back).
    if len(value) <= MAX_ID_LENGTH and _DOTTED.fullmatch(value):
        return value
    check_identifier(value)  # the precise reason when it is not even an identifier
    raise ValueError("event kind must be a dotted name such as 'node.saved'")


EventKind = Annotated[str, AfterValidator(_check_event_kind)]


class MemoryEvent(DomainModel):
    """One entry of the append-only log.

    ``position`` is assigned by the log on append (strictly increasing); a value
    passed in is ignored by ``append`` and set on the events the log returns.
    """

    event_id: Identifier = Field(default_factory=new_id)
    kind: EventKind
    profile_id: Identifier
    path_id: Identifier | None = None
    occurred_at: UtcDatetime = Field(default_factory=utc_now)
    payload: PayloadObject = Field(default_factory=dict)
    schema_version: int = Field(default=1, ge=1, le=MAX_VERSION)
    actor: Text = "system"
    causation_id: Identifier | None = None
    position: int | None = Field(default=None, ge=MIN_INTEGER, le=MAX_INTEGER)


# --- payloads of the replayable kinds (schema_version 1) ---------------------


class ProfileSaved(DomainModel):
    """Payload of ``profile.saved``."""

    profile: Profile


class NodeSaved(DomainModel):
    """Payload of ``node.saved``: the whole node as stored."""

    node: MemoryNode


class NodeStateChanged(DomainModel):
    """Payload of ``node.state_changed``."""

    node_id: Identifier
    state: NodeState
    version: int | None = Field(default=None, ge=0, le=MAX_VERSION)


class NodeDeleted(DomainModel):
    """Payload of ``node.deleted``; the node's edges go with it."""

    node_id: Identifier


class NodesMerged(DomainModel):
    """Payload of ``nodes.merged``: edges of ``merged_ids`` move to ``survivor_id``."""

    survivor_id: Identifier
    merged_ids: list[Identifier]


class EdgeSaved(DomainModel):
    """Payload of ``edge.saved``: the whole edge as stored."""

    edge: MemoryEdge


class EdgeDeleted(DomainModel):
    """Payload of ``edge.deleted``."""

    edge_id: Identifier


class NodeSuperseded(DomainModel):
    """Payload of ``node.superseded``: ``node_id`` stops holding where ``superseded_by`` starts.

    The fold sets the old node's ``valid_to`` to the new one's start (its
    ``valid_from``, else its ``created_at``). A new start before the old one's
    is refused unless ``correction`` (the old fact never held: its interval
    becomes empty). Nothing is deleted.
    """

    node_id: Identifier
    superseded_by: Identifier
    correction: bool = False


class EdgeSuperseded(DomainModel):
    """Payload of ``edge.superseded``: as :class:`NodeSuperseded`, for edges.

    Recorded by ``save_edge`` for a profile's ``single_valued_edge_kinds``:
    both edges leave the same source with the same kind.
    """

    edge_id: Identifier
    superseded_by: Identifier
    correction: bool = False


class PathOpened(DomainModel):
    """Payload of ``path.opened`` and ``path.branched``: the new path."""

    path: MemoryPath


class PathMerged(DomainModel):
    """Payload of ``path.merged``, recorded in the target path."""

    source_path_id: Identifier
    target_path_id: Identifier


class PathAbandoned(DomainModel):
    """Payload of ``path.abandoned``."""

    path_id: Identifier
    reason: Text


class PathCompacted(DomainModel):
    """Payload of ``path.compacted``."""

    path_id: Identifier
    summary_node_id: Identifier


class PathActivated(DomainModel):
    """Payload of ``path.activated``: this path becomes the active one of its tree."""

    path_id: Identifier


class LifecycleApplied(DomainModel):
    """Payload of ``lifecycle.applied``: the action and the records it produced.

    ``nodes`` holds the records the action wrote in full (tombstones of forgotten
    or merged nodes, reweighted nodes, a compaction's summary node), so replay
    does not depend on anything the action erased.
    """

    action: LifecycleAction
    nodes: list[MemoryNode] = Field(default_factory=list)
    edges: list[MemoryEdge] = Field(default_factory=list)
    removed_edge_ids: list[Identifier] = Field(default_factory=list)
    path: MemoryPath | None = None


class ActivationPlanned(DomainModel):
    """Payload of ``activation.planned``: the stored plan."""

    plan: ActivationPlan


class GraphImported(DomainModel):
    """Payload of ``graph.imported``: records written by an envelope import."""

    profiles: list[Profile] = Field(default_factory=list)
    nodes: list[MemoryNode] = Field(default_factory=list)
    edges: list[MemoryEdge] = Field(default_factory=list)
    paths: list[MemoryPath] = Field(default_factory=list)
    source: str | None = None


PAYLOAD_MODELS: dict[str, type[DomainModel]] = {
    "profile.saved": ProfileSaved,
    "node.saved": NodeSaved,
    "node.state_changed": NodeStateChanged,
    "node.deleted": NodeDeleted,
    "nodes.merged": NodesMerged,
    "edge.saved": EdgeSaved,
    "edge.deleted": EdgeDeleted,
    "node.superseded": NodeSuperseded,
    "edge.superseded": EdgeSuperseded,
    "path.opened": PathOpened,
    "path.branched": PathOpened,
    "path.merged": PathMerged,
    "path.abandoned": PathAbandoned,
    "path.compacted": PathCompacted,
    "path.activated": PathActivated,
    "lifecycle.applied": LifecycleApplied,
    "activation.planned": ActivationPlanned,
    "graph.imported": GraphImported,
}
"""Payload model of each replayable kind at schema_version 1."""

REPLAYABLE_KINDS = frozenset(PAYLOAD_MODELS)
SUPPORTED_SCHEMA_VERSIONS = frozenset({1})

REDACTION_KEY = "redacted"
"""Key of the marker that replaces an event payload erased by ``forget``."""


def check_appendable(
    events: Sequence[MemoryEvent], expected_position: int | None = None
) -> None:
    """Refuse events whose payload or integers break the input limits (nothing written).

    The models check these on validation; logs call this on append as well, for
    events made without validation (``model_construct``, ``model_copy``), so no
    event a reader cannot read back is ever stored. Raises
    :class:`~phase_memory.errors.LimitExceededError` naming the limit.
    """
    checked_payloads(events, expected_position, _nothing)


def checked_payloads(
    events: Sequence[MemoryEvent],
    expected_position: int | None,
    text_of: Callable[[bytes | None, Any], str],
) -> list[str]:
    """:func:`check_appendable`, and each payload's JSON text as ``text_of`` writes it.

    The limit check encodes each payload (orjson's bytes, see
    :func:`~phase_memory.models.limits.within_json`; None where it walked the
    payload instead); ``text_of(those bytes, payload)`` turns them into the
    text a log stores, so each payload is encoded once. Only the texts are
    kept: a batch of many events holds one copy of its JSON.
    """
    problem = int64_problem("expected_position", expected_position)
    if problem is not None:
        raise LimitExceededError(problem)
    texts: list[str] = []
    for event in events:
        payload = event.payload
        found = within_json(payload, max_depth=MAX_PAYLOAD_DEPTH, max_bytes=MAX_PAYLOAD_BYTES)
        problem = version_problem("schema_version", event.schema_version)
        if problem is None and found is None:
            problem = json_problem(
                payload, max_depth=MAX_PAYLOAD_DEPTH, max_bytes=MAX_PAYLOAD_BYTES
            )
            if problem is not None:
                problem = f"payload {problem}"
        if problem is not None:
            raise LimitExceededError(
                f"event {event.event_id!r} ({event.kind}): {problem}; nothing was written"
            )
        texts.append(text_of(found, payload))
    return texts


def _nothing(encoded: bytes | None, payload: Any) -> str:
    return ""


def payload_of(model: DomainModel) -> dict[str, Any]:
    """Dump a payload model to the JSON object stored in an event."""
    return model.model_dump(mode="json")

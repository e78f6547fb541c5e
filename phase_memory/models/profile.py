"""Profiles (memory namespaces) and their policies."""

from __future__ import annotations

from pydantic import Field, field_serializer

from phase_memory.models.base import DomainModel, JsonObject, LifecycleKind, Sensitivity
from phase_memory.models.ids import Identifier, Kind, UtcDatetime, new_id, utc_now
from phase_memory.models.limits import MAX_ACTIVATION_BUDGET, Text

DEFAULT_REVIEW_REQUIRED = frozenset(
    {LifecycleKind.FORGET, LifecycleKind.MERGE_NODES, LifecycleKind.COMPACT_PATH}
)


class ProfilePolicy(DomainModel):
    """The rules a profile imposes on writes, lifecycle actions and activation."""

    review_required: frozenset[LifecycleKind] = DEFAULT_REVIEW_REQUIRED
    """Lifecycle kinds that are refused without an :class:`Approval`."""
    node_kinds: frozenset[Kind] | None = None
    """If set, the only node kinds this profile accepts."""
    edge_kinds: frozenset[Kind] | None = None
    """If set, the only edge kinds this profile accepts."""
    redact_at: Sensitivity = Sensitivity.SECRET
    """Nodes at or above this sensitivity are returned redacted by activation."""
    activation_budget: int = Field(default=20, ge=1, le=MAX_ACTIVATION_BUDGET)
    """Default number of items an activation returns."""

    single_valued_edge_kinds: frozenset[Kind] = frozenset()
    """Edge kinds a source node holds one current edge of (``lives_in``, ``works_at``):
    saving another supersedes the current one (see ``docs/valid-time.md``)."""

    @field_serializer("review_required", "node_kinds", "edge_kinds", "single_valued_edge_kinds")
    def _sorted(self, value: frozenset[str] | None) -> list[str] | None:
        # Sets serialise sorted so exports are byte-for-byte deterministic.
        return None if value is None else sorted(value)

    def allows_node_kind(self, kind: str) -> bool:
        """Whether a node of ``kind`` may be saved under this policy."""
        return self.node_kinds is None or kind in self.node_kinds

    def allows_edge_kind(self, kind: str) -> bool:
        """Whether an edge of ``kind`` may be saved under this policy."""
        return self.edge_kinds is None or kind in self.edge_kinds

    def is_single_valued(self, kind: str) -> bool:
        """Whether a source holds at most one current edge of ``kind``."""
        return kind in self.single_valued_edge_kinds


class Profile(DomainModel):
    """A memory namespace: every node, edge, path and event belongs to one profile."""

    id: Identifier = Field(default_factory=new_id)
    name: Text = ""
    description: Text = ""
    policy: ProfilePolicy = ProfilePolicy()
    attributes: JsonObject = Field(default_factory=dict)
    created_at: UtcDatetime = Field(default_factory=utc_now)
    updated_at: UtcDatetime = Field(default_factory=utc_now)

"""Nodes and edges of the memory graph."""

from __future__ import annotations

from pydantic import Field

from phase_memory.models.base import DomainModel, JsonObject, NodeState, Sensitivity
from phase_memory.models.ids import Identifier, Kind, UtcDatetime, new_id, utc_now
from phase_memory.models.limits import MAX_VERSION, Text

NAME_ATTRIBUTE = "mcp_name"
"""The node attribute holding a name that identifies the node within its profile.

MCP memory entities keep their ``name`` there (see
:mod:`phase_memory.interchange.mcp_format`); stores index it, so
:meth:`~phase_memory.protocols.MemoryGraphStore.find_nodes_by_name` finds a
node from its name without the id being derived from the name.
"""


class MemoryNode(DomainModel):
    """One memory: a fact, preference, episode or summary.

    ``version`` counts saves (1 after the first); stores assign it.
    """

    id: Identifier = Field(default_factory=new_id)
    profile_id: Identifier
    kind: Kind
    label: Text
    content: Text | None = None
    attributes: JsonObject = Field(default_factory=dict)
    salience: float = Field(default=0.5, ge=0.0, le=1.0)
    sensitivity: Sensitivity = Sensitivity.INTERNAL
    state: NodeState = NodeState.ACTIVE
    created_at: UtcDatetime = Field(default_factory=utc_now)
    updated_at: UtcDatetime = Field(default_factory=utc_now)
    version: int = Field(default=0, ge=0, le=MAX_VERSION)


class MemoryEdge(DomainModel):
    """A directed, weighted relation between two nodes of the same profile."""

    id: Identifier = Field(default_factory=new_id)
    profile_id: Identifier
    source_id: Identifier
    target_id: Identifier
    kind: Kind
    weight: float = 1.0
    attributes: JsonObject = Field(default_factory=dict)
    created_at: UtcDatetime = Field(default_factory=utc_now)
    updated_at: UtcDatetime = Field(default_factory=utc_now)

"""Graph snapshots: the result of replaying the event log."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from phase_memory.models.activation import ActivationPlan
from phase_memory.models.base import DomainModel
from phase_memory.models.graph import MemoryEdge, MemoryNode
from phase_memory.models.paths import MemoryPath
from phase_memory.models.profile import Profile


class GraphSnapshot(DomainModel):
    """Profiles, nodes, edges, paths and activation plans keyed by id.

    Two snapshots are equal when every record is equal, so a snapshot from a
    replay can be compared with the graph tables directly.
    """

    profiles: dict[str, Profile] = Field(default_factory=dict)
    nodes: dict[str, MemoryNode] = Field(default_factory=dict)
    edges: dict[str, MemoryEdge] = Field(default_factory=dict)
    paths: dict[str, MemoryPath] = Field(default_factory=dict)
    activation_plans: dict[str, ActivationPlan] = Field(default_factory=dict)
    position: int = 0
    """The position of the last event folded into the snapshot (0 for none)."""

    def same_records(self, other: GraphSnapshot) -> bool:
        """Whether both hold equal records, whatever position each was taken at."""
        return (
            self.profiles == other.profiles
            and self.nodes == other.nodes
            and self.edges == other.edges
            and self.paths == other.paths
            and self.activation_plans == other.activation_plans
        )

    def valid_at(self, at: datetime) -> GraphSnapshot:
        """The snapshot with only the nodes and edges valid at ``at`` (both time axes).

        ``events.replay(until=position).snapshot.valid_at(t)``: what the memory
        knew at ``position`` about what held at ``t``.
        """
        return self.model_copy(
            update={
                "nodes": {k: n for k, n in self.nodes.items() if n.valid_at(at)},
                "edges": {k: e for k, e in self.edges.items() if e.valid_at(at)},
            }
        )


class ReplayProblem(DomainModel):
    """Something replay could not apply, and where."""

    position: int
    event_id: str
    kind: str
    reason: str


class ReplayReport(DomainModel):
    """What a replay did: events applied, kinds not replayable, problems."""

    applied: int = 0
    not_replayable: dict[str, int] = Field(default_factory=dict)
    redacted: int = 0
    problems: list[ReplayProblem] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


class ReplayResult(DomainModel):
    """A snapshot and the report of the replay that made it."""

    snapshot: GraphSnapshot
    report: ReplayReport

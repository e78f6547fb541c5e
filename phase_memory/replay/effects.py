"""What the fold decides (effects, defined in :mod:`phase_memory.models.effects`), the
conflicts it reports, and the read-only graph it looks at.

An effect is applied alike to a replay's :class:`~phase_memory.replay.GraphState`
and, by the adapters, to their stored graph. :class:`GraphView` is the
read-only graph the fold may look at while deciding.
"""

from __future__ import annotations

from typing import Protocol

from phase_memory.models import ActivationPlan, MemoryEdge, MemoryNode, MemoryPath, Profile
from phase_memory.models.effects import (
    Effect,
    PutActivationPlan,
    PutEdge,
    PutNode,
    PutPath,
    PutProfile,
    RemoveEdge,
    RemoveNode,
)


class ReplayConflict(Exception):
    """An event cannot be applied to the current graph (not a public error).

    Replay records it as a problem; the runtime turns it into IntegrityError.
    """


class MalformedEvent(ReplayConflict):
    """The event itself is unusable: malformed payload or unknown schema version.

    The runtime turns it into ValidationError (nothing is wrong with the graph).
    """


class LimitReached(MalformedEvent):
    """The event would take a record past an input limit (a node's version past MAX_VERSION).

    The runtime turns it into LimitExceededError; replay reports it as a problem.
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


__all__ = [
    "Effect",
    "GraphView",
    "LimitReached",
    "MalformedEvent",
    "PutActivationPlan",
    "PutEdge",
    "PutNode",
    "PutPath",
    "PutProfile",
    "RemoveEdge",
    "RemoveNode",
    "ReplayConflict",
]

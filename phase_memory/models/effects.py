"""What the fold decides: effects that put or remove one graph record.

Plain records over the domain models, so the store protocols (which apply
them) and the fold (which makes them, in :mod:`phase_memory.replay`) share
them without the protocols depending on the fold.
"""

from __future__ import annotations

from dataclasses import dataclass

from phase_memory.models.activation import ActivationPlan
from phase_memory.models.graph import MemoryEdge, MemoryNode
from phase_memory.models.paths import MemoryPath
from phase_memory.models.profile import Profile


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


__all__ = [
    "Effect",
    "PutActivationPlan",
    "PutEdge",
    "PutNode",
    "PutPath",
    "PutProfile",
    "RemoveEdge",
    "RemoveNode",
]

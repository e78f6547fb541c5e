"""Sample memories shipped with phase-memory (used by ``phase-memory demo``).

>>> from phase_memory.samples import load_assistant
>>> sample = load_assistant()
>>> sample.profile.id, len(sample.nodes) >= 50
('assistant', True)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

from phase_memory.models import MemoryEdge, MemoryNode, Profile
from phase_memory.runtime import PhaseMemoryRuntime

ASSISTANT = "assistant.json"


@dataclass(frozen=True)
class Sample:
    """A profile with its nodes and edges, ready to save."""

    profile: Profile
    nodes: list[MemoryNode]
    edges: list[MemoryEdge]
    description: str = ""


def load_assistant() -> Sample:
    """The sample assistant memory: Sam's people, preferences, projects, facts and one secret."""
    return load(ASSISTANT)


def load(name: str) -> Sample:
    """A sample file of this package, validated into models."""
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    data = json.loads(text)
    return Sample(
        profile=Profile.model_validate(data["profile"]),
        nodes=[MemoryNode.model_validate(n) for n in data["nodes"]],
        edges=[MemoryEdge.model_validate(e) for e in data["edges"]],
        description=str(data.get("description", "")),
    )


def seed(mem: PhaseMemoryRuntime, sample: Sample | None = None) -> Sample:
    """Save a sample into a memory (one transaction; one event per record)."""
    sample = sample or load_assistant()
    with mem.store.transaction():
        mem.save_profile(sample.profile)
        for node in sample.nodes:
            mem.save_node(node)
        for edge in sample.edges:
            mem.save_edge(edge)
    return sample


__all__ = ["ASSISTANT", "Sample", "load", "load_assistant", "seed"]

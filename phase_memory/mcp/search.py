"""``search_nodes``: entities whose name, type or observations hold the query.

The official server keeps an entity when the lower-cased query is a substring
of its name, its type or one of its observations, and returns the relations
touching the entities it kept. This search finds at least those, through the
store's substring index (:meth:`MemoryGraphStore.search_substring`), best first.
"""

from __future__ import annotations

from typing import Any

from phase_memory.mcp.knowledge_graph import entity_of, is_entity, subgraph
from phase_memory.runtime.runtime import PhaseMemoryRuntime

SEARCH_LIMIT = 200
"""At most this many entities per search (the best ones)."""


def _holds(entity: dict[str, Any], needle: str) -> bool:
    fields = [entity["name"], entity["entityType"], *entity["observations"]]
    return any(needle in field.lower() for field in fields)


def search_nodes(rt: PhaseMemoryRuntime, profile_id: str, query: str) -> dict[str, Any]:
    """The matching entities, best first, and every relation touching one of them."""
    needle = query.lower()
    nodes = [n for n in rt.graph.list_nodes(profile_id) if is_entity(n)]
    matches = [n for n in nodes if _holds(entity_of(n), needle)][:SEARCH_LIMIT]
    return subgraph(rt, matches)


__all__ = ["SEARCH_LIMIT", "search_nodes"]

"""``search_nodes``: entities whose name, type or observations hold the query.

The official server keeps an entity when the lower-cased query is a substring
of its name, its type or one of its observations, and returns the relations
touching the entities it kept. This search finds the same entities through the
store's substring index (:meth:`MemoryGraphStore.search_substring`: the FTS5
trigram table on SQLite, ``pg_trgm`` on PostgreSQL), names first, then types
and observations, never by reading every node. Text of one or two characters,
which no trigram index can serve, has an index of its own (the trigram terms
it starts and the columns' last characters on SQLite, a GIN index of 1- and
2-character pieces on PostgreSQL).

One difference from the official server: the type is matched as the node's
kind, where runs of whitespace became ``_`` (``software engineer`` is kind
``software_engineer``), so a query spanning that space finds it only as
``software_engineer``.
"""

from __future__ import annotations

from typing import Any

from phase_memory.mcp.knowledge_graph import is_entity, subgraph
from phase_memory.runtime.runtime import PhaseMemoryRuntime

SEARCH_LIMIT = 200
"""At most this many entities per search (the best ones)."""


def search_nodes(rt: PhaseMemoryRuntime, profile_id: str, query: str) -> dict[str, Any]:
    """The matching entities, best first, and every relation touching one of them."""
    matches = rt.graph.search_substring(profile_id, query, SEARCH_LIMIT)
    nodes = [m.node for m in matches if m.node is not None and is_entity(m.node)]
    missing = [m.node_id for m in matches if m.node is None]
    if missing:
        found = rt.graph.find_nodes(missing)
        nodes.extend(n for n in found.values() if is_entity(n))
    return subgraph(rt, nodes)


__all__ = ["SEARCH_LIMIT", "search_nodes"]

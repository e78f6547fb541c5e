"""Full-text search of nodes for ``search_text``.

Terms are plain words (see :func:`phase_memory.text_search.query_terms`); the
dialect module quotes each one (FTS5 string literals on SQLite,
``plainto_tsquery`` on PostgreSQL) and combines them with OR, so any input
string is safe and a node matching any term is found, ranked by bm25
(``ts_rank`` on PostgreSQL). The node's columns come with each match, so the
caller needs no second lookup.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from phase_memory.protocols import TextMatch
from phase_memory.sql import dialect
from phase_memory.sql.prepared import Prepared
from phase_memory.sql.rows import node_of


def search_text(
    conn: Connection, profile_id: str, terms: Sequence[str], limit: int
) -> list[TextMatch]:
    """Active nodes of ``profile_id`` matching any of ``terms``, best first."""
    usable = [term for term in dict.fromkeys(terms) if term.strip()]
    if not usable or limit <= 0:
        return []
    name = dialect.name_of(conn)
    if name == dialect.SQLITE:
        # Built and compiled once; only the match string changes per query.
        params = {"match": dialect.fts5_match(usable), "profile_id": profile_id, "limit": limit}
        rows = _SQLITE_SEARCH.all(conn, params)
    else:
        stmt, extra = dialect.text_search(name, usable)
        rows = list(conn.execute(stmt, {**extra, "profile_id": profile_id, "limit": limit}))
    # Each row is the node's columns, then its relevance: the match carries its node.
    matches = []
    for row in rows:
        node = node_of(row[:-1])
        matches.append(TextMatch(node_id=node.id, relevance=float(row[-1]), node=node))
    return matches


_SQLITE_SEARCH = Prepared(dialect.SQLITE_TEXT_SEARCH)

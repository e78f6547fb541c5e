"""Full-text search of nodes for ``search_text``.

Terms are plain words (see :func:`phase_memory.text_search.query_terms`); the
dialect module quotes each one (FTS5 string literals on SQLite,
``plainto_tsquery`` on PostgreSQL) and combines them with OR, so any input
string is safe and a node matching any term is found, ranked by bm25
(``ts_rank`` on PostgreSQL). The node's columns come with each match, so the
caller needs no second lookup.

On SQLite, in a file holding one profile, the search first asks FTS5 for
its best few matches only (a small sort inside FTS5, a handful of node
lookups), because a common word can match thousands of nodes and looking
each one up costs more than ranking it. That answer is final when it
provably is the full search's answer; otherwise, and in files of several
profiles, the full search runs (see :func:`_sqlite_search`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, exists, select

from phase_memory.protocols import TextMatch
from phase_memory.sql import dialect
from phase_memory.sql import tables as t
from phase_memory.sql.direct import DirectStatement
from phase_memory.sql.rows import NODE_FIELDS, node_of


def search_text(
    conn: Connection, profile_id: str, terms: Sequence[str], limit: int
) -> list[TextMatch]:
    """Active nodes of ``profile_id`` matching any of ``terms``, best first."""
    usable = [term for term in dict.fromkeys(terms) if term.strip()]
    if not usable or limit <= 0:
        return []
    name = dialect.name_of(conn)
    if name == dialect.SQLITE:
        rows = _sqlite_search(conn, dialect.fts5_match(usable), profile_id, limit)
    else:
        stmt, extra = dialect.text_search(name, usable)
        rows = list(conn.execute(stmt, {**extra, "profile_id": profile_id, "limit": limit}))
    # Each row is the node's columns, then its relevance: the match carries its node.
    matches = []
    for row in rows:
        node = node_of(row[:-1])
        matches.append(TextMatch(node_id=node.id, relevance=float(row[-1]), node=node))
    return matches


def search_substring(
    conn: Connection, profile_id: str, text: str, limit: int
) -> list[TextMatch]:
    """Active nodes of ``profile_id`` whose kind, label or content holds ``text``, best first."""
    if not text.strip() or limit <= 0 or "\x00" in text:
        return []  # NUL: no index (nor PostgreSQL text) can hold it, so nothing matches
    name = dialect.name_of(conn)
    if len(text) >= dialect.TRIGRAM:
        stmt, extra = dialect.substring_search(name, text)
    else:
        terms: list[str] = []
        if name == dialect.SQLITE:
            low, high = dialect.trigram_prefix_range(text)
            terms = list(conn.execute(dialect.SQLITE_TRIGRAM_TERMS,
                                      {"low": low, "high": high}).scalars())
        stmt, extra = dialect.short_substring_search(name, text, terms)
    rows = conn.execute(stmt, {**extra, "profile_id": profile_id, "limit": limit})
    matches = []
    for row in rows:
        node = node_of(row[:-1])
        matches.append(TextMatch(node_id=node.id, relevance=float(row[-1]), node=node))
    return matches


def _sqlite_search(
    conn: Connection, match: str, profile_id: str, limit: int
) -> list[tuple[Any, ...]]:
    """The rows of the full search (node columns, relevance), found cheaply when possible.

    When ``profile_id`` is the only profile (one memory per file, the common
    case), a first try takes FTS5's best ``candidates`` matches of any state
    and the columns of the qualifying (active) ones. Its answer equals the full
    search's when FTS5 had no more matches, or when at least ``limit``
    qualifying matches score strictly better than the worst one taken: every
    match left out scores no better than that one, so none could come before
    them (ties on the boundary are the reason for "strictly").
    """
    params = {"match": match, "profile_id": profile_id, "limit": limit}
    if conn.execute(_OTHER_PROFILE, {"profile_id_": profile_id}).scalar():
        # Another profile's nodes could crowd the best matches (most of them, in a
        # file of many profiles), making a first try a wasted pass: rank them all.
        return _SQLITE_SEARCH.all(conn, params)
    candidates = limit + max(_SPARE_CANDIDATES, limit // 4)
    top = _SQLITE_SEARCH_TOP.all(
        conn, {"match": match, "profile_id": profile_id, "candidates": candidates}
    )
    qualifying = [row for row in top if row[_NODE_ID] is not None]
    if len(top) == candidates:
        worst = max(row[-1] for row in top)
        qualifying = [row for row in qualifying if row[-1] < worst]
        if len(qualifying) < limit:
            # Too many archived or forgotten nodes, or ties: rank them all.
            return _SQLITE_SEARCH.all(conn, params)
    # The full search's order: bm25 (lower is better), then node id; relevance is -bm25.
    qualifying.sort(key=lambda row: (row[-1], row[_NODE_ID]))
    return [(*row[:-1], -row[-1]) for row in qualifying[:limit]]


_SPARE_CANDIDATES = 16
"""Matches taken beyond ``limit`` on the first try, for ties and non-qualifying nodes."""
_NODE_ID = NODE_FIELDS.index("id")
_OTHER_PROFILE = select(exists().where(t.profiles.c.id != bindparam("profile_id_")))

# Run for every activation, with up to a hundred rows of node columns: on the
# driver's cursor (measured: the activate benchmark).
_SQLITE_SEARCH = DirectStatement(dialect.SQLITE_TEXT_SEARCH)
_SQLITE_SEARCH_TOP = DirectStatement(dialect.SQLITE_TEXT_SEARCH_TOP)

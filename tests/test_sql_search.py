"""SQLite's text search answers exactly as one full bm25 query, whichever way it takes.

In a file of one profile, ``search_text`` first asks FTS5 for its best few
matches only and falls back to ranking every match when that answer could
differ (archived nodes crowding the best matches, ties at the boundary); in
a file of several profiles it ranks every match at once. Each case here
checks the answer against the full query run directly, and which statements
ran (sqlite3's trace callback on the real connection).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection

from phase_memory.models import MemoryNode, NodeState
from phase_memory.replay import PutNode, PutProfile
from phase_memory.sql import SqlStore, dialect, open_sql_store
from phase_memory.sql.search import search_text
from phase_memory.testing.builders import P1, node, profile

P2 = "p2"
WORDS = ("amber", "birch", "cedar", "delta", "ember", "fjord")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    with open_sql_store(tmp_path / "memory.db") as opened:
        opened.graph.apply([PutProfile(profile(P1))])
        yield opened


def add_second_profile(store: SqlStore) -> None:
    store.graph.apply([PutProfile(profile(P2))])


def put(store: SqlStore, nodes: list[MemoryNode]) -> None:
    with store.transaction():
        store.graph.apply([PutNode(n) for n in nodes])


def full_search(conn: Connection, terms: list[str], limit: int) -> list[tuple[str, float]]:
    """The reference: one query ranking every match (node id, relevance)."""
    params = {"match": dialect.fts5_match(terms), "profile_id": P1, "limit": limit}
    rows = conn.execute(dialect.SQLITE_TEXT_SEARCH, params).all()
    return [(row.id, row.relevance) for row in rows]


def searched(
    store: SqlStore, terms: list[str], limit: int
) -> tuple[list[tuple[str, float]], list[tuple[str, float]], list[str]]:
    """``search_text``'s answer, the full query's answer, and the statements that ran."""
    with store.engine.connect() as conn:
        statements: list[str] = []
        driver = conn.connection.driver_connection
        driver.set_trace_callback(statements.append)  # type: ignore[union-attr]
        try:
            found = [(m.node_id, m.relevance) for m in search_text(conn, P1, terms, limit)]
        finally:
            driver.set_trace_callback(None)  # type: ignore[union-attr]
        return found, full_search(conn, terms, limit), statements


def ran_full_search(statements: list[str]) -> bool:
    # The first try reads FTS5 in a subquery of its own; the full query does not.
    return any("MATCH" in s and "AS top" not in s for s in statements)


def tried_first(statements: list[str]) -> bool:
    return any("AS top" in s for s in statements)


def test_the_best_matches_are_enough_when_they_all_qualify(store: SqlStore) -> None:
    # Distinct texts, distinct scores: more words of the query, a better score.
    put(store, [node(f"n{i:03}", content=" ".join(["amber"] * (1 + i % 7) + ["x"] * i))
                for i in range(80)])
    found, expected, statements = searched(store, ["amber"], 10)
    assert found == expected
    assert len(found) == 10
    assert tried_first(statements)
    assert not ran_full_search(statements)


def test_few_matches_are_answered_by_the_first_try(store: SqlStore) -> None:
    put(store, [node("tea", content="amber tea"), node("oak", content="birch and cedar"),
                node("old", content="amber", state=NodeState.ARCHIVED)])
    found, expected, statements = searched(store, ["amber", "cedar"], 10)
    assert [node_id for node_id, _ in found] == [node_id for node_id, _ in expected]
    assert {node_id for node_id, _ in found} == {"tea", "oak"}
    assert found == expected
    assert not ran_full_search(statements)


def test_a_file_of_several_profiles_ranks_every_match_at_once(store: SqlStore) -> None:
    # P2's nodes match better (shorter texts) and would crowd a first try.
    add_second_profile(store)
    put(store, [node(f"other-{i:03}", P2, label="amber", content=None) for i in range(60)])
    put(store, [node(f"mine-{i:03}", content=f"amber {'and more words ' * (i + 1)}")
                for i in range(5)])
    found, expected, statements = searched(store, ["amber"], 5)
    assert [node_id for node_id, _ in found] == [f"mine-{i:03}" for i in range(5)]
    assert found == expected
    assert ran_full_search(statements)
    assert not tried_first(statements)


def test_archived_nodes_crowding_the_best_matches_fall_back_to_the_full_search(
    store: SqlStore,
) -> None:
    put(store, [node(f"gone-{i:03}", label="cedar", state=NodeState.ARCHIVED)
                for i in range(40)])
    put(store, [node("kept", content="cedar among many other words here")])
    found, expected, statements = searched(store, ["cedar"], 3)
    assert [node_id for node_id, _ in found] == ["kept"]
    assert found == expected
    assert tried_first(statements)
    assert ran_full_search(statements)


def test_ties_at_the_boundary_are_broken_by_id_as_in_the_full_search(store: SqlStore) -> None:
    # Identical texts score identically: the order among them is the node id.
    put(store, [node(f"same-{i:03}", label="delta", content="ember") for i in range(50)])
    found, expected, statements = searched(store, ["delta"], 7)
    assert [node_id for node_id, _ in found] == [f"same-{i:03}" for i in range(7)]
    assert found == expected
    assert tried_first(statements)
    assert ran_full_search(statements)  # a tie at the boundary cannot be settled early


@pytest.mark.parametrize("seed", range(12))
def test_random_memories_get_the_full_search_answer(store: SqlStore, seed: int) -> None:
    rng = random.Random(seed)
    profiles = [P1] if seed % 2 == 0 else [P1, P2]
    if len(profiles) > 1:
        add_second_profile(store)
    nodes = []
    for i in range(rng.randint(20, 120)):
        words = rng.choices(WORDS, k=rng.randint(1, 6))
        nodes.append(node(
            f"n{i:03}",
            rng.choice(profiles),
            label=" ".join(words[:2]),
            content=" ".join(words[2:]) or None,
            state=NodeState.ACTIVE if rng.random() < 0.8 else NodeState.ARCHIVED,
        ))
    put(store, nodes)
    for _ in range(6):
        terms = rng.sample(WORDS, rng.randint(1, 3))
        limit = rng.randint(1, 40)
        found, expected, statements = searched(store, terms, limit)
        assert found == expected, (terms, limit)
        assert tried_first(statements) == (len(profiles) == 1)

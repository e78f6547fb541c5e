"""A conformance suite for LangGraph ``BaseStore`` implementations, from the BaseStore contract.

LangGraph ships no shared suite for stores, so this one is written from the
contract (``langgraph.store.base``): items by namespace and key, puts that
replace, deletes, namespace prefixes, filters with operators, pagination,
``list_namespaces`` conditions, batches, the async twins and namespace
validation. A test module provides the fixture ``langgraph_store`` returning
a :class:`StoreUnderTest` and star-imports this module; capability flags skip
what a store does not offer (``ranks_queries``: ``search(query=...)`` ranks
by text without an embedding model; LangGraph's ``InMemoryStore`` ignores the
query without one) or where the contract leaves a choice (``keeps_created_at``).

Orders the contract leaves open (search without a query, ``list_namespaces``)
are compared sorted.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from langgraph.store.base import BaseStore, GetOp, InvalidNamespaceError, PutOp, SearchOp

ALICE = ("users", "alice", "memories")
BOB = ("users", "bob", "memories")
DOCS = ("docs", "handbook")


@dataclass
class StoreUnderTest:
    """A store for the suite, and what it can do."""

    store: BaseStore
    ranks_queries: bool = False
    """``search(query=...)`` ranks matching items first, and leaves out non-matching ones."""
    keeps_created_at: bool = True
    """A put over an existing item keeps its ``created_at`` (as LangGraph's SQL stores do;
    its InMemoryStore starts the item afresh)."""


def _keys(items: list[Any]) -> list[tuple[tuple[str, ...], str]]:
    return sorted((tuple(item.namespace), item.key) for item in items)


def _seed(store: BaseStore) -> None:
    store.put(ALICE, "tea", {"text": "prefers green tea in the morning", "rank": 3, "tag": "food"})
    store.put(ALICE, "peanuts", {"text": "allergic to peanuts", "rank": 5, "tag": "health"})
    store.put(BOB, "tea", {"text": "drinks black coffee, never tea", "rank": 1, "tag": "food"})
    store.put(DOCS, "leave", {"text": "holiday requests go to the office", "rank": 2})


# --- put, get, delete --------------------------------------------------------------------


def test_put_then_get_returns_the_item(langgraph_store: StoreUnderTest) -> None:
    store = langgraph_store.store
    value = {"text": "日本語 🙂", "nested": {"list": [1, 2.5, None, True, ""]}, "n": 2**40}
    store.put(ALICE, "k", value)
    item = store.get(ALICE, "k")
    assert item is not None
    assert item.value == value
    assert tuple(item.namespace) == ALICE and item.key == "k"
    assert isinstance(item.created_at, datetime) and isinstance(item.updated_at, datetime)
    assert item.created_at <= item.updated_at


def test_get_of_a_missing_key_is_none(langgraph_store: StoreUnderTest) -> None:
    store = langgraph_store.store
    assert store.get(ALICE, "missing") is None
    store.put(ALICE, "k", {"v": 1})
    assert store.get(BOB, "k") is None


def test_put_replaces_the_value_and_keeps_created_at(langgraph_store: StoreUnderTest) -> None:
    store = langgraph_store.store
    store.put(ALICE, "k", {"v": 1})
    first = store.get(ALICE, "k")
    store.put(ALICE, "k", {"w": 2})
    second = store.get(ALICE, "k")
    assert first is not None and second is not None
    assert second.value == {"w": 2}
    assert second.updated_at >= first.updated_at
    if langgraph_store.keeps_created_at:
        assert second.created_at == first.created_at


def test_delete_removes_only_that_item(langgraph_store: StoreUnderTest) -> None:
    store = langgraph_store.store
    store.put(ALICE, "k", {"v": 1})
    store.put(BOB, "k", {"v": 2})
    store.delete(ALICE, "k")
    assert store.get(ALICE, "k") is None
    item = store.get(BOB, "k")
    assert item is not None and item.value == {"v": 2}
    store.delete(ALICE, "never-there")  # no error


def test_put_of_none_deletes(langgraph_store: StoreUnderTest) -> None:
    store = langgraph_store.store
    store.put(ALICE, "k", {"v": 1})
    store.batch([PutOp(ALICE, "k", None)])
    assert store.get(ALICE, "k") is None


def test_a_deleted_key_can_be_put_again(langgraph_store: StoreUnderTest) -> None:
    store = langgraph_store.store
    store.put(ALICE, "k", {"v": 1})
    store.delete(ALICE, "k")
    store.put(ALICE, "k", {"v": 3})
    item = store.get(ALICE, "k")
    assert item is not None and item.value == {"v": 3}


@pytest.mark.parametrize("namespace", [(), ("users", "a.b"), ("users", "")])
def test_invalid_namespaces_are_refused(
    langgraph_store: StoreUnderTest, namespace: tuple[str, ...]
) -> None:
    with pytest.raises(InvalidNamespaceError):
        langgraph_store.store.put(namespace, "k", {"v": 1})


# --- search ------------------------------------------------------------------------------


def test_search_by_namespace_prefix(langgraph_store: StoreUnderTest) -> None:
    store = langgraph_store.store
    _seed(store)
    assert _keys(store.search(("users",))) == [(ALICE, "peanuts"), (ALICE, "tea"), (BOB, "tea")]
    assert _keys(store.search(ALICE)) == [(ALICE, "peanuts"), (ALICE, "tea")]
    assert len(store.search(())) == 4
    assert store.search(("nobody",)) == []


def test_search_without_query_has_no_score(langgraph_store: StoreUnderTest) -> None:
    store = langgraph_store.store
    _seed(store)
    found = store.search(DOCS)
    assert [item.key for item in found] == ["leave"]
    assert found[0].score is None
    assert found[0].value["rank"] == 2


def test_search_filter_by_equality(langgraph_store: StoreUnderTest) -> None:
    store = langgraph_store.store
    _seed(store)
    found = store.search(("users",), filter={"tag": "food"})
    assert _keys(found) == [(ALICE, "tea"), (BOB, "tea")]
    assert store.search(("users",), filter={"tag": "none"}) == []
    both = store.search(("users",), filter={"tag": "food", "rank": 3})
    assert _keys(both) == [(ALICE, "tea")]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"$gt": 3}, ["peanuts"]),
        ({"$gte": 3}, ["peanuts", "tea"]),
        ({"$lt": 3}, ["bob-tea"]),
        ({"$lte": 3}, ["bob-tea", "tea"]),
        ({"$ne": 3}, ["bob-tea", "peanuts"]),
        ({"$eq": 3}, ["tea"]),
        ({"$gt": 1, "$lt": 5}, ["tea"]),
    ],
)
def test_search_filter_operators(
    langgraph_store: StoreUnderTest, condition: dict[str, Any], expected: list[str]
) -> None:
    store = langgraph_store.store
    _seed(store)
    found = store.search(("users",), filter={"rank": condition})
    names = sorted(f"bob-{i.key}" if tuple(i.namespace) == BOB else i.key for i in found)
    assert names == expected


def test_search_limit_and_offset_page_through(langgraph_store: StoreUnderTest) -> None:
    store = langgraph_store.store
    for n in range(7):
        store.put(ALICE, f"k{n}", {"n": n})
    pages = [store.search(ALICE, limit=3, offset=offset) for offset in (0, 3, 6)]
    assert [len(page) for page in pages] == [3, 3, 1]
    seen = [item.key for page in pages for item in page]
    assert sorted(seen) == [f"k{n}" for n in range(7)]
    assert len(store.search(ALICE)) == 7  # the default limit (10) is enough here


def test_search_query_ranks_matching_items_first(langgraph_store: StoreUnderTest) -> None:
    if not langgraph_store.ranks_queries:
        pytest.skip("this store needs an embedding model to use a query")
    store = langgraph_store.store
    _seed(store)
    found = store.search(("users",), query="peanuts allergy")
    assert [i.key for i in found][:1] == ["peanuts"]
    assert all(i.score is not None for i in found)
    assert [i.score for i in found] == sorted((i.score or 0.0 for i in found), reverse=True)
    tea = store.search(("users",), query="tea")
    assert _keys(tea) == [(ALICE, "tea"), (BOB, "tea")]
    assert store.search(("docs",), query="tea") == []
    filtered = store.search(("users",), query="tea", filter={"rank": {"$gt": 2}})
    assert _keys(filtered) == [(ALICE, "tea")]


def test_search_query_ignores_unindexed_items(langgraph_store: StoreUnderTest) -> None:
    if not langgraph_store.ranks_queries:
        pytest.skip("this store needs an embedding model to use a query")
    store = langgraph_store.store
    store.put(ALICE, "hidden", {"text": "zanzibar"}, index=False)
    store.put(ALICE, "shown", {"text": "zanzibar"})
    store.put(ALICE, "title-only", {"title": "zanzibar", "body": "x"}, index=["body"])
    assert [i.key for i in store.search(ALICE, query="zanzibar")] == ["shown"]
    assert store.get(ALICE, "hidden") is not None


# --- list_namespaces ---------------------------------------------------------------------


def test_list_namespaces_with_conditions(langgraph_store: StoreUnderTest) -> None:
    store = langgraph_store.store
    _seed(store)
    assert sorted(store.list_namespaces()) == sorted([ALICE, BOB, DOCS])
    assert sorted(store.list_namespaces(prefix=("users",))) == [ALICE, BOB]
    assert sorted(store.list_namespaces(suffix=("memories",))) == [ALICE, BOB]
    assert sorted(store.list_namespaces(prefix=("users", "*", "memories"))) == [ALICE, BOB]
    assert store.list_namespaces(prefix=("users",), suffix=("handbook",)) == []
    assert sorted(store.list_namespaces(max_depth=2)) == [DOCS, ALICE[:2], BOB[:2]]
    assert sorted(store.list_namespaces(max_depth=1)) == [("docs",), ("users",)]


def test_list_namespaces_pages(langgraph_store: StoreUnderTest) -> None:
    store = langgraph_store.store
    for n in range(5):
        store.put(("ns", f"n{n}"), "k", {"n": n})
    first = store.list_namespaces(prefix=("ns",), limit=2)
    rest = store.list_namespaces(prefix=("ns",), limit=10, offset=2)
    assert len(first) == 2 and len(rest) == 3
    assert sorted([*first, *rest]) == [("ns", f"n{n}") for n in range(5)]


# --- batch and async ---------------------------------------------------------------------


def test_batch_returns_one_result_per_operation(langgraph_store: StoreUnderTest) -> None:
    store = langgraph_store.store
    store.put(ALICE, "k", {"v": 1})
    results = store.batch(
        [GetOp(ALICE, "k"), PutOp(BOB, "k", {"v": 2}), SearchOp(("users",)), GetOp(BOB, "nope")]
    )
    assert len(results) == 4
    got, put, searched, missing = results
    assert got is not None and getattr(got, "value", None) == {"v": 1}
    assert put is None and missing is None
    assert isinstance(searched, list)
    after = store.get(BOB, "k")
    assert after is not None and after.value == {"v": 2}


def test_async_twins(langgraph_store: StoreUnderTest) -> None:
    store = langgraph_store.store

    async def run() -> None:
        await store.aput(ALICE, "k", {"v": 1})
        item = await store.aget(ALICE, "k")
        assert item is not None and item.value == {"v": 1}
        assert [i.key for i in await store.asearch(ALICE)] == ["k"]
        assert await store.alist_namespaces(prefix=("users",)) == [ALICE]
        await store.adelete(ALICE, "k")
        assert await store.aget(ALICE, "k") is None

    asyncio.run(run())

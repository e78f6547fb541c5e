"""Conformance spec of :class:`~phase_memory.protocols.MemoryGraphStore`.

Every test takes the ``store`` fixture (a fresh, empty
:class:`~phase_memory.protocols.MemoryStore`) and uses only the protocols.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import JsonValue
from pydantic import ValidationError as PydanticValidationError

from phase_memory.errors import ConflictError, IntegrityError, NotFoundError, ValidationError
from phase_memory.models import (
    CompactionStatus,
    LifecycleKind,
    NodeState,
    PathStatus,
    ProfilePolicy,
    Sensitivity,
)
from phase_memory.protocols import MemoryStore, TextMatch
from phase_memory.replay import (
    PutActivationPlan,
    PutEdge,
    PutNode,
    PutPath,
    PutProfile,
    RemoveEdge,
    RemoveNode,
)
from phase_memory.testing.builders import (
    P1,
    T0,
    edge,
    event,
    ids,
    node,
    path,
    plan,
    profile,
    seed,
)

# --- profiles -------------------------------------------------------------------


def test_profile_round_trips_with_its_policy(store: MemoryStore) -> None:
    policy = ProfilePolicy(
        review_required=frozenset({LifecycleKind.FORGET, LifecycleKind.REWEIGHT}),
        node_kinds=frozenset({"fact", "preference"}),
        edge_kinds=frozenset({"about"}),
        redact_at=Sensitivity.PRIVATE,
        activation_budget=7,
    )
    saved = profile("alice", description="Alice's memory", policy=policy, attributes={"x": [1]})
    assert store.graph.save_profile(saved) == saved
    assert store.graph.get_profile("alice") == saved
    assert store.graph.find_profile("alice") == saved


def test_missing_profile_get_raises_and_find_returns_none(store: MemoryStore) -> None:
    with pytest.raises(NotFoundError):
        store.graph.get_profile("nobody")
    assert store.graph.find_profile("nobody") is None


def test_save_profile_replaces_the_stored_profile(store: MemoryStore) -> None:
    store.graph.save_profile(profile(P1, name="first"))
    store.graph.save_profile(profile(P1, name="second"))
    assert store.graph.get_profile(P1).name == "second"
    assert [p.id for p in store.graph.list_profiles()] == [P1]


def test_list_profiles_is_ordered_by_id(store: MemoryStore) -> None:
    for profile_id in ["p-c", "p-a", "p-b"]:
        store.graph.save_profile(profile(profile_id))
    assert ids(store.graph.list_profiles()) == ["p-a", "p-b", "p-c"]


def test_delete_empty_profile(store: MemoryStore) -> None:
    seed(store, profile("gone"), profile("kept"))
    store.graph.delete_profile("gone")
    assert store.graph.find_profile("gone") is None
    assert ids(store.graph.list_profiles()) == ["kept"]
    with pytest.raises(NotFoundError):
        store.graph.delete_profile("gone")


def test_delete_profile_refused_while_it_owns_a_node(store: MemoryStore) -> None:
    seed(store, profile(), node("n1"))
    with pytest.raises(IntegrityError):
        store.graph.delete_profile(P1)
    assert store.graph.find_profile(P1) is not None
    assert store.graph.find_node("n1") is not None


def test_delete_profile_refused_while_it_owns_a_path(store: MemoryStore) -> None:
    seed(store, profile(), path("main"))
    with pytest.raises(IntegrityError):
        store.graph.delete_profile(P1)
    assert store.graph.find_profile(P1) is not None


def test_delete_profile_refused_while_it_owns_events(store: MemoryStore) -> None:
    store.graph.save_profile(profile())
    store.events.append([event("chat.turn", {"n": 1})])
    with pytest.raises(IntegrityError):
        store.graph.delete_profile(P1)
    assert store.graph.find_profile(P1) is not None


def test_delete_profile_refused_while_it_owns_an_activation_plan(store: MemoryStore) -> None:
    store.graph.save_profile(profile())
    store.graph.apply([PutActivationPlan(plan("plan-1"))])
    with pytest.raises(IntegrityError):
        store.graph.delete_profile(P1)
    assert store.graph.find_profile(P1) is not None


# --- nodes ------------------------------------------------------------------------


def test_save_node_assigns_version_one_then_counts_up(store: MemoryStore) -> None:
    store.graph.save_profile(profile())
    first = store.graph.save_node(node("n1", version=0))
    assert first.version == 1
    second = store.graph.save_node(node("n1", label="changed", version=first.version))
    assert second.version == 2
    stored = store.graph.get_node("n1")
    assert stored.version == 2
    assert stored.label == "changed"


def test_save_node_ignores_a_version_passed_in(store: MemoryStore) -> None:
    store.graph.save_profile(profile())
    assert store.graph.save_node(node("n1", version=41)).version == 1
    assert store.graph.get_node("n1").version == 1


def test_saved_node_round_trips_every_field(store: MemoryStore) -> None:
    store.graph.save_profile(profile())
    saved = store.graph.save_node(
        node(
            "n1",
            kind="user.preference",
            label="Likes tea",
            content="Green, no sugar",
            attributes={"source": "chat", "tags": ["drink", "tea"]},
            salience=0.75,
            sensitivity=Sensitivity.PRIVATE,
            state=NodeState.ARCHIVED,
        )
    )
    assert store.graph.get_node("n1") == saved
    assert store.graph.find_node("n1") == saved
    assert saved.model_dump(exclude={"version"}) == node(
        "n1",
        kind="user.preference",
        label="Likes tea",
        content="Green, no sugar",
        attributes={"source": "chat", "tags": ["drink", "tea"]},
        salience=0.75,
        sensitivity=Sensitivity.PRIVATE,
        state=NodeState.ARCHIVED,
    ).model_dump(exclude={"version"})


def test_missing_node_get_raises_and_find_returns_none(store: MemoryStore) -> None:
    with pytest.raises(NotFoundError):
        store.graph.get_node("missing")
    assert store.graph.find_node("missing") is None


def test_find_nodes_returns_the_nodes_found_keyed_by_id_in_the_order_asked(
    store: MemoryStore,
) -> None:
    seed(store, profile(), profile("p2"), node("a"), node("b", state=NodeState.FORGOTTEN))
    seed(store, node("c", profile_id="p2", content="in another profile"))
    found = store.graph.find_nodes(["c", "missing", "a", "b", "a"])
    assert list(found) == ["c", "a", "b"]
    for key, value in found.items():
        assert value == store.graph.get_node(key)
    assert store.graph.find_nodes(iter(["b"])) == {"b": store.graph.get_node("b")}
    assert store.graph.find_nodes([]) == {}
    assert store.graph.find_nodes(["missing"]) == {}


@pytest.mark.parametrize("count", [3, 5, 300, 600])
def test_find_nodes_of_many_ids_finds_every_one(store: MemoryStore, count: int) -> None:
    seed(store, profile())
    names = [f"n{i:04d}" for i in range(count)]
    store.graph.apply([PutNode(node(name, salience=i / count)) for i, name in enumerate(names)])
    asked = [*reversed(names), "missing"]
    found = store.graph.find_nodes(asked)
    assert list(found) == asked[:-1]
    assert [n.salience for n in found.values()] == [i / count for i in reversed(range(count))]


def test_find_nodes_sees_the_transaction_it_runs_in(store: MemoryStore) -> None:
    seed(store, profile(), node("a"))
    with store.transaction():
        store.graph.save_node(node("b"))
        store.graph.delete_node("a")
        assert list(store.graph.find_nodes(["a", "b"])) == ["b"]
    assert list(store.graph.find_nodes(["a", "b"])) == ["b"]


def _named(name: object) -> dict[str, JsonValue]:
    return {"mcp_name": name, "other": "x"}  # type: ignore[dict-item]


def test_find_nodes_by_name_finds_the_nodes_of_a_name_in_one_profile(store: MemoryStore) -> None:
    later = T0 + timedelta(seconds=1)
    seed(store, profile(), profile("p2"),
         node("b", attributes=_named("Ada"), created_at=later),
         node("a", attributes=_named("Ada"), created_at=later, state=NodeState.ARCHIVED),
         node("c", attributes=_named("Ada")),
         node("d", attributes=_named("Bob")),
         node("e", attributes={"name": "Ada"}),             # another key: not a name
         node("f", attributes=_named(7)),                   # not text: not a name
         node("g", attributes={"nested": {"mcp_name": "Ada"}}),
         node("h", profile_id="p2", attributes=_named("Ada")))
    found = store.graph.find_nodes_by_name(P1, iter(["Nobody", "Bob", "Ada", "Bob", "ada"]))
    # Names in the order asked (those no node has left out); each name's nodes
    # by (created_at, id), in any state.
    assert list(found) == ["Bob", "Ada"]
    assert [n.id for n in found["Ada"]] == ["c", "a", "b"]
    assert found["Ada"][1] == store.graph.get_node("a")
    assert [n.id for n in found["Bob"]] == ["d"]
    assert [n.id for n in store.graph.find_nodes_by_name("p2", ["Ada"])["Ada"]] == ["h"]
    assert store.graph.find_nodes_by_name(P1, []) == {}
    assert store.graph.find_nodes_by_name("nobody", ["Ada"]) == {}


@pytest.mark.parametrize("odd", ["Ada\x00Lovelace", "Ada\ud800"], ids=["nul", "lone-surrogate"])
def test_a_name_no_store_can_look_up_is_never_found_and_hides_no_other(
    store: MemoryStore, odd: str
) -> None:
    # SQLite's JSON functions cut a name at NUL (filing "Ada\x00Lovelace" under
    # "Ada"), and no UTF-8 driver can send a lone surrogate: on every adapter such
    # a name finds nothing, and never answers for another.
    seed(store, profile(), node("b", attributes=_named("Ada")))
    # PostgreSQL cannot store NUL; the models refuse a lone surrogate.
    with suppress(ValidationError, PydanticValidationError):
        store.graph.save_node(node("a", attributes=_named(odd)))
    assert store.graph.find_nodes_by_name(P1, [odd]) == {}
    assert [n.id for n in store.graph.find_nodes_by_name(P1, ["Ada", odd])["Ada"]] == ["b"]


def test_find_nodes_by_name_follows_renames_deletes_and_rollbacks(store: MemoryStore) -> None:
    seed(store, profile(), node("a", attributes=_named("Ada")), node("z", label="🚀 ラ"))
    store.graph.save_node(node("a", attributes=_named("Ada L.")))
    assert store.graph.find_nodes_by_name(P1, ["Ada"]) == {}
    assert list(store.graph.find_nodes_by_name(P1, ["Ada L."])) == ["Ada L."]
    with pytest.raises(RuntimeError), store.transaction():
        store.graph.save_node(node("b", attributes=_named("Ada")))
        store.graph.delete_node("a")
        assert list(store.graph.find_nodes_by_name(P1, ["Ada", "Ada L."])) == ["Ada"]
        raise RuntimeError("roll back")
    assert [n.id for n in store.graph.find_nodes_by_name(P1, ["Ada L."])["Ada L."]] == ["a"]
    assert store.graph.find_nodes_by_name(P1, ["Ada"]) == {}
    store.graph.apply([RemoveNode("a")])
    assert store.graph.find_nodes_by_name(P1, ["Ada L."]) == {}
    names = [f"name {i}" for i in range(600)]
    store.graph.apply([PutNode(node(f"n{i:04d}", attributes=_named(n)))
                       for i, n in enumerate(names)])
    assert list(store.graph.find_nodes_by_name(P1, [*reversed(names), "x"])) == names[::-1]


def test_save_node_of_missing_profile_is_an_integrity_error(store: MemoryStore) -> None:
    with pytest.raises(IntegrityError):
        store.graph.save_node(node("n1", profile_id="nobody"))
    assert store.graph.find_node("n1") is None


def test_expected_version_zero_means_must_not_exist(store: MemoryStore) -> None:
    store.graph.save_profile(profile())
    assert store.graph.save_node(node("n1"), expected_version=0).version == 1
    with pytest.raises(ConflictError):
        store.graph.save_node(node("n1", label="again"), expected_version=0)
    assert store.graph.get_node("n1").label == "label of n1"
    assert store.graph.get_node("n1").version == 1


def test_expected_version_must_match_the_stored_version(store: MemoryStore) -> None:
    store.graph.save_profile(profile())
    store.graph.save_node(node("n1"))
    store.graph.save_node(node("n1", label="v2"))
    with pytest.raises(ConflictError):
        store.graph.save_node(node("n1", label="stale"), expected_version=1)
    assert store.graph.get_node("n1").label == "v2"
    updated = store.graph.save_node(node("n1", label="v3"), expected_version=2)
    assert updated.version == 3
    assert store.graph.get_node("n1").label == "v3"


def test_expected_version_on_a_missing_node_conflicts(store: MemoryStore) -> None:
    store.graph.save_profile(profile())
    with pytest.raises(ConflictError):
        store.graph.save_node(node("n1"), expected_version=1)
    assert store.graph.find_node("n1") is None


def test_list_nodes_is_ordered_by_id_and_scoped_to_the_profile(store: MemoryStore) -> None:
    seed(store, profile(P1), profile("p2"))
    for node_id in ["n-c", "n-a", "n-b"]:
        store.graph.save_node(node(node_id))
    store.graph.save_node(node("n-0", profile_id="p2"))
    assert ids(store.graph.list_nodes(P1)) == ["n-a", "n-b", "n-c"]
    assert ids(store.graph.list_nodes("p2")) == ["n-0"]
    assert store.graph.list_nodes("nobody") == []


def test_list_nodes_filters_by_kind_and_state(store: MemoryStore) -> None:
    seed(
        store,
        profile(),
        node("n1", kind="fact"),
        node("n2", kind="fact", state=NodeState.ARCHIVED),
        node("n3", kind="episode"),
        node("n4", kind="episode", state=NodeState.FORGOTTEN),
    )
    assert ids(store.graph.list_nodes(P1, kind="fact")) == ["n1", "n2"]
    assert ids(store.graph.list_nodes(P1, state=NodeState.ACTIVE)) == ["n1", "n3"]
    assert ids(store.graph.list_nodes(P1, kind="episode", state=NodeState.FORGOTTEN)) == ["n4"]
    assert store.graph.list_nodes(P1, kind="fact", state=NodeState.FORGOTTEN) == []
    assert store.graph.list_nodes(P1, kind="nothing") == []


def test_iter_nodes_streams_by_id_across_profiles(store: MemoryStore) -> None:
    seed(store, profile("pa"), profile("pb"))
    store.graph.save_node(node("n2", profile_id="pb"))
    store.graph.save_node(node("n3", profile_id="pa"))
    store.graph.save_node(node("n1", profile_id="pa"))
    assert ids(list(store.graph.iter_nodes())) == ["n1", "n2", "n3"]
    assert ids(list(store.graph.iter_nodes("pa"))) == ["n1", "n3"]


def test_moving_a_node_with_edges_to_another_profile_is_an_integrity_error(
    store: MemoryStore,
) -> None:
    seed(store, profile(P1), profile("p2"), node("a"), node("b"), edge("ab", "a", "b"))
    with pytest.raises(IntegrityError):
        store.graph.save_node(node("a", profile_id="p2"))
    assert store.graph.get_node("a").profile_id == P1
    assert store.graph.get_node("a").version == 1
    # Without edges, a node may move.
    store.graph.delete_edge("ab")
    assert store.graph.save_node(node("a", profile_id="p2")).profile_id == "p2"


def test_delete_node_removes_the_node_and_every_edge_touching_it(store: MemoryStore) -> None:
    seed(
        store,
        profile(),
        node("a"),
        node("b"),
        node("c"),
        edge("ab", "a", "b"),
        edge("ca", "c", "a"),
        edge("bc", "b", "c"),
    )
    store.graph.delete_node("a")
    assert store.graph.find_node("a") is None
    assert store.graph.find_edge("ab") is None
    assert store.graph.find_edge("ca") is None
    assert ids(store.graph.list_edges(P1)) == ["bc"]
    assert store.graph.counts(P1)["edges"] == 1


def test_delete_missing_node_raises(store: MemoryStore) -> None:
    with pytest.raises(NotFoundError):
        store.graph.delete_node("missing")


# --- edges ----------------------------------------------------------------------


def test_edge_round_trips(store: MemoryStore) -> None:
    seed(store, profile(), node("a"), node("b"))
    saved = edge("e1", "a", "b", kind="mentions", weight=0.25, attributes={"why": "because"})
    assert store.graph.save_edge(saved) == saved
    assert store.graph.get_edge("e1") == saved
    assert store.graph.find_edge("e1") == saved


def test_save_edge_replaces_an_existing_edge(store: MemoryStore) -> None:
    seed(store, profile(), node("a"), node("b"), node("c"), edge("e1", "a", "b"))
    store.graph.save_edge(edge("e1", "a", "c", weight=3.0))
    stored = store.graph.get_edge("e1")
    assert (stored.target_id, stored.weight) == ("c", 3.0)
    assert store.graph.list_edges(P1, target_id="b") == []
    assert ids(store.graph.list_edges(P1, target_id="c")) == ["e1"]


def test_missing_edge_get_raises_and_find_returns_none(store: MemoryStore) -> None:
    with pytest.raises(NotFoundError):
        store.graph.get_edge("missing")
    assert store.graph.find_edge("missing") is None


@pytest.mark.parametrize(("source", "target"), [("a", "ghost"), ("ghost", "a")])
def test_edge_to_a_missing_node_is_an_integrity_error(
    store: MemoryStore, source: str, target: str
) -> None:
    seed(store, profile(), node("a"))
    with pytest.raises(IntegrityError):
        store.graph.save_edge(edge("e1", source, target))
    assert store.graph.find_edge("e1") is None
    assert store.graph.counts()["edges"] == 0


def test_edge_across_profiles_is_an_integrity_error(store: MemoryStore) -> None:
    seed(store, profile(P1), profile("p2"), node("a"), node("b", profile_id="p2"))
    with pytest.raises(IntegrityError):
        store.graph.save_edge(edge("e1", "a", "b"))
    with pytest.raises(IntegrityError):
        store.graph.save_edge(edge("e2", "b", "a", profile_id="p2"))
    assert store.graph.find_edge("e1") is None
    assert store.graph.find_edge("e2") is None
    assert store.graph.counts()["edges"] == 0


def test_edge_of_another_profile_than_its_nodes_is_an_integrity_error(store: MemoryStore) -> None:
    seed(store, profile(P1), profile("p2"), node("a"), node("b"))
    with pytest.raises(IntegrityError):
        store.graph.save_edge(edge("e1", "a", "b", profile_id="p2"))
    assert store.graph.find_edge("e1") is None


def test_list_edges_filters_by_source_target_and_kind(store: MemoryStore) -> None:
    seed(
        store,
        profile(),
        node("a"),
        node("b"),
        node("c"),
        edge("e3", "a", "b", kind="likes"),
        edge("e1", "a", "c", kind="knows"),
        edge("e2", "b", "c", kind="likes"),
        edge("e4", "c", "a", kind="knows"),
    )
    graph = store.graph
    assert ids(graph.list_edges(P1)) == ["e1", "e2", "e3", "e4"]
    assert ids(graph.list_edges(P1, source_id="a")) == ["e1", "e3"]
    assert ids(graph.list_edges(P1, target_id="c")) == ["e1", "e2"]
    assert ids(graph.list_edges(P1, kind="likes")) == ["e2", "e3"]
    assert ids(graph.list_edges(P1, source_id="a", target_id="c")) == ["e1"]
    assert ids(graph.list_edges(P1, target_id="a", kind="knows")) == ["e4"]
    assert graph.list_edges(P1, source_id="b", kind="knows") == []
    assert graph.list_edges(P1, source_id="ghost") == []
    assert graph.list_edges("other") == []


def test_iter_edges_streams_by_id_across_profiles(store: MemoryStore) -> None:
    seed(store, profile("pa"), profile("pb"))
    seed(store, node("a1", profile_id="pa"), node("a2", profile_id="pa"))
    seed(store, node("b1", profile_id="pb"), node("b2", profile_id="pb"))
    store.graph.save_edge(edge("e2", "b1", "b2", profile_id="pb"))
    store.graph.save_edge(edge("e1", "a1", "a2", profile_id="pa"))
    store.graph.save_edge(edge("e3", "a2", "a1", profile_id="pa"))
    assert ids(list(store.graph.iter_edges())) == ["e1", "e2", "e3"]
    assert ids(list(store.graph.iter_edges("pa"))) == ["e1", "e3"]


def test_delete_edge_keeps_its_nodes(store: MemoryStore) -> None:
    seed(store, profile(), node("a"), node("b"), edge("e1", "a", "b"))
    store.graph.delete_edge("e1")
    assert store.graph.find_edge("e1") is None
    assert ids(store.graph.list_nodes(P1)) == ["a", "b"]
    with pytest.raises(NotFoundError):
        store.graph.delete_edge("e1")


def test_self_loop_edge_is_allowed(store: MemoryStore) -> None:
    seed(store, profile(), node("a"), edge("loop", "a", "a"))
    assert ids(store.graph.list_edges(P1, source_id="a", target_id="a")) == ["loop"]
    store.graph.delete_node("a")
    assert store.graph.find_edge("loop") is None


# --- paths ----------------------------------------------------------------------


def test_path_round_trips_every_field(store: MemoryStore) -> None:
    seed(store, profile(), node("summary"), path("root"))
    store.events.append(
        [event("chat.turn", event_id="evt-1"), event("chat.turn", event_id="evt-9")]
    )
    child = path(
        "child",
        parent_path_id="root",
        fork_event_id="evt-1",
        root_path_id="root",
        status=PathStatus.MERGED,
        merged_into_path_id="root",
        merge_event_id="evt-9",
        abandoned_reason=None,
        compaction_status=CompactionStatus.COMPACTED,
        summary_node_id="summary",
        updated_at=T0 + timedelta(minutes=5),
    )
    assert store.graph.save_path(child) == child
    assert store.graph.get_path("child") == child
    assert store.graph.find_path("child") == child


def test_missing_path_get_raises_and_find_returns_none(store: MemoryStore) -> None:
    with pytest.raises(NotFoundError):
        store.graph.get_path("missing")
    assert store.graph.find_path("missing") is None


def test_path_of_missing_profile_or_parent_is_an_integrity_error(store: MemoryStore) -> None:
    store.graph.save_profile(profile())
    with pytest.raises(IntegrityError):
        store.graph.save_path(path("x", profile_id="nobody"))
    with pytest.raises(IntegrityError):
        store.graph.save_path(path("y", parent_path_id="ghost", root_path_id="ghost"))
    assert store.graph.list_paths() == []


def test_list_paths_by_id_and_profile(store: MemoryStore) -> None:
    seed(store, profile("pa"), profile("pb"))
    seed(store, path("r2", profile_id="pb"), path("r3", profile_id="pa"))
    seed(store, path("r1", profile_id="pa"))
    assert ids(store.graph.list_paths()) == ["r1", "r2", "r3"]
    assert ids(store.graph.list_paths("pa")) == ["r1", "r3"]
    assert store.graph.list_paths("nobody") == []


def test_one_active_path_per_tree(store: MemoryStore) -> None:
    seed(store, profile(), path("root", active=True))
    child = path("child", parent_path_id="root", root_path_id="root", active=True)
    with pytest.raises(ConflictError):
        store.graph.save_path(child)
    assert store.graph.find_path("child") is None
    assert store.graph.get_path("root").active is True
    # Re-saving the active path itself is fine.
    store.graph.save_path(path("root", active=True, abandoned_reason=None))
    # Once the root is inactive, the child may be the active one.
    store.graph.save_path(path("root", active=False))
    store.graph.save_path(child)
    assert [p.id for p in store.graph.list_paths(P1) if p.active] == ["child"]


def test_active_paths_in_different_trees_are_fine(store: MemoryStore) -> None:
    seed(store, profile(), path("tree-a", active=True), path("tree-b", active=True))
    assert [p.id for p in store.graph.list_paths() if p.active] == ["tree-a", "tree-b"]


def test_delete_path_refused_while_referred_to(store: MemoryStore) -> None:
    seed(store, profile(), path("root"), path("child", parent_path_id="root", root_path_id="root"))
    seed(store, path("talked"))
    store.events.append([event("chat.turn", path_id="talked")])
    with pytest.raises(IntegrityError):
        store.graph.delete_path("root")
    with pytest.raises(IntegrityError):
        store.graph.delete_path("talked")
    store.graph.delete_path("child")
    store.graph.delete_path("root")
    assert ids(store.graph.list_paths()) == ["talked"]
    with pytest.raises(NotFoundError):
        store.graph.delete_path("root")


def test_delete_path_refused_while_a_merged_path_names_it(store: MemoryStore) -> None:
    seed(
        store,
        profile(),
        path("root"),
        path("target", parent_path_id="root", root_path_id="root"),
        path(
            "merged",
            parent_path_id="root",
            root_path_id="root",
            status=PathStatus.MERGED,
            merged_into_path_id="target",
        ),
    )
    with pytest.raises(IntegrityError):
        store.graph.delete_path("target")
    assert store.graph.find_path("target") is not None


# --- activation plans -------------------------------------------------------------


def test_activation_plans_are_stored_by_apply_and_listed_by_id(store: MemoryStore) -> None:
    seed(store, profile(P1), profile("p2"), node("a"), node("b"))
    stored = plan("plan-b", node_ids=["a", "b"], path_id=None)
    store.graph.apply(
        [PutActivationPlan(stored), PutActivationPlan(plan("plan-a")),
         PutActivationPlan(plan("plan-c", profile_id="p2"))]
    )
    assert store.graph.get_activation_plan("plan-b") == stored
    assert ids(store.graph.list_activation_plans()) == ["plan-a", "plan-b", "plan-c"]
    assert ids(store.graph.list_activation_plans(P1)) == ["plan-a", "plan-b"]
    with pytest.raises(NotFoundError):
        store.graph.get_activation_plan("missing")


# --- queries ----------------------------------------------------------------------


def _chain(store: MemoryStore) -> None:
    # a -> b <- c -> d, and an unrelated e
    seed(
        store,
        profile(),
        node("a"),
        node("b"),
        node("c"),
        node("d"),
        node("e"),
        edge("ab", "a", "b"),
        edge("cb", "c", "b"),
        edge("cd", "c", "d"),
    )


@pytest.mark.parametrize(
    ("depth", "node_ids", "edge_ids"),
    [
        (0, {"a"}, set()),
        (1, {"a", "b"}, {"ab"}),
        (2, {"a", "b", "c"}, {"ab", "cb"}),
        (3, {"a", "b", "c", "d"}, {"ab", "cb", "cd"}),
        (10, {"a", "b", "c", "d"}, {"ab", "cb", "cd"}),
    ],
)
def test_neighbourhood_follows_edges_both_ways_to_depth(
    store: MemoryStore, depth: int, node_ids: set[str], edge_ids: set[str]
) -> None:
    _chain(store)
    hood = store.graph.neighbourhood("a", depth=depth)
    assert hood.centre_id == "a"
    assert set(ids(hood.nodes)) == node_ids
    assert set(ids(hood.edges)) == edge_ids
    assert len(hood.nodes) == len(node_ids)


def test_neighbourhood_of_missing_node_raises(store: MemoryStore) -> None:
    with pytest.raises(NotFoundError):
        store.graph.neighbourhood("missing", depth=1)


def test_counts_overall_and_per_profile(store: MemoryStore) -> None:
    assert store.graph.counts() == {
        "profiles": 0, "nodes": 0, "edges": 0, "paths": 0, "activation_plans": 0,
    }
    seed(store, profile(P1), profile("p2"), node("a"), node("b"), node("c", profile_id="p2"))
    seed(store, edge("ab", "a", "b"), path("root"), path("other", profile_id="p2"))
    store.graph.apply([PutActivationPlan(plan("plan-1", node_ids=["a"]))])
    assert store.graph.counts() == {
        "profiles": 2, "nodes": 3, "edges": 1, "paths": 2, "activation_plans": 1,
    }
    assert store.graph.counts(P1) == {
        "profiles": 1, "nodes": 2, "edges": 1, "paths": 1, "activation_plans": 1,
    }
    assert store.graph.counts("p2") == {
        "profiles": 1, "nodes": 1, "edges": 0, "paths": 1, "activation_plans": 0,
    }


# --- full-text search ---------------------------------------------------------------


def _library(store: MemoryStore) -> None:
    seed(
        store,
        profile(P1),
        profile("p2"),
        node("tea", label="Green tea", content="The user drinks green tea every morning"),
        node("coffee", label="Coffee", content="Coffee only on Mondays"),
        node("both", label="Tea and coffee", content="tea tasting with coffee beans"),
        node("old", label="Old tea", content="tea", state=NodeState.ARCHIVED),
        node("gone", label="Forgotten tea", content="tea", state=NodeState.FORGOTTEN),
        node("other", profile_id="p2", label="Tea elsewhere", content="tea"),
    )


def test_search_text_matches_any_term_in_label_or_content(store: MemoryStore) -> None:
    _library(store)
    found = store.graph.search_text(P1, ["coffee"], limit=10)
    assert all(isinstance(m, TextMatch) for m in found)
    assert {m.node_id for m in found} == {"coffee", "both"}
    any_of = store.graph.search_text(P1, ["morning", "mondays"], limit=10)
    assert {m.node_id for m in any_of} == {"tea", "coffee"}


def test_search_text_is_case_insensitive(store: MemoryStore) -> None:
    _library(store)
    assert {m.node_id for m in store.graph.search_text(P1, ["green"], limit=10)} == {"tea"}


def test_search_text_terms_are_case_insensitive(store: MemoryStore) -> None:
    _library(store)
    assert {m.node_id for m in store.graph.search_text(P1, ["GREEN"], limit=10)} == {"tea"}
    assert {m.node_id for m in store.graph.search_text(P1, ["Mondays"], limit=10)} == {"coffee"}


def test_search_text_excludes_archived_forgotten_and_other_profiles(store: MemoryStore) -> None:
    _library(store)
    found = {m.node_id for m in store.graph.search_text(P1, ["tea"], limit=10)}
    assert found == {"tea", "both"}


def test_search_text_ranks_nodes_matching_more_terms_first(store: MemoryStore) -> None:
    seed(
        store,
        profile(),
        node("one", label="apple pie", content="pie recipe"),
        node("two", label="apple crumble", content="banana crumble"),
        *[node(f"filler-{i}", label=f"filler {i}", content="unrelated words") for i in range(5)],
    )
    found = store.graph.search_text(P1, ["apple", "banana"], limit=10)
    assert [m.node_id for m in found] == ["two", "one"]
    assert found[0].relevance > found[1].relevance


def test_search_text_respects_the_limit(store: MemoryStore) -> None:
    seed(store, profile())
    seed(store, *[node(f"n{i}", label=f"note {i}", content="shared word") for i in range(5)])
    assert len(store.graph.search_text(P1, ["shared"], limit=3)) == 3
    assert len(store.graph.search_text(P1, ["shared"], limit=10)) == 5


def test_search_text_without_match_or_terms_is_empty(store: MemoryStore) -> None:
    _library(store)
    assert store.graph.search_text(P1, ["zebra"], limit=10) == []
    assert store.graph.search_text(P1, [], limit=10) == []


HOSTILE_TERMS = ['"', '""', "*", "NEAR(", "NEAR", "OR", "AND", "NOT", "-", ":", "^", "(", ")",
                 "tea*", "label:tea", '"tea', "tea OR coffee", "'", "\\", "%", "_", ";--", "{}"]


@pytest.mark.parametrize("term", HOSTILE_TERMS)
def test_search_text_never_treats_a_term_as_syntax(store: MemoryStore, term: str) -> None:
    _library(store)
    alone = store.graph.search_text(P1, [term], limit=10)
    assert {m.node_id for m in alone} <= {"tea", "coffee", "both"}
    with_word = store.graph.search_text(P1, [term, "mondays"], limit=10)
    assert "coffee" in {m.node_id for m in with_word}


# --- apply and snapshot -------------------------------------------------------------


def test_apply_writes_the_exact_records(store: MemoryStore) -> None:
    p = profile()
    a = node("a", version=5, updated_at=T0 + timedelta(hours=1))
    b = node("b", version=1)
    e = edge("ab", "a", "b")
    r = path("root", active=True)
    store.graph.apply([PutProfile(p), PutNode(a), PutNode(b), PutEdge(e), PutPath(r)])
    assert store.graph.get_profile(P1) == p
    assert store.graph.get_node("a") == a
    assert store.graph.get_node("a").version == 5
    assert store.graph.get_edge("ab") == e
    assert store.graph.get_path("root") == r


def test_apply_removes_records(store: MemoryStore) -> None:
    seed(store, profile(), node("a"), node("b"), edge("ab", "a", "b"))
    store.graph.apply([RemoveEdge("ab"), RemoveNode("b")])
    assert store.graph.find_edge("ab") is None
    assert store.graph.find_node("b") is None
    assert ids(store.graph.list_nodes(P1)) == ["a"]


def test_snapshot_holds_every_record_keyed_by_id(store: MemoryStore) -> None:
    seed(store, profile(), node("b"), node("a"), edge("ab", "a", "b"), path("root"))
    store.graph.apply([PutActivationPlan(plan("plan-1", node_ids=["a"]))])
    snap = store.graph.snapshot()
    assert list(snap.profiles) == [P1]
    assert sorted(snap.nodes) == ["a", "b"]
    assert snap.nodes["a"] == store.graph.get_node("a")
    assert snap.edges["ab"] == store.graph.get_edge("ab")
    assert snap.paths["root"] == store.graph.get_path("root")
    assert list(snap.activation_plans) == ["plan-1"]


def test_snapshot_of_empty_store_is_empty(store: MemoryStore) -> None:
    snap = store.graph.snapshot()
    assert (snap.profiles, snap.nodes, snap.edges, snap.paths, snap.activation_plans) == (
        {}, {}, {}, {}, {},
    )


# --- round trips of awkward values ------------------------------------------------


UNICODE_TEXTS = [
    "naïve café",
    "日本語のメモ",
    "emoji 🧠🙂👩‍👩‍👧",
    "e\u0301 combining accent",
    "right-to-left \u202e\u05e2\u05d1\u05e8\u05d9\u05ea\u202c",
    "zero\u200bwidth",
    "quotes ' \" ` and backslash \\",
    "tab\tnew\nline",
]


@pytest.mark.parametrize("text", UNICODE_TEXTS)
def test_unicode_text_round_trips(store: MemoryStore, text: str) -> None:
    seed(store, profile("prof-ü", name=text, description=text))
    saved = store.graph.save_node(
        node("nœud-🙂", profile_id="prof-ü", kind="fact", label=text, content=text,
             attributes={text: text, "list": [text]})
    )
    assert store.graph.get_node("nœud-🙂") == saved
    assert store.graph.get_profile("prof-ü").name == text
    assert ids(store.graph.list_nodes("prof-ü")) == ["nœud-🙂"]


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2099, 12, 31, 12, 30, 15, 123456, tzinfo=UTC),
        datetime(2024, 6, 1, 8, 0, 0, 500000, tzinfo=timezone(timedelta(hours=-7))),
    ],
)
def test_timestamps_round_trip_to_the_microsecond(store: MemoryStore, moment: datetime) -> None:
    seed(store, profile())
    store.graph.save_node(node("n1", created_at=moment, updated_at=moment))
    seed(store, node("n2"), edge("e1", "n1", "n2", created_at=moment, updated_at=moment))
    seed(store, path("root", created_at=moment, updated_at=moment))
    stored = store.graph.get_node("n1")
    assert stored.created_at == moment
    assert stored.updated_at == moment
    assert stored.created_at.utcoffset() == timedelta(0)
    assert stored.created_at.microsecond == moment.microsecond
    assert store.graph.get_edge("e1").created_at == moment
    assert store.graph.get_path("root").updated_at == moment


def test_attributes_round_trip_nested_json_and_edge_values(store: MemoryStore) -> None:
    attributes = {
        "nested": {"a": {"b": {"c": [1, 2, {"d": None}]}}, "empty": {}, "list": []},
        "empty_string": "",
        "big": 2**63 - 1,
        "small": -(2**63),
        "beyond_float": 2**53 + 1,
        "float": 0.1,
        "pi": 3.141592653589793,
        "tiny": 1e-300,
        "negative": -12.5,
        "bool": True,
        "false": False,
        "null": None,
        "unicode key ✓": "värde",
    }
    seed(store, profile(attributes=attributes))
    saved = store.graph.save_node(node("n1", label="", content="", attributes=attributes))
    seed(store, node("n2"), edge("e1", "n1", "n2", attributes=attributes))
    stored = store.graph.get_node("n1")
    assert stored == saved
    assert stored.attributes == attributes
    assert stored.label == ""
    assert stored.content == ""
    assert isinstance(stored.attributes["big"], int)
    assert isinstance(stored.attributes["float"], float)
    assert store.graph.get_edge("e1").attributes == attributes
    assert store.graph.get_profile(P1).attributes == attributes


def test_content_none_and_empty_string_stay_distinct(store: MemoryStore) -> None:
    seed(store, profile(), node("none", content=None), node("empty", content=""))
    assert store.graph.get_node("none").content is None
    assert store.graph.get_node("empty").content == ""


def test_long_identifiers_round_trip(store: MemoryStore) -> None:
    long_id = "n" * 200
    seed(store, profile("p" * 200), node(long_id, profile_id="p" * 200))
    assert store.graph.get_node(long_id).profile_id == "p" * 200


# --- the lookups the replay fold reads (GraphView) ------------------------------------


def test_edges_touching_lists_edges_at_either_end_by_id(store: MemoryStore) -> None:
    _chain(store)
    assert ids(store.graph.edges_touching("b")) == ["ab", "cb"]
    assert ids(store.graph.edges_touching("c")) == ["cb", "cd"]
    assert store.graph.edges_touching("e") == []
    assert store.graph.edges_touching("ghost") == []
    store.graph.delete_edge("cb")
    assert ids(store.graph.edges_touching("c")) == ["cd"]


def test_paths_in_tree_lists_the_root_and_its_descendants_by_id(store: MemoryStore) -> None:
    seed(
        store,
        profile(),
        path("root"),
        path("z-child", parent_path_id="root", root_path_id="root"),
        path("a-grandchild", parent_path_id="z-child", root_path_id="root"),
        path("other-tree"),
    )
    assert ids(store.graph.paths_in_tree("root")) == ["a-grandchild", "root", "z-child"]
    assert ids(store.graph.paths_in_tree("other-tree")) == ["other-tree"]
    assert store.graph.paths_in_tree("no-tree") == []


def test_plans_mentioning_follows_the_current_items(store: MemoryStore) -> None:
    seed(store, profile(), node("a"), node("b"), node("c"))
    store.graph.apply(
        [PutActivationPlan(plan("plan-2", node_ids=["a", "b"])),
         PutActivationPlan(plan("plan-1", node_ids=["a"]))]
    )
    assert ids(store.graph.plans_mentioning("a")) == ["plan-1", "plan-2"]
    assert ids(store.graph.plans_mentioning("b")) == ["plan-2"]
    assert store.graph.plans_mentioning("c") == []
    # A plan rewritten without b no longer mentions it.
    store.graph.apply([PutActivationPlan(plan("plan-2", node_ids=["c"]))])
    assert ids(store.graph.plans_mentioning("b")) == []
    assert ids(store.graph.plans_mentioning("a")) == ["plan-1"]
    assert ids(store.graph.plans_mentioning("c")) == ["plan-2"]


def test_graph_lookups_forget_what_a_rolled_back_transaction_wrote(store: MemoryStore) -> None:
    seed(store, profile(), node("a"), node("b"), path("root"))

    class Boom(Exception):
        pass

    with pytest.raises(Boom), store.transaction():
        store.graph.apply([PutActivationPlan(plan("plan-1", node_ids=["a"]))])
        store.graph.save_edge(edge("ab", "a", "b"))
        store.graph.save_path(path("child", parent_path_id="root", root_path_id="root"))
        raise Boom
    assert store.graph.plans_mentioning("a") == []
    assert store.graph.edges_touching("a") == []
    assert ids(store.graph.paths_in_tree("root")) == ["root"]
    assert store.graph.list_activation_plans() == []


def test_floats_keep_their_type_and_exact_value(store: MemoryStore) -> None:
    # Whole-number and huge floats are where JSON storage most often turns a float
    # into an int (or rounds it); exports would then differ between adapters.
    floats: dict[str, JsonValue] = {
        "two": 2.0,
        "whole": 1e20,
        "huge": 1.5e300,
        "max": 1.7976931348623157e308,
        "min_subnormal": 5e-324,
        "third": 1 / 3,
    }
    seed(store, profile())
    store.graph.save_node(node("n1", attributes=floats))
    store.events.append([event("chat.turn", floats, event_id="f")])
    for stored in (store.graph.get_node("n1").attributes, store.events.get("f").payload):
        assert {k: (type(v), repr(v)) for k, v in stored.items()} == {
            k: (type(v), repr(v)) for k, v in floats.items()
        }


@pytest.mark.parametrize(
    "text", ["before\x00after", "lone \ud800 surrogate"], ids=["nul", "lone-surrogate"]
)
def test_nul_characters_round_trip_or_are_refused_as_invalid(
    store: MemoryStore, text: str
) -> None:
    # Some engines cannot store U+0000 in text, and no UTF-8 driver can send a lone
    # surrogate. An adapter may refuse them, but as a ValidationError (bad input,
    # nothing written), never as a storage failure or a driver's exception. The
    # models' text fields (length-limited, see models/limits.py) and the log's
    # payload check refuse a lone surrogate themselves, on every adapter alike
    # (spec_limits tests that); NUL is refused by PostgreSQL only.
    seed(store, profile())
    try:
        store.graph.save_node(node("n1", label=text, content=text, attributes={"t": text}))
    except (ValidationError, PydanticValidationError):
        assert store.graph.find_node("n1") is None
    else:
        stored = store.graph.get_node("n1")
        assert (stored.label, stored.content, stored.attributes) == (text, text, {"t": text})
    try:
        made = event("chat.turn", {"text": text}, event_id="nul")
    except PydanticValidationError:
        assert "\x00" not in text  # the model refuses a lone surrogate, NUL it keeps
        return
    try:
        store.events.append([made])
    except ValidationError:
        assert store.events.last_position() == 0
    else:
        assert store.events.get("nul").payload == {"text": text}

"""Conformance spec of ``MemoryEventLog.replay``: hand-built logs, hand-computed results.

Each test appends a small log whose events are written out in full and compares
the replayed snapshot with records computed by hand, so a fold that drifts
from the specification fails here on every adapter.
"""

from __future__ import annotations

from datetime import timedelta

from phase_memory.models import (
    ActivationItem,
    DomainModel,
    GraphSnapshot,
    JsonObject,
    LifecycleAction,
    LifecycleKind,
    MemoryEvent,
    NodeState,
    PathOpened,
    PathStatus,
    ReplayResult,
)
from phase_memory.models.base import CompactionStatus
from phase_memory.protocols import MemoryStore
from phase_memory.replay import GraphState, LoggedEvent, effects_of
from phase_memory.testing.builders import (
    P1,
    at,
    edge,
    edge_saved,
    event,
    node,
    node_saved,
    path,
    path_opened,
    plan,
    profile,
    profile_saved,
    without_position,
)


def _append(store: MemoryStore, events: list[MemoryEvent]) -> list[int]:
    """Append a hand-built log.

    Replay reads only the log, but an adapter may tie events to profiles and
    paths with foreign keys, so the profiles and paths the events name are
    saved in the graph first (inactive, so no one-active rule is in the way).
    """
    for profile_id in sorted({e.profile_id for e in events}):
        if store.graph.find_profile(profile_id) is None:
            store.graph.save_profile(profile(profile_id))
    for e in events:
        if e.kind in ("path.opened", "path.branched"):
            opened = PathOpened.model_validate(e.payload).path
            if store.graph.find_path(opened.id) is None:
                store.graph.save_path(opened.model_copy(update={"active": False}))
    return store.events.append(events)


def _replay(
    store: MemoryStore, events: list[MemoryEvent], path_id: str | None = None
) -> ReplayResult:
    _append(store, events)
    return store.events.replay(path_id=path_id)


def _dump(record: DomainModel) -> JsonObject:
    return record.model_dump(mode="json")


def _positions(store: MemoryStore) -> dict[str, int]:
    return {e.event_id: e.position or 0 for e in store.events.list()}


def _start() -> list[MemoryEvent]:
    """A profile and three nodes a, b, c with edges a->b and b->c."""
    return [
        profile_saved(profile(), event_id="s-profile"),
        node_saved(node("a", version=1), event_id="s-a"),
        node_saved(node("b", version=1), event_id="s-b"),
        node_saved(node("c", version=1), event_id="s-c"),
        edge_saved(edge("ab", "a", "b"), event_id="s-ab"),
        edge_saved(edge("bc", "b", "c"), event_id="s-bc"),
    ]


# --- basics -------------------------------------------------------------------------


def test_replay_of_an_empty_log_is_empty(store: MemoryStore) -> None:
    result = store.events.replay()
    assert result.snapshot == GraphSnapshot()
    assert result.report.applied == 0
    assert result.report.not_replayable == {}
    assert result.report.problems == []
    assert result.report.ok


def test_replay_builds_profiles_nodes_and_edges_exactly(store: MemoryStore) -> None:
    result = _replay(store, _start())
    snap = result.snapshot
    assert snap.profiles == {P1: profile()}
    assert snap.nodes == {n: node(n, version=1) for n in ("a", "b", "c")}
    assert snap.edges == {"ab": edge("ab", "a", "b"), "bc": edge("bc", "b", "c")}
    assert snap.paths == {}
    assert snap.position == store.events.last_position()
    assert result.report.applied == 6
    assert result.report.ok


def test_later_saves_replace_earlier_ones(store: MemoryStore) -> None:
    events = [
        *_start(),
        profile_saved(profile(name="renamed"), seconds=1),
        node_saved(node("a", label="second", version=2), seconds=1),
        edge_saved(edge("ab", "a", "c", weight=0.5), seconds=1),
    ]
    snap = _replay(store, events).snapshot
    assert snap.profiles[P1].name == "renamed"
    assert snap.nodes["a"] == node("a", label="second", version=2)
    assert snap.edges["ab"] == edge("ab", "a", "c", weight=0.5)


def test_node_state_changed_bumps_version_and_updated_at(store: MemoryStore) -> None:
    events = [
        *_start(),
        event("node.state_changed", {"node_id": "a", "state": "archived"}, seconds=60),
        event("node.state_changed", {"node_id": "b", "state": "archived", "version": 7},
              seconds=90),
    ]
    snap = _replay(store, events).snapshot
    assert snap.nodes["a"] == node("a", state=NodeState.ARCHIVED, version=2, updated_at=at(60))
    assert snap.nodes["b"] == node("b", state=NodeState.ARCHIVED, version=7, updated_at=at(90))
    assert snap.nodes["c"] == node("c", version=1)


def test_node_deleted_removes_the_node_and_its_edges(store: MemoryStore) -> None:
    snap = _replay(store, [*_start(), event("node.deleted", {"node_id": "b"})]).snapshot
    assert sorted(snap.nodes) == ["a", "c"]
    assert snap.edges == {}


def test_edge_deleted_removes_only_that_edge(store: MemoryStore) -> None:
    snap = _replay(store, [*_start(), event("edge.deleted", {"edge_id": "ab"})]).snapshot
    assert list(snap.edges) == ["bc"]
    assert sorted(snap.nodes) == ["a", "b", "c"]


def test_nodes_merged_moves_edges_and_leaves_tombstones(store: MemoryStore) -> None:
    events = [
        profile_saved(profile()),
        *[node_saved(node(n, version=1)) for n in ("s", "m1", "m2", "x")],
        edge_saved(edge("m1-x", "m1", "x")),
        edge_saved(edge("x-m2", "x", "m2")),
        edge_saved(edge("m1-m2", "m1", "m2")),
        edge_saved(edge("s-m1", "s", "m1")),
        edge_saved(edge("x-s", "x", "s")),
        event("nodes.merged", {"survivor_id": "s", "merged_ids": ["m1", "m2"]}, seconds=100),
    ]
    result = _replay(store, events)
    snap = result.snapshot
    assert result.report.ok
    assert snap.nodes["s"] == node("s", version=1)
    for merged in ("m1", "m2"):
        assert snap.nodes[merged] == node(
            merged,
            state=NodeState.ARCHIVED,
            attributes={"merged_into": "s"},
            version=2,
            updated_at=at(100),
        )
    assert snap.edges == {
        "m1-x": edge("m1-x", "s", "x", updated_at=at(100)),
        "x-m2": edge("x-m2", "x", "s", updated_at=at(100)),
        "x-s": edge("x-s", "x", "s"),
    }


def test_path_events_open_branch_merge_abandon_and_activate(store: MemoryStore) -> None:
    root = path("root", active=True)
    child = path("child", parent_path_id="root", fork_event_id="p-opened", root_path_id="root")
    other = path("other", parent_path_id="root", fork_event_id="p-opened", root_path_id="root")
    events = [
        profile_saved(profile()),
        path_opened(root, event_id="p-opened"),
        path_opened(child, event_id="p-child"),
        path_opened(other, event_id="p-other"),
        event("path.activated", {"path_id": "child"}, path_id="child", seconds=10,
              event_id="p-activate"),
        event("path.merged", {"source_path_id": "child", "target_path_id": "root"},
              path_id="root", seconds=20, event_id="p-merge"),
        event("path.abandoned", {"path_id": "other", "reason": "dead end"},
              path_id="other", seconds=30),
        event("path.activated", {"path_id": "root"}, path_id="root", seconds=40),
    ]
    result = _replay(store, events)
    assert result.report.ok, result.report.problems
    snap = result.snapshot
    assert snap.paths == {
        "root": path("root", active=True, updated_at=at(40)),
        "child": child.model_copy(
            update={
                "status": PathStatus.MERGED,
                "active": False,
                "merged_into_path_id": "root",
                "merge_event_id": "p-merge",
                "updated_at": at(20),
            }
        ),
        "other": other.model_copy(
            update={
                "status": PathStatus.ABANDONED,
                "abandoned_reason": "dead end",
                "updated_at": at(30),
            }
        ),
    }


def test_activating_a_path_deactivates_the_other_path_of_its_tree(store: MemoryStore) -> None:
    events = [
        profile_saved(profile()),
        path_opened(path("root", active=True), event_id="o-root"),
        path_opened(path("elsewhere", active=True)),
        path_opened(
            path("child", parent_path_id="root", fork_event_id="o-root", root_path_id="root")
        ),
        event("path.activated", {"path_id": "child"}, seconds=5),
    ]
    snap = _replay(store, events).snapshot
    assert {p.id for p in snap.paths.values() if p.active} == {"child", "elsewhere"}
    assert snap.paths["root"] == path("root", active=False)
    assert snap.paths["child"].updated_at == at(5)


def test_activating_a_merged_path_is_a_problem(store: MemoryStore) -> None:
    events = [
        profile_saved(profile()),
        path_opened(path("root"), event_id="x-root"),
        path_opened(path("kid", parent_path_id="root", fork_event_id="x-root",
                         root_path_id="root")),
        event("path.merged", {"source_path_id": "kid", "target_path_id": "root"}),
        event("path.activated", {"path_id": "kid"}, event_id="bad-activate"),
    ]
    result = _replay(store, events)
    assert [p.event_id for p in result.report.problems] == ["bad-activate"]
    assert result.snapshot.paths["kid"].active is False


def test_path_compacted_records_the_summary(store: MemoryStore) -> None:
    events = [
        profile_saved(profile()),
        path_opened(path("root")),
        node_saved(node("summary", kind="summary", version=1)),
        event("path.compacted", {"path_id": "root", "summary_node_id": "summary"}, seconds=9),
    ]
    snap = _replay(store, events).snapshot
    assert snap.paths["root"] == path(
        "root",
        compaction_status=CompactionStatus.COMPACTED,
        summary_node_id="summary",
        updated_at=at(9),
    )


def test_lifecycle_applied_writes_its_records(store: MemoryStore) -> None:
    archived = node("a", state=NodeState.ARCHIVED, version=2, updated_at=at(50))
    summary = node("sum", kind="summary", version=1)
    action = LifecycleAction(id="act-1", kind=LifecycleKind.ARCHIVE, profile_id=P1, targets=["a"])
    payload: JsonObject = {
        "action": _dump(action),
        "nodes": [_dump(archived), _dump(summary)],
        "edges": [_dump(edge("sum-c", "sum", "c"))],
        "removed_edge_ids": ["ab"],
        "path": _dump(path("root", summary_node_id="sum")),
    }
    result = _replay(store, [*_start(), event("lifecycle.applied", payload, seconds=50)])
    assert result.report.ok
    snap = result.snapshot
    assert snap.nodes["a"] == archived
    assert snap.nodes["sum"] == summary
    assert snap.edges == {"bc": edge("bc", "b", "c"), "sum-c": edge("sum-c", "sum", "c")}
    assert snap.paths == {"root": path("root", summary_node_id="sum")}


def test_forget_redacts_stored_activation_plans(store: MemoryStore) -> None:
    stored_plan = plan("plan-1", node_ids=["a", "b"])
    forgotten = node("a", label="", state=NodeState.FORGOTTEN, version=2, updated_at=at(70))
    action = LifecycleAction(
        id="forget-1", kind=LifecycleKind.FORGET, profile_id=P1, targets=["a"]
    )
    events = [
        *_start(),
        event("activation.planned", {"plan": _dump(stored_plan)}),
        event(
            "lifecycle.applied",
            {"action": _dump(action), "nodes": [_dump(forgotten)], "removed_edge_ids": ["ab"]},
            seconds=70,
        ),
    ]
    snap = _replay(store, events).snapshot
    assert snap.nodes["a"] == forgotten
    assert list(snap.edges) == ["bc"]
    items = snap.activation_plans["plan-1"].items
    assert items[0] == ActivationItem(node_id="a", rank=1, score=1.0, redacted=True)
    assert items[1] == stored_plan.items[1]


def test_activation_planned_stores_the_plan(store: MemoryStore) -> None:
    stored_plan = plan("plan-1", node_ids=["b", "a"], path_id=None, query="tea?")
    snap = _replay(store, [*_start(), event("activation.planned", {"plan": _dump(stored_plan)})])
    assert snap.snapshot.activation_plans == {"plan-1": stored_plan}


def test_graph_imported_writes_every_record(store: MemoryStore) -> None:
    payload: JsonObject = {
        "profiles": [_dump(profile("p2"))],
        "nodes": [_dump(node("x", profile_id="p2", version=3)),
                  _dump(node("y", profile_id="p2", version=1))],
        "edges": [_dump(edge("xy", "x", "y", profile_id="p2"))],
        "paths": [_dump(path("imported", profile_id="p2"))],
        "source": "graph.json",
    }
    result = _replay(store, [event("graph.imported", payload, profile_id="p2")])
    assert result.report.ok
    snap = result.snapshot
    assert snap.profiles == {"p2": profile("p2")}
    assert snap.nodes == {
        "x": node("x", profile_id="p2", version=3), "y": node("y", profile_id="p2", version=1)
    }
    assert snap.edges == {"xy": edge("xy", "x", "y", profile_id="p2")}
    assert snap.paths == {"imported": path("imported", profile_id="p2")}


# --- the report ----------------------------------------------------------------------


def test_report_counts_applied_and_not_replayable_by_kind(store: MemoryStore) -> None:
    events = [
        event("chat.turn"),
        *_start(),
        event("chat.turn"),
        event("tool.called"),
        event("chat.turn"),
    ]
    report = _replay(store, events).report
    assert report.applied == 6
    assert report.not_replayable == {"chat.turn": 3, "tool.called": 1}
    assert report.problems == []


def test_malformed_payload_is_a_problem_with_its_position(store: MemoryStore) -> None:
    events = [
        *_start(),
        event("node.saved", {"node": {"id": "broken"}}, event_id="bad-1"),
        event("edge.saved", {"wrong": "shape"}, event_id="bad-2"),
        event("node.state_changed", {"node_id": "a", "state": "melted"}, event_id="bad-3"),
        node_saved(node("d", version=1), event_id="good"),
    ]
    result = _replay(store, events)
    positions = _positions(store)
    assert [(p.event_id, p.position, p.kind) for p in result.report.problems] == [
        ("bad-1", positions["bad-1"], "node.saved"),
        ("bad-2", positions["bad-2"], "edge.saved"),
        ("bad-3", positions["bad-3"], "node.state_changed"),
    ]
    assert not result.report.ok
    assert result.report.applied == 7
    assert "broken" not in result.snapshot.nodes
    assert result.snapshot.nodes["a"].state is NodeState.ACTIVE
    assert "d" in result.snapshot.nodes


def test_unknown_schema_version_is_a_problem_not_a_crash(store: MemoryStore) -> None:
    future = node_saved(node("future", version=1), event_id="v99", schema_version=99)
    result = _replay(store, [*_start(), future, node_saved(node("d", version=1))])
    [problem] = result.report.problems
    assert (problem.event_id, problem.position) == ("v99", _positions(store)["v99"])
    assert "99" in problem.reason
    assert "future" not in result.snapshot.nodes
    assert "d" in result.snapshot.nodes


def test_references_to_missing_records_are_problems(store: MemoryStore) -> None:
    events = [
        *_start(),
        edge_saved(edge("dangling", "a", "ghost"), event_id="m-edge"),
        event("node.state_changed", {"node_id": "ghost", "state": "archived"}, event_id="m-state"),
        event("node.deleted", {"node_id": "ghost"}, event_id="m-delete"),
        event("edge.deleted", {"edge_id": "no-edge"}, event_id="m-edge-delete"),
        node_saved(node("z", profile_id="nobody", version=1), event_id="m-profile"),
        event("path.abandoned", {"path_id": "no-path", "reason": "x"}, event_id="m-path"),
    ]
    result = _replay(store, events)
    positions = _positions(store)
    problems = result.report.problems
    assert [(p.event_id, p.position) for p in problems] == [
        (event_id, positions[event_id])
        for event_id in ("m-edge", "m-state", "m-delete", "m-edge-delete", "m-profile", "m-path")
    ]
    assert "ghost" in problems[0].reason
    assert "ghost" in problems[1].reason
    assert "dangling" not in result.snapshot.edges
    assert result.report.applied == 6


def test_redacted_payloads_replay_and_are_counted(store: MemoryStore) -> None:
    tombstone = node("a", label="", state=NodeState.FORGOTTEN, version=2)
    events = [*_start(), node_saved(tombstone, event_id="to-redact")]
    _append(store, events)
    store.events.replace_payloads(
        {"to-redact": {"node": _dump(tombstone), "redacted": {"node_ids": ["to-redact"]}}}
    )
    result = store.events.replay()
    assert result.report.ok
    assert result.report.redacted == 1
    assert result.snapshot.nodes["a"] == tombstone


def test_the_word_redacted_in_a_record_is_not_a_redaction(store: MemoryStore) -> None:
    # Only the marker forget leaves at the top of a payload counts, on every
    # adapter (a text search of the stored JSON would count this save too).
    quoted = node("a", label="redacted", content='"redacted": the word, quoted')
    _append(store, [*_start(), node_saved(quoted)])
    result = store.events.replay()
    assert result.report.ok
    assert result.report.redacted == 0
    assert result.snapshot.nodes["a"] == quoted


# --- time travel ----------------------------------------------------------------------


def test_until_replays_as_of_a_position(store: MemoryStore) -> None:
    events = [
        *_start(),
        node_saved(node("a", label="later", version=2), event_id="t-a2"),
        event("node.deleted", {"node_id": "c"}, event_id="t-del-c"),
    ]
    _append(store, events)
    p = _positions(store)
    as_of_start = store.events.replay(until=p["s-bc"]).snapshot
    assert as_of_start.position == p["s-bc"]
    assert as_of_start.nodes["a"].label == "label of a"
    assert sorted(as_of_start.nodes) == ["a", "b", "c"]
    before_delete = store.events.replay(until=p["t-a2"]).snapshot
    assert before_delete.nodes["a"].label == "later"
    assert "c" in before_delete.nodes
    now = store.events.replay().snapshot
    assert sorted(now.nodes) == ["a", "b"]
    assert list(now.edges) == ["ab"]
    only_profile = store.events.replay(until=p["s-profile"]).snapshot
    assert only_profile.nodes == {}
    assert list(only_profile.profiles) == [P1]
    assert store.events.replay(until=0).snapshot == GraphSnapshot()


def test_until_counts_only_events_up_to_the_position(store: MemoryStore) -> None:
    _append(store, [*_start(), event("chat.turn", event_id="late-chat")])
    p = _positions(store)
    report = store.events.replay(until=p["s-c"]).report
    assert report.applied == 4
    assert report.not_replayable == {}


# --- paths: effective history ---------------------------------------------------------


def _conversation() -> list[MemoryEvent]:
    """A tree: ``main``; ``br`` forks at h-a and is merged back; ``ab`` forks at h-b and is
    abandoned. Events with no path are shared memory.
    """
    main = path("main", active=True)
    br = path("br", parent_path_id="main", fork_event_id="h-a", root_path_id="main")
    ab = path("ab", parent_path_id="main", fork_event_id="h-b", root_path_id="main")
    return [
        profile_saved(profile(), event_id="h-profile"),  # shared
        path_opened(main, event_id="h-main"),
        node_saved(node("a", version=1), event_id="h-a", path_id="main"),
        node_saved(node("s1", version=1), event_id="h-s1"),  # shared
        node_saved(node("b", version=1), event_id="h-b", path_id="main"),
        path_opened(br, event_id="h-br"),
        node_saved(node("c", version=1), event_id="h-c", path_id="br"),
        node_saved(node("x", label="from branch", version=1), event_id="h-x-br", path_id="br"),
        node_saved(node("s2", version=1), event_id="h-s2"),  # shared
        path_opened(ab, event_id="h-ab"),
        node_saved(node("d", version=1), event_id="h-d", path_id="ab"),
        event("path.abandoned", {"path_id": "ab", "reason": "off topic"}, path_id="ab",
              event_id="h-abandon"),
        node_saved(node("e", version=1), event_id="h-e", path_id="main"),
        node_saved(node("x", label="from main", version=1), event_id="h-x-main", path_id="main"),
        event("path.merged", {"source_path_id": "br", "target_path_id": "main"},
              path_id="main", event_id="h-merge"),
        node_saved(node("g", version=1), event_id="h-g", path_id="main"),
        node_saved(node("s3", version=1), event_id="h-s3"),  # shared
    ]


def test_whole_log_replay_ignores_paths(store: MemoryStore) -> None:
    result = _replay(store, _conversation())
    assert result.report.ok, result.report.problems
    snap = result.snapshot
    assert sorted(snap.nodes) == ["a", "b", "c", "d", "e", "g", "s1", "s2", "s3", "x"]
    assert snap.nodes["x"].label == "from main"  # position order
    assert snap.paths["br"].status is PathStatus.MERGED
    assert snap.paths["ab"].status is PathStatus.ABANDONED


def test_path_replay_of_the_target_includes_the_merged_branch(store: MemoryStore) -> None:
    result = _replay(store, _conversation(), path_id="main")
    assert result.report.ok, result.report.problems
    snap = result.snapshot
    # Own events, shared events, and br's events (c, x) - but not the abandoned branch's d.
    assert sorted(snap.nodes) == ["a", "b", "c", "e", "g", "s1", "s2", "s3", "x"]
    # br's events enter at the merge point, after main's own write of x.
    assert snap.nodes["x"].label == "from branch"
    assert sorted(snap.paths) == ["br", "main"]
    assert snap.paths["br"].status is PathStatus.MERGED
    assert snap.profiles == {P1: profile()}


def test_path_replay_of_a_branch_inherits_the_prefix_up_to_its_fork(store: MemoryStore) -> None:
    result = _replay(store, _conversation(), path_id="br")
    assert result.report.ok, result.report.problems
    snap = result.snapshot
    # main up to h-a (a, s1 came later but is shared), own c and x, later shared s2 and s3.
    assert sorted(snap.nodes) == ["a", "c", "s1", "s2", "s3", "x"]
    assert snap.nodes["x"].label == "from branch"
    assert sorted(snap.paths) == ["br", "main"]
    assert snap.paths["br"].status is PathStatus.OPEN  # its merge lives in main


def test_path_replay_of_an_abandoned_branch_keeps_its_events(store: MemoryStore) -> None:
    result = _replay(store, _conversation(), path_id="ab")
    assert result.report.ok, result.report.problems
    snap = result.snapshot
    assert sorted(snap.nodes) == ["a", "b", "d", "s1", "s2", "s3"]
    assert snap.paths["ab"].status is PathStatus.ABANDONED
    assert snap.paths["ab"].abandoned_reason == "off topic"
    assert sorted(snap.paths) == ["ab", "main"]


def test_merged_branch_events_enter_at_the_merge_point(store: MemoryStore) -> None:
    # The branch writes x after every event of main but before a shared write of x;
    # merged into main, the branch's events still come at the merge point, last.
    br = path("br", parent_path_id="main", fork_event_id="k-a", root_path_id="main")
    events = [
        profile_saved(profile()),
        path_opened(path("main"), event_id="k-main"),
        node_saved(node("a", version=1), event_id="k-a", path_id="main"),
        path_opened(br, event_id="k-br"),
        node_saved(node("x", label="from branch", version=1), path_id="br"),
        node_saved(node("x", label="shared", version=1)),
        event("path.merged", {"source_path_id": "br", "target_path_id": "main"},
              path_id="main"),
    ]
    _append(store, events)
    assert store.events.replay().snapshot.nodes["x"].label == "shared"
    assert store.events.replay(path_id="br").snapshot.nodes["x"].label == "shared"
    assert store.events.replay(path_id="main").snapshot.nodes["x"].label == "from branch"


def test_path_replay_with_until(store: MemoryStore) -> None:
    _append(store, _conversation())
    p = _positions(store)
    before_merge = store.events.replay(until=p["h-x-main"], path_id="main").snapshot
    assert sorted(before_merge.nodes) == ["a", "b", "e", "s1", "s2", "x"]
    assert before_merge.nodes["x"].label == "from main"
    assert sorted(before_merge.paths) == ["main"]


def test_shared_events_belong_to_every_path(store: MemoryStore) -> None:
    _append(store, _conversation())
    for path_id in ("main", "br", "ab"):
        nodes = store.events.replay(path_id=path_id).snapshot.nodes
        assert {"s1", "s2", "s3"} <= set(nodes), path_id


def test_path_replay_of_an_unknown_path_is_empty(store: MemoryStore) -> None:
    _append(store, _conversation())
    result = store.events.replay(path_id="no-such-path")
    assert result.snapshot.nodes == {}
    assert result.snapshot.paths == {}
    assert result.report.applied == 0


def test_shared_events_are_scoped_to_the_path_profile(store: MemoryStore) -> None:
    events = [
        *_conversation(),
        profile_saved(profile("p2"), event_id="o-profile"),
        node_saved(node("other", profile_id="p2", version=1), event_id="o-node"),
    ]
    snap = _replay(store, events, path_id="main").snapshot
    assert "other" not in snap.nodes
    assert "p2" not in snap.profiles


# --- replay agrees with the graph tables -------------------------------------------------


def test_replay_equals_the_graph_after_applying_the_same_effects(store: MemoryStore) -> None:
    events = [
        *_conversation(),
        edge_saved(edge("ab-edge", "a", "b")),
        edge_saved(edge("bx", "b", "x")),
        event("node.state_changed", {"node_id": "e", "state": "archived"}, seconds=5),
        event("nodes.merged", {"survivor_id": "a", "merged_ids": ["b"]}, seconds=6),
        event("edge.deleted", {"edge_id": "bx"}),
        event("node.deleted", {"node_id": "g"}),
        event("activation.planned", {"plan": _dump(plan("plan-1", node_ids=["a", "x"]))}),
        event("path.activated", {"path_id": "main"}, seconds=7),
        event("chat.turn", {"text": "not replayable"}),
    ]
    # What the runtime does for each event: its effects and the event, in one transaction.
    view = GraphState()
    for made in events:
        effects = effects_of(LoggedEvent.of(made), view)
        view.apply(effects)
        with store.transaction():
            store.graph.apply(effects)
            store.events.append([made])
    replayed = store.events.replay()
    assert replayed.report.ok, replayed.report.problems
    assert replayed.snapshot.position == store.events.last_position()
    assert store.graph.snapshot() == without_position(replayed.snapshot)
    assert sorted(replayed.snapshot.nodes) == ["a", "b", "c", "d", "e", "s1", "s2", "s3", "x"]


def test_projection_read_through_the_graph_store_equals_replay(store: MemoryStore) -> None:
    # The runtime's way: the fold reads the graph store itself (a GraphView), and
    # each event's effects are applied with the event in one transaction.
    events = [
        *_conversation(),
        edge_saved(edge("ab-edge", "a", "b")),
        edge_saved(edge("c-s1", "c", "s1")),
        event("activation.planned", {"plan": _dump(plan("plan-1", node_ids=["a", "c"]))}),
        event("nodes.merged", {"survivor_id": "x", "merged_ids": ["c"]}, seconds=6),
        event("path.activated", {"path_id": "main"}, seconds=7),
        event(
            "lifecycle.applied",
            {
                "action": _dump(LifecycleAction(id="f", kind=LifecycleKind.FORGET,
                                                profile_id=P1, targets=["a"])),
                "nodes": [_dump(node("a", label="", state=NodeState.FORGOTTEN, version=2))],
                "removed_edge_ids": ["ab-edge"],
            },
            seconds=8,
        ),
        event("node.deleted", {"node_id": "g"}),
    ]
    for made in events:
        with store.transaction():
            store.graph.apply(effects_of(LoggedEvent.of(made), store.graph))
            store.events.append([made])
    replayed = store.events.replay()
    assert replayed.report.ok, replayed.report.problems
    assert store.graph.snapshot() == without_position(replayed.snapshot)
    assert replayed.snapshot.activation_plans["plan-1"].items[0].redacted is True
    assert replayed.snapshot.edges["c-s1"].source_id == "x"


def test_replay_is_repeatable(store: MemoryStore) -> None:
    _append(store, _conversation())
    assert store.events.replay() == store.events.replay()
    assert store.events.replay(path_id="br") == store.events.replay(path_id="br")


def test_replay_does_not_write_to_the_graph(store: MemoryStore) -> None:
    _append(store, _conversation())
    before = store.graph.snapshot()
    store.events.replay()
    store.events.replay(path_id="br")
    assert store.graph.snapshot() == before
    assert store.graph.counts()["nodes"] == 0


def test_replay_keeps_microseconds_of_event_times(store: MemoryStore) -> None:
    change = event("node.state_changed", {"node_id": "a", "state": "archived"}, seconds=0.123457)
    snap = _replay(store, [*_start(), change]).snapshot
    assert snap.nodes["a"].updated_at == at(0) + timedelta(microseconds=123457)

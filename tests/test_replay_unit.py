"""Unit tests of the pure fold: ``effective_history`` corner cases and ``replay`` on raw events."""

from __future__ import annotations

import json

from phase_memory.models import MemoryEvent, MemoryNode
from phase_memory.replay import GraphState, LoggedEvent, effective_history, effects_of, replay
from phase_memory.testing.builders import (
    edge,
    edge_saved,
    event,
    node,
    node_saved,
    path,
    path_opened,
    profile,
    profile_saved,
)


def _log(*events: MemoryEvent) -> list[LoggedEvent]:
    """Positions 1, 2, 3, ... in the order given."""
    return [LoggedEvent.of(e, position) for position, e in enumerate(events, start=1)]


def _ids(events: list[LoggedEvent]) -> list[str]:
    return [e.event_id for e in events]


def _chat(event_id: str, path_id: str | None = None, profile_id: str = "p1") -> MemoryEvent:
    return event("chat.turn", event_id=event_id, path_id=path_id, profile_id=profile_id)


def _opened(path_id: str, event_id: str, parent: str | None = None, fork: str | None = None,
            root: str | None = None) -> MemoryEvent:
    return path_opened(
        path(path_id, parent_path_id=parent, fork_event_id=fork, root_path_id=root),
        event_id=event_id,
    )


def _merged(source: str, target: str, event_id: str) -> MemoryEvent:
    return event("path.merged", {"source_path_id": source, "target_path_id": target},
                 event_id=event_id, path_id=target)


def test_root_path_has_its_own_and_shared_events_in_position_order() -> None:
    log = _log(
        _chat("s1"),
        _opened("main", "o-main"),
        _chat("m1", "main"),
        _chat("s2"),
        _chat("other", "elsewhere"),
        _chat("m2", "main"),
    )
    assert _ids(effective_history(log, "main")) == ["s1", "o-main", "m1", "s2", "m2"]


def test_unknown_path_has_no_history() -> None:
    log = _log(_chat("s1"), _chat("x", "ghost"))
    assert effective_history(log, "ghost") == []
    assert effective_history(log, "nothing") == []


def test_branch_inherits_prefix_up_to_and_including_the_fork_event() -> None:
    log = _log(
        _opened("main", "o-main"),
        _chat("m1", "main"),
        _chat("fork", "main"),
        _chat("m-after", "main"),
        _opened("br", "o-br", parent="main", fork="fork", root="main"),
        _chat("b1", "br"),
    )
    assert _ids(effective_history(log, "br")) == ["o-main", "m1", "fork", "o-br", "b1"]
    assert "b1" not in _ids(effective_history(log, "main"))


def test_branch_sees_shared_events_before_and_after_its_fork_once() -> None:
    log = _log(
        _opened("main", "o-main"),
        _chat("s-before"),
        _chat("fork", "main"),
        _chat("s-between"),
        _opened("br", "o-br", parent="main", fork="fork", root="main"),
        _chat("b1", "br"),
        _chat("s-after"),
    )
    assert _ids(effective_history(log, "br")) == [
        "o-main", "s-before", "fork", "s-between", "o-br", "b1", "s-after",
    ]


def test_grandchild_inherits_through_its_parent_chain() -> None:
    log = _log(
        _opened("main", "o-main"),
        _chat("m1", "main"),
        _opened("b", "o-b", parent="main", fork="m1", root="main"),
        _chat("b1", "b"),
        _chat("m2", "main"),
        _opened("c", "o-c", parent="b", fork="b1", root="main"),
        _chat("c1", "c"),
        _chat("b2", "b"),
    )
    assert _ids(effective_history(log, "c")) == ["o-main", "m1", "o-b", "b1", "o-c", "c1"]


def test_merged_branch_events_enter_just_before_the_merge_event() -> None:
    log = _log(
        _opened("main", "o-main"),
        _chat("m1", "main"),
        _opened("br", "o-br", parent="main", fork="m1", root="main"),
        _chat("b1", "br"),
        _chat("m2", "main"),
        _chat("b2", "br"),
        _chat("s1"),
        _merged("br", "main", "merge"),
        _chat("m3", "main"),
    )
    assert _ids(effective_history(log, "main")) == [
        "o-main", "m1", "m2", "s1", "o-br", "b1", "b2", "merge", "m3",
    ]


def test_merged_branch_after_every_own_event_still_waits_for_the_merge_point() -> None:
    # Regression: the branch's events have higher positions than main's last own
    # event, and a shared event comes between them and the merge.
    log = _log(
        _opened("main", "o-main"),
        _chat("m1", "main"),
        _opened("br", "o-br", parent="main", fork="m1", root="main"),
        _chat("b1", "br"),
        _chat("s1"),
        _merged("br", "main", "merge"),
    )
    assert _ids(effective_history(log, "main")) == ["o-main", "m1", "s1", "o-br", "b1", "merge"]


def test_nested_merges_bring_the_grandchild_in_through_its_parent() -> None:
    log = _log(
        _opened("main", "o-main"),
        _chat("m1", "main"),
        _opened("b", "o-b", parent="main", fork="m1", root="main"),
        _chat("b1", "b"),
        _opened("c", "o-c", parent="b", fork="b1", root="main"),
        _chat("c1", "c"),
        _merged("c", "b", "merge-c"),
        _chat("b2", "b"),
        _merged("b", "main", "merge-b"),
    )
    assert _ids(effective_history(log, "main")) == [
        "o-main", "m1", "o-b", "b1", "o-c", "c1", "merge-c", "b2", "merge-b",
    ]
    assert _ids(effective_history(log, "b")) == [
        "o-main", "m1", "o-b", "b1", "o-c", "c1", "merge-c", "b2",
    ]


def test_abandoned_branch_keeps_its_events_but_the_parent_does_not_see_them() -> None:
    log = _log(
        _opened("main", "o-main"),
        _chat("m1", "main"),
        _opened("dead", "o-dead", parent="main", fork="m1", root="main"),
        _chat("d1", "dead"),
        event("path.abandoned", {"path_id": "dead", "reason": "no"}, event_id="abandon",
              path_id="dead"),
        _chat("m2", "main"),
    )
    assert _ids(effective_history(log, "main")) == ["o-main", "m1", "m2"]
    assert _ids(effective_history(log, "dead")) == ["o-main", "m1", "o-dead", "d1", "abandon"]


def test_shared_events_of_other_profiles_are_not_inherited() -> None:
    log = _log(
        _opened("main", "o-main"),
        _chat("mine"),
        _chat("theirs", profile_id="p2"),
    )
    assert _ids(effective_history(log, "main")) == ["o-main", "mine"]


def test_branch_forked_at_a_merged_in_event_sees_each_shared_event_once() -> None:
    log = _log(
        _opened("main", "o-main"),
        _opened("b", "o-b", parent="main", fork="o-main", root="main"),
        _chat("b1", "b"),
        _chat("s1"),
        _merged("b", "main", "merge"),
        _opened("c", "o-c", parent="main", fork="b1", root="main"),
        _chat("c1", "c"),
    )
    history = _ids(effective_history(log, "c"))
    assert history == ["o-main", "s1", "o-b", "b1", "o-c", "c1"]
    assert len(history) == len(set(history))


def test_merge_cycles_terminate() -> None:
    log = _log(
        _opened("a", "o-a"),
        _opened("b", "o-b"),
        _chat("a1", "a"),
        _chat("b1", "b"),
        _merged("a", "b", "a-into-b"),
        _merged("b", "a", "b-into-a"),
    )
    history = _ids(effective_history(log, "a"))
    assert history[-1] == "b-into-a"
    assert "b1" in history
    assert "a1" in history


def test_malformed_path_events_do_not_crash_history() -> None:
    log = _log(
        _opened("main", "o-main"),
        event("path.merged", {"nonsense": True}, event_id="bad-merge", path_id="main"),
        event("path.branched", {"path": {"id": "x"}}, event_id="bad-branch", path_id="x"),
        _chat("m1", "main"),
    )
    assert _ids(effective_history(log, "main")) == ["o-main", "bad-merge", "m1"]
    assert effective_history(log, "x") == []


def test_branch_with_a_fork_event_not_in_its_parent_gets_no_prefix() -> None:
    log = _log(
        _opened("main", "o-main"),
        _chat("m1", "main"),
        _opened("br", "o-br", parent="main", fork="no-such-event", root="main"),
        _chat("b1", "br"),
    )
    assert _ids(effective_history(log, "br")) == ["o-br", "b1"]


# --- replay on raw events -------------------------------------------------------------


def test_replay_with_until_and_path_cuts_before_choosing_the_history() -> None:
    log = _log(
        profile_saved(profile(), event_id="p"),
        _opened("main", "o-main"),
        node_saved(node("a", version=1), event_id="a", path_id="main"),
        _opened("br", "o-br", parent="main", fork="a", root="main"),
        node_saved(node("b", version=1), event_id="b", path_id="br"),
        _merged("br", "main", "merge"),
    )
    assert sorted(replay(log, path_id="main").snapshot.nodes) == ["a", "b"]
    assert sorted(replay(log, until=5, path_id="main").snapshot.nodes) == ["a"]
    assert replay(log, until=5, path_id="main").snapshot.position == 3


def test_replay_parses_payloads_given_as_json_text() -> None:
    saved = node_saved(node("a", version=1), event_id="a")
    raw = [
        LoggedEvent.of(profile_saved(profile(), event_id="p"), 1),
        LoggedEvent.of(saved, 2),
        LoggedEvent.of(event("node.saved", event_id="broken"), 3),
    ]
    raw[1] = raw[1]._replace(payload=json.dumps(saved.payload))
    raw[2] = raw[2]._replace(payload="{not json")
    result = replay(raw)
    assert list(result.snapshot.nodes) == ["a"]
    assert [p.event_id for p in result.report.problems] == ["broken"]
    assert result.snapshot.position == 3


def test_replay_takes_plain_rows_in_the_fields_order() -> None:
    # What a SQL adapter hands over: tuples of LoggedEvent's fields, payloads as text.
    saved = node_saved(node("a", version=1), event_id="a")
    logged = [
        LoggedEvent.of(profile_saved(profile(), event_id="p"), 1),
        LoggedEvent.of(saved, 2)._replace(payload=json.dumps(saved.payload)),
        LoggedEvent.of(_chat("x"), 3),
    ]
    rows = [tuple(e)[: len(LoggedEvent._fields) - 1] for e in logged]  # no "parsed"
    assert all(type(row) is tuple for row in rows)
    assert replay(rows) == replay(logged)
    assert replay(rows).report.not_replayable == {"chat.turn": 1}


def test_unknown_kinds_have_no_effects() -> None:
    assert effects_of(LoggedEvent.of(_chat("x"), 1), GraphState()) == []


def test_replay_counts_every_event_once() -> None:
    log = _log(
        _chat("c1"),
        profile_saved(profile(), event_id="p"),
        event("node.deleted", {"node_id": "ghost"}, event_id="bad"),
        event("tool.called", event_id="t1"),
        node_saved(node("a", version=1), event_id="a"),
    )
    report = replay(log).report
    assert report.applied == 2
    assert report.not_replayable == {"chat.turn": 1, "tool.called": 1}
    assert [(p.event_id, p.position) for p in report.problems] == [("bad", 3)]


def test_replayed_records_keep_their_fields_set_apart() -> None:
    # Replay lets records read from JSON text share one fields-set (fewer objects
    # for the collector): each still reports every field set, and copying one
    # with changes leaves the others as they were.
    log = [
        LoggedEvent.of(e, position)._replace(payload=json.dumps(e.payload))
        for position, e in enumerate(
            [
                profile_saved(profile("p1")),
                node_saved(node("a", profile_id="p1")),
                node_saved(node("b", profile_id="p1")),
                edge_saved(edge("e1", "a", "b", profile_id="p1")),
                edge_saved(edge("e2", "b", "a", profile_id="p1")),
            ],
            start=1,
        )
    ]
    # A payload that leaves fields out keeps its own (smaller) fields-set.
    partial = node_saved(node("c", profile_id="p1"))
    payload = {"node": {k: v for k, v in partial.payload["node"].items() if k != "content"}}
    log.append(LoggedEvent.of(partial, len(log) + 1)._replace(payload=json.dumps(payload)))
    snapshot = replay(log).snapshot
    assert snapshot.nodes["c"].model_fields_set == set(MemoryNode.model_fields) - {"content"}
    a, b = snapshot.nodes["a"], snapshot.nodes["b"]
    assert a.model_fields_set == b.model_fields_set == set(type(a).model_fields)
    changed = a.model_copy(update={"label": "changed"})
    assert changed.label == "changed" and a.label != "changed"
    assert b.model_fields_set == set(type(b).model_fields)
    e1, e2 = snapshot.edges["e1"], snapshot.edges["e2"]
    assert e1.model_fields_set == e2.model_fields_set == set(type(e1).model_fields)
    assert e1.model_copy(update={"weight": 0.25}).weight == 0.25
    assert e2.weight == e1.weight
    parsed = [e._replace(payload=json.loads(e.payload)) for e in log]
    assert snapshot.same_records(replay(parsed).snapshot)

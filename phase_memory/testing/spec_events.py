"""Conformance spec of :class:`~phase_memory.protocols.MemoryEventLog`.

Positions are only required to be strictly increasing: an adapter may leave
gaps (a rolled-back append may burn positions), so no test expects 1, 2, 3.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest

from phase_memory.errors import (
    ConflictError,
    DuplicateEventError,
    IntegrityError,
    NotFoundError,
)
from phase_memory.models import JsonObject, MemoryEvent
from phase_memory.protocols import EventPayload, MemoryStore
from phase_memory.testing.builders import (
    P1,
    event,
    ids,
    node,
    node_saved,
    path,
    profile,
    profile_saved,
    seed,
)


def _is_increasing(positions: list[int]) -> bool:
    return all(a < b for a, b in pairwise(positions))


def _positions(events: list[MemoryEvent]) -> list[int]:
    return [e.position for e in events if e.position is not None]


def _log(store: MemoryStore) -> list[MemoryEvent]:
    """Three profiles' worth of events on two paths, some shared."""
    seed(store, profile(P1), profile("p2"), path("pa"), path("pb"), path("px", profile_id="p2"))
    batch = [
        event("chat.turn", {"n": 1}, event_id="e1", path_id="pa"),
        event("tool.called", {"n": 2}, event_id="e2", path_id="pb"),
        event("chat.turn", {"n": 3}, event_id="e3"),
        event("chat.turn", {"n": 4}, event_id="e4", profile_id="p2", path_id="px"),
        event("note.taken", {"n": 5}, event_id="e5", path_id="pa"),
        event("tool.called", {"n": 6}, event_id="e6", profile_id="p2"),
    ]
    store.events.append(batch)
    return batch


# --- append -----------------------------------------------------------------------


def test_empty_log_is_at_position_zero(store: MemoryStore) -> None:
    assert store.events.last_position() == 0
    assert store.events.list() == []
    assert list(store.events.iter()) == []


def test_append_returns_strictly_increasing_positions(store: MemoryStore) -> None:
    store.graph.save_profile(profile())
    first = store.events.append([event("chat.turn"), event("chat.turn"), event("chat.turn")])
    assert len(first) == 3
    assert first[0] > 0
    assert _is_increasing(first)
    second = store.events.append([event("chat.turn")])
    assert second[0] > first[-1]
    assert store.events.last_position() == second[0]


def test_append_of_an_empty_batch_writes_nothing(store: MemoryStore) -> None:
    store.graph.save_profile(profile())
    store.events.append([event("chat.turn")])
    before = store.events.last_position()
    assert store.events.append([]) == []
    assert store.events.last_position() == before


def test_appended_events_carry_their_positions(store: MemoryStore) -> None:
    store.graph.save_profile(profile())
    batch = [event("chat.turn", event_id="a"), event("chat.turn", event_id="b")]
    positions = store.events.append(batch)
    assert [store.events.get("a").position, store.events.get("b").position] == positions
    assert _positions(store.events.list()) == positions
    assert _positions(list(store.events.iter())) == positions


def test_a_position_passed_in_is_ignored(store: MemoryStore) -> None:
    store.graph.save_profile(profile())
    store.events.append([event("chat.turn", event_id="first")])
    [position] = store.events.append([event("chat.turn", event_id="late", position=1)])
    assert position > store.events.get("first").position  # type: ignore[operator]
    assert store.events.get("late").position == position


def test_event_round_trips_every_field(store: MemoryStore) -> None:
    seed(store, profile(), path("main"))
    original = MemoryEvent(
        event_id="evt-ü-1",
        kind="tool.result.received",
        profile_id=P1,
        path_id="main",
        occurred_at=datetime(2024, 3, 4, 5, 6, 7, 890123, tzinfo=UTC),
        payload={"text": "日本語 🙂", "nested": {"list": [1, 2.5, None, True, ""]}, "big": 2**62},
        schema_version=3,
        actor="agent:planner",
        causation_id="evt-0",
    )
    store.events.append([event("chat.turn", event_id="evt-0")])
    [position] = store.events.append([original])
    stored = store.events.get("evt-ü-1")
    assert stored == original.model_copy(update={"position": position})
    assert store.events.list(kinds=["tool.result.received"]) == [stored]


def test_get_missing_event_raises(store: MemoryStore) -> None:
    with pytest.raises(NotFoundError):
        store.events.get("missing")


def test_duplicate_id_within_a_batch_writes_nothing(store: MemoryStore) -> None:
    store.graph.save_profile(profile())
    store.events.append([event("chat.turn", event_id="kept")])
    before = store.events.last_position()
    batch = [
        event("chat.turn", event_id="new-1"),
        event("chat.turn", event_id="twice"),
        event("chat.turn", event_id="new-2"),
        event("chat.turn", event_id="twice"),
    ]
    with pytest.raises(DuplicateEventError) as raised:
        store.events.append(batch)
    assert raised.value.event_id == "twice"
    assert "twice" in str(raised.value)
    assert store.events.last_position() == before
    assert ids(store.events.list()) == ["kept"]
    with pytest.raises(NotFoundError):
        store.events.get("new-1")


def test_duplicate_of_a_stored_id_writes_nothing(store: MemoryStore) -> None:
    store.graph.save_profile(profile())
    store.events.append([event("chat.turn", {"v": "original"}, event_id="stored")])
    before = store.events.last_position()
    batch = [
        event("chat.turn", event_id="fresh"),
        event("chat.turn", {"v": "copy"}, event_id="stored"),
    ]
    with pytest.raises(DuplicateEventError) as raised:
        store.events.append(batch)
    assert raised.value.event_id == "stored"
    assert store.events.last_position() == before
    assert ids(store.events.list()) == ["stored"]
    assert store.events.get("stored").payload == {"v": "original"}
    with pytest.raises(NotFoundError):
        store.events.get("fresh")


def test_log_keeps_working_after_a_refused_batch(store: MemoryStore) -> None:
    store.graph.save_profile(profile())
    store.events.append([event("chat.turn", event_id="a")])
    with pytest.raises(DuplicateEventError):
        store.events.append([event("chat.turn", event_id="b"), event("chat.turn", event_id="a")])
    positions = store.events.append([event("chat.turn", event_id="b")])
    assert positions[0] > store.events.get("a").position  # type: ignore[operator]
    assert ids(store.events.list()) == ["a", "b"]


def test_expected_position_that_matches_appends(store: MemoryStore) -> None:
    store.graph.save_profile(profile())
    store.events.append([event("chat.turn", event_id="a")], expected_position=0)
    last = store.events.last_position()
    positions = store.events.append([event("chat.turn", event_id="b")], expected_position=last)
    assert store.events.last_position() == positions[-1]
    assert ids(store.events.list()) == ["a", "b"]


def test_expected_position_that_differs_is_a_conflict(store: MemoryStore) -> None:
    store.graph.save_profile(profile())
    store.events.append([event("chat.turn", event_id="a"), event("chat.turn", event_id="b")])
    last = store.events.last_position()
    for stale in (0, last - 1, last + 1):
        with pytest.raises(ConflictError):
            store.events.append([event("chat.turn", event_id="c")], expected_position=stale)
    assert store.events.last_position() == last
    assert ids(store.events.list()) == ["a", "b"]


# --- list and iter ------------------------------------------------------------------


def test_list_without_filters_is_every_event_in_position_order(store: MemoryStore) -> None:
    batch = _log(store)
    listed = store.events.list()
    assert ids(listed) == ids(batch)
    assert _is_increasing(_positions(listed))
    assert len(_positions(listed)) == len(batch)


def test_list_filters_by_profile(store: MemoryStore) -> None:
    _log(store)
    assert ids(store.events.list(profile_id=P1)) == ["e1", "e2", "e3", "e5"]
    assert ids(store.events.list(profile_id="p2")) == ["e4", "e6"]
    assert store.events.list(profile_id="nobody") == []


def test_list_filters_by_kinds(store: MemoryStore) -> None:
    _log(store)
    assert ids(store.events.list(kinds=["chat.turn"])) == ["e1", "e3", "e4"]
    assert ids(store.events.list(kinds=["tool.called", "note.taken"])) == ["e2", "e5", "e6"]
    assert store.events.list(kinds=["never.seen"]) == []
    assert store.events.list(kinds=[]) == []


def test_list_filters_by_path(store: MemoryStore) -> None:
    _log(store)
    assert ids(store.events.list(path_id="pa")) == ["e1", "e5"]
    assert ids(store.events.list(path_id="px")) == ["e4"]
    assert store.events.list(path_id="nowhere") == []


def test_an_event_in_a_path_that_never_exists_is_refused_at_commit(store: MemoryStore) -> None:
    seed(store, profile(P1))
    with pytest.raises(IntegrityError):
        store.events.append([event("chat.turn", path_id="nowhere")])
    assert store.events.last_position() == 0


def test_an_event_may_precede_its_path_inside_one_transaction(store: MemoryStore) -> None:
    """The path check is deferred to commit, so an event can open its own path."""
    seed(store, profile(P1))
    with store.transaction():
        store.events.append([event("chat.turn", path_id="later")])
        store.graph.save_path(path("later"))
    assert [e.path_id for e in store.events.list()] == ["later"]


def test_list_after_is_exclusive(store: MemoryStore) -> None:
    _log(store)
    positions = _positions(store.events.list())
    assert ids(store.events.list(after=positions[2])) == ["e4", "e5", "e6"]
    assert ids(store.events.list(after=0)) == ["e1", "e2", "e3", "e4", "e5", "e6"]
    assert store.events.list(after=positions[-1]) == []


def test_list_limit(store: MemoryStore) -> None:
    _log(store)
    assert ids(store.events.list(limit=2)) == ["e1", "e2"]
    assert store.events.list(limit=0) == []
    assert ids(store.events.list(limit=100)) == ["e1", "e2", "e3", "e4", "e5", "e6"]


def test_list_filters_combine(store: MemoryStore) -> None:
    _log(store)
    positions = _positions(store.events.list())
    assert ids(store.events.list(profile_id=P1, kinds=["chat.turn"])) == ["e1", "e3"]
    assert ids(store.events.list(profile_id=P1, path_id="pa", after=positions[0])) == ["e5"]
    assert ids(store.events.list(profile_id=P1, after=positions[0], limit=2)) == ["e2", "e3"]
    assert ids(store.events.list(kinds=["tool.called"], limit=1)) == ["e2"]
    assert store.events.list(profile_id="p2", path_id="pa") == []


def test_payloads_are_what_list_reads_for_every_filter(store: MemoryStore) -> None:
    _log(store)
    p = _positions(store.events.list())
    kinds = ["chat.turn", "tool.called", "note.taken", "a.b", "c.d", "e.f"]  # more than a few
    every: list[dict[str, Any]] = [
        {},
        {"profile_id": P1, "kinds": ["chat.turn"]},
        {"path_id": "pa", "kinds": ["chat.turn", "note.taken"]},
        {"kinds": kinds, "after": p[1]},
        {"kinds": ["tool.called"], "limit": 1, "newest_first": True},
        {"path_id": "pa", "after": p[0], "limit": 5, "newest_first": True},
        {"kinds": []},
        {"limit": 0},
    ]
    for filters in every:
        listed = store.events.list(**filters)
        assert store.events.payloads(**filters) == [
            EventPayload(e.position or 0, e.event_id, e.kind, e.path_id, e.payload)
            for e in listed
        ], filters
    [first] = store.events.payloads(path_id="pb")
    assert first.event_id == "e2" and first.payload == {"n": 2} and first.path_id == "pb"


def test_newest_per_path_gives_the_tip_of_every_branch_of_a_tree(store: MemoryStore) -> None:
    seed(
        store, profile(P1), path("root"),
        path("root-b", parent_path_id="root", root_path_id="root"),
        path("root-c", parent_path_id="root-b", root_path_id="root"),
        path("root-quiet", parent_path_id="root", root_path_id="root"),
        path("elsewhere"),
    )
    store.events.append([
        event("chat.turn", {"n": 1}, event_id="r1", path_id="root"),
        event("tool.called", {"n": 2}, event_id="b1", path_id="root-b"),
        event("chat.turn", {"n": 3}, event_id="r2", path_id="root"),
        event("chat.turn", {"n": 4}, event_id="x1", path_id="elsewhere"),
        event("note.taken", {"n": 5}, event_id="c1", path_id="root-c"),
        event("chat.turn", {"n": 6}, event_id="b2", path_id="root-b"),
        event("tool.called", {"n": 7}, event_id="r3", path_id="root"),
        event("chat.turn", {"n": 8}, event_id="loose"),
    ])
    tree = ["root", "root-b", "root-c", "root-quiet"]
    many = ["chat.turn", "tool.called", "a.b", "c.d", "e.f", "g.h"]  # more than a few
    for kinds in (None, ["chat.turn"], ["tool.called", "note.taken"], many, ["a.b"], []):
        expected = [
            newest
            for path_id in tree
            for newest in store.events.payloads(
                path_id=path_id, kinds=kinds, limit=1, newest_first=True
            )
        ]
        assert store.events.newest_per_path("root", kinds) == expected, kinds
    assert [e.event_id for e in store.events.newest_per_path("root")] == ["r3", "b2", "c1"]
    assert [e.event_id for e in store.events.newest_per_path("root", ["chat.turn"])] == [
        "r2", "b2"
    ]
    assert store.events.newest_per_path("root-b") == []  # a branch roots no tree
    assert store.events.newest_per_path("missing") == []


def test_limit_applies_after_filtering(store: MemoryStore) -> None:
    _log(store)
    assert ids(store.events.list(profile_id="p2", limit=1)) == ["e4"]
    assert ids(store.events.list(kinds=["tool.called", "note.taken"], limit=2)) == ["e2", "e5"]


def test_iter_streams_between_after_and_until(store: MemoryStore) -> None:
    _log(store)
    p = _positions(store.events.list())
    assert ids(list(store.events.iter())) == ["e1", "e2", "e3", "e4", "e5", "e6"]
    assert ids(list(store.events.iter(after=p[1]))) == ["e3", "e4", "e5", "e6"]
    assert ids(list(store.events.iter(until=p[2]))) == ["e1", "e2", "e3"]
    assert ids(list(store.events.iter(after=p[1], until=p[3]))) == ["e3", "e4"]
    assert ids(list(store.events.iter(profile_id="p2"))) == ["e4", "e6"]
    between = store.events.iter(profile_id=P1, after=p[0], until=p[4])
    assert ids(list(between)) == ["e2", "e3", "e5"]
    assert list(store.events.iter(after=p[3], until=p[3])) == []


def test_listing_interleaved_batches_keeps_position_order(store: MemoryStore) -> None:
    seed(store, profile(P1), profile("p2"))
    for round_ in range(4):
        store.events.append(
            [event("chat.turn", {"r": round_}, profile_id=P1),
             event("chat.turn", {"r": round_}, profile_id="p2")]
        )
    for profile_id in (P1, "p2"):
        listed = store.events.list(profile_id=profile_id)
        assert [e.payload["r"] for e in listed] == [0, 1, 2, 3]
        assert _is_increasing(_positions(listed))


# --- kinds replay does not know ---------------------------------------------------------


def test_events_of_any_dotted_kind_are_stored_listed_and_counted(store: MemoryStore) -> None:
    seed(store, profile())
    store.events.append(
        [
            event("chat.turn", {"text": "hi"}, event_id="x1"),
            profile_saved(profile(), event_id="x0"),
            event("node.saved", {"node": node("n1").model_dump(mode="json")}, event_id="x2"),
            event("tool.called", {"tool": "search"}, event_id="x3"),
            event("chat.turn", {"text": "bye"}, event_id="x4"),
        ]
    )
    assert ids(store.events.list()) == ["x1", "x0", "x2", "x3", "x4"]
    assert ids(store.events.list(kinds=["tool.called"])) == ["x3"]
    result = store.events.replay()
    assert result.report.not_replayable == {"chat.turn": 2, "tool.called": 1}
    assert result.report.applied == 2
    assert result.report.problems == []
    assert list(result.snapshot.nodes) == ["n1"]


# --- find_mentioning and replace_payloads ------------------------------------------------


def test_find_mentioning_searches_payloads_anywhere(store: MemoryStore) -> None:
    seed(store, profile())
    store.events.append(
        [
            event("chat.turn", {"text": "the secret word is xyzzy"}, event_id="m1"),
            event("chat.turn", {"text": "nothing here"}, event_id="m2"),
            event("chat.turn", {"deep": {"list": ["a", "plugh xyzzy"]}}, event_id="m3"),
            event("chat.turn", {"text": "XYZ only"}, event_id="m4"),
        ]
    )
    assert ids(store.events.find_mentioning("xyzzy")) == ["m1", "m3"]
    assert store.events.find_mentioning("not anywhere") == []


def test_find_mentioning_unicode_and_quotes(store: MemoryStore) -> None:
    seed(store, profile())
    store.events.append(
        [
            event("chat.turn", {"text": "Grüße aus Köln 🙂"}, event_id="u1"),
            event("chat.turn", {"text": 'she said "hello"'}, event_id="u2"),
            event("chat.turn", {"text": "plain"}, event_id="u3"),
        ]
    )
    assert ids(store.events.find_mentioning("Köln 🙂")) == ["u1"]
    assert ids(store.events.find_mentioning('"hello"')) == ["u2"]


def test_find_mentioning_returns_events_with_positions(store: MemoryStore) -> None:
    seed(store, profile())
    positions = store.events.append(
        [event("chat.turn", {"t": "needle"}), event("chat.turn", {"t": "needle too"})]
    )
    assert _positions(store.events.find_mentioning("needle")) == positions


def test_replace_payloads_rewrites_only_the_named_events(store: MemoryStore) -> None:
    seed(store, profile())
    positions = store.events.append(
        [
            event("chat.turn", {"text": "secret one"}, event_id="r1"),
            event("chat.turn", {"text": "keep me"}, event_id="r2"),
            event("chat.turn", {"text": "secret two"}, event_id="r3"),
        ]
    )
    marker: JsonObject = {"redacted": {"node_ids": ["n"]}}
    store.events.replace_payloads({"r1": marker, "r3": marker})
    assert store.events.get("r1").payload == marker
    assert store.events.get("r2").payload == {"text": "keep me"}
    assert store.events.get("r3").payload == marker
    assert _positions(store.events.list()) == positions
    assert store.events.find_mentioning("secret") == []
    assert store.events.get("r1").kind == "chat.turn"


def test_replace_payloads_of_a_missing_event_raises(store: MemoryStore) -> None:
    seed(store, profile())
    store.events.append([event("chat.turn", {"text": "x"}, event_id="r1")])
    with pytest.raises(NotFoundError):
        store.events.replace_payloads({"r1": {"redacted": {}}, "missing": {"redacted": {}}})
    assert store.events.get("r1").payload == {"text": "x"}


def test_node_saved_payload_round_trips_through_the_log(store: MemoryStore) -> None:
    seed(store, profile())
    saved = node("n1", content="Über 🙂", attributes={"k": [1, {"v": None}]})
    store.events.append([node_saved(saved, event_id="ns")])
    assert store.events.get("ns").payload == {"node": saved.model_dump(mode="json")}


def test_a_large_batch_appends_in_order(store: MemoryStore) -> None:
    seed(store, profile())
    batch = [event("chat.turn", {"i": i}, event_id=f"bulk-{i:04d}") for i in range(1500)]
    positions = store.events.append(batch)
    assert len(positions) == 1500
    assert _is_increasing(positions)
    listed = store.events.list()
    assert [e.payload["i"] for e in listed] == list(range(1500))
    assert _positions(listed) == positions
    assert ids(store.events.list(after=positions[999], limit=3)) == [
        "bulk-1000", "bulk-1001", "bulk-1002",
    ]


def test_find_mentioning_any_of_several_texts_finds_each_event_once(store: MemoryStore) -> None:
    seed(store, profile(P1))
    store.events.append([
        event("m.x", {"t": "alpha"}, event_id="s1"),
        event("m.x", {"t": "beta and alpha"}, event_id="s2"),
        event("m.x", {"t": "gamma"}, event_id="s3"),
        event("m.x", {"t": "delta"}, event_id="s4"),
    ])
    assert ids(store.events.find_mentioning("alpha", "gamma")) == ["s1", "s2", "s3"]
    assert ids(store.events.find_mentioning("nothing", "delta")) == ["s4"]


def test_list_newest_first_gives_the_latest_events_of_a_path(store: MemoryStore) -> None:
    store.graph.save_profile(profile())
    store.events.append([event("chat.turn", event_id="shared")])
    oldest_first = [event("chat.turn", event_id=f"e{i}") for i in range(4)]
    store.events.append(oldest_first)
    newest = store.events.list(kinds=["chat.turn"], newest_first=True)
    assert [e.event_id for e in newest] == ["e3", "e2", "e1", "e0", "shared"]
    latest = store.events.list(kinds=["chat.turn"], after=1, limit=2, newest_first=True)
    assert [e.event_id for e in latest] == ["e3", "e2"]
    unfiltered = store.events.list(limit=1, newest_first=True)
    assert [e.event_id for e in unfiltered] == ["e3"]

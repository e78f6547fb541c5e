"""Conformance spec of :class:`~phase_memory.PhaseMemoryRuntime` writes over every adapter.

Every runtime write is an event appended together with its graph effect in one
transaction. These tests check that a refused write leaves neither the event
nor any part of its effect, that the convenience writers record the matching
events, that versions, timestamps and profile policies are enforced, and that
only :class:`~phase_memory.errors.PhaseMemoryError` subclasses escape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pydantic
import pytest

from phase_memory.errors import (
    ConflictError,
    DuplicateEventError,
    IntegrityError,
    NotFoundError,
    PathStateError,
    PhaseMemoryError,
    PolicyViolationError,
    ValidationError,
)
from phase_memory.models import (
    EdgeSaved,
    MemoryEvent,
    MemoryNode,
    NodeSaved,
    ProfilePolicy,
    ProfileSaved,
)
from phase_memory.runtime.runtime import PhaseMemoryRuntime
from phase_memory.testing.builders import (
    P1,
    T0,
    edge,
    edge_saved,
    event,
    ids,
    node,
    node_saved,
    path,
    path_opened,
    profile,
    profile_saved,
)


class Boom(Exception):
    """An error raised on purpose inside a transaction."""


@contextmanager
def nothing_written(mem: PhaseMemoryRuntime) -> Iterator[None]:
    """Assert that the block leaves the log and the graph exactly as they were."""
    position = mem.events.last_position()
    graph = mem.graph.snapshot()
    audit = mem.audit.list()
    yield
    assert mem.events.last_position() == position
    assert mem.graph.snapshot() == graph
    assert mem.audit.list() == audit


def _base(mem: PhaseMemoryRuntime) -> None:
    """Profile p1 with nodes a and b."""
    mem.save_profile(profile())
    mem.save_node(node("a"))
    mem.save_node(node("b"))


def _last(mem: PhaseMemoryRuntime) -> MemoryEvent:
    return mem.events.list()[-1]


def _agrees_with_replay(mem: PhaseMemoryRuntime) -> None:
    replayed = mem.events.replay()
    assert replayed.report.problems == []
    assert mem.graph.snapshot().same_records(replayed.snapshot)


# --- record / record_many -----------------------------------------------------------


def test_record_appends_and_applies_the_graph_effect(mem: PhaseMemoryRuntime) -> None:
    recorded = mem.record(profile_saved(profile(), event_id="ev-profile"))
    assert recorded.event_id == "ev-profile"
    assert recorded.position == mem.events.last_position()
    assert mem.events.get("ev-profile").position == recorded.position
    assert mem.graph.get_profile(P1) == profile()
    recorded = mem.record(node_saved(node("a", version=1), event_id="ev-a"))
    assert mem.graph.get_node("a") == node("a", version=1)
    _agrees_with_replay(mem)


def test_record_many_assigns_increasing_positions_and_applies_every_effect(
    mem: PhaseMemoryRuntime,
) -> None:
    recorded = mem.record_many(
        [
            profile_saved(profile(), event_id="e1"),
            node_saved(node("a", version=1), event_id="e2"),
            node_saved(node("b", version=1), event_id="e3"),
            edge_saved(edge("ab", "a", "b"), event_id="e4"),
        ]
    )
    positions = [e.position or 0 for e in recorded]
    assert ids(recorded) == ["e1", "e2", "e3", "e4"]
    assert all(p > 0 for p in positions)
    assert positions == sorted(positions) and len(set(positions)) == 4
    assert positions[-1] == mem.events.last_position()
    assert ids(mem.graph.list_nodes(P1)) == ["a", "b"]
    assert mem.graph.get_edge("ab") == edge("ab", "a", "b")
    _agrees_with_replay(mem)


def test_record_many_of_nothing_writes_nothing(mem: PhaseMemoryRuntime) -> None:
    with nothing_written(mem):
        assert mem.record_many([]) == []


def test_a_batch_sees_the_effects_of_its_own_earlier_events(mem: PhaseMemoryRuntime) -> None:
    # The profile and the path are created by events earlier in the same batch.
    opened = event(
        "path.opened",
        {"path": {"id": "r", "profile_id": P1, "root_path_id": "r",
                  "created_at": "2024-05-01T12:00:00Z", "updated_at": "2024-05-01T12:00:00Z"}},
        path_id="r",
    )
    mem.record_many(
        [
            profile_saved(profile()),
            opened,
            node_saved(node("a", version=1), path_id="r"),
            event("chat.turn", {"turn": 1}, path_id="r"),
        ]
    )
    assert mem.graph.get_node("a").version == 1
    assert mem.paths.get("r").status.value == "open"
    assert [e.kind for e in mem.events.list(path_id="r")] == [
        "path.opened", "node.saved", "chat.turn",
    ]


def test_a_failed_projection_in_the_middle_of_a_batch_writes_nothing(
    mem: PhaseMemoryRuntime,
) -> None:
    _base(mem)
    batch = [
        node_saved(node("c", version=1), event_id="ok-1"),
        edge_saved(edge("a-missing", "a", "missing"), event_id="broken"),
        node_saved(node("d", version=1), event_id="ok-2"),
    ]
    with nothing_written(mem), pytest.raises(IntegrityError):
        mem.record_many(batch)
    for event_id in ("ok-1", "broken", "ok-2"):
        with pytest.raises(NotFoundError):
            mem.events.get(event_id)
    assert mem.graph.find_node("c") is None
    # The runtime keeps working afterwards.
    mem.record_many([batch[0], batch[2]])
    assert ids(mem.graph.list_nodes(P1)) == ["a", "b", "c", "d"]
    _agrees_with_replay(mem)


def test_a_failed_projection_of_the_first_event_writes_nothing(mem: PhaseMemoryRuntime) -> None:
    _base(mem)
    with nothing_written(mem), pytest.raises(IntegrityError):
        mem.record(event("node.deleted", {"node_id": "missing"}))
    with nothing_written(mem), pytest.raises(IntegrityError):
        mem.record(event("edge.deleted", {"edge_id": "missing"}))


def test_a_duplicate_event_id_in_a_batch_writes_nothing(mem: PhaseMemoryRuntime) -> None:
    _base(mem)
    mem.record(event("chat.turn", event_id="taken"))
    with nothing_written(mem), pytest.raises(DuplicateEventError):
        mem.record_many([node_saved(node("c", version=1)), event("chat.turn", event_id="taken")])
    with nothing_written(mem), pytest.raises(DuplicateEventError):
        mem.record_many(
            [event("chat.turn", event_id="twice"), event("chat.turn", event_id="twice")]
        )


def test_events_without_a_graph_effect_are_stored_and_change_nothing(
    mem: PhaseMemoryRuntime,
) -> None:
    _base(mem)
    graph = mem.graph.snapshot()
    recorded = mem.record(event("chat.turn", {"tokens": 12, "tool": "search"}))
    assert mem.events.get(recorded.event_id).payload == {"tokens": 12, "tool": "search"}
    assert mem.graph.snapshot() == graph
    assert mem.events.replay().report.not_replayable == {"chat.turn": 1}


def test_a_failing_block_rolls_back_runtime_writes_inside_it(mem: PhaseMemoryRuntime) -> None:
    _base(mem)
    with nothing_written(mem), pytest.raises(Boom), mem.store.transaction():
        mem.save_node(node("c"))
        mem.save_edge(edge("ac", "a", "c"))
        mem.delete_node("b")
        raise Boom


def test_malformed_payload_of_a_replayable_kind_is_refused(mem: PhaseMemoryRuntime) -> None:
    _base(mem)
    with nothing_written(mem), pytest.raises(ValidationError):
        mem.record(event("node.saved", {"node": {"id": "x"}}))
    with nothing_written(mem), pytest.raises(ValidationError):
        mem.record(event("edge.saved", {"something": "else"}))


def test_unknown_schema_version_of_a_replayable_kind_is_refused(mem: PhaseMemoryRuntime) -> None:
    _base(mem)
    with nothing_written(mem), pytest.raises(ValidationError):
        mem.record(node_saved(node("c", version=1), schema_version=99))
    # Kinds without a graph effect are stored whatever their schema version.
    mem.record(event("chat.turn", schema_version=99))


def test_the_runtime_actor_is_written_on_the_events_it_builds(mem: PhaseMemoryRuntime) -> None:
    alice = PhaseMemoryRuntime(mem.store, actor="alice")
    alice.save_profile(profile())
    alice.save_node(node("a"))
    alice.paths.open(P1)
    assert {e.actor for e in mem.events.list()} == {"alice"}


# --- convenience writers go through events ------------------------------------------


def test_save_profile_records_profile_saved(mem: PhaseMemoryRuntime) -> None:
    stored = mem.save_profile(profile(description="mine"))
    recorded = _last(mem)
    assert recorded.kind == "profile.saved"
    assert recorded.profile_id == P1
    assert recorded.path_id is None
    assert ProfileSaved.model_validate(recorded.payload).profile == stored
    assert recorded.payload == {"profile": stored.model_dump(mode="json")}
    assert mem.graph.get_profile(P1) == stored == profile(description="mine")


def test_save_node_records_node_saved_with_the_stored_node(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    stored = mem.save_node(node("a", content="likes tea", salience=0.9))
    recorded = _last(mem)
    assert recorded.kind == "node.saved"
    assert recorded.profile_id == P1
    assert recorded.payload == {"node": stored.model_dump(mode="json")}
    assert NodeSaved.model_validate(recorded.payload).node == stored
    assert stored == node("a", content="likes tea", salience=0.9, version=1)
    assert mem.graph.get_node("a") == stored


def test_save_edge_records_edge_saved(mem: PhaseMemoryRuntime) -> None:
    _base(mem)
    stored = mem.save_edge(edge("ab", "a", "b", weight=0.25))
    recorded = _last(mem)
    assert recorded.kind == "edge.saved"
    assert recorded.profile_id == P1
    assert recorded.payload == {"edge": stored.model_dump(mode="json")}
    assert EdgeSaved.model_validate(recorded.payload).edge == stored
    assert mem.graph.get_edge("ab") == stored == edge("ab", "a", "b", weight=0.25)


def test_delete_node_records_node_deleted_and_removes_its_edges(mem: PhaseMemoryRuntime) -> None:
    _base(mem)
    mem.save_node(node("c"))
    mem.save_edge(edge("ab", "a", "b"))
    mem.save_edge(edge("ca", "c", "a"))
    mem.save_edge(edge("bc", "b", "c"))
    mem.delete_node("a")
    recorded = _last(mem)
    assert (recorded.kind, recorded.profile_id, recorded.payload) == (
        "node.deleted", P1, {"node_id": "a"},
    )
    assert mem.graph.find_node("a") is None
    assert ids(mem.graph.list_edges(P1)) == ["bc"]
    _agrees_with_replay(mem)


def test_delete_edge_records_edge_deleted(mem: PhaseMemoryRuntime) -> None:
    _base(mem)
    mem.save_edge(edge("ab", "a", "b"))
    mem.delete_edge("ab")
    recorded = _last(mem)
    assert (recorded.kind, recorded.profile_id, recorded.payload) == (
        "edge.deleted", P1, {"edge_id": "ab"},
    )
    assert mem.graph.find_edge("ab") is None
    assert ids(mem.graph.list_nodes(P1)) == ["a", "b"]


def test_every_writer_records_exactly_one_event(mem: PhaseMemoryRuntime) -> None:
    writes: list[tuple[str, Callable[[], object]]] = [
        ("profile.saved", lambda: mem.save_profile(profile())),
        ("node.saved", lambda: mem.save_node(node("a"))),
        ("node.saved", lambda: mem.save_node(node("b"))),
        ("edge.saved", lambda: mem.save_edge(edge("ab", "a", "b"))),
        ("edge.deleted", lambda: mem.delete_edge("ab")),
        ("node.deleted", lambda: mem.delete_node("b")),
    ]
    for kind, write in writes:
        before = mem.events.last_position()
        write()
        new = mem.events.list(after=before)
        assert [e.kind for e in new] == [kind]
    _agrees_with_replay(mem)


def test_writers_record_in_the_path_they_are_given(mem: PhaseMemoryRuntime) -> None:
    _base(mem)
    opened = mem.paths.open(P1)
    mem.save_node(node("c"), path_id=opened.id)
    mem.save_edge(edge("ac", "a", "c"), path_id=opened.id)
    mem.delete_edge("ac", path_id=opened.id)
    mem.delete_node("c", path_id=opened.id)
    kinds = [e.kind for e in mem.events.list(path_id=opened.id)]
    assert kinds == ["path.opened", "node.saved", "edge.saved", "edge.deleted", "node.deleted"]
    assert all(e.path_id is None for e in mem.events.list(kinds=["profile.saved"]))


# --- versions and timestamps ------------------------------------------------------------


def test_save_node_increments_the_version_on_every_save(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    versions = [mem.save_node(node("a", label=f"v{i}")).version for i in range(4)]
    assert versions == [1, 2, 3, 4]
    assert mem.graph.get_node("a").version == 4
    assert mem.graph.get_node("a").label == "v3"
    # The version a caller passes in is not trusted.
    assert mem.save_node(node("a", version=40)).version == 5
    _agrees_with_replay(mem)


def test_expected_version_makes_a_save_conditional(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    assert mem.save_node(node("a"), expected_version=0).version == 1
    assert mem.save_node(node("a", label="two"), expected_version=1).version == 2
    with nothing_written(mem), pytest.raises(ConflictError):
        mem.save_node(node("a", label="stale"), expected_version=1)
    with nothing_written(mem), pytest.raises(ConflictError):
        mem.save_node(node("a", label="new?"), expected_version=0)
    with nothing_written(mem), pytest.raises(ConflictError):
        mem.save_node(node("never-saved"), expected_version=3)
    assert mem.graph.get_node("a").label == "two"


def test_updates_keep_created_at_and_move_updated_at(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    later = T0 + timedelta(days=3)
    first = mem.save_node(node("a"))
    assert (first.created_at, first.updated_at) == (T0, T0)
    second = mem.save_node(node("a", label="changed", created_at=later, updated_at=later))
    assert second.created_at == T0
    assert second.updated_at > T0
    assert mem.graph.get_node("a").created_at == T0

    mem.save_node(node("b"))
    mem.save_edge(edge("ab", "a", "b"))
    moved = mem.save_edge(edge("ab", "a", "b", weight=2.0, created_at=later))
    assert moved.created_at == T0
    assert mem.graph.get_edge("ab").created_at == T0

    renamed = mem.save_profile(profile(name="renamed").model_copy(update={"created_at": later}))
    assert renamed.created_at == T0
    assert mem.graph.get_profile(P1).created_at == T0
    assert mem.graph.get_profile(P1).name == "renamed"
    _agrees_with_replay(mem)


# --- profile policy -----------------------------------------------------------------------


def _strict(mem: PhaseMemoryRuntime) -> None:
    policy = ProfilePolicy(
        node_kinds=frozenset({"note", "fact"}), edge_kinds=frozenset({"related"})
    )
    mem.save_profile(profile(policy=policy))
    mem.save_node(node("a"))
    mem.save_node(node("b", kind="fact"))


def test_node_kinds_outside_the_allow_list_are_refused(mem: PhaseMemoryRuntime) -> None:
    _strict(mem)
    with nothing_written(mem), pytest.raises(PolicyViolationError):
        mem.save_node(node("c", kind="secret.plan"))
    with nothing_written(mem), pytest.raises(PolicyViolationError):
        mem.save_node(node("a", kind="secret.plan"))  # nor may an update change the kind
    with nothing_written(mem), pytest.raises(PolicyViolationError):
        mem.record(node_saved(node("c", kind="secret.plan", version=1)))
    assert mem.graph.find_node("c") is None
    assert mem.graph.get_node("a").kind == "note"


def test_edge_kinds_outside_the_allow_list_are_refused(mem: PhaseMemoryRuntime) -> None:
    _strict(mem)
    mem.save_edge(edge("ok", "a", "b"))
    with nothing_written(mem), pytest.raises(PolicyViolationError):
        mem.save_edge(edge("bad", "a", "b", kind="blocks"))
    with nothing_written(mem), pytest.raises(PolicyViolationError):
        mem.record(edge_saved(edge("bad", "a", "b", kind="blocks")))
    assert ids(mem.graph.list_edges(P1)) == ["ok"]


def test_a_policy_violation_anywhere_in_a_batch_writes_nothing(mem: PhaseMemoryRuntime) -> None:
    _strict(mem)
    batch = [
        node_saved(node("c", version=1)),
        edge_saved(edge("ac", "a", "c")),
        node_saved(node("d", kind="forbidden", version=1)),
    ]
    with nothing_written(mem), pytest.raises(PolicyViolationError):
        mem.record_many(batch)


def test_a_profile_without_allow_lists_accepts_any_kind(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    mem.save_node(node("a", kind="anything.goes"))
    mem.save_node(node("b", kind="x"))
    mem.save_edge(edge("ab", "a", "b", kind="whatever"))
    assert mem.graph.get_edge("ab").kind == "whatever"


def test_a_policy_change_governs_later_writes(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    mem.save_node(node("a", kind="episode"))
    mem.save_profile(profile(policy=ProfilePolicy(node_kinds=frozenset({"note"}))))
    with nothing_written(mem), pytest.raises(PolicyViolationError):
        mem.save_node(node("b", kind="episode"))
    mem.save_node(node("b"))


def test_a_record_must_belong_to_the_event_profile(mem: PhaseMemoryRuntime) -> None:
    _base(mem)
    mem.save_profile(profile("p2"))
    with nothing_written(mem), pytest.raises(PolicyViolationError):
        mem.record(node_saved(node("x", "p2", version=1), profile_id=P1))
    with nothing_written(mem), pytest.raises(PolicyViolationError):
        mem.record(edge_saved(edge("ab", "a", "b"), profile_id="p2"))


def test_edges_must_join_nodes_of_their_own_profile(mem: PhaseMemoryRuntime) -> None:
    _base(mem)
    mem.save_profile(profile("p2"))
    mem.save_node(node("z", "p2"))
    with nothing_written(mem), pytest.raises(IntegrityError):
        mem.save_edge(edge("az", "a", "z"))
    with nothing_written(mem), pytest.raises(IntegrityError):
        mem.save_edge(edge("za", "z", "a", profile_id="p2"))


def test_a_node_with_edges_cannot_move_to_another_profile(mem: PhaseMemoryRuntime) -> None:
    _base(mem)
    mem.save_profile(profile("p2"))
    mem.save_edge(edge("ab", "a", "b"))
    with nothing_written(mem), pytest.raises(IntegrityError):
        mem.save_node(node("a", "p2"))
    mem.delete_edge("ab")
    assert mem.save_node(node("a", "p2")).profile_id == "p2"
    _agrees_with_replay(mem)


def test_an_edge_to_a_missing_node_is_refused(mem: PhaseMemoryRuntime) -> None:
    _base(mem)
    with nothing_written(mem), pytest.raises(IntegrityError):
        mem.save_edge(edge("ax", "a", "missing"))
    with nothing_written(mem), pytest.raises(IntegrityError):
        mem.save_edge(edge("xa", "missing", "a"))


# --- paths and missing records ------------------------------------------------------------


def test_recording_into_a_merged_path_is_refused(mem: PhaseMemoryRuntime) -> None:
    _base(mem)
    root = mem.paths.open(P1)
    branch = mem.paths.branch(root.id)
    mem.paths.merge(branch.id, into=root.id)
    writes: list[Callable[[], object]] = [
        lambda: mem.save_node(node("c"), path_id=branch.id),
        lambda: mem.save_edge(edge("ab", "a", "b"), path_id=branch.id),
        lambda: mem.delete_node("a", path_id=branch.id),
        lambda: mem.record(event("chat.turn", path_id=branch.id)),
        lambda: mem.record(profile_saved(profile(), path_id=branch.id)),
    ]
    for write in writes:
        with nothing_written(mem), pytest.raises(PathStateError):
            write()


def test_recording_into_an_abandoned_path_is_refused(mem: PhaseMemoryRuntime) -> None:
    _base(mem)
    root = mem.paths.open(P1)
    mem.paths.abandon(root.id, reason="wrong turn")
    with nothing_written(mem), pytest.raises(PathStateError):
        mem.save_node(node("c"), path_id=root.id)
    with nothing_written(mem), pytest.raises(PathStateError):
        mem.record(event("chat.turn", path_id=root.id))
    with nothing_written(mem), pytest.raises(PathStateError):
        mem.record_many([event("chat.turn"), event("chat.turn", path_id=root.id)])


def test_a_path_closed_earlier_in_the_batch_is_closed_for_the_rest(
    mem: PhaseMemoryRuntime,
) -> None:
    _base(mem)
    root = mem.paths.open(P1)
    abandon = event("path.abandoned", {"path_id": root.id, "reason": "done"}, path_id=root.id)
    with nothing_written(mem), pytest.raises(PathStateError):
        mem.record_many([abandon, node_saved(node("c", version=1), path_id=root.id)])
    assert mem.paths.get(root.id).status.value == "open"


def test_an_unknown_profile_is_not_found(mem: PhaseMemoryRuntime) -> None:
    writes: list[Callable[[], object]] = [
        lambda: mem.save_node(node("a", "nobody")),
        lambda: mem.save_edge(edge("ab", "a", "b", "nobody")),
        lambda: mem.record(event("chat.turn", profile_id="nobody")),
        lambda: mem.paths.open("nobody"),
    ]
    for write in writes:
        with nothing_written(mem), pytest.raises(NotFoundError):
            write()


def test_an_unknown_path_is_not_found(mem: PhaseMemoryRuntime) -> None:
    _base(mem)
    writes: list[Callable[[], object]] = [
        lambda: mem.save_node(node("c"), path_id="nowhere"),
        lambda: mem.record(event("chat.turn", path_id="nowhere")),
        lambda: mem.record(profile_saved(profile(), path_id="nowhere")),
        lambda: mem.paths.get("nowhere"),
        lambda: mem.paths.branch("nowhere"),
        lambda: mem.paths.merge("nowhere", into="nowhere-else"),
        lambda: mem.paths.abandon("nowhere", reason="x"),
        lambda: mem.paths.activate("nowhere"),
        lambda: mem.paths.events("nowhere"),
        lambda: mem.paths.lineage("nowhere"),
    ]
    for write in writes:
        with nothing_written(mem), pytest.raises(NotFoundError):
            write()


def test_deleting_a_missing_record_is_not_found(mem: PhaseMemoryRuntime) -> None:
    _base(mem)
    with nothing_written(mem), pytest.raises(NotFoundError):
        mem.delete_node("missing")
    with nothing_written(mem), pytest.raises(NotFoundError):
        mem.delete_edge("missing")


def test_opening_a_path_id_that_exists_is_a_conflict(mem: PhaseMemoryRuntime) -> None:
    _base(mem)
    mem.paths.open(P1, path_id="chat")
    with nothing_written(mem), pytest.raises(ConflictError):
        mem.paths.open(P1, path_id="chat")
    with nothing_written(mem), pytest.raises(ConflictError):
        mem.paths.branch("chat", new_path_id="chat")


def test_a_path_must_belong_to_the_profile_of_its_opening_event(
    mem: PhaseMemoryRuntime,
) -> None:
    _base(mem)
    mem.save_profile(profile("p2"))
    root = mem.paths.open(P1)
    with nothing_written(mem), pytest.raises(PolicyViolationError):
        mem.record(path_opened(path("elsewhere", "p2"), profile_id=P1))
    foreign_branch = path("cross", "p2", parent_path_id=root.id, root_path_id=root.id)
    with nothing_written(mem), pytest.raises(IntegrityError):
        mem.record(path_opened(foreign_branch))


# --- only phase-memory errors escape ---------------------------------------------------------


def test_only_phase_memory_errors_escape(mem: PhaseMemoryRuntime) -> None:
    _base(mem)
    mem.save_edge(edge("ab", "a", "b"))
    root = mem.paths.open(P1)
    gone = mem.paths.open(P1)
    mem.paths.abandon(gone.id, reason="x")
    mem.record(event("chat.turn", event_id="taken"))
    bad: list[Callable[[], object]] = [
        lambda: mem.record(event("chat.turn", event_id="taken")),
        lambda: mem.record(event("chat.turn", profile_id="nobody")),
        lambda: mem.record(event("chat.turn", path_id="nowhere")),
        lambda: mem.record(event("chat.turn", path_id=gone.id)),
        lambda: mem.record(event("node.saved", {"node": 3})),
        lambda: mem.record(event("node.deleted", {"node_id": "missing"})),
        lambda: mem.record(node_saved(node("x", "nobody", version=1), profile_id=P1)),
        lambda: mem.save_node(node("a"), expected_version=7),
        lambda: mem.save_node(node("q", "nobody")),
        lambda: mem.save_edge(edge("ax", "a", "x")),
        lambda: mem.save_edge(edge("aa", "a", "a", profile_id="nobody")),
        lambda: mem.delete_node("x"),
        lambda: mem.delete_edge("x"),
        lambda: mem.paths.open("nobody"),
        lambda: mem.paths.branch(root.id, at="not-an-event"),
        lambda: mem.paths.merge(root.id, into=root.id),
        lambda: mem.paths.merge(gone.id, into=root.id),
        lambda: mem.paths.abandon(gone.id, reason="again"),
        lambda: mem.paths.activate(gone.id),
        lambda: mem.paths.open(P1, path_id=root.id),
    ]
    for index, write in enumerate(bad):
        with nothing_written(mem):
            try:
                write()
            except PhaseMemoryError as exc:
                assert type(exc).__module__.startswith("phase_memory"), (index, exc)
            else:  # pragma: no cover - a failure message
                pytest.fail(f"bad write #{index} was accepted")
    _agrees_with_replay(mem)


def test_bad_model_construction_is_a_pydantic_validation_error() -> None:
    with pytest.raises(pydantic.ValidationError):
        MemoryNode.model_validate({"profile_id": P1, "kind": "note", "label": "x", "salience": 2})
    with pytest.raises(pydantic.ValidationError):
        MemoryNode.model_validate({"profile_id": " p1", "kind": "note", "label": "x"})
    with pytest.raises(pydantic.ValidationError):
        MemoryEvent.model_validate({"kind": "not dotted!", "profile_id": P1})


def test_the_graph_always_equals_a_replay_of_the_runtime_events(mem: PhaseMemoryRuntime) -> None:
    _strict(mem)
    mem.save_node(node("c"))
    mem.save_edge(edge("ab", "a", "b"))
    mem.save_edge(edge("bc", "b", "c"))
    root = mem.paths.open(P1)
    branch = mem.paths.branch(root.id, activate=True)
    mem.save_node(node("a", label="renamed"), path_id=branch.id)
    mem.paths.merge(branch.id, into=root.id)
    mem.delete_node("b", path_id=root.id)
    for attempt in (
        lambda: mem.save_node(node("z", kind="nope")),
        lambda: mem.save_edge(edge("zz", "a", "zz")),
    ):
        with pytest.raises(PhaseMemoryError):
            attempt()
    _agrees_with_replay(mem)


def test_a_recorded_partial_payload_is_stored_complete_so_replay_matches(
    mem: PhaseMemoryRuntime,
) -> None:
    """Defaults (timestamps, salience...) are filled in once, when the event is recorded."""
    mem.save_profile(profile(P1))
    partial = MemoryEvent(
        kind="node.saved",
        profile_id=P1,
        payload={"node": {"id": "n-partial", "profile_id": P1, "kind": "note", "label": "tea"}},
    )
    mem.record(partial)
    stored = mem.events.get(partial.event_id).payload["node"]
    assert isinstance(stored, dict)
    assert {"created_at", "updated_at", "salience", "state"} <= set(stored)
    replayed = mem.events.replay()
    assert replayed.report.problems == []
    assert replayed.snapshot.same_records(mem.graph.snapshot())

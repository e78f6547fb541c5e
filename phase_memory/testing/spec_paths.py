"""Conformance spec of conversational paths (``mem.paths``) over every adapter.

Paths carry no transcript text: every event here has a structured payload
(ids, counters, tool names), and the conversation a branch "remembers" is
checked through its effective history and a path-scoped replay compared with
node sets written out by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from phase_memory.errors import (
    ConflictError,
    PathStateError,
    ValidationError,
)
from phase_memory.models import (
    MemoryEvent,
    MemoryPath,
    PathAbandoned,
    PathActivated,
    PathMerged,
    PathOpened,
    PathStatus,
)
from phase_memory.runtime.runtime import PhaseMemoryRuntime
from phase_memory.testing.builders import P1, event, ids, node, profile


@contextmanager
def nothing_written(mem: PhaseMemoryRuntime) -> Iterator[None]:
    """Assert that the block leaves the log and the graph exactly as they were."""
    position = mem.events.last_position()
    graph = mem.graph.snapshot()
    yield
    assert mem.events.last_position() == position
    assert mem.graph.snapshot() == graph


def _turn(
    mem: PhaseMemoryRuntime, path_id: str | None, n: int, tool: str = "", profile_id: str = P1
) -> MemoryEvent:
    """A conversation turn, as structured data only (no text)."""
    return mem.record(
        event("chat.turn", {"turn": n, "tool": tool}, path_id=path_id, profile_id=profile_id)
    )


def _save(mem: PhaseMemoryRuntime, node_id: str, path_id: str | None) -> MemoryEvent:
    """Save node ``node_id`` on ``path_id`` (shared when None); return its event."""
    mem.save_node(node(node_id), path_id=path_id)
    return mem.events.list()[-1]


def _start(mem: PhaseMemoryRuntime) -> MemoryPath:
    mem.save_profile(profile())
    return mem.paths.open(P1)


def _nodes(
    mem: PhaseMemoryRuntime, path_id: str | None = None, until: int | None = None
) -> set[str]:
    result = mem.events.replay(until=until, path_id=path_id)
    return set(result.snapshot.nodes)


def _agrees_with_replay(mem: PhaseMemoryRuntime) -> None:
    replayed = mem.events.replay()
    assert replayed.report.problems == []
    assert mem.graph.snapshot().same_records(replayed.snapshot)


# --- open, get, list, lineage -----------------------------------------------------------


def test_open_starts_an_active_root_path(mem: PhaseMemoryRuntime) -> None:
    root = _start(mem)
    assert mem.paths.get(root.id) == root
    assert root.profile_id == P1
    assert root.parent_path_id is None and root.fork_event_id is None
    assert root.tree_id == root.id
    assert root.status is PathStatus.OPEN
    assert root.active
    assert root.merged_into_path_id is None and root.merge_event_id is None
    assert mem.paths.lineage(root.id) == [root]
    [opened] = mem.events.list(path_id=root.id)
    assert opened.kind == "path.opened"
    assert PathOpened.model_validate(opened.payload).path == root


def test_open_with_an_id_and_inactive(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    made = mem.paths.open(P1, path_id="chat-1", active=False)
    assert made.id == "chat-1"
    assert not mem.paths.get("chat-1").active


def test_list_paths_by_id_and_by_profile(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    mem.save_profile(profile("p2"))
    mem.paths.open(P1, path_id="b")
    mem.paths.open("p2", path_id="a")
    mem.paths.branch("b", new_path_id="c")
    assert ids(mem.paths.list()) == ["a", "b", "c"]
    assert ids(mem.paths.list(P1)) == ["b", "c"]
    assert ids(mem.paths.list("p2")) == ["a"]


def test_lineage_is_root_first(mem: PhaseMemoryRuntime) -> None:
    root = _start(mem)
    child = mem.paths.branch(root.id)
    grandchild = mem.paths.branch(child.id)
    assert ids(mem.paths.lineage(grandchild.id)) == [root.id, child.id, grandchild.id]
    assert ids(mem.paths.lineage(child.id)) == [root.id, child.id]
    assert grandchild.tree_id == root.id


# --- branch ---------------------------------------------------------------------------------


def test_branch_inherits_the_parent_prefix_up_to_and_including_the_fork(
    mem: PhaseMemoryRuntime,
) -> None:
    root = _start(mem)
    t1 = _turn(mem, root.id, 1)
    fork = _turn(mem, root.id, 2, tool="search")
    later = _turn(mem, root.id, 3)
    child = mem.paths.branch(root.id, at=fork.event_id)
    own = _turn(mem, child.id, 4)
    after_parent = _turn(mem, root.id, 5)

    assert child.parent_path_id == root.id
    assert child.fork_event_id == fork.event_id
    assert child.tree_id == root.id
    assert child.status is PathStatus.OPEN and not child.active

    root_history = ids(mem.paths.events(root.id))
    child_history = ids(mem.paths.events(child.id))
    prefix = root_history[: root_history.index(fork.event_id) + 1]
    assert child_history[: len(prefix)] == prefix
    assert t1.event_id in child_history and fork.event_id in child_history
    assert later.event_id not in child_history
    assert after_parent.event_id not in child_history
    branched = mem.events.list(path_id=child.id)[0]
    assert branched.kind == "path.branched"
    assert child_history[len(prefix) :] == [branched.event_id, own.event_id]
    assert own.event_id not in root_history


def test_branch_defaults_to_the_latest_event_of_the_parent(mem: PhaseMemoryRuntime) -> None:
    root = _start(mem)
    _turn(mem, root.id, 1)
    last = _turn(mem, root.id, 2)
    child = mem.paths.branch(root.id)
    assert child.fork_event_id == last.event_id
    assert ids(mem.paths.events(child.id))[:-1] == ids(mem.paths.events(root.id))


def test_branch_records_a_structured_path_branched_event(mem: PhaseMemoryRuntime) -> None:
    root = _start(mem)
    child = mem.paths.branch(root.id, new_path_id="alt")
    [branched] = mem.events.list(path_id="alt")
    assert branched.kind == "path.branched"
    assert branched.profile_id == P1
    assert PathOpened.model_validate(branched.payload).path == child
    assert set(branched.payload) == {"path"}


def test_branch_of_a_branch_may_fork_at_an_inherited_event(mem: PhaseMemoryRuntime) -> None:
    root = _start(mem)
    early = _turn(mem, root.id, 1)
    _turn(mem, root.id, 2)
    child = mem.paths.branch(root.id)
    _turn(mem, child.id, 3)
    grandchild = mem.paths.branch(child.id, at=early.event_id)
    history = ids(mem.paths.events(grandchild.id))
    root_history = ids(mem.paths.events(root.id))
    cut = root_history.index(early.event_id) + 1
    assert history[:cut] == root_history[:cut]
    assert len(history) == cut + 1  # then only its own path.branched event


def test_branch_at_an_event_outside_the_history_is_refused(mem: PhaseMemoryRuntime) -> None:
    root = _start(mem)
    _turn(mem, root.id, 1)
    sibling = mem.paths.branch(root.id)
    sibling_turn = _turn(mem, sibling.id, 2)
    other_root = mem.paths.open(P1)
    other_turn = _turn(mem, other_root.id, 3)
    mem.save_profile(profile("p2"))
    foreign = mem.paths.open("p2")
    foreign_turn = _turn(mem, foreign.id, 4, profile_id="p2")
    for at in (sibling_turn.event_id, other_turn.event_id, foreign_turn.event_id, "no-such"):
        with nothing_written(mem), pytest.raises(ValidationError):
            mem.paths.branch(root.id, at=at)


def test_a_branch_can_be_activated_when_made(mem: PhaseMemoryRuntime) -> None:
    root = _start(mem)
    child = mem.paths.branch(root.id, activate=True)
    assert child.active
    assert not mem.paths.get(root.id).active
    _agrees_with_replay(mem)


# --- merge -----------------------------------------------------------------------------------


def test_merge_marks_the_source_and_records_path_merged_in_the_target(
    mem: PhaseMemoryRuntime,
) -> None:
    root = _start(mem)
    _turn(mem, root.id, 1)
    branch = mem.paths.branch(root.id, activate=True)
    _turn(mem, branch.id, 2)
    merged = mem.paths.merge(branch.id, into=root.id)
    assert merged == mem.paths.get(branch.id)
    assert merged.status is PathStatus.MERGED
    assert merged.merged_into_path_id == root.id
    assert merged.merge_event_id is not None
    assert not merged.active
    merge_event = mem.events.get(merged.merge_event_id)
    assert merge_event.kind == "path.merged"
    assert merge_event.path_id == root.id
    assert PathMerged.model_validate(merge_event.payload) == PathMerged(
        source_path_id=branch.id, target_path_id=root.id
    )
    assert mem.paths.get(root.id).status is PathStatus.OPEN
    _agrees_with_replay(mem)


def test_merged_events_join_the_target_history_at_the_merge_point(
    mem: PhaseMemoryRuntime,
) -> None:
    root = _start(mem)
    _turn(mem, root.id, 1)
    branch = mem.paths.branch(root.id)
    b1 = _turn(mem, branch.id, 2)
    b2 = _turn(mem, branch.id, 3)
    before_merge = _turn(mem, root.id, 4)
    merged = mem.paths.merge(branch.id, into=root.id)
    after_merge = _turn(mem, root.id, 5)

    history = ids(mem.paths.events(root.id))
    branched = mem.events.list(path_id=branch.id)[0].event_id
    start = history.index(before_merge.event_id)
    assert history[start:] == [
        before_merge.event_id,
        branched,
        b1.event_id,
        b2.event_id,
        merged.merge_event_id,
        after_merge.event_id,
    ]
    # The branch's own history is unchanged by the merge.
    assert ids(mem.paths.events(branch.id))[-3:] == [branched, b1.event_id, b2.event_id]


def test_branches_forked_after_a_merge_inherit_the_merged_events(mem: PhaseMemoryRuntime) -> None:
    root = _start(mem)
    early = mem.paths.branch(root.id)
    branch = mem.paths.branch(root.id)
    own = _turn(mem, branch.id, 1)
    mem.paths.merge(branch.id, into=root.id)
    late = mem.paths.branch(root.id)
    assert own.event_id in ids(mem.paths.events(late.id))
    assert own.event_id not in ids(mem.paths.events(early.id))


def test_nested_merges_carry_the_inner_branch_along(mem: PhaseMemoryRuntime) -> None:
    root = _start(mem)
    outer = mem.paths.branch(root.id)
    outer_turn = _turn(mem, outer.id, 1)
    inner = mem.paths.branch(outer.id)
    inner_turn = _turn(mem, inner.id, 2)
    inner_merge = mem.paths.merge(inner.id, into=outer.id).merge_event_id
    outer_merge = mem.paths.merge(outer.id, into=root.id).merge_event_id
    history = ids(mem.paths.events(root.id))
    assert history.index(outer_turn.event_id) < history.index(inner_turn.event_id)
    assert history.index(inner_turn.event_id) < history.index(str(inner_merge))
    assert history.index(str(inner_merge)) < history.index(str(outer_merge))
    assert history[-1] == outer_merge


def test_merge_may_join_paths_of_different_trees(mem: PhaseMemoryRuntime) -> None:
    first = _start(mem)
    second = mem.paths.open(P1)
    turn = _turn(mem, second.id, 1)
    mem.paths.merge(second.id, into=first.id)
    assert turn.event_id in ids(mem.paths.events(first.id))
    assert mem.paths.get(second.id).status is PathStatus.MERGED


def test_refused_merges(mem: PhaseMemoryRuntime) -> None:
    root = _start(mem)
    child = mem.paths.branch(root.id)
    grandchild = mem.paths.branch(child.id)
    gone = mem.paths.branch(root.id)
    mem.paths.abandon(gone.id, reason="dead end")
    done = mem.paths.branch(root.id)
    mem.paths.merge(done.id, into=root.id)
    open_branch = mem.paths.branch(root.id)
    mem.save_profile(profile("p2"))
    foreign = mem.paths.open("p2")
    refused: list[tuple[str, str]] = [
        (root.id, root.id),  # into itself
        (gone.id, root.id),  # an abandoned source
        (done.id, root.id),  # an already merged source
        (done.id, open_branch.id),
        (open_branch.id, gone.id),  # into an abandoned target
        (open_branch.id, done.id),  # into a merged target
        (root.id, child.id),  # into a descendant
        (root.id, grandchild.id),
        (child.id, grandchild.id),
        (foreign.id, root.id),  # across profiles
    ]
    for source, target in refused:
        with nothing_written(mem), pytest.raises(PathStateError):
            mem.paths.merge(source, into=target)
    assert mem.paths.get(open_branch.id).status is PathStatus.OPEN


# --- abandon -------------------------------------------------------------------------------


def test_abandon_keeps_the_events_and_leaves_them_out_of_the_parent(
    mem: PhaseMemoryRuntime,
) -> None:
    root = _start(mem)
    branch = mem.paths.branch(root.id, activate=True)
    own = [_turn(mem, branch.id, n) for n in range(3)]
    kept = ids(mem.events.list(path_id=branch.id))
    abandoned = mem.paths.abandon(branch.id, reason="user changed the subject")
    assert abandoned == mem.paths.get(branch.id)
    assert abandoned.status is PathStatus.ABANDONED
    assert abandoned.abandoned_reason == "user changed the subject"
    assert not abandoned.active
    assert ids(mem.events.list(path_id=branch.id))[: len(kept)] == kept
    last = mem.events.list(path_id=branch.id)[-1]
    assert last.kind == "path.abandoned"
    assert PathAbandoned.model_validate(last.payload) == PathAbandoned(
        path_id=branch.id, reason="user changed the subject"
    )
    history = ids(mem.paths.events(branch.id))
    assert all(e.event_id in history for e in own)
    root_history = ids(mem.paths.events(root.id))
    assert not any(e.event_id in root_history for e in own)
    _agrees_with_replay(mem)


def test_an_abandoned_or_merged_path_cannot_be_abandoned_again(mem: PhaseMemoryRuntime) -> None:
    root = _start(mem)
    gone = mem.paths.branch(root.id)
    mem.paths.abandon(gone.id, reason="x")
    done = mem.paths.branch(root.id)
    mem.paths.merge(done.id, into=root.id)
    for path_id in (gone.id, done.id):
        with nothing_written(mem), pytest.raises(PathStateError):
            mem.paths.abandon(path_id, reason="again")


def test_a_closed_path_can_still_be_read(mem: PhaseMemoryRuntime) -> None:
    root = _start(mem)
    gone = mem.paths.branch(root.id)
    _turn(mem, gone.id, 1)
    mem.paths.abandon(gone.id, reason="x")
    assert mem.paths.lineage(gone.id)[-1].id == gone.id
    assert len(mem.paths.events(gone.id)) == len(mem.paths.events(root.id)) + 3


# --- activate: one active path per conversation tree ---------------------------------------


def test_activating_a_path_deactivates_the_others_of_its_tree(mem: PhaseMemoryRuntime) -> None:
    root = _start(mem)
    other_tree = mem.paths.open(P1)
    child = mem.paths.branch(root.id)
    assert mem.paths.activate(child.id).active
    assert not mem.paths.get(root.id).active
    assert mem.paths.get(other_tree.id).active  # another conversation is left alone
    assert mem.paths.activate(root.id).active
    assert not mem.paths.get(child.id).active
    [activated, _] = mem.events.list(kinds=["path.activated"])
    assert activated.path_id == child.id
    assert PathActivated.model_validate(activated.payload) == PathActivated(path_id=child.id)
    _agrees_with_replay(mem)


def test_at_most_one_active_path_per_tree(mem: PhaseMemoryRuntime) -> None:
    root = _start(mem)
    a = mem.paths.branch(root.id)
    b = mem.paths.branch(a.id)
    for path_id in (a.id, b.id, root.id, b.id):
        mem.paths.activate(path_id)
        actives = [p.id for p in mem.paths.list(P1) if p.active]
        assert actives == [path_id]


def test_the_store_refuses_a_second_active_path_in_a_tree(mem: PhaseMemoryRuntime) -> None:
    root = _start(mem)
    child = mem.paths.branch(root.id)
    with nothing_written(mem), pytest.raises(ConflictError):
        mem.store.graph.save_path(child.model_copy(update={"active": True}))
    # Another tree may have its own active path.
    other = mem.paths.open(P1, active=False)
    mem.store.graph.save_path(mem.paths.get(other.id).model_copy(update={"active": True}))


def test_closed_paths_cannot_be_activated(mem: PhaseMemoryRuntime) -> None:
    root = _start(mem)
    gone = mem.paths.branch(root.id)
    mem.paths.abandon(gone.id, reason="x")
    done = mem.paths.branch(root.id)
    mem.paths.merge(done.id, into=root.id)
    for path_id in (gone.id, done.id):
        with nothing_written(mem), pytest.raises(PathStateError):
            mem.paths.activate(path_id)


def test_abandoning_or_merging_the_active_path_leaves_the_tree_without_one(
    mem: PhaseMemoryRuntime,
) -> None:
    root = _start(mem)
    child = mem.paths.branch(root.id, activate=True)
    mem.paths.abandon(child.id, reason="x")
    assert [p.id for p in mem.paths.list(P1) if p.active] == []
    other = mem.paths.branch(root.id, activate=True)
    mem.paths.merge(other.id, into=root.id)
    assert [p.id for p in mem.paths.list(P1) if p.active] == []


# --- shared memory and structured events ----------------------------------------------------


def test_shared_events_belong_to_every_path_history(mem: PhaseMemoryRuntime) -> None:
    root = _start(mem)
    before = _turn(mem, None, 1)
    child = mem.paths.branch(root.id, at=mem.events.list(path_id=root.id)[0].event_id)
    gone = mem.paths.branch(root.id)
    mem.paths.abandon(gone.id, reason="x")
    other_root = mem.paths.open(P1)
    after = _turn(mem, None, 2)
    for path_id in (root.id, child.id, gone.id, other_root.id):
        history = ids(mem.paths.events(path_id))
        assert before.event_id in history, path_id
        assert after.event_id in history, path_id
        assert history.count(after.event_id) == 1
    # Shared events of another profile are not.
    mem.save_profile(profile("p2"))
    elsewhere = mem.record(event("chat.turn", {"turn": 3}, profile_id="p2"))
    assert elsewhere.event_id not in ids(mem.paths.events(root.id))


def test_every_path_operation_is_a_structured_event(mem: PhaseMemoryRuntime) -> None:
    root = _start(mem)
    child = mem.paths.branch(root.id)
    gone = mem.paths.branch(root.id)
    mem.paths.activate(child.id)
    mem.paths.abandon(gone.id, reason="off topic")
    mem.paths.merge(child.id, into=root.id)
    path_events = [e for e in mem.events.list() if e.kind.startswith("path.")]
    assert [e.kind for e in path_events] == [
        "path.opened", "path.branched", "path.branched",
        "path.activated", "path.abandoned", "path.merged",
    ]
    payload_keys = [set(e.payload) for e in path_events]
    assert payload_keys == [
        {"path"}, {"path"}, {"path"},
        {"path_id"}, {"path_id", "reason"}, {"source_path_id", "target_path_id"},
    ]
    assert [e.path_id for e in path_events] == [
        root.id, child.id, gone.id, child.id, gone.id, root.id,
    ]
    _agrees_with_replay(mem)


# --- path-scoped replay and time travel -----------------------------------------------------


def _story(mem: PhaseMemoryRuntime) -> dict[str, object]:
    """A conversation tree whose remembered nodes are written out by hand below.

    root: a, then shared s, then (after b1 forks) c; b1 merged; then e.
    b1 (forked at the latest root event): b.
    b2 (forked at a's event): d, then abandoned.
    A shared f comes last.
    """
    root = _start(mem)
    a = _save(mem, "a", root.id)
    _save(mem, "s", None)
    b1 = mem.paths.branch(root.id)
    _save(mem, "b", b1.id)
    c = _save(mem, "c", root.id)
    b2 = mem.paths.branch(root.id, at=a.event_id)
    _save(mem, "d", b2.id)
    mem.paths.abandon(b2.id, reason="dead end")
    before_merge = mem.events.last_position()
    mem.paths.merge(b1.id, into=root.id)
    _save(mem, "e", root.id)
    _save(mem, "f", None)
    return {"root": root.id, "b1": b1.id, "b2": b2.id, "c": c, "before_merge": before_merge}


def test_path_scoped_replay_remembers_what_the_branch_saw(mem: PhaseMemoryRuntime) -> None:
    story = _story(mem)
    root, b1, b2 = str(story["root"]), str(story["b1"]), str(story["b2"])
    assert _nodes(mem) == {"a", "b", "c", "d", "e", "f", "s"}
    assert _nodes(mem, root) == {"a", "s", "c", "b", "e", "f"}
    assert _nodes(mem, b1) == {"a", "s", "b", "f"}
    assert _nodes(mem, b2) == {"a", "s", "d", "f"}
    for path_id in (root, b1, b2):
        assert mem.events.replay(path_id=path_id).report.problems == []
    # The root's replay knows b1 (merged into it) but not the abandoned b2.
    root_paths = mem.events.replay(path_id=root).snapshot.paths
    assert set(root_paths) == {root, b1}
    assert root_paths[b1].status is PathStatus.MERGED
    assert root_paths[b1] == mem.paths.get(b1)
    _agrees_with_replay(mem)


def test_replay_until_travels_back_in_time(mem: PhaseMemoryRuntime) -> None:
    story = _story(mem)
    root = str(story["root"])
    c_event = story["c"]
    assert isinstance(c_event, MemoryEvent) and c_event.position is not None
    before_merge = story["before_merge"]
    assert isinstance(before_merge, int)
    assert _nodes(mem, until=c_event.position) == {"a", "s", "b", "c"}
    assert _nodes(mem, root, until=c_event.position) == {"a", "s", "c"}
    assert _nodes(mem, root, until=before_merge) == {"a", "s", "c"}
    assert _nodes(mem, root, until=before_merge + 1) == {"a", "s", "c", "b"}
    assert _nodes(mem, until=0) == set()
    past = mem.events.replay(until=c_event.position)
    assert past.snapshot.position == c_event.position
    assert past.snapshot.paths[root].status is PathStatus.OPEN
    assert len(past.snapshot.paths) == 2


def test_the_graph_agrees_with_replay_after_every_path_operation(
    mem: PhaseMemoryRuntime,
) -> None:
    root = _start(mem)
    steps: list[Callable[[], object]] = [
        lambda: _save(mem, "a", root.id),
        lambda: mem.paths.branch(root.id, new_path_id="x", activate=True),
        lambda: _save(mem, "b", "x"),
        lambda: mem.paths.branch("x", new_path_id="y"),
        lambda: mem.paths.activate("y"),
        lambda: mem.delete_node("a", path_id="y"),
        lambda: mem.paths.merge("y", into="x"),
        lambda: mem.paths.abandon("x", reason="done"),
        lambda: mem.paths.activate(root.id),
    ]
    for step in steps:
        step()
        _agrees_with_replay(mem)
    assert _nodes(mem, root.id) == {"a"}
    assert _nodes(mem, "x") == {"b"}

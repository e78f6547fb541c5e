"""Property tests (hypothesis) every adapter must pass.

Each example builds fresh stores with the ``store_factory`` fixture, so
examples never see each other's data. Example counts are kept modest: the
point is variety of shapes, not volume.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phase_memory.errors import DuplicateEventError
from phase_memory.models import MemoryEvent, NodeState
from phase_memory.protocols import MemoryStore
from phase_memory.testing.builders import (
    P1,
    edge,
    edge_saved,
    event,
    ids,
    node,
    node_saved,
    path,
    profile,
    profile_saved,
    seed,
    without_position,
)
from phase_memory.testing.fixtures import StoreFactory

PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@contextmanager
def _fresh(factory: StoreFactory, tmp: pytest.TempPathFactory) -> Iterator[MemoryStore]:
    made = factory.make(tmp.mktemp(factory.name))
    try:
        yield made
    finally:
        made.close()


# --- random logs --------------------------------------------------------------------

_NODE = st.integers(min_value=0, max_value=5)
# NUL and lone surrogates are left out: whether they are stored or refused is
# spec_graph's concern, not determinism's.
_TEXT = st.text(
    alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=20
)
_OPS = st.one_of(
    st.tuples(st.just("node"), _NODE, _TEXT),
    st.tuples(st.just("edge"), _NODE, _NODE),
    st.tuples(st.just("state"), _NODE, st.sampled_from(list(NodeState))),
    st.tuples(st.just("delete"), _NODE),
    st.tuples(st.just("unlink"), _NODE, _NODE),
    st.tuples(st.just("chat"), _TEXT),
    st.tuples(st.just("malformed"), _NODE),
)


def _events_of(ops: list[tuple[object, ...]]) -> list[MemoryEvent]:
    """A log from random operations: valid, dangling and malformed events alike."""
    events = [profile_saved(profile(), event_id="ev-0")]
    for k, op in enumerate(ops, start=1):
        where = {"event_id": f"ev-{k}", "seconds": k}
        match op:
            case ("node", int(i), str(label)):
                made = node_saved(node(f"n{i}", label=label, version=1), **where)
            case ("edge", int(i), int(j)):
                made = edge_saved(edge(f"e{i}-{j}", f"n{i}", f"n{j}"), **where)
            case ("state", int(i), NodeState() as state):
                made = event("node.state_changed", {"node_id": f"n{i}", "state": state.value},
                             event_id=f"ev-{k}", seconds=k)
            case ("delete", int(i)):
                made = event("node.deleted", {"node_id": f"n{i}"}, event_id=f"ev-{k}", seconds=k)
            case ("unlink", int(i), int(j)):
                made = event("edge.deleted", {"edge_id": f"e{i}-{j}"}, event_id=f"ev-{k}",
                             seconds=k)
            case ("chat", str(text)):
                made = event("chat.turn", {"text": text}, event_id=f"ev-{k}", seconds=k)
            case _:  # a node.saved payload missing most of the node
                made = event("node.saved", {"node": {"id": f"n{op[1]}"}}, event_id=f"ev-{k}",
                             seconds=k)
        events.append(made)
    return events


@PROPERTY_SETTINGS
@given(ops=st.lists(_OPS, max_size=30))
def test_replay_is_deterministic_within_and_across_stores(
    store_factory: StoreFactory,
    tmp_path_factory: pytest.TempPathFactory,
    ops: list[tuple[object, ...]],
) -> None:
    events = _events_of(ops)
    with _fresh(store_factory, tmp_path_factory) as one, _fresh(
        store_factory, tmp_path_factory
    ) as two:
        one.events.append(events)
        for made in events:  # the same log, one event per append
            two.events.append([made])
        first = one.events.replay()
        assert one.events.replay() == first
        other = two.events.replay()
        assert without_position(other.snapshot) == without_position(first.snapshot)
        assert other.report.model_dump(exclude={"problems"}) == first.report.model_dump(
            exclude={"problems"}
        )
        assert [(p.event_id, p.reason) for p in other.report.problems] == [
            (p.event_id, p.reason) for p in first.report.problems
        ]
        assert first.report.applied + len(first.report.problems) + sum(
            first.report.not_replayable.values()
        ) == len(events)


# --- duplicate ids ------------------------------------------------------------------

_IDS = st.sampled_from([f"id-{c}" for c in "abcdefgh"])


@PROPERTY_SETTINGS
@given(
    stored=st.lists(_IDS, unique=True, max_size=4),
    batch=st.lists(_IDS, min_size=1, max_size=6),
)
def test_a_batch_with_any_duplicate_id_writes_nothing(
    store_factory: StoreFactory,
    tmp_path_factory: pytest.TempPathFactory,
    stored: list[str],
    batch: list[str],
) -> None:
    with _fresh(store_factory, tmp_path_factory) as store:
        seed(store, profile())
        if stored:
            store.events.append([event("chat.turn", event_id=i) for i in stored])
        before = store.events.list()
        last = store.events.last_position()
        duplicates = {i for i in batch if i in stored or batch.count(i) > 1}
        made = [event("chat.turn", {"k": k}, event_id=i) for k, i in enumerate(batch)]
        if duplicates:
            with pytest.raises(DuplicateEventError) as raised:
                store.events.append(made)
            assert raised.value.event_id in duplicates
            assert store.events.last_position() == last
            assert store.events.list() == before
        else:
            positions = store.events.append(made)
            assert len(positions) == len(batch)
            assert ids(store.events.list()) == stored + batch


# --- listing order --------------------------------------------------------------------

_BATCH = st.lists(
    st.tuples(
        # path pa belongs to profile p1, pb to p2
        st.sampled_from([(P1, None), (P1, "pa"), ("p2", None), ("p2", "pb")]),
        st.sampled_from(["chat.turn", "tool.called", "note.taken"]),
    ),
    min_size=1,
    max_size=4,
)
_FILTER = st.fixed_dictionaries(
    {},
    optional={
        "profile_id": st.sampled_from([P1, "p2"]),
        "path_id": st.sampled_from(["pa", "pb"]),
        "kinds": st.lists(st.sampled_from(["chat.turn", "tool.called", "note.taken"]),
                          unique=True, max_size=2),
        "after_index": st.integers(min_value=0, max_value=30),
        "limit": st.integers(min_value=0, max_value=8),
    },
)


@PROPERTY_SETTINGS
@given(steps=st.lists(st.tuples(_BATCH, _FILTER), min_size=1, max_size=6))
def test_listing_is_always_in_position_order(
    store_factory: StoreFactory,
    tmp_path_factory: pytest.TempPathFactory,
    steps: list[tuple[list[tuple[tuple[str, str | None], str]], dict[str, object]]],
) -> None:
    with _fresh(store_factory, tmp_path_factory) as store:
        seed(store, profile(P1), profile("p2"), path("pa"), path("pb", profile_id="p2"))
        model: list[MemoryEvent] = []
        for batch, query in steps:
            made = [
                event(kind, {"n": len(model) + k}, profile_id=profile_id, path_id=path_id)
                for k, ((profile_id, path_id), kind) in enumerate(batch)
            ]
            positions = store.events.append(made)
            model.extend(
                e.model_copy(update={"position": p})
                for e, p in zip(made, positions, strict=True)
            )
            after_index = query.pop("after_index", None)
            after = None
            if isinstance(after_index, int):
                after = 0 if after_index == 0 else model[min(after_index, len(model)) - 1].position
            listed = store.events.list(after=after, **query)  # type: ignore[arg-type]
            expected = [
                e
                for e in model
                if (after is None or (e.position or 0) > after)
                and ("profile_id" not in query or e.profile_id == query["profile_id"])
                and ("path_id" not in query or e.path_id == query["path_id"])
                and ("kinds" not in query or e.kind in query["kinds"])  # type: ignore[operator]
            ]
            limit = query.get("limit")
            if isinstance(limit, int):
                expected = expected[:limit]
            assert listed == expected
            streamed = list(store.events.iter(after=after))
            assert [e.position for e in streamed] == sorted(e.position or 0 for e in streamed)
            assert ids(streamed) == ids(
                [e for e in model if after is None or (e.position or 0) > after]
            )

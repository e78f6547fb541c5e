"""Property tests (hypothesis) of valid time over every adapter: tables == replay, on both axes.

Random sequences of single-valued edge saves (open-ended or closed, some as
corrections), node saves superseding other nodes and deletes run against a
fresh store per example, beside a small model that predicts which saves must
be refused (a supersession backwards without ``correction``). Then:

- a refused save writes nothing;
- the graph equals a replay of the log (transaction time now), and a replay
  ``until`` every earlier position equals the graph as it was then;
- on both axes: for every recorded position and a spread of valid times, the
  replay until that position, restricted with ``valid_at``, equals the graph
  as it was then restricted the same way; and the adapter's ``valid_at``
  listings equal the replay's now;
- ``save_edge`` never leaves two current edges of a single-valued kind from
  one source.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phase_memory.errors import PhaseMemoryError, ValidationError
from phase_memory.models import GraphSnapshot, ProfilePolicy, effective_from
from phase_memory.runtime.runtime import PhaseMemoryRuntime
from phase_memory.testing.builders import P1, edge, node, profile
from phase_memory.testing.fixtures import StoreFactory

PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

KIND = "lives_in"
SOURCES = ("s1", "s2")
TARGETS = ("t1", "t2", "t3")
YEARS = (2000, 2005, 2010, 2015, 2020)
PROBES = [datetime(y, 6, 1, tzinfo=UTC) for y in (1999, 2002, 2007, 2012, 2017, 2022)] + [
    datetime(y, 1, 1, tzinfo=UTC) for y in YEARS
]
"""Valid times asked about: between the years used, and exactly on them (boundaries)."""


def _year(y: int) -> datetime:
    return datetime(y, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SaveEdge:
    edge_id: str
    source: str
    target: str
    start: int
    end: int | None
    correction: bool


@dataclass(frozen=True)
class SaveFact:
    node_id: str
    start: int
    supersedes: str | None
    correction: bool


@dataclass(frozen=True)
class DeleteEdge:
    edge_id: str


Op = SaveEdge | SaveFact | DeleteEdge

_EDGE_IDS = st.sampled_from([f"e{i}" for i in range(6)])
_FACT_IDS = st.sampled_from([f"f{i}" for i in range(4)])
_ops = st.one_of(
    st.builds(
        SaveEdge, _EDGE_IDS, st.sampled_from(SOURCES), st.sampled_from(TARGETS),
        st.sampled_from(YEARS), st.none() | st.sampled_from((2003, 2012, 2025)), st.booleans(),
    ),
    st.builds(SaveFact, _FACT_IDS, st.sampled_from(YEARS), st.none() | _FACT_IDS, st.booleans()),
    st.builds(DeleteEdge, _EDGE_IDS),
)
OPS = st.lists(_ops, min_size=4, max_size=14)


@contextmanager
def _runtime(factory: StoreFactory, tmp: pytest.TempPathFactory) -> Iterator[PhaseMemoryRuntime]:
    store = factory.make(tmp.mktemp(factory.name))
    try:
        yield PhaseMemoryRuntime(store)
    finally:
        store.close()


def _setup(mem: PhaseMemoryRuntime) -> None:
    policy = ProfilePolicy(single_valued_edge_kinds=frozenset({KIND}))
    mem.save_profile(profile(P1, policy=policy))
    for node_id in (*SOURCES, *TARGETS):
        mem.save_node(node(node_id, valid_from=_year(1990)))


def _refused_edge(mem: PhaseMemoryRuntime, op: SaveEdge) -> bool:
    """The model: a supersession backwards without ``correction`` is refused."""
    if op.end is not None and op.end < op.start:
        return True  # not even a valid edge
    if op.end is not None or op.correction:
        return False
    existing = mem.graph.find_edge(op.edge_id)
    if existing is not None and existing.source_id != op.source:
        return False  # the edge moves source: judged against its new source's edges below
    start = _year(op.start)
    return any(
        e.id != op.edge_id and e.valid_to is None and effective_from(e) > start
        for e in mem.graph.list_edges(P1, source_id=op.source, kind=KIND, valid_at="any")
    )


def _apply(mem: PhaseMemoryRuntime, op: Op) -> None:
    before = mem.events.last_position()
    if isinstance(op, SaveEdge):
        expect_refusal = _refused_edge(mem, op)
        try:
            made = edge(op.edge_id, op.source, op.target, kind=KIND, valid_from=_year(op.start),
                        valid_to=None if op.end is None else _year(op.end))
        except ValueError:
            assert expect_refusal
            return
        try:
            mem.save_edge(made, correction=op.correction)
        except ValidationError:
            assert expect_refusal, op
            assert mem.events.last_position() == before  # nothing written
            return
        assert not expect_refusal, op
    elif isinstance(op, SaveFact):
        try:
            mem.save_node(node(op.node_id, kind="fact", valid_from=_year(op.start)),
                          supersedes=op.supersedes, correction=op.correction)
        except PhaseMemoryError:
            # The superseded node missing, itself, or starting later: refused, and
            # the refusal undoes the save that came before it in the same call.
            assert mem.events.last_position() == before
            return
    else:
        try:
            mem.delete_edge(op.edge_id)
        except PhaseMemoryError:
            assert mem.events.last_position() == before


def _ids(records: Mapping[str, object]) -> list[str]:
    return sorted(records)


@PROPERTY_SETTINGS
@given(ops=OPS)
def test_tables_equal_a_replay_on_both_time_axes(
    store_factory: StoreFactory, tmp_path_factory: pytest.TempPathFactory, ops: list[Op]
) -> None:
    with _runtime(store_factory, tmp_path_factory) as mem:
        _setup(mem)
        seen: dict[int, GraphSnapshot] = {mem.events.last_position(): mem.graph.snapshot()}
        for op in ops:
            _apply(mem, op)
            seen[mem.events.last_position()] = mem.graph.snapshot()
            current = [e for e in mem.graph.list_edges(P1, kind=KIND) if e.valid_to is None]
            sources = [e.source_id for e in current]
            assert len(sources) == len(set(sources)), current
        replayed = mem.events.replay()
        assert replayed.report.problems == []
        assert mem.graph.snapshot().same_records(replayed.snapshot)
        for position, graph_then in seen.items():
            past = mem.events.replay(until=position).snapshot
            assert past.same_records(graph_then), position
            for at in PROBES:
                assert past.valid_at(at).same_records(graph_then.valid_at(at)), (position, at)
        now = replayed.snapshot
        for at in PROBES:
            expected = now.valid_at(at)
            assert [e.id for e in mem.graph.list_edges(P1, valid_at=at)] == _ids(expected.edges)
            assert [n.id for n in mem.graph.list_nodes(P1, valid_at=at)] == _ids(expected.nodes)
        assert "edge.overlapping_current" not in mem.diagnose().codes()

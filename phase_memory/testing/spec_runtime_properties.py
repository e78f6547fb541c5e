"""Property tests (hypothesis) of the runtime over every adapter.

Random sequences of runtime operations (profile, node and edge writes and
deletes, path open/branch/merge/abandon/activate, custom events) are run
against a fresh store per example, next to a small model kept by the test:

- the model predicts which operations must be refused (and a refused one must
  write nothing);
- the graph must always equal a replay of the log, with no problems, and a
  replay ``until`` any earlier position must equal the graph as it was then;
- every path's effective history and path-scoped replay must equal what the
  model computes by hand: a branch copies its parent's history up to the fork
  (plus shared events after it), a merge appends the source's own events to
  the target, shared events go to every path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phase_memory.errors import PhaseMemoryError
from phase_memory.models import GraphSnapshot, MemoryEvent, PathStatus, ProfilePolicy
from phase_memory.runtime.runtime import PhaseMemoryRuntime
from phase_memory.testing.builders import P1, edge, event, ids, node, profile
from phase_memory.testing.fixtures import StoreFactory

PROPERTY_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

POLICY = ProfilePolicy(node_kinds=frozenset({"note", "fact"}), edge_kinds=frozenset({"related"}))


@contextmanager
def _runtime(factory: StoreFactory, tmp: pytest.TempPathFactory) -> Iterator[PhaseMemoryRuntime]:
    store = factory.make(tmp.mktemp(factory.name))
    try:
        yield PhaseMemoryRuntime(store)
    finally:
        store.close()


# --- the model ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One event of a path's history, as the model sees it."""

    event_id: str
    shared: bool
    op: tuple[str, ...]
    """("node", id), ("del_node", id), ("edge", id, a, b), ("del_edge", id) or ("other",)."""


@dataclass
class PathModel:
    id: str
    parent: str | None
    tree: str
    status: PathStatus = PathStatus.OPEN
    active: bool = False
    history: list[Entry] = field(default_factory=list)
    """The effective history: what the path remembers, in order."""
    own: list[Entry] = field(default_factory=list)
    """Its own events and those merged into it: what a merge hands on."""


@dataclass
class Model:
    nodes: set[str] = field(default_factory=set)
    edges: dict[str, tuple[str, str]] = field(default_factory=dict)
    paths: dict[str, PathModel] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    shared: list[Entry] = field(default_factory=list)

    def pick(self, index: int | None) -> PathModel | None:
        # Newest first, so small indexes (what hypothesis tries most) reach new branches.
        if index is None or not self.order:
            return None
        return self.paths[self.order[-1 - index % len(self.order)]]

    def writable(self, path: PathModel | None) -> bool:
        return path is None or path.status is PathStatus.OPEN

    def lineage(self, path_id: str) -> set[str]:
        found: set[str] = set()
        current: str | None = path_id
        while current is not None and current not in found:
            found.add(current)
            current = self.paths[current].parent
        return found

    def activate(self, path: PathModel) -> None:
        for other in self.paths.values():
            if other.tree == path.tree:
                other.active = False
        path.active = True

    def route(self, events: list[MemoryEvent]) -> None:
        """Put newly recorded events into the histories they belong to."""
        for recorded in events:
            entry = Entry(recorded.event_id, recorded.path_id is None, _classify(recorded))
            if recorded.path_id is None:
                self.shared.append(entry)
                for path in self.paths.values():
                    path.history.append(entry)
            else:
                path = self.paths[recorded.path_id]
                path.history.append(entry)
                path.own.append(entry)
            match entry.op:
                case ("node", node_id):
                    self.nodes.add(node_id)
                case ("del_node", node_id):
                    self.nodes.discard(node_id)
                    self.edges = {k: v for k, v in self.edges.items() if node_id not in v}
                case ("edge", edge_id, a, b):
                    self.edges[edge_id] = (a, b)
                case ("del_edge", edge_id):
                    self.edges.pop(edge_id, None)

    def remembered(self, path_id: str) -> tuple[set[str], set[str]]:
        """Nodes and edges a replay of the path's history must hold (computed by hand)."""
        nodes: set[str] = set()
        edges: dict[str, tuple[str, str]] = {}
        for entry in self.paths[path_id].history:
            match entry.op:
                case ("node", node_id):
                    nodes.add(node_id)
                case ("del_node", node_id) if node_id in nodes:
                    nodes.discard(node_id)
                    edges = {k: v for k, v in edges.items() if node_id not in v}
                case ("edge", edge_id, a, b) if a in nodes and b in nodes:
                    edges[edge_id] = (a, b)
                case ("del_edge", edge_id):
                    edges.pop(edge_id, None)
        return nodes, set(edges)


def _classify(recorded: MemoryEvent) -> tuple[str, ...]:
    payload = recorded.payload
    match recorded.kind:
        case "node.saved":
            return ("node", str(payload["node"]["id"]))  # type: ignore[call-overload, index]
        case "node.deleted":
            return ("del_node", str(payload["node_id"]))
        case "edge.saved":
            saved = payload["edge"]
            assert isinstance(saved, dict)
            return ("edge", str(saved["id"]), str(saved["source_id"]), str(saved["target_id"]))
        case "edge.deleted":
            return ("del_edge", str(payload["edge_id"]))
    return ("other",)


# --- operations ---------------------------------------------------------------------------

_NODE = st.integers(min_value=0, max_value=3)
_NODE_KIND = st.sampled_from(["note", "fact", "note", "banned"])
_EDGE_KIND = st.sampled_from(["related", "related", "related", "banned"])
_REF = st.integers(min_value=0, max_value=9)  # picks an existing record (see _existing)
_PATH = st.one_of(st.none(), st.integers(min_value=0, max_value=7))
_IDX = st.integers(min_value=0, max_value=7)
_AT = st.one_of(st.none(), st.just(-1), st.integers(min_value=0, max_value=40))

_GRAPH_OPS = [
    st.tuples(st.just("save_node"), _NODE, _PATH, _NODE_KIND),
    st.tuples(st.just("save_edge"), _REF, _REF, _PATH, _EDGE_KIND),
    st.tuples(st.just("delete_node"), _REF, _PATH),
    st.tuples(st.just("delete_edge"), _REF, _PATH),
    st.tuples(st.just("save_profile"), st.integers(min_value=0, max_value=3)),
    st.tuples(st.just("custom"), _PATH, st.integers(min_value=0, max_value=99)),
]
_PATH_OPS = [
    st.tuples(st.just("open"), st.booleans()),
    st.tuples(st.just("branch"), _IDX, _AT, st.booleans()),
    st.tuples(st.just("merge"), _IDX, _IDX),
    st.tuples(st.just("abandon"), _IDX),
    st.tuples(st.just("activate"), _IDX),
]
Op = tuple[object, ...]
# Node saves are listed twice: most other operations need nodes to exist.
ANY_OPS = st.lists(st.one_of(_GRAPH_OPS[0], *_GRAPH_OPS, *_PATH_OPS), min_size=4, max_size=30)
PATH_HEAVY_OPS = st.lists(
    st.one_of(
        _GRAPH_OPS[0], *_PATH_OPS, _PATH_OPS[1], _PATH_OPS[2], *_GRAPH_OPS[:3], _GRAPH_OPS[5]
    ),
    min_size=4,
    max_size=30,
)


def _start(mem: PhaseMemoryRuntime, model: Model) -> None:
    """The profile, an active root path and a branch of it (targets for path operations)."""
    before = mem.events.last_position()
    mem.save_profile(profile(policy=POLICY))
    model.route(mem.events.list(after=before))
    for op in (("open", True), ("branch", 0, None, False)):
        assert _apply(mem, model, op)


def _apply(mem: PhaseMemoryRuntime, model: Model, op: Op) -> bool:
    """Run one operation, keep the model in step; return whether it was accepted.

    Raises AssertionError when the runtime accepts what the model refuses or
    the other way round.
    """
    before = mem.events.last_position()
    graph_before = mem.graph.snapshot()
    valid, run, pre = _plan(mem, model, op)
    if not valid:
        with pytest.raises(PhaseMemoryError):
            run()
        assert mem.events.last_position() == before, op
        assert mem.graph.snapshot() == graph_before, op
        return False
    run()
    new = mem.events.list(after=before)
    assert new, op
    pre(new)
    model.route(new)
    return True


Run = Callable[[], object]
BeforeRouting = Callable[[list[MemoryEvent]], None]


def _plan(mem: PhaseMemoryRuntime, model: Model, op: Op) -> tuple[bool, Run, BeforeRouting]:
    """(valid, run, before_routing) for an operation."""

    def nothing(new: list[MemoryEvent]) -> None:
        return None

    def path_id(p: PathModel | None) -> str | None:
        return None if p is None else p.id

    match op:
        case ("save_node", int(i), index, str(kind)):
            target = model.pick(index if isinstance(index, int) else None)
            return (
                kind != "banned" and model.writable(target),
                lambda: mem.save_node(node(f"n{i}", kind=kind), path_id=path_id(target)),
                nothing,
            )
        case ("save_edge", int(i), int(j), index, str(kind)):
            target = model.pick(index if isinstance(index, int) else None)
            a, b = _existing(model.nodes, i, "n-missing"), _existing(model.nodes, j, "n-missing")
            ok = a in model.nodes and b in model.nodes and kind != "banned"
            made = edge(f"e-{a}-{b}", a, b, kind=kind)
            return (
                ok and model.writable(target),
                lambda: mem.save_edge(made, path_id=path_id(target)),
                nothing,
            )
        case ("delete_node", int(i), index):
            target = model.pick(index if isinstance(index, int) else None)
            gone = _existing(model.nodes, i, "n-missing")
            return (
                gone in model.nodes and model.writable(target),
                lambda: mem.delete_node(gone, path_id=path_id(target)),
                nothing,
            )
        case ("delete_edge", int(i), index):
            target = model.pick(index if isinstance(index, int) else None)
            gone = _existing(model.edges, i, "e-missing")
            return (
                gone in model.edges and model.writable(target),
                lambda: mem.delete_edge(gone, path_id=path_id(target)),
                nothing,
            )
        case ("save_profile", int(n)):
            renamed = profile(name=f"name {n}", policy=POLICY)
            return True, lambda: mem.save_profile(renamed), nothing
        case ("custom", index, int(n)):
            target = model.pick(index if isinstance(index, int) else None)
            turn = event("chat.turn", {"turn": n}, path_id=path_id(target))
            return model.writable(target), lambda: mem.record(turn), nothing
        case ("open", bool(active)):
            return True, lambda: mem.paths.open(P1, active=active), lambda new: _opened(
                model, new, None, []
            )
        case ("branch", int(index), at, bool(active)):
            parent = model.pick(index)
            if parent is None:
                return True, lambda: mem.record(event("chat.turn")), nothing
            history = parent.history
            if at is None:
                cut = len(history) - 1
                fork: str | None = None
            elif at == -1:
                return False, lambda: mem.paths.branch(parent.id, at="no-such-event"), nothing
            else:
                assert isinstance(at, int)
                cut = at % len(history)
                fork = history[cut].event_id
            inherited = history[: cut + 1] + [e for e in history[cut + 1 :] if e.shared]
            return (
                True,
                lambda: mem.paths.branch(parent.id, at=fork, activate=active),
                lambda new: _opened(model, new, parent, inherited),
            )
        case ("merge", int(si), int(ti)):
            # The target is another path than the source whenever there are two.
            source, target = model.pick(si), model.pick(si + 1 + ti)
            if source is None or target is None:
                return True, lambda: mem.record(event("chat.turn")), nothing
            ok = (
                source.id != target.id
                and source.status is PathStatus.OPEN
                and target.status is PathStatus.OPEN
                and source.id not in model.lineage(target.id)
            )

            def merged(new: list[MemoryEvent]) -> None:
                assert source is not None and target is not None
                target.history.extend(source.own)
                target.own.extend(source.own)
                source.status, source.active = PathStatus.MERGED, False

            return ok, lambda: mem.paths.merge(source.id, into=target.id), merged
        case ("abandon", int(index)):
            target = model.pick(index)
            if target is None:
                return True, lambda: mem.record(event("chat.turn")), nothing

            def abandoned(new: list[MemoryEvent]) -> None:
                assert target is not None
                target.status, target.active = PathStatus.ABANDONED, False

            return (
                target.status is PathStatus.OPEN,
                lambda: mem.paths.abandon(target.id, reason="dead end"),
                abandoned,
            )
        case ("activate", int(index)):
            target = model.pick(index)
            if target is None:
                return True, lambda: mem.record(event("chat.turn")), nothing

            def activated(new: list[MemoryEvent]) -> None:
                assert target is not None
                model.activate(target)

            return (
                target.status is PathStatus.OPEN,
                lambda: mem.paths.activate(target.id),
                activated,
            )
    raise AssertionError(f"unknown operation {op!r}")  # pragma: no cover


def _existing(records: set[str] | dict[str, tuple[str, str]], ref: int, missing: str) -> str:
    """An existing id picked by ``ref`` (one value in five names a missing record)."""
    if ref % 5 == 4 or not records:
        return missing
    return sorted(records)[ref % len(records)]


def _opened(
    model: Model, new: list[MemoryEvent], parent: PathModel | None, inherited: list[Entry]
) -> None:
    """A path was opened (root) or branched: start its history before routing."""
    [made] = [e for e in new if e.kind in ("path.opened", "path.branched")]
    assert made.path_id is not None
    info = made.payload["path"]
    assert isinstance(info, dict)
    path = PathModel(
        id=made.path_id,
        parent=None if parent is None else parent.id,
        tree=made.path_id if parent is None else parent.tree,
        history=list(model.shared) if parent is None else list(inherited),
    )
    model.paths[path.id] = path
    model.order.append(path.id)
    if info.get("active"):
        model.activate(path)


def _run(mem: PhaseMemoryRuntime, ops: list[Op]) -> tuple[Model, dict[int, GraphSnapshot]]:
    model = Model()
    _start(mem, model)
    snapshots = {mem.events.last_position(): mem.graph.snapshot()}
    for op in ops:
        if _apply(mem, model, op):
            snapshots[mem.events.last_position()] = mem.graph.snapshot()
    return model, snapshots


def _check_graph_matches_model(mem: PhaseMemoryRuntime, model: Model) -> None:
    assert set(ids(mem.graph.list_nodes(P1))) == model.nodes
    assert {e.id: (e.source_id, e.target_id) for e in mem.graph.list_edges(P1)} == model.edges
    stored = {p.id: p for p in mem.paths.list(P1)}
    assert set(stored) == set(model.paths)
    for path_id, expected in model.paths.items():
        assert stored[path_id].status is expected.status, path_id
        assert stored[path_id].active is expected.active, path_id
    trees: dict[str, int] = {}
    for path in stored.values():
        trees[path.tree_id] = trees.get(path.tree_id, 0) + int(path.active)
    assert all(count <= 1 for count in trees.values())


# --- the properties ---------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(ops=ANY_OPS)
def test_runtime_graph_always_equals_a_replay_of_its_log(
    store_factory: StoreFactory, tmp_path_factory: pytest.TempPathFactory, ops: list[Op]
) -> None:
    with _runtime(store_factory, tmp_path_factory) as mem:
        model, snapshots = _run(mem, ops)
        replayed = mem.events.replay()
        assert replayed.report.problems == []
        assert mem.graph.snapshot().same_records(replayed.snapshot)
        _check_graph_matches_model(mem, model)
        # Time travel: a replay until any earlier position is the graph as it was then.
        for position, snapshot in snapshots.items():
            past = mem.events.replay(until=position)
            assert past.report.problems == []
            assert past.snapshot.same_records(snapshot), position


@PROPERTY_SETTINGS
@given(ops=PATH_HEAVY_OPS)
def test_path_histories_and_path_scoped_replays_match_the_model(
    store_factory: StoreFactory, tmp_path_factory: pytest.TempPathFactory, ops: list[Op]
) -> None:
    with _runtime(store_factory, tmp_path_factory) as mem:
        model, _ = _run(mem, ops)
        _check_graph_matches_model(mem, model)
        for path_id, path in model.paths.items():
            history = ids(mem.paths.events(path_id))
            assert history == [e.event_id for e in path.history], path_id
            snapshot = mem.events.replay(path_id=path_id).snapshot
            nodes, edges = model.remembered(path_id)
            assert set(snapshot.nodes) == nodes, path_id
            assert set(snapshot.edges) == edges, path_id

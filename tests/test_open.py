"""``pm.open``: targets, the context manager, and what the runtime it returns holds."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import phase_memory as pm
from phase_memory.memory import InMemoryStore
from phase_memory.testing.builders import P1, edge, edge_saved, event, node, profile


def _has_sql() -> bool:
    try:
        from phase_memory.sql import open_sql_store  # noqa: F401
    except ImportError:
        return False
    return importlib.util.find_spec("sqlalchemy") is not None


needs_sql = pytest.mark.skipif(
    not _has_sql(), reason="phase_memory.sql.open_sql_store is not importable here"
)


class Boom(Exception):
    """Raised on purpose inside a ``with`` block."""


def _write_some(mem: pm.PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    mem.save_node(node("a"))
    mem.save_node(node("b"))
    mem.save_edge(edge("ab", "a", "b"))
    root = mem.paths.open(P1, path_id="chat")
    mem.save_node(node("c"), path_id=root.id)


# --- ":memory:" -------------------------------------------------------------------------


def test_memory_target_gives_a_runtime_over_the_in_memory_adapter() -> None:
    mem = pm.open(":memory:")
    assert isinstance(mem, pm.PhaseMemoryRuntime)
    assert isinstance(mem.store, InMemoryStore)
    assert isinstance(mem.graph, pm.MemoryGraphStore)
    assert isinstance(mem.events, pm.MemoryEventLog)
    assert isinstance(mem.audit, pm.AuditSink)
    assert isinstance(mem.paths, pm.PathsAPI)
    assert mem.events.last_position() == 0
    assert mem.graph.list_profiles() == []
    mem.close()


def test_memory_target_as_a_path_object() -> None:
    with pm.open(Path(":memory:")) as mem:
        assert isinstance(mem.store, InMemoryStore)


def test_each_memory_open_is_a_fresh_separate_memory() -> None:
    with pm.open(":memory:") as first, pm.open(":memory:") as second:
        _write_some(first)
        assert second.graph.list_profiles() == []
        assert second.events.last_position() == 0


def test_a_memory_runtime_records_and_replays() -> None:
    with pm.open(":memory:") as mem:
        _write_some(mem)
        assert [n.id for n in mem.graph.list_nodes(P1)] == ["a", "b", "c"]
        replayed = mem.events.replay()
        assert replayed.report.problems == []
        assert mem.graph.snapshot().same_records(replayed.snapshot)
        assert set(mem.events.replay(path_id="chat").snapshot.nodes) == {"a", "b", "c"}


def test_actor_is_written_on_events() -> None:
    with pm.open(":memory:", actor="agent-7") as mem:
        _write_some(mem)
        assert {e.actor for e in mem.events.list()} == {"agent-7"}


@pytest.mark.parametrize(
    "options",
    [{"synchronous": "sometimes"}, {"journal_mode": "memory"}, {"busy_timeout": -1}],
)
def test_bad_options_are_a_validation_error(options: dict[str, object]) -> None:
    with pytest.raises(pm.ValidationError):
        pm.open(":memory:", **options)  # type: ignore[arg-type]


# --- the context manager ------------------------------------------------------------------


class _Spy(InMemoryStore):
    closed = 0

    def close(self) -> None:
        self.closed += 1


def test_with_returns_the_runtime_and_closes_the_store_on_exit() -> None:
    store = _Spy()
    runtime = pm.PhaseMemoryRuntime(store)
    with runtime as mem:
        assert mem is runtime
        _write_some(mem)
        assert store.closed == 0
    assert store.closed == 1


def test_with_closes_the_store_when_the_block_raises_and_lets_the_error_through() -> None:
    store = _Spy()
    with pytest.raises(Boom), pm.PhaseMemoryRuntime(store) as mem:
        mem.save_profile(profile())
        raise Boom
    assert store.closed == 1


def test_an_error_in_the_block_does_not_undo_earlier_committed_writes() -> None:
    store = _Spy()
    with pytest.raises(Boom), pm.PhaseMemoryRuntime(store) as mem:
        _write_some(mem)
        raise Boom
    assert [n.id for n in store.graph.list_nodes(P1)] == ["a", "b", "c"]


def test_with_keeps_a_failed_write_out_and_the_rest_in() -> None:
    with pm.open(":memory:") as mem:
        _write_some(mem)
        with pytest.raises(pm.IntegrityError):
            mem.save_edge(edge("ax", "a", "missing"))
        assert mem.graph.find_edge("ax") is None
        assert mem.graph.find_edge("ab") is not None


# --- files (the SQLite adapter) -------------------------------------------------------------


@needs_sql
@pytest.mark.parametrize("kind", ["str", "path", "url"])
def test_a_file_target_creates_a_database_that_survives_reopening(
    tmp_path: Path, kind: str
) -> None:
    db = tmp_path / "memory.db"
    targets: dict[str, str | Path] = {"str": str(db), "path": db, "url": f"sqlite:///{db}"}
    target = targets[kind]
    with pm.open(target) as mem:
        assert not isinstance(mem.store, InMemoryStore)
        _write_some(mem)
        before = mem.graph.snapshot()
        events = mem.events.list()
    assert db.exists()
    with pm.open(target) as again:
        assert again.graph.snapshot() == before
        assert again.events.list() == events
        replayed = again.events.replay()
        assert replayed.report.problems == []
        assert again.graph.snapshot().same_records(replayed.snapshot)
        again.save_node(node("d"))
    with pm.open(db) as third:
        assert [n.id for n in third.graph.list_nodes(P1)] == ["a", "b", "c", "d"]


@needs_sql
def test_a_file_and_memory_runtime_behave_the_same(tmp_path: Path) -> None:
    with pm.open(tmp_path / "memory.db") as on_disk, pm.open(":memory:") as in_memory:
        for mem in (on_disk, in_memory):
            mem.save_profile(profile())
            mem.save_node(node("a"))
            mem.save_node(node("b"))
            mem.save_edge(edge("ab", "a", "b"))
            mem.paths.open(P1, path_id="chat")
        assert on_disk.graph.list_nodes(P1) == in_memory.graph.list_nodes(P1)
        assert on_disk.graph.list_edges(P1) == in_memory.graph.list_edges(P1)
        assert on_disk.paths.get("chat").status == in_memory.paths.get("chat").status
        assert [e.kind for e in on_disk.events.list()] == [e.kind for e in in_memory.events.list()]


@needs_sql
def test_a_file_runtime_closes_on_exit_of_the_with_block(tmp_path: Path) -> None:
    closed: list[bool] = []
    with pm.open(tmp_path / "memory.db") as mem:
        original = mem.store.close

        def close() -> None:
            closed.append(True)
            original()

        mem.store.close = close  # type: ignore[method-assign]
        _write_some(mem)
    assert closed == [True]


@needs_sql
def test_a_refused_write_on_a_file_leaves_nothing_behind(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    with pm.open(db) as mem:
        _write_some(mem)
        position = mem.events.last_position()
        with pytest.raises(pm.IntegrityError):
            mem.record_many([event("chat.turn"), edge_saved(edge("ax", "a", "missing"))])
        assert mem.events.last_position() == position
    with pm.open(db) as again:
        assert again.events.last_position() == position
        assert again.graph.find_edge("ax") is None


@needs_sql
def test_a_read_only_file_can_be_read_but_not_written(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    with pm.open(db) as mem:
        _write_some(mem)
    with pm.open(db, read_only=True) as reader:
        assert reader.graph.get_node("a").version == 1
        with pytest.raises(pm.PhaseMemoryError):
            reader.save_node(node("z"))
        assert reader.graph.find_node("z") is None


@needs_sql
def test_a_missing_file_opened_read_only_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(pm.StoreUnavailableError):
        pm.open(tmp_path / "absent.db", read_only=True)

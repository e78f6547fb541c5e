"""Connections kept between calls on a SQLite file (phase_memory/sql/connections.py).

Each thread keeps its connections between store calls; these tests check
that doing so never makes a thread wait for the pool, never hands one
connection to two calls at once, closes everything on ``close()``, and
never reuses a parent's connection in a forked child; and that a write
transaction begun on the driver (SQLite) ends as one with the Core
statements run in it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

import phase_memory as pm
from phase_memory.errors import IntegrityError
from phase_memory.models import MemoryEvent, MemoryNode, Profile
from phase_memory.sql.connections import Connections
from phase_memory.sql.engine import EngineSettings, make_engine, to_url


def _open_fds_on(path: Path) -> int:
    """How many of this process's file descriptors point at ``path`` (Linux)."""
    fd_dir = Path("/proc/self/fd")
    count = 0
    for fd in fd_dir.iterdir():
        try:
            if os.readlink(fd) == str(path):
                count += 1
        except OSError:
            continue
    return count


def _event(n: int) -> MemoryEvent:
    return MemoryEvent(kind="chat.turn", profile_id="p", payload={"n": n})


def test_more_threads_than_the_default_pool_write_at_once(tmp_path: Path) -> None:
    # Every thread keeps its connections, so 24 threads (the default pool allows
    # 15) each holding theirs must still all get one, without waiting.
    threads = 24
    mem = pm.open(tmp_path / "m.db", busy_timeout=30)
    mem.save_profile(Profile(id="p", name="p"))
    ready = threading.Barrier(threads, timeout=20)
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            mem.events.append([_event(k)])  # parks this thread's connections
            ready.wait()  # every thread now holds its own
            mem.events.append([_event(1000 + k)])
            mem.events.list(limit=1)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors, errors
    assert len(mem.events.list(kinds=["chat.turn"])) == 2 * threads
    mem.close()


def test_a_nested_read_gets_a_connection_of_its_own(tmp_path: Path) -> None:
    with pm.open(tmp_path / "m.db") as mem:
        mem.save_profile(Profile(id="p", name="p"))
        mem.events.append([_event(k) for k in range(2500)])  # more than one page
        seen = 0
        for event in mem.events.iter():  # pages are read between these calls
            seen += 1
            if seen % 500 == 0:
                assert mem.events.get(event.event_id) == event
                mem.events.append([_event(10_000 + seen)])
        assert seen == 2501  # the profile.saved event and the 2,500 appended first


def test_close_closes_connections_parked_by_other_threads(tmp_path: Path) -> None:
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc/self/fd to count open files")
    path = (tmp_path / "m.db").absolute()
    mem = pm.open(path)
    mem.save_profile(Profile(id="p", name="p"))
    parked = threading.Event()
    release = threading.Event()

    def reader() -> None:
        mem.events.list(limit=1)
        mem.graph.find_profile("p")
        parked.set()
        release.wait(10)  # alive, its connections parked, while the store closes

    thread = threading.Thread(target=reader)
    thread.start()
    assert parked.wait(10)
    assert _open_fds_on(path) >= 1
    mem.close()
    assert _open_fds_on(path) == 0
    release.set()
    thread.join(10)
    with pytest.raises(pm.StoreUnavailableError):
        mem.events.list()


def _parked_drivers(mem: pm.PhaseMemoryRuntime) -> set[int]:
    """Ids of the DBAPI connections this thread has parked (white-box)."""
    parked = mem.events._db._parked.by_role  # type: ignore[attr-defined]
    return {id(conn.connection.driver_connection) for conn in parked.values()}


def _child_writes(path: str, queue: multiprocessing.Queue[object]) -> None:
    try:
        mem = _INHERITED[path]
        inherited = _parked_drivers(mem)
        saved = mem.save_node(MemoryNode(id="from-child", profile_id="p", kind="note",
                                         label="written by the child"))
        if _parked_drivers(mem) & inherited:
            queue.put("the child reused a connection of its parent")
            return
        queue.put(saved.version)
    except BaseException as exc:
        queue.put(repr(exc))


_INHERITED: dict[str, pm.PhaseMemoryRuntime] = {}


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs os.fork"
)
def test_a_forked_child_opens_its_own_connections(tmp_path: Path) -> None:
    path = str(tmp_path / "m.db")
    mem = pm.open(path)
    mem.save_profile(Profile(id="p", name="p"))
    mem.graph.find_profile("p")  # the parent's connections are parked now
    assert _parked_drivers(mem)
    _INHERITED[path] = mem
    try:
        context = multiprocessing.get_context("fork")
        queue: multiprocessing.Queue[object] = context.Queue()
        child = context.Process(target=_child_writes, args=(path, queue))
        child.start()
        outcome = queue.get(timeout=30)
        child.join(30)
        assert outcome == 1, outcome
        assert child.exitcode == 0
        # The parent's own connections still work and see the child's write.
        assert mem.graph.get_node("from-child").label == "written by the child"
        mem.save_node(MemoryNode(id="from-parent", profile_id="p", kind="note", label="x"))
        assert mem.diagnose().ok
    finally:
        _INHERITED.pop(path, None)
        mem.close()


def _sqlite_connections(path: Path) -> Connections:
    engine = make_engine(to_url(path), EngineSettings())
    db = Connections(engine)
    with db.transaction() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER PRIMARY KEY)"))
    return db


@pytest.mark.parametrize("fails", [False, True], ids=["commits", "rolls back"])
def test_a_driver_begun_write_and_a_core_statement_end_as_one(tmp_path: Path, fails: bool) -> None:
    # On SQLite a write transaction begins on the driver; a Core statement in it
    # makes SQLAlchemy begin its own (emitting nothing). Both writes must end
    # together, and the connection must be clean for the next transaction.
    db = _sqlite_connections(tmp_path / "t.db")
    expected = pytest.raises(RuntimeError) if fails else contextlib.nullcontext()
    with expected, db.transaction() as conn:
        conn.connection.driver_connection.execute("INSERT INTO t VALUES (1)")  # type: ignore[union-attr]
        conn.execute(text("INSERT INTO t VALUES (2)"))
        if fails:
            raise RuntimeError("the caller's block failed")
    with db.transaction() as conn:  # a new transaction on the parked connection
        conn.connection.driver_connection.execute("INSERT INTO t VALUES (3)")  # type: ignore[union-attr]
    with db.read() as conn:
        stored = [x for (x,) in conn.execute(text("SELECT x FROM t ORDER BY x"))]
    assert stored == ([3] if fails else [1, 2, 3])
    db.close()


def test_a_failed_driver_begun_write_leaves_nothing_open(tmp_path: Path) -> None:
    db = _sqlite_connections(tmp_path / "t.db")
    with pytest.raises(IntegrityError), db.write("insert") as conn:
        conn.connection.driver_connection.execute("INSERT INTO t VALUES (1)")  # type: ignore[union-attr]
        conn.connection.driver_connection.execute("INSERT INTO t VALUES (1)")  # type: ignore[union-attr]
    with db.transaction() as conn:
        assert conn.connection.driver_connection.in_transaction  # type: ignore[union-attr]
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
    db.close()

"""The event loop keeps running while the async runtime works: a 1 ms heartbeat beside a
100,000-record envelope import and a 10,000-event record_many: 99 % of its beats
come within 100 ms (or twice the machine's floor), and none waits a second.

The bound is generous on purpose: a loop blocked by the import shows gaps of
seconds, and the test must not flake on a loaded machine. Slow (marked): it
imports 100,000 records on SQLite and on PostgreSQL.

What the bound cannot absorb is CPython's full garbage collection: it stops
every thread while it walks every object of the process, whichever thread's
allocation set it off. In this test those passes walk pytest's and its plugins'
~200,000 objects plus the test's batch: 0.1-0.2 s of CPU each and 0.3-0.9 s of
wall time on the loaded 2-core VM, a dozen of them. That cost is the size of
the host's heap, not the runtime blocking the loop (the interpreter would stop
the loop just the same for a collection its own allocations started), so the
test measures with the collector off (``gc.disable``; reference counting still
frees everything without a cycle).

Nor can it absorb a machine with more runnable threads than cores: the loop
gets the GIL back only when the OS runs it. So the test first measures that
floor, the longest gap beside a thread that only counts (30-85 ms on the
shared 2-core VM at a load of 10 to 12), and the bound is 100 ms or twice
that floor, whichever is larger. The bound is put on the 99th percentile of
the gaps, and the longest single gap must stay under a second: the OS may
deschedule the loop's thread once for longer than the floor it measured
(a 165 ms gap was seen with two test suites running beside), while a loop that
a call blocks shows one gap as long as the call (seconds) and fails either way.
"""

from __future__ import annotations

import gc
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

import phase_memory as pm
from phase_memory.testing.builders import P1, event

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

NODES = 50_000
EDGES = 50_000
EVENTS = 10_000
MAX_GAP = 0.100
MAX_SINGLE_GAP = 1.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def collector_off() -> Iterator[None]:
    """No cyclic garbage collection during the test (see the module docstring)."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "memory.db")
    else:
        yield request.getfixturevalue("postgres_url").render_as_string(hide_password=False)


def _envelope(path: Path) -> Path:
    stamp = "2024-01-01T00:00:00Z"
    with path.open("w", encoding="utf-8") as out:
        out.write('{"envelope": "markitect.graph", "schema_version": 1, "generator": "t",')
        profile = {"id": P1, "name": P1, "created_at": stamp, "updated_at": stamp}
        out.write('"profiles": [' + json.dumps(profile) + '], "nodes": [\n')
        for i in range(NODES):
            out.write(("," if i else "") + json.dumps({
                "id": f"n{i:07d}", "profile_id": P1, "kind": "note", "label": f"node {i}",
                "content": f"some words about node {i}", "created_at": stamp,
                "updated_at": stamp, "version": 1}) + "\n")
        out.write('], "edges": [\n')
        for i in range(EDGES):
            out.write(("," if i else "") + json.dumps({
                "id": f"e{i:07d}", "profile_id": P1, "source_id": f"n{i:07d}",
                "target_id": f"n{(i * 7 + 1) % NODES:07d}", "kind": "rel",
                "created_at": stamp, "updated_at": stamp}) + "\n")
        out.write('], "paths": []}\n')
    return path


async def _heartbeat(gaps: list[float], done: anyio.Event) -> None:
    last = time.perf_counter()
    while not done.is_set():
        await anyio.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now


async def _floor(seconds: float = 2.0) -> float:
    """The longest heartbeat gap beside a pure-Python thread: this machine's floor now."""
    gaps: list[float] = []
    done = anyio.Event()
    stop = threading.Event()

    def count() -> None:
        n = 0
        while not stop.is_set():
            n += 1

    worker = threading.Thread(target=count)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(_heartbeat, gaps, done)
        worker.start()
        await anyio.sleep(seconds)
        done.set()
    stop.set()
    worker.join()
    return max(gaps)


@pytest.mark.usefixtures("collector_off")
async def test_a_heartbeat_keeps_beating_beside_a_big_import_and_record_many(
    target: str, tmp_path: Path
) -> None:
    source = _envelope(tmp_path / "big.json")
    batch = [event("chat.turn", {"i": i}) for i in range(EVENTS)]
    gaps: list[float] = []
    done = anyio.Event()
    floor = await _floor()
    assert not gc.isenabled()
    async with pm.open_async(target) as mem, anyio.create_task_group() as tasks:
        tasks.start_soon(_heartbeat, gaps, done)
        imported = await mem.import_envelope(source)
        recorded = await mem.record_many(batch)
        done.set()
    assert imported.counts["nodes"] == NODES and imported.counts["edges"] == EDGES
    assert len(recorded) == EVENTS
    assert len(gaps) > 100  # it did beat all along
    bound = max(MAX_GAP, 2 * floor)
    p99 = sorted(gaps)[int(len(gaps) * 0.99)]
    assert p99 < bound, (
        f"the loop stalled {p99 * 1000:.0f} ms at the 99th percentile (bound "
        f"{bound * 1000:.0f} ms; beside a pure-Python thread: {floor * 1000:.0f} ms)"
    )
    assert max(gaps) < MAX_SINGLE_GAP, f"the loop stopped for {max(gaps):.2f} s"

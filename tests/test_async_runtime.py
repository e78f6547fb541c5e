"""pm.open_async on memory, SQLite and PostgreSQL: results, errors, listings, many tasks
at once, and cancellation (a cancelled write is all or nothing; the runtime stays usable)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

import phase_memory as pm
from phase_memory.runtime.async_lanes import PAGE_SIZE
from phase_memory.testing.builders import P1, event, node, node_saved, profile

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """What pm.open_async opens: ":memory:", an SQLite file, or a PostgreSQL URL."""
    if request.param == "memory":
        yield ":memory:"
    elif request.param == "sqlite":
        yield str(tmp_path / "memory.db")
    else:
        url = request.getfixturevalue("postgres_url")
        yield url.render_as_string(hide_password=False)


async def test_writes_and_reads_give_what_the_sync_runtime_gives(target: str) -> None:
    async with pm.open_async(target, actor="agent") as mem:
        assert isinstance(mem, pm.AsyncPhaseMemoryRuntime)
        await mem.save_profile(profile())
        saved = await mem.save_node(node("a", label="likes green tea"))
        assert saved.version == 1
        assert (await mem.save_node(node("a", label="likes tea"), expected_version=1)).version == 2
        with pytest.raises(pm.ConflictError):
            await mem.save_node(node("a"), expected_version=7)
        with pytest.raises(pm.NotFoundError, match="'ghost'"):
            await mem.graph.get_node("ghost")
        root = await mem.paths.open(P1)
        turn = await mem.record(event("chat.turn", {"n": 1}, path_id=root.id))
        child = await mem.paths.branch(root.id, at=turn.event_id)
        plan = await mem.activate(P1, "tea", path_id=child.id)
        assert [item.node_id for item in plan.items] == ["a"]
        assert (await mem.graph.get_activation_plan(plan.id)) == plan
        assert [p.id for p in await mem.paths.lineage(child.id)] == [root.id, child.id]
        built = [e for e in await mem.events.list() if e.kind != "chat.turn"]
        assert {e.actor for e in built} == {"agent"}
        assert (await mem.diagnose()).ok
        assert (await mem.events.replay()).snapshot.nodes == {"a": await mem.graph.get_node("a")}


async def test_a_bad_option_is_refused_like_pm_open(tmp_path: Path) -> None:
    with pytest.raises(pm.ValidationError, match="synchronous"):
        await pm.open_async(tmp_path / "x.db", synchronous="sometimes")  # type: ignore[arg-type]
    with pytest.raises(pm.ValidationError, match="max_readers"):
        pm.open_async(tmp_path / "x.db", max_readers=0)


async def test_await_opens_and_close_closes(tmp_path: Path) -> None:
    mem = await pm.open_async(tmp_path / "m.db")
    await mem.save_profile(profile())
    await mem.close()
    with pytest.raises(pm.StoreUnavailableError):
        await mem.graph.get_profile(P1)


async def test_listings_stream_in_pages_and_equal_the_awaited_list(target: str) -> None:
    count = PAGE_SIZE * 2 + 7
    async with pm.open_async(target) as mem:
        await mem.save_profile(profile())
        await mem.record_many([event("chat.turn", {"i": i}) for i in range(count)])
        streamed = [e async for e in mem.events.list()]
        assert streamed == await mem.events.list()
        assert [e.position for e in streamed] == list(range(1, count + 2))
        listing = mem.events.list(kinds=["chat.turn"], after=3, limit=PAGE_SIZE + 1)
        limited = [e async for e in listing]
        assert [e.position for e in limited] == list(range(4, PAGE_SIZE + 5))
        assert [e async for e in mem.events.iter(after=count - 2)] == streamed[-3:]
        newest = [e async for e in mem.events.list(limit=2, newest_first=True)]
        assert newest == streamed[:-3:-1]
        assert [r async for r in mem.audit.list()] == await mem.audit.list()
        with pytest.raises(pm.NotFoundError):
            [e async for e in mem.paths.events("ghost")]


async def test_fifty_tasks_recording_and_activating_lose_nothing(target: str) -> None:
    per_task = 4
    async with pm.open_async(target) as mem:
        await mem.save_profile(profile())
        before = await mem.events.last_position()

        async def agent(number: int) -> None:
            for turn in range(per_task):
                await mem.save_node(node(f"n{number}-{turn}", label=f"fact {number} {turn}"))
                await mem.activate(P1, f"fact {number}")

        # StoreBusyError (or any error) in a task fails the test through the task group.
        async with anyio.create_task_group() as tasks:
            for number in range(50):
                tasks.start_soon(agent, number)
        assert await mem.events.last_position() == before + 50 * per_task * 2
        assert len(await mem.graph.list_nodes(P1)) == 50 * per_task
        assert len(await mem.graph.list_activation_plans(P1)) == 50 * per_task
        assert (await mem.diagnose()).ok


async def test_a_write_cancelled_before_it_starts_writes_nothing(target: str) -> None:
    async with pm.open_async(target) as mem:
        await mem.save_profile(profile())
        with anyio.CancelScope() as scope:
            scope.cancel()
            await mem.record_many([node_saved(node(f"n{i}")) for i in range(50)])
        assert scope.cancelled_caught
        assert await mem.events.last_position() == 1


async def test_a_write_cancelled_while_it_runs_completes_and_returns_then_the_cancel_lands(
    target: str,
) -> None:
    async with pm.open_async(target) as mem:
        await mem.save_profile(profile())
        returned: list[object] = []

        async def write() -> None:
            recorded = await mem.record_many([node_saved(node(f"n{i}")) for i in range(500)])
            returned.append(len(recorded))
            await anyio.sleep(0)  # the cancellation is delivered here, at the next await
            returned.append("not cancelled")

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(write)
            # A transaction of the sync store holds the writer's lock (the in-memory
            # lock, BEGIN IMMEDIATE, PostgreSQL's writer lock): the write starts in its
            # worker thread and waits there, so the cancel lands while it runs.
            with mem.sync.store.transaction():
                await anyio.wait_all_tasks_blocked()
                tasks.cancel_scope.cancel()
        assert returned == [500]  # the write finished and said so, then the cancel came
        assert await mem.events.last_position() == 501
        assert (await mem.diagnose()).ok


def _events_file(directory: Path, trial: int, count: int) -> Path:
    source = directory / f"events-{trial}.jsonl"
    with source.open("w", encoding="utf-8") as out:
        for i in range(count):
            out.write(node_saved(node(f"t{trial}-{i}")).model_dump_json() + "\n")
    return source


@pytest.mark.parametrize("operation", ["record_many", "import_events"])
async def test_cancelled_at_random_points_a_write_is_all_or_nothing(
    target: str, operation: str, tmp_path: Path
) -> None:
    count, trials = 400, 10
    chance = random.Random(f"cancel-{operation}")  # seeded: the same points on every run
    async with pm.open_async(target) as mem:
        await mem.save_profile(profile())
        outcomes = set()
        for trial in range(trials):
            source = _events_file(tmp_path, trial, count)
            before = await mem.events.last_position()
            with anyio.move_on_after(chance.choice([0.0, chance.uniform(0.0, 0.03)])):
                if operation == "record_many":
                    await mem.record_many([node_saved(node(f"t{trial}-{i}")) for i in range(count)])
                else:
                    await mem.import_events(source, progress=False)
            after = await mem.events.last_position()
            assert after in (before, before + count)
            outcomes.add(after - before)
            # The runtime is usable at once: nothing half-written, no lock left held.
            assert (await mem.diagnose()).ok
        assert 0 in outcomes  # a zero delay cancels before the lane is taken: nothing written
        await mem.save_node(node("after-the-cancellations"))
        assert await mem.graph.find_node("after-the-cancellations") is not None
        assert len(await mem.graph.list_nodes(P1)) == (await mem.events.last_position() - 1)

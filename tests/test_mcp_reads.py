"""The MCP read tools never wait for a writer (issue 19): ``read_graph``, ``search_nodes`` and
``open_nodes`` run on the async runtime's reader lane (``run_reading``), so they answer while
another process holds the file's write lock and while a write tool of the same server waits
for it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest

pytest.importorskip("mcp")

import phase_memory as pm
from tests.mcp_support import mcp_session, text

pytestmark = pytest.mark.anyio

ADA = {"name": "Ada", "entityType": "person", "observations": ["🚀 launches rockets"]}
BOB = {"name": "Bob", "entityType": "person", "observations": []}
CAROL = {"name": "Carol", "entityType": "person", "observations": []}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _read(session: Any, tool: str, arguments: dict[str, Any]) -> list[str]:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, text(result)
    return [e["name"] for e in json.loads(text(result))["entities"]]


async def test_read_tools_answer_while_another_process_holds_the_write_lock(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "memory.db")
    async with mcp_session(db) as session:
        created = await session.call_tool("create_entities", {"entities": [ADA, BOB]})
        assert not created.is_error, text(created)
        holder = sqlite3.connect(db, isolation_level=None, timeout=0)
        holder.execute("BEGIN IMMEDIATE")  # this process now holds the file's write lock
        try:
            write_result: list[Any] = []

            async def write() -> None:
                write_result.append(
                    await session.call_tool("create_entities", {"entities": [CAROL]}))

            async with anyio.create_task_group() as tg:
                tg.start_soon(write)
                await anyio.sleep(0.5)  # the server's writer is now waiting for the lock
                # Well within the writer's busy timeout (5 s): the reads do not queue
                # behind it, in the server's lanes or in the database.
                with anyio.fail_after(3):
                    assert await _read(session, "read_graph", {}) == ["Ada", "Bob"]
                    assert await _read(session, "search_nodes", {"query": "🚀"}) == ["Ada"]
                    assert await _read(session, "open_nodes", {"names": ["Bob", "Carol"]}) == [
                        "Bob"]
                assert write_result == []  # the write is still waiting
                holder.execute("ROLLBACK")
        finally:
            holder.close()
        [done] = write_result
        assert not done.is_error, text(done)
        assert await _read(session, "read_graph", {}) == ["Ada", "Bob", "Carol"]


async def test_run_reading_runs_beside_a_write_in_progress(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    async with pm.open_async(db) as mem:
        await mem.save_profile(pm.Profile(id="p", name="p"))
        started = anyio.Event()
        release = anyio.Event()
        token = anyio.lowlevel.current_token()

        def slow_write(rt: pm.PhaseMemoryRuntime) -> None:
            rt.save_node(pm.MemoryNode(id="late", profile_id="p", kind="note", label="late"))
            anyio.from_thread.run_sync(started.set, token=token)
            anyio.from_thread.run(release.wait, token=token)

        async with anyio.create_task_group() as tg:
            tg.start_soon(mem.run_in_transaction, slow_write)
            await started.wait()  # the writer lane is busy, its transaction open
            with anyio.fail_after(3):
                seen = await mem.run_reading(lambda rt: rt.graph.find_node("late"))
            assert seen is None  # the uncommitted write is not visible
            release.set()
        assert await mem.run_reading(lambda rt: rt.graph.find_node("late")) is not None

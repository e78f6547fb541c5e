"""Two ``phase-memory mcp`` processes and a CLI writer on one SQLite file, all at once:
every write is kept (the official server, rewriting its whole file per call, keeps about
half of the writes two processes make)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

pytest.importorskip("mcp")

import phase_memory as pm
from tests.mcp_support import mcp_session, server_command, text

pytestmark = pytest.mark.anyio

WRITES_PER_SERVER = 12
CLI_WRITES = 6


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _server_writes(db: str, who: str) -> None:
    async with mcp_session(db) as session:
        for i in range(WRITES_PER_SERVER):
            made = await session.call_tool("create_entities", {"entities": [
                {"name": f"{who}-{i}", "entityType": "note", "observations": [f"by {who}"]}]})
            assert not made.is_error, text(made)
            # Both servers add to the same entity: a lost update would drop one's observation.
            added = await session.call_tool("add_observations", {"observations": [
                {"entityName": "shared", "contents": [f"{who} {i}"]}]})
            assert not added.is_error, text(added)


async def _cli_writes(db: str, tmp_path: Path) -> None:
    command = server_command()
    for i in range(CLI_WRITES):
        line = tmp_path / f"cli-{i}.jsonl"
        line.write_text(json.dumps({"kind": "cli.note", "profile_id": "default",
                                    "payload": {"n": i}}) + "\n", encoding="utf-8")
        done = await anyio.run_process([*command, "--db", db, "events", "append", str(line)],
                                       check=False)
        assert done.returncode == 0, done.stderr.decode()


async def test_two_servers_and_the_cli_lose_no_write(tmp_path: Path) -> None:
    db = str(tmp_path / "memory.db")
    async with mcp_session(db) as session:
        made = await session.call_tool("create_entities", {"entities": [
            {"name": "shared", "entityType": "note", "observations": []}]})
        assert not made.is_error
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(_server_writes, db, "one")
        tasks.start_soon(_server_writes, db, "two")
        tasks.start_soon(_cli_writes, db, tmp_path)
    with pm.open(db) as mem:
        nodes = {n.label: n for n in mem.graph.list_nodes("default")}
        for who in ("one", "two"):
            assert {f"{who}-{i}" for i in range(WRITES_PER_SERVER)} <= set(nodes)
        shared = nodes["shared"].attributes["observations"]
        assert isinstance(shared, list)
        assert sorted(shared) == sorted(
            f"{who} {i}" for who in ("one", "two") for i in range(WRITES_PER_SERVER))
        assert len(mem.events.list(kinds=["cli.note"])) == CLI_WRITES
        assert mem.diagnose().ok

"""One client script against the official MCP memory server and against ``phase-memory mcp``:
the same entities, relations and results; every search hit of the official server is found.

The official server is a Node package and the suite does not depend on npm: this runs
only when ``PHASE_MEMORY_TEST_MCP_MEMORY_SERVER`` names its ``dist/index.js`` (as for
tests/test_mcp_memory_real_server.py).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.mcp_support import mcp_session

SERVER = os.environ.get("PHASE_MEMORY_TEST_MCP_MEMORY_SERVER", "")

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not SERVER or shutil.which("node") is None,
                       reason="set PHASE_MEMORY_TEST_MCP_MEMORY_SERVER to the server's "
                              "dist/index.js (and have node)"),
]

SCRIPT: list[tuple[str, dict[str, Any]]] = [
    ("create_entities", {"entities": [
        {"name": "Ada", "entityType": "person", "observations": ["lives in Lisbon"]},
        {"name": "Aiko", "entityType": "person", "observations": ["ラーメンが好き"]},
        {"name": "Acme", "entityType": "company", "observations": ["🚀 launches rockets"]},
    ]}),
    ("create_entities", {"entities": [
        {"name": "Ada", "entityType": "person", "observations": []},
        {"name": "Bob", "entityType": "person", "observations": []},
    ]}),
    ("create_relations", {"relations": [
        {"from": "Ada", "to": "Acme", "relationType": "works at"},
        {"from": "Aiko", "to": "Ada", "relationType": "knows"},
    ]}),
    ("create_relations", {"relations": [
        {"from": "Ada", "to": "Acme", "relationType": "works at"}]}),
    ("add_observations", {"observations": [
        {"entityName": "Ada", "contents": ["lives in Lisbon", "writes programs"]}]}),
    ("delete_observations", {"deletions": [
        {"entityName": "Ada", "observations": ["writes programs"]}]}),
    ("delete_relations", {"relations": [
        {"from": "Aiko", "to": "Ada", "relationType": "knows"}]}),
    ("open_nodes", {"names": ["Ada", "Nobody"]}),
    ("read_graph", {}),
    ("delete_entities", {"entityNames": ["Bob"]}),
    ("read_graph", {}),
]
QUERIES = ["Lisb", "ラーメン", "person", "🚀", "PERSON", "a", "nothing at all"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def _official(memory_file: Path) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(command="node", args=[SERVER],
                                   env={"MEMORY_FILE_PATH": str(memory_file)})
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def _run(session: ClientSession) -> tuple[list[Any], dict[str, set[str]]]:
    results = []
    for tool, arguments in SCRIPT:
        result = await session.call_tool(tool, arguments)
        assert not result.is_error, (tool, result.content)
        structured = dict(result.structured_content or {})
        if tool == "delete_entities":
            structured = {"success": structured["success"]}  # the message says more here
        results.append((tool, structured))
    hits = {}
    for query in QUERIES:
        found = await session.call_tool("search_nodes", {"query": query})
        hits[query] = {e["name"] for e in (found.structured_content or {})["entities"]}
    return results, hits


async def test_the_same_script_gives_the_same_results(tmp_path: Path) -> None:
    async with _official(tmp_path / "memory.jsonl") as official:
        expected, expected_hits = await _run(official)
    async with mcp_session(str(tmp_path / "memory.db")) as ours:
        got, got_hits = await _run(ours)
    assert got == expected
    for query, names in expected_hits.items():
        assert names <= got_hits[query], query

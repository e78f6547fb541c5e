"""Round trips with the real ``@modelcontextprotocol/server-memory`` (opt-in).

The server writes ``memory.jsonl`` through its own tools; phase-memory syncs
it, exports it back, and the server reads the export whole. CI does not
depend on npm: this runs only when ``PHASE_MEMORY_TEST_MCP_MEMORY_SERVER``
names the server's ``dist/index.js`` (``npm install
@modelcontextprotocol/server-memory`` in a scratch directory) and ``node`` is
on PATH. The same behaviour is covered without the server by
:mod:`phase_memory.testing.spec_mcp_memory`, on files in its format.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import phase_memory as pm

SERVER = os.environ.get("PHASE_MEMORY_TEST_MCP_MEMORY_SERVER", "")

pytestmark = pytest.mark.skipif(
    not SERVER or shutil.which("node") is None,
    reason="set PHASE_MEMORY_TEST_MCP_MEMORY_SERVER to the server's dist/index.js",
)


class MemoryServer:
    """The server over stdio: newline-delimited JSON-RPC, as MCP's stdio transport is."""

    def __init__(self, memory_file: Path) -> None:
        self._process = subprocess.Popen(
            ["node", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, encoding="utf-8",
            env={**os.environ, "MEMORY_FILE_PATH": str(memory_file)},
        )
        self._id = 0
        self._request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                     "clientInfo": {"name": "phase-memory-tests", "version": "1"}})
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def _send(self, message: dict[str, Any]) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(message) + "\n")
        self._process.stdin.flush()

    def _request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._id += 1
        self._send({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        assert self._process.stdout is not None
        while True:
            message: dict[str, Any] = json.loads(self._process.stdout.readline())
            if message.get("id") == self._id:
                assert "error" not in message, message
                return message

    def tool(self, name: str, **arguments: Any) -> Any:
        result = self._request("tools/call", {"name": name, "arguments": arguments})["result"]
        assert not result.get("isError"), result
        return result

    def read_graph(self) -> dict[str, Any]:
        graph: dict[str, Any] = json.loads(self.tool("read_graph")["content"][0]["text"])
        return graph

    def close(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        self._process.wait(timeout=30)


def lines_of(path: Path) -> set[str]:
    return set(path.read_text(encoding="utf-8").split("\n")) - {""}


def graph_lines(graph: dict[str, Any]) -> set[str]:
    return {json.dumps(e, sort_keys=True) for e in graph["entities"]} | {
        json.dumps(r, sort_keys=True) for r in graph["relations"]}


def test_the_real_server_and_phase_memory_stay_in_step(tmp_path: Path) -> None:
    memory_file = tmp_path / "memory.jsonl"
    server = MemoryServer(memory_file)
    try:
        server.tool("create_entities", entities=[
            {"name": "Sam", "entityType": "person",
             "observations": ['Likes "tea"', "Lives in Lisbon\nPortugal", "ünïcödé ✓ 🚀",
                              "ctrl\u0001x"]},
            {"name": "Acme", "entityType": "work place", "observations": []},
            {"name": "Tea", "entityType": "drink", "observations": ["green"]},
            {"name": "Tea", "entityType": "drink", "observations": ["green"]},
        ])
        server.tool("create_relations", relations=[
            {"from": "Sam", "to": "Acme", "relationType": "works at"},
            {"from": "Sam", "to": "Acme", "relationType": "works_at"},
            {"from": "Sam", "to": "Tea", "relationType": "likes"},
            {"from": "Sam", "to": "Tea", "relationType": "likes"},
            {"from": "Sam", "to": "Nobody", "relationType": "knows"},
        ])
    finally:
        server.close()
    dangling = '{"type":"relation","from":"Sam","to":"Nobody","relationType":"knows"}'
    back = tmp_path / "back.jsonl"
    with pm.open(tmp_path / "memory.db") as mem:
        def sync_and_compare() -> None:
            mem.import_mcp_memory(memory_file, profile_id="sam", mode="sync", skip_invalid=True)
            position = mem.events.last_position()
            mem.import_mcp_memory(memory_file, profile_id="sam", mode="sync", skip_invalid=True)
            assert mem.events.last_position() == position
            mem.export_mcp_memory(back, profile_id="sam")
            assert lines_of(back) == lines_of(memory_file) - {dangling}

        sync_and_compare()
        server = MemoryServer(memory_file)
        try:
            server.tool("add_observations", observations=[
                {"entityName": "Sam", "contents": ["Has a cat"]}])
            server.tool("create_entities", entities=[
                {"name": "Porto", "entityType": "city", "observations": []}])
            server.tool("delete_entities", entityNames=["Acme"])
        finally:
            server.close()
        sync_and_compare()
    # The server reads the export whole: the same graph as its own file, less the
    # relation to an entity that does not exist.
    server = MemoryServer(back)
    try:
        exported = server.read_graph()
    finally:
        server.close()
    server = MemoryServer(memory_file)
    try:
        original = server.read_graph()
    finally:
        server.close()
    assert graph_lines(exported) == {
        line for line in graph_lines(original) if '"Nobody"' not in line}

"""``phase-memory mcp --transport streamable-http``: the same tools over HTTP, through the
SDK's streamable HTTP client."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import anyio
import pytest

pytest.importorskip("mcp")

from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.mcp_support import server_command, text

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _listening(port: int, server: subprocess.Popen[bytes]) -> None:
    with anyio.fail_after(60):
        while True:
            assert server.poll() is None, "the server exited"
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(0.2)
                continue
            await stream.aclose()
            return


async def test_the_tools_answer_over_streamable_http(tmp_path: Path) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [*server_command(), "--db", str(tmp_path / "memory.db"), "mcp", "--profile", "sam",
         "--transport", "streamable-http", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        await _listening(port, server)
        url = f"http://127.0.0.1:{port}/mcp"
        async with streamable_http_client(url) as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            names = [t.name for t in (await session.list_tools()).tools]
            assert "create_entities" in names and "recall" in names
            made = await session.call_tool("create_entities", {"entities": [
                {"name": "Sam", "entityType": "person", "observations": ["Lives in Lisbon"]}]})
            assert not made.is_error, text(made)
            found = await session.call_tool("search_nodes", {"query": "Lisb"})
            assert found.structured_content == {"entities": [
                {"name": "Sam", "entityType": "person", "observations": ["Lives in Lisbon"]}],
                "relations": []}
            failed = await session.call_tool("open_nodes", {})
            assert failed.is_error and "names" in text(failed)
    finally:
        server.terminate()
        server.wait(timeout=30)

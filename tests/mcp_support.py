"""Driving ``phase-memory mcp`` through the MCP SDK's own stdio client, as a host does."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp_types as types
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

Call = Callable[[str, dict[str, Any]], Awaitable[types.CallToolResult]]


def server_command() -> list[str]:
    """The installed ``phase-memory`` entry point beside this interpreter."""
    found = Path(sys.executable).with_name("phase-memory")
    return [str(found)] if found.exists() else [shutil.which("phase-memory") or "phase-memory"]


@asynccontextmanager
async def mcp_session(db: str, *extra: str) -> AsyncIterator[ClientSession]:
    """A client session with ``phase-memory --db DB mcp EXTRA...`` spawned over stdio."""
    command = server_command()
    params = StdioServerParameters(command=command[0], args=[*command[1:], "--db", db, "mcp",
                                                             *extra])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


def text(result: types.CallToolResult) -> str:
    """The text of a result's first content block."""
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    return block.text

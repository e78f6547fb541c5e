"""The MCP server: the memory's tools over stdio or streamable HTTP, on the official SDK.

One server process serves one profile of one memory (a file or a URL, opened
with :func:`phase_memory.open_async`). Each tool call is one unit of work on
the async runtime, so several server processes and the CLI can share a file:
on SQLite every write starts with ``BEGIN IMMEDIATE`` and waits its turn.

A tool that fails answers with an MCP error result (``isError: true``) holding
one line that says what was wrong in the caller's terms; the server keeps
serving. Nothing it does prints to stdout, which belongs to the protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

import anyio
import mcp_types as types
import uvicorn
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from pydantic import ValidationError as PydanticValidationError

from phase_memory.errors import PhaseMemoryError
from phase_memory.mcp.native_tools import native_tools
from phase_memory.mcp.official_tools import official_tools
from phase_memory.mcp.tools import MemoryTool
from phase_memory.models import Profile
from phase_memory.runtime.async_runtime import AsyncPhaseMemoryRuntime

Transport = Literal["stdio", "streamable-http"]

SERVER_NAME = "phase-memory"
INSTRUCTIONS = (
    "Long-term memory. The knowledge-graph tools (create_entities, add_observations, "
    "search_nodes, open_nodes, ...) work as the official MCP memory server's do. "
    "remember/recall keep and rank richer memories; open_path/branch_path/merge_path/"
    "abandon_path follow branches of a conversation; deletions and other lasting "
    "changes become proposals a person reviews."
)


def memory_tools(mem: AsyncPhaseMemoryRuntime, profile_id: str) -> list[MemoryTool]:
    """Every tool the server offers: the official server's nine, then the native ones."""
    return [*official_tools(mem, profile_id), *native_tools(mem, profile_id)]


def error_line(tool: str, error: BaseException) -> str:
    """One line saying why a call failed, in the caller's terms."""
    if isinstance(error, PydanticValidationError):
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        return f"{tool}: invalid arguments: {where or 'value'}: {first['msg']}{more}"
    if isinstance(error, KeyError):
        return f"{tool}: invalid arguments: missing required argument {error.args[0]!r}"
    if isinstance(error, PhaseMemoryError):
        return f"{tool}: {' '.join(str(error).split())}"
    return f"{tool}: internal error ({type(error).__name__}): {' '.join(str(error).split())}"


def build_server(mem: AsyncPhaseMemoryRuntime, profile_id: str,
                 tools: Sequence[MemoryTool] | None = None) -> Server[Any]:
    """A low-level SDK server answering ``tools/list`` and ``tools/call`` from ``tools``."""
    chosen = list(tools if tools is not None else memory_tools(mem, profile_id))
    by_name = {tool.name: tool for tool in chosen}

    async def list_tools(ctx: ServerRequestContext[Any],
                         params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[tool.definition for tool in chosen])

    async def call_tool(ctx: ServerRequestContext[Any],
                        params: types.CallToolRequestParams) -> types.CallToolResult:
        tool = by_name.get(params.name)
        if tool is None:
            return _error(f"unknown tool {params.name!r}; tools/list names the tools")
        try:
            text, structured = await tool.handler(dict(params.arguments or {}))
        except anyio.get_cancelled_exc_class():
            raise
        except Exception as error:  # one line to the model; the server keeps serving
            return _error(error_line(tool.name, error))
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)], structured_content=structured
        )

    def input_schema(name: str) -> dict[str, Any] | None:
        tool = by_name.get(name)
        return tool.definition.input_schema if tool is not None else None

    return Server(
        SERVER_NAME, version=_version(), instructions=INSTRUCTIONS,
        on_list_tools=list_tools, on_call_tool=call_tool, get_tool_input_schema=input_schema,
    )


def _error(line: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=line)],
                                is_error=True)


def _version() -> str:
    try:
        return version("phase-memory")
    except PackageNotFoundError:
        return "0"


async def ensure_profile(mem: AsyncPhaseMemoryRuntime, profile_id: str) -> None:
    """Create the served profile (default policy) if the memory does not have it yet."""
    if await mem.graph.find_profile(profile_id) is None:
        await mem.save_profile(Profile(id=profile_id, name=profile_id))


async def serve(mem: AsyncPhaseMemoryRuntime, profile_id: str, *,
                transport: Transport = "stdio", host: str = "127.0.0.1",
                port: int = 8000) -> None:
    """Serve the memory's tools until the client goes away (stdio) or the process stops."""
    await ensure_profile(mem, profile_id)
    server = build_server(mem, profile_id)
    if transport == "stdio":
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
        return
    app = server.streamable_http_app(host=host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    await uvicorn.Server(config).serve()


__all__ = ["INSTRUCTIONS", "SERVER_NAME", "Transport", "build_server", "ensure_profile",
           "error_line", "memory_tools", "serve"]

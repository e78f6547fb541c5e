"""``mcp``: serve the memory to agents over MCP (needs the ``mcp`` extra)."""

from __future__ import annotations

from typing import Annotated

import anyio
import typer

import phase_memory as pm
from phase_memory.cli.context import ENV_DB, state_of
from phase_memory.cli.errors import CliError

try:  # the extra is optional: without it the command says how to get it
    from phase_memory.mcp import Transport, serve
except ImportError:  # pragma: no cover - exercised where the extra is not installed
    serve = None  # type: ignore[assignment]

MCP_ACTOR = "mcp"


def mcp(
    ctx: typer.Context,
    profile: Annotated[
        str, typer.Option("--profile", metavar="ID",
                          help="The profile the tools read and write (made if missing).")
    ] = "default",
    transport: Annotated[
        str, typer.Option("--transport", metavar="stdio|streamable-http",
                          help="stdio for hosts that start the server, streamable-http for "
                               "hosts that connect to a URL.")
    ] = "stdio",
    host: Annotated[str, typer.Option("--host", help="HTTP: the address to listen on.")] = (
        "127.0.0.1"),
    port: Annotated[int, typer.Option("--port", min=1, max=65535,
                                      help="HTTP: the port to listen on.")] = 8000,
) -> None:
    """Serve the memory as an MCP server (the MCP memory server's tools and more).

    The database is --db (or $PHASE_MEMORY_DB), created if missing. Over
    streamable HTTP the endpoint is http://HOST:PORT/mcp.
    """
    if serve is None:
        raise CliError("the MCP server needs the mcp extra: pip install 'phase-memory[mcp]'")
    if transport not in ("stdio", "streamable-http"):
        raise CliError(f"--transport {transport!r}: use stdio or streamable-http")
    state = state_of(ctx)
    file = state.file
    if file is not None and file.is_dir():
        raise CliError(f"{state.shown} is a directory, not a memory database (see --db or "
                       f"{ENV_DB})")
    chosen: Transport = "stdio" if transport == "stdio" else "streamable-http"

    async def run() -> None:
        async with pm.open_async(state.db, actor=MCP_ACTOR) as mem:
            await serve(mem, profile, transport=chosen, host=host, port=port)

    anyio.run(run)

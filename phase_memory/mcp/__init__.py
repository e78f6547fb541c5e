"""``phase-memory mcp``: the memory as an MCP server (extra ``phase-memory[mcp]``).

The official MCP memory server's nine tools (same names, schemas and results)
and native tools (``remember``, ``recall``, path tools, ``propose``), over
stdio or streamable HTTP, on the official MCP Python SDK. See ``docs/mcp.md``.
"""

from phase_memory.mcp.server import (
    SERVER_NAME,
    Transport,
    build_server,
    ensure_profile,
    memory_tools,
    serve,
)
from phase_memory.mcp.tools import MemoryTool

__all__ = ["SERVER_NAME", "MemoryTool", "Transport", "build_server", "ensure_profile",
           "memory_tools", "serve"]

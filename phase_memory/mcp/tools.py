"""What a tool is to the server: its MCP definition and the coroutine that answers a call."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import mcp_types as types
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from phase_memory.errors import ConflictError, ValidationError
from phase_memory.runtime.async_runtime import AsyncPhaseMemoryRuntime
from phase_memory.runtime.runtime import PhaseMemoryRuntime

_T = TypeVar("_T")

ATTEMPTS = 3
"""Tries of a unit of work that lost a race with another writer (PostgreSQL)."""

ToolOutput = tuple[str, dict[str, Any] | None]
"""A successful call's text content and structured content (None: text only)."""

ToolHandler = Callable[[dict[str, Any]], Awaitable[ToolOutput]]


@dataclass(frozen=True)
class MemoryTool:
    """One tool: its definition (as ``tools/list`` shows it) and its handler."""

    definition: types.Tool
    handler: ToolHandler

    @property
    def name(self) -> str:
        """The tool's name."""
        return self.definition.name


def tool_definition(spec: dict[str, Any]) -> types.Tool:
    """A tool definition from its JSON form (camelCase keys, as the protocol has them)."""
    return types.Tool.model_validate(spec)


async def unit_of_work(mem: AsyncPhaseMemoryRuntime,
                       work: Callable[[PhaseMemoryRuntime], _T]) -> _T:
    """Run ``work`` as one transaction; run it again if another writer got there first.

    On SQLite a write transaction holds the file from its first statement, so a
    look-up and the writes it decides cannot race. On PostgreSQL two servers can
    both see a name as new; the second save then fails its expected version
    (ConflictError), and running the unit again sees the first one's write.
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await mem.run_in_transaction(work)
        except ConflictError:
            if attempt == ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def argument(adapter: TypeAdapter[Any], arguments: dict[str, Any], name: str) -> Any:
    """The argument ``name`` checked by ``adapter``; a clear error naming where it is wrong."""
    if name not in arguments:
        raise ValidationError(f"invalid arguments: missing required argument {name!r}")
    try:
        return adapter.validate_python(arguments[name])
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in (name, *first["loc"]))
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ValidationError(f"invalid arguments: {where}: {first['msg']}{more}") from None


def as_text(value: Any) -> str:
    """A result as the official server writes its text content (two-space JSON)."""
    return json.dumps(value, indent=2, ensure_ascii=False)


__all__ = ["MemoryTool", "ToolHandler", "ToolOutput", "argument", "as_text", "tool_definition",
           "unit_of_work"]

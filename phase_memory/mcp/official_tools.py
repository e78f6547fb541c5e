"""The nine tools of the official MCP memory server, with its names, schemas and results.

The definitions (name, title, description, input and output schemas,
annotations) are those ``@modelcontextprotocol/server-memory`` lists, kept
verbatim in ``official_tools.json``, so a prompt or client written for that
server works unchanged. The results have its shapes: the text content is the
JSON it prints, the structured content what its output schema says.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from pydantic import TypeAdapter

from phase_memory.mcp import knowledge_graph as kg
from phase_memory.mcp.review_bridge import delete_entities
from phase_memory.mcp.search import search_nodes
from phase_memory.mcp.tools import (
    MemoryTool,
    ToolHandler,
    ToolOutput,
    argument,
    as_text,
    tool_definition,
    unit_of_work,
)
from phase_memory.runtime.async_runtime import AsyncPhaseMemoryRuntime

_ENTITIES = TypeAdapter(list[kg.Entity])
_RELATIONS = TypeAdapter(list[kg.Relation])
_ADDITIONS = TypeAdapter(list[kg.ObservationAddition])
_DELETIONS = TypeAdapter(list[kg.ObservationDeletion])
_NAMES = TypeAdapter(list[str])
_QUERY = TypeAdapter(str)


def official_definitions() -> list[dict[str, Any]]:
    """The official server's tool definitions, as it lists them."""
    text = resources.files("phase_memory.mcp").joinpath("official_tools.json").read_text("utf-8")
    definitions: list[dict[str, Any]] = json.loads(text)
    return definitions


def official_tools(mem: AsyncPhaseMemoryRuntime, profile_id: str) -> list[MemoryTool]:
    """The nine tools, answering from ``profile_id`` of ``mem``."""

    async def create_entities(arguments: dict[str, Any]) -> ToolOutput:
        entities = argument(_ENTITIES, arguments, "entities")
        created = await unit_of_work(mem,
            lambda rt: kg.create_entities(rt, profile_id, entities))
        return as_text(created), {"entities": created}

    async def create_relations(arguments: dict[str, Any]) -> ToolOutput:
        relations = argument(_RELATIONS, arguments, "relations")
        created = await unit_of_work(mem,
            lambda rt: kg.create_relations(rt, profile_id, relations))
        return as_text(created), {"relations": created}

    async def add_observations(arguments: dict[str, Any]) -> ToolOutput:
        additions = argument(_ADDITIONS, arguments, "observations")
        results = await unit_of_work(mem,
            lambda rt: kg.add_observations(rt, profile_id, additions))
        return as_text(results), {"results": results}

    async def delete_entities_tool(arguments: dict[str, Any]) -> ToolOutput:
        names = argument(_NAMES, arguments, "entityNames")
        message = await delete_entities(mem, profile_id, names)
        return message, {"success": True, "message": message}

    async def delete_observations(arguments: dict[str, Any]) -> ToolOutput:
        deletions = argument(_DELETIONS, arguments, "deletions")
        await unit_of_work(mem, lambda rt: kg.delete_observations(rt, profile_id, deletions))
        message = "Observations deleted successfully"
        return message, {"success": True, "message": message}

    async def delete_relations(arguments: dict[str, Any]) -> ToolOutput:
        relations = argument(_RELATIONS, arguments, "relations")
        await unit_of_work(mem, lambda rt: kg.delete_relations(rt, profile_id, relations))
        message = "Relations deleted successfully"
        return message, {"success": True, "message": message}

    async def read_graph(arguments: dict[str, Any]) -> ToolOutput:
        graph = await mem.run_reading(lambda rt: kg.read_graph(rt, profile_id))
        return as_text(graph), graph

    async def search_nodes_tool(arguments: dict[str, Any]) -> ToolOutput:
        query = argument(_QUERY, arguments, "query")
        graph = await mem.run_reading(lambda rt: search_nodes(rt, profile_id, query))
        return as_text(graph), graph

    async def open_nodes(arguments: dict[str, Any]) -> ToolOutput:
        names = argument(_NAMES, arguments, "names")
        graph = await mem.run_reading(lambda rt: kg.open_nodes(rt, profile_id, names))
        return as_text(graph), graph

    handlers: dict[str, ToolHandler] = {
        "create_entities": create_entities,
        "create_relations": create_relations,
        "add_observations": add_observations,
        "delete_entities": delete_entities_tool,
        "delete_observations": delete_observations,
        "delete_relations": delete_relations,
        "read_graph": read_graph,
        "search_nodes": search_nodes_tool,
        "open_nodes": open_nodes,
    }
    return [
        MemoryTool(tool_definition(spec), handlers[spec["name"]])
        for spec in official_definitions()
    ]


__all__ = ["official_definitions", "official_tools"]

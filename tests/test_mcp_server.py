"""``phase-memory mcp`` over stdio, driven by the MCP SDK's real client: every tool's success
and error path, the official server's definitions and result shapes, a server that keeps
serving after a failed call, and what the tools wrote read back by the library."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

import phase_memory as pm
from phase_memory.mcp.official_tools import official_definitions
from tests.mcp_support import mcp_session, text

pytestmark = pytest.mark.anyio

ADA = {"name": "Ada", "entityType": "person", "observations": ["lives in Lisbon", "ラーメンが好き"]}
BOB = {"name": "Bob", "entityType": "person", "observations": ["🚀 launches rockets"]}
EVE = {"name": "Eve", "entityType": "company", "observations": []}
KNOWS = {"from": "Ada", "to": "Bob", "relationType": "knows"}
WORKS = {"from": "Bob", "to": "Eve", "relationType": "works at"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "memory.db")


async def _ok(session: Any, tool: str, arguments: dict[str, Any]) -> Any:
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, text(result)
    if result.structured_content is not None:
        # The text content is the same JSON the official server prints (or its message).
        if tool.startswith("delete_"):
            assert text(result) == result.structured_content["message"]
        else:
            assert json.loads(text(result)) == _unwrapped(tool, result.structured_content)
    return result.structured_content


def _unwrapped(tool: str, structured: dict[str, Any]) -> Any:
    key = {"create_entities": "entities", "create_relations": "relations",
           "add_observations": "results"}.get(tool)
    return structured[key] if key else structured


async def _error(session: Any, tool: str, arguments: dict[str, Any]) -> str:
    result = await session.call_tool(tool, arguments)
    assert result.is_error
    line = text(result)
    assert "\n" not in line and "Traceback" not in line
    return line


async def test_lists_the_official_nine_with_their_exact_definitions_then_native(db: str) -> None:
    async with mcp_session(db) as session:
        tools = (await session.list_tools()).tools
    names = [t.name for t in tools]
    official = official_definitions()
    assert names[:9] == [d["name"] for d in official]
    assert names[9:] == ["remember", "recall", "open_path", "branch_path", "merge_path",
                         "abandon_path", "propose"]
    for tool, definition in zip(tools, official, strict=False):
        listed = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
        for key in ("name", "title", "description", "inputSchema", "outputSchema",
                    "annotations"):
            assert listed[key] == definition[key], (tool.name, key)
    for tool in tools[9:]:
        assert tool.description and len(tool.description) > 60
        assert tool.input_schema["type"] == "object"


async def test_create_entities_skips_repeats_and_refuses_bad_input(db: str) -> None:
    async with mcp_session(db) as session:
        created = await _ok(session, "create_entities", {"entities": [ADA, BOB]})
        assert created == {"entities": [ADA, BOB]}
        again = await _ok(session, "create_entities", {"entities": [ADA, EVE, EVE]})
        assert again == {"entities": [EVE]}
        line = await _error(session, "create_entities",
                            {"entities": [{"name": "Zed", "entityType": "x"}]})
        assert line.startswith("create_entities: invalid arguments: entities.0.observations")
        assert "missing required argument 'entities'" in await _error(
            session, "create_entities", {})
        graph = await _ok(session, "read_graph", {})
    assert graph == {"entities": [ADA, BOB, EVE], "relations": []}


async def test_the_tools_refuse_what_an_import_of_their_export_would_refuse(
    db: str, tmp_path: Path
) -> None:
    # The tools took a name with NUL (which SQLite's JSON functions cut, so it was
    # never found again) and blank names or types, which an import of the
    # export refuses. They now check each item as the importer checks a line.
    async with mcp_session(db) as session:
        await _ok(session, "create_entities", {"entities": [ADA]})
        refused = {
            "create_entities": [
                ({"entities": [BOB, {**EVE, "name": "E\x00ve"}]},
                 "entities[1].name: name must not contain NUL characters"),
                ({"entities": [{**EVE, "entityType": "  "}]},
                 "entities[0].entityType: entityType must not be blank"),
                ({"entities": [{**EVE, "observations": ["a\x00b"]}]},
                 "entities[0].observations: observations[0] must not contain NUL"),
            ],
            "create_relations": [
                ({"relations": [{**KNOWS, "to": "Ada", "relationType": " "}]},
                 "relations[0].relationType: relationType must not be blank"),
            ],
            "add_observations": [
                ({"observations": [{"entityName": "Ada", "contents": ["ok", "x\x00"]}]},
                 "observations[0].contents[1] must not contain NUL"),
            ],
        }
        for tool, calls in refused.items():
            for arguments, expected in calls:
                assert expected in await _error(session, tool, arguments)
        assert await _ok(session, "open_nodes", {"names": ["Ada\x00", "Ada"]}) == {
            "entities": [ADA], "relations": []}
        graph = await _ok(session, "read_graph", {})
    assert graph == {"entities": [ADA], "relations": []}
    with pm.open(db) as mem:
        exported = tmp_path / "memory.jsonl"
        mem.export_mcp_memory(exported)
    with pm.open(tmp_path / "again.db") as again:
        again.import_mcp_memory(exported)
        assert [n.label for n in again.graph.list_nodes("default")] == ["Ada"]


async def test_create_relations_refuses_a_missing_entity_and_writes_nothing(db: str) -> None:
    async with mcp_session(db) as session:
        await _ok(session, "create_entities", {"entities": [ADA, BOB, EVE]})
        assert await _ok(session, "create_relations", {"relations": [KNOWS]}) == {
            "relations": [KNOWS]}
        assert await _ok(session, "create_relations", {"relations": [KNOWS, WORKS]}) == {
            "relations": [WORKS]}
        line = await _error(session, "create_relations", {"relations": [
            {"from": "Ada", "to": "Eve", "relationType": "met"},
            {"from": "Ada", "to": "Nobody", "relationType": "knows"}]})
        assert line == ("create_relations: no entity named 'Nobody'; create it first "
                        "(create_entities). Nothing was written")
        await _error(session, "create_relations", {"relations": [{"from": "Ada"}]})
        graph = await _ok(session, "read_graph", {})
    assert graph["relations"] == [KNOWS, WORKS]


async def test_add_and_delete_observations(db: str) -> None:
    async with mcp_session(db) as session:
        await _ok(session, "create_entities", {"entities": [ADA, BOB]})
        added = await _ok(session, "add_observations", {"observations": [
            {"entityName": "Ada", "contents": ["lives in Lisbon", "writes programs"]}]})
        assert added == {"results": [{"entityName": "Ada",
                                      "addedObservations": ["writes programs"]}]}
        line = await _error(session, "add_observations", {"observations": [
            {"entityName": "Bob", "contents": ["not written"]},
            {"entityName": "Nobody", "contents": ["x"]}]})
        assert line == "add_observations: Entity with name Nobody not found"
        deleted = await _ok(session, "delete_observations", {"deletions": [
            {"entityName": "Ada", "observations": ["lives in Lisbon", "never there"]},
            {"entityName": "Nobody", "observations": ["x"]}]})
        assert deleted == {"success": True, "message": "Observations deleted successfully"}
        await _error(session, "delete_observations", {"deletions": "Ada"})
        graph = await _ok(session, "open_nodes", {"names": ["Ada", "Bob"]})
    assert graph["entities"][0]["observations"] == ["ラーメンが好き", "writes programs"]
    assert graph["entities"][1]["observations"] == BOB["observations"]


async def test_delete_relations(db: str) -> None:
    async with mcp_session(db) as session:
        await _ok(session, "create_entities", {"entities": [ADA, BOB, EVE]})
        await _ok(session, "create_relations", {"relations": [KNOWS, WORKS]})
        done = await _ok(session, "delete_relations", {"relations": [
            KNOWS, {"from": "Eve", "to": "Ada", "relationType": "never"}]})
        assert done == {"success": True, "message": "Relations deleted successfully"}
        await _error(session, "delete_relations", {"relations": [{"to": "Ada"}]})
        graph = await _ok(session, "read_graph", {})
    assert graph["relations"] == [WORKS]


async def test_delete_entities_is_a_proposal_that_hides_them_until_a_person_decides(
    db: str,
) -> None:
    async with mcp_session(db) as session:
        await _ok(session, "create_entities", {"entities": [ADA, BOB, EVE]})
        await _ok(session, "create_relations", {"relations": [KNOWS, WORKS]})
        done = await _ok(session, "delete_entities", {"entityNames": ["Bob", "Nobody"]})
        assert done["success"] is True and "waiting for review" in done["message"]
        graph = await _ok(session, "read_graph", {})
        assert [e["name"] for e in graph["entities"]] == ["Ada", "Eve"]
        assert graph["relations"] == []
        await _error(session, "delete_entities", {"entityNames": "Bob"})
    with pm.open(db) as mem:
        [proposal] = mem.review.list()
        assert proposal.action.kind.value == "forget"
        assert proposal.action.reason == "an agent called delete_entities (1 entity)"
        bob = mem.graph.get_node(proposal.action.targets[0])
        assert bob.state.value == "archived" and bob.label == "Bob"
        mem.review.reject(proposal.id, by="ann", reason="Bob is still around")
    async with mcp_session(db) as session:
        graph = await _ok(session, "read_graph", {})
        assert [e["name"] for e in graph["entities"]] == ["Ada", "Bob", "Eve"]
        assert graph["relations"] == [KNOWS, WORKS]
        await _ok(session, "delete_entities", {"entityNames": ["Bob"]})
    with pm.open(db) as mem:
        [proposal] = mem.review.list()
        mem.review.approve(proposal.id, by="ann", note="agreed")
        bob = mem.graph.get_node(proposal.action.targets[0])
        assert bob.state.value == "forgotten" and bob.label != "Bob"


async def test_search_nodes_finds_what_a_substring_match_finds(db: str) -> None:
    async with mcp_session(db) as session:
        await _ok(session, "create_entities", {"entities": [ADA, BOB, EVE]})
        await _ok(session, "create_relations", {"relations": [KNOWS, WORKS]})

        async def names(query: str) -> list[str]:
            graph = await _ok(session, "search_nodes", {"query": query})
            return sorted(e["name"] for e in graph["entities"])

        assert await names("Lisb") == ["Ada"]
        assert await names("ラーメン") == ["Ada"]
        assert await names("person") == ["Ada", "Bob"]
        assert await names("🚀") == ["Bob"]
        assert await names("COMPANY") == ["Eve"]
        assert await names("e") == ["Ada", "Bob", "Eve"]
        assert await names("nothing like it") == []
        found = await _ok(session, "search_nodes", {"query": "rocket"})
        assert found == {"entities": [BOB], "relations": [KNOWS, WORKS]}
        await _error(session, "search_nodes", {"query": 42})


async def test_open_nodes_returns_relations_touching_them(db: str) -> None:
    async with mcp_session(db) as session:
        await _ok(session, "create_entities", {"entities": [ADA, BOB, EVE]})
        await _ok(session, "create_relations", {"relations": [KNOWS, WORKS]})
        opened = await _ok(session, "open_nodes", {"names": ["Ada", "Nobody"]})
        assert opened == {"entities": [ADA], "relations": [KNOWS]}
        await _error(session, "open_nodes", {"names": [1, 2]})


async def test_a_failing_call_leaves_the_server_serving(db: str) -> None:
    async with mcp_session(db) as session:
        assert "unknown tool 'nope'" in await _error(session, "nope", {})
        await _error(session, "create_entities", {"entities": None})
        await _ok(session, "create_entities", {"entities": [ADA]})
        assert (await _ok(session, "read_graph", {}))["entities"] == [ADA]


async def test_native_remember_recall_paths_and_propose(db: str) -> None:
    async with mcp_session(db) as session:
        await _ok(session, "create_entities", {"entities": [ADA]})
        tea = await _ok(session, "remember", {
            "kind": "preference", "label": "Ada prefers green tea", "salience": 0.9,
            "relations": [{"to": "Ada", "kind": "about"}]})
        secret = await _ok(session, "remember", {
            "kind": "fact", "label": "Ada's tea locker code", "content": "4711",
            "sensitivity": "secret"})
        assert len(tea["edge_ids"]) == 1
        recalled = await _ok(session, "recall", {"query": "tea", "budget": 5})
        items = {i["node_id"]: i for i in recalled["items"]}
        assert items[tea["node_id"]]["rank"] == 1 and items[tea["node_id"]]["reasons"]
        assert items[secret["node_id"]]["redacted"] is True
        assert items[secret["node_id"]]["content"] is None
        await _error(session, "remember", {"kind": "fact", "label": "x", "salience": 2})
        await _error(session, "remember", {"kind": "fact", "label": "x",
                                           "relations": [{"to": "nowhere", "kind": "k"}]})
        await _error(session, "recall", {"budget": 3})

        root = await _ok(session, "open_path", {})
        await _ok(session, "remember", {"kind": "fact", "label": "on the root",
                                        "path_id": root["path_id"]})
        branch = await _ok(session, "branch_path", {"path_id": root["path_id"]})
        assert branch["parent_path_id"] == root["path_id"] and branch["active"]
        merged = await _ok(session, "merge_path", {"path_id": branch["path_id"],
                                                   "into": root["path_id"]})
        assert merged["status"] == "merged"
        other = await _ok(session, "branch_path", {"path_id": root["path_id"]})
        gone = await _ok(session, "abandon_path", {"path_id": other["path_id"],
                                                   "reason": "dead end"})
        assert gone["status"] == "abandoned"
        await _error(session, "merge_path", {"path_id": "nope", "into": root["path_id"]})
        await _error(session, "abandon_path", {"path_id": root["path_id"], "reason": ""})
        await _error(session, "branch_path", {"path_id": "nope"})
        await _error(session, "open_path", {"unexpected": 1})

        archived = await _ok(session, "propose", {"kind": "archive", "targets": ["Ada"],
                                                  "reason": "stale"})
        assert archived["status"] == "applied"
        forget = await _ok(session, "propose", {"kind": "forget",
                                                "targets": [secret["node_id"]],
                                                "reason": "the user asked"})
        assert forget["status"] == "proposed"
        await _error(session, "propose", {"kind": "forget", "targets": ["nowhere"],
                                          "reason": "x"})
        await _error(session, "propose", {"kind": "explode", "targets": ["Ada"],
                                          "reason": "x"})
    with pm.open(db) as mem:
        [proposal] = mem.review.list()
        assert proposal.id == forget["action_id"]
        assert mem.graph.get_node(secret["node_id"]).state.value == "archived"
        assert [p.id for p in mem.paths.list()] == sorted(
            [root["path_id"], branch["path_id"], other["path_id"]])

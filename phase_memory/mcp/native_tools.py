"""Tools the official server lacks: rich memories, ranked recall, conversation branches, review.

Their descriptions are written for a model choosing a tool: what it is for,
when to prefer it, what comes back. Inputs are checked by pydantic models
(``extra="forbid"``) whose JSON schemas are the tools' input schemas, so what
``tools/list`` advertises is exactly what a call is held to.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from phase_memory.interchange.mcp_format import entity_nodes
from phase_memory.mcp.tools import (
    MemoryTool,
    ToolHandler,
    ToolOutput,
    as_text,
    tool_definition,
    unit_of_work,
)
from phase_memory.models import (
    LifecycleAction,
    LifecycleKind,
    MemoryEdge,
    MemoryNode,
    MemoryPath,
    Sensitivity,
)
from phase_memory.runtime.async_runtime import AsyncPhaseMemoryRuntime
from phase_memory.runtime.runtime import PhaseMemoryRuntime


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Link(_Args):
    """A relation from the new memory to an existing one."""

    to: str = Field(description="Id of an existing memory (as remember or recall returned it), "
                                "or the name of an entity made with create_entities.")
    kind: str = Field(description="What the relation is, in active voice: 'works_at', "
                                  "'prefers', 'caused_by'.")


class RememberArgs(_Args):
    """Arguments of ``remember``."""

    kind: str = Field(description="What sort of memory: 'fact', 'preference', 'event', "
                                  "'decision', 'person', ...")
    label: str = Field(description="A short statement of the memory, one line.")
    content: str | None = Field(default=None, description="Details, if any.")
    salience: float = Field(default=0.5, ge=0.0, le=1.0,
                            description="How much it matters, 0 to 1 (ranks recall).")
    sensitivity: Sensitivity = Field(
        default=Sensitivity.INTERNAL,
        description="Who may see it; 'secret' content is withheld from recall.")
    relations: list[Link] = Field(default_factory=list,
                                  description="Relations to existing memories.")
    path_id: str | None = Field(default=None,
                                description="Conversation path it was learnt on (open_path).")


class RecallArgs(_Args):
    """Arguments of ``recall``."""

    query: str = Field(description="What you need to remember, in plain words "
                                   "(a question or keywords; parts of words work).")
    budget: int | None = Field(default=None, ge=1, le=200,
                               description="At most this many memories (default: the "
                                           "profile's activation budget).")
    path_id: str | None = Field(default=None,
                                description="Only what this conversation path knows.")


class OpenPathArgs(_Args):
    """Arguments of ``open_path``."""


class BranchPathArgs(_Args):
    """Arguments of ``branch_path``."""

    path_id: str = Field(description="The path to branch from.")
    at_event_id: str | None = Field(default=None,
                                    description="Fork after this event (default: its latest).")
    activate: bool = Field(default=True,
                           description="Make the branch the active path of its conversation.")


class MergePathArgs(_Args):
    """Arguments of ``merge_path``."""

    path_id: str = Field(description="The branch whose memories should be kept.")
    into: str = Field(description="The path it joins (usually its parent).")


class AbandonPathArgs(_Args):
    """Arguments of ``abandon_path``."""

    path_id: str = Field(description="The branch to give up.")
    reason: str = Field(min_length=1, description="Why it was given up.")


class ProposeArgs(_Args):
    """Arguments of ``propose``."""

    kind: LifecycleKind = Field(description="archive, restore, forget (erase for good), "
                                            "merge_nodes, reweight or compact_path.")
    targets: list[str] = Field(min_length=1,
                               description="Ids of the memories (or entity names), or of the "
                                           "path for compact_path.")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="merge_nodes: {'into': id}; reweight: {'salience': 0.2}; compact_path: "
                    "{'label': summary, 'content': details}.")
    reason: str = Field(min_length=1, description="Why, for the person who reviews it.")


def _path(path: MemoryPath) -> dict[str, Any]:
    return {"path_id": path.id, "status": path.status.value, "active": path.active,
            "parent_path_id": path.parent_path_id}


def _resolve(rt: PhaseMemoryRuntime, profile_id: str, ref: str) -> str:
    """A node id for ``ref``: an id as it is, else the node of an entity of that name."""
    if rt.graph.find_node(ref) is not None:
        return ref
    by_name = entity_nodes(rt.graph, profile_id, [ref]).get(ref)
    return by_name.id if by_name is not None else ref


def native_tools(mem: AsyncPhaseMemoryRuntime, profile_id: str) -> list[MemoryTool]:
    """The native tools, working on ``profile_id`` of ``mem``."""

    async def remember(arguments: dict[str, Any]) -> ToolOutput:
        args = RememberArgs.model_validate(arguments)

        def write(rt: PhaseMemoryRuntime) -> dict[str, Any]:
            node = rt.save_node(MemoryNode(
                profile_id=profile_id, kind=args.kind, label=args.label, content=args.content,
                salience=args.salience, sensitivity=args.sensitivity,
            ), expected_version=0, path_id=args.path_id)
            edges = [rt.save_edge(MemoryEdge(
                profile_id=profile_id, source_id=node.id,
                target_id=_resolve(rt, profile_id, link.to), kind=link.kind,
            ), path_id=args.path_id) for link in args.relations]
            return {"node_id": node.id, "edge_ids": [e.id for e in edges]}

        result = await unit_of_work(mem, write)
        return as_text(result), result

    async def recall(arguments: dict[str, Any]) -> ToolOutput:
        args = RecallArgs.model_validate(arguments)
        plan = await mem.activate(profile_id, args.query, budget=args.budget,
                                  path_id=args.path_id)
        result = {
            "plan_id": plan.id,
            "items": [item.model_dump(mode="json") for item in plan.items],
        }
        return as_text(result), result

    async def open_path(arguments: dict[str, Any]) -> ToolOutput:
        OpenPathArgs.model_validate(arguments)
        result = _path(await mem.paths.open(profile_id))
        return as_text(result), result

    async def branch_path(arguments: dict[str, Any]) -> ToolOutput:
        args = BranchPathArgs.model_validate(arguments)
        result = _path(await mem.paths.branch(args.path_id, at=args.at_event_id,
                                              activate=args.activate))
        return as_text(result), result

    async def merge_path(arguments: dict[str, Any]) -> ToolOutput:
        args = MergePathArgs.model_validate(arguments)
        result = _path(await mem.paths.merge(args.path_id, into=args.into))
        return as_text(result), result

    async def abandon_path(arguments: dict[str, Any]) -> ToolOutput:
        args = AbandonPathArgs.model_validate(arguments)
        result = _path(await mem.paths.abandon(args.path_id, reason=args.reason))
        return as_text(result), result

    async def propose(arguments: dict[str, Any]) -> ToolOutput:
        args = ProposeArgs.model_validate(arguments)

        def submit(rt: PhaseMemoryRuntime) -> dict[str, Any]:
            targets = args.targets if args.kind is LifecycleKind.COMPACT_PATH \
                else [_resolve(rt, profile_id, t) for t in args.targets]
            action = LifecycleAction(kind=args.kind, profile_id=profile_id, targets=targets,
                                     params=args.params, reason=args.reason)
            outcome = rt.review.propose([action])
            status = "proposed" if outcome.proposed else "applied"
            return {"action_id": action.id, "status": status}

        result = await unit_of_work(mem, submit)
        return as_text(result), result

    specs: list[tuple[str, str, type[_Args], ToolHandler, bool]] = [
        ("remember", "Store one memory (a fact, preference, decision, event...) with how much "
         "it matters and how sensitive it is, optionally related to existing memories. Use it "
         "for anything worth recalling in later conversations; prefer it to create_entities "
         "when the memory is a statement rather than a named thing. Returns the new id.",
         RememberArgs, remember, False),
        ("recall", "Find the memories most relevant to a question, ranked (text match, "
         "salience, recency, related memories), each with the reasons it was chosen. Secret "
         "memories come back redacted. Use it before answering anything that may depend on "
         "what you were told earlier. Returns the plan id (kept for inspection) and the items.",
         RecallArgs, recall, False),
        ("open_path", "Start a new conversation path: memories remembered with its path_id "
         "belong to that conversation. Returns the path id.", OpenPathArgs, open_path, False),
        ("branch_path", "Try another direction without losing the current one: fork a path at "
         "its latest event (or a given one). Merge it back if it works out, abandon it if "
         "not.", BranchPathArgs, branch_path, False),
        ("merge_path", "Keep what a branch learnt: its events join the target path's "
         "history.", MergePathArgs, merge_path, False),
        ("abandon_path", "Give up a branch; its events are kept but no longer followed.",
         AbandonPathArgs, abandon_path, False),
        ("propose", "Ask for a lasting change to memories: archive, restore, forget (erase), "
         "merge duplicates, reweight, or compact a path. Changes the profile marks for review "
         "(forget, merge and compaction by default) are queued for a person to approve, and "
         "their memories hidden meanwhile; the others are applied at once. Returns the action "
         "id and whether it was applied or proposed.", ProposeArgs, propose, False),
    ]
    tools: list[MemoryTool] = []
    for name, description, model, handler, read_only in specs:
        schema = model.model_json_schema()
        schema.pop("title", None)
        schema.pop("description", None)
        tools.append(MemoryTool(tool_definition({
            "name": name, "description": description, "inputSchema": schema,
            "annotations": {"readOnlyHint": read_only, "destructiveHint": False,
                            "openWorldHint": False},
        }), handler))
    return tools


__all__ = ["native_tools"]

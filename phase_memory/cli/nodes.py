"""``nodes list | show | history``: the memory graph's nodes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated

import typer

from phase_memory.cli.context import open_memory
from phase_memory.cli.history import show_history
from phase_memory.cli.options import JsonDocument, JsonLines, parse_valid_at
from phase_memory.cli.output import fields, print_json, print_jsonl, say, short, table, when
from phase_memory.errors import NotFoundError
from phase_memory.models import MemoryEdge, MemoryNode, NodeState, ValidAt
from phase_memory.runtime import PhaseMemoryRuntime

app = typer.Typer(help="Nodes of the memory graph.", no_args_is_help=True)


def _nodes(
    mem: PhaseMemoryRuntime,
    profile: str | None,
    kind: str | None,
    state: NodeState | None,
    valid_at: ValidAt,
) -> Iterator[MemoryNode]:
    if profile is not None:
        mem.graph.get_profile(profile)  # a clear NotFoundError for a mistyped id
        yield from mem.graph.list_nodes(profile, kind=kind, state=state, valid_at=valid_at)
        return
    for each in mem.graph.list_profiles():
        yield from mem.graph.list_nodes(each.id, kind=kind, state=state, valid_at=valid_at)


@app.command("list")
def list_(
    ctx: typer.Context,
    kind: Annotated[
        str | None, typer.Option("--kind", metavar="K", help="Only nodes of this kind.")
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", metavar="ID", help="Only this profile's nodes.")
    ] = None,
    state: Annotated[
        NodeState | None, typer.Option("--state", help="Only nodes in this state.")
    ] = None,
    valid_at: Annotated[
        str, typer.Option(
            "--valid-at", metavar="WHEN",
            help="Nodes valid at this time: 'now' (default), an ISO 8601 date or time "
            "(UTC unless it says otherwise), or 'any' (superseded ones too).",
        )
    ] = "now",
    as_json: JsonLines = False,
) -> None:
    """List nodes valid now or at --valid-at (by profile, then id)."""
    at = parse_valid_at(valid_at)
    with open_memory(ctx, read_only=True) as mem:
        found = list(_nodes(mem, profile, kind, state, at))
    if as_json:
        print_jsonl(found)
        return
    table(
        "Nodes",
        ["id", "profile", "kind", "label", "salience", "sensitivity", "state"],
        (
            [
                n.id,
                n.profile_id,
                n.kind,
                short(n.label, 40),
                f"{n.salience:.2f}",
                n.sensitivity.value,
                n.state.value,
            ]
            for n in found
        ),
    )


@app.command("show")
def show(
    ctx: typer.Context,
    node_id: Annotated[str, typer.Argument(metavar="ID", help="The node.")],
    as_json: JsonDocument = False,
) -> None:
    """One node, with the edges touching it."""
    with open_memory(ctx, read_only=True) as mem:
        node = mem.graph.get_node(node_id)
        edges = mem.graph.edges_touching(node_id)
        labels = {}
        for edge in edges:
            other = edge.target_id if edge.source_id == node_id else edge.source_id
            found = mem.graph.find_node(other)
            labels[other] = found.label if found is not None else "(missing)"
    if as_json:
        print_json({"node": node, "edges": edges})
        return
    fields(
        [
            ("id", node.id),
            ("profile", node.profile_id),
            ("kind", node.kind),
            ("label", node.label),
            ("content", node.content),
            ("attributes", json.dumps(node.attributes, sort_keys=True, ensure_ascii=False)),
            ("salience", f"{node.salience:.2f}"),
            ("sensitivity", node.sensitivity.value),
            ("state", node.state.value),
            ("version", node.version),
            ("created", when(node.created_at)),
            ("updated", when(node.updated_at)),
            ("valid from", when(node.effective_from)),
            ("valid to", when(node.valid_to) if node.valid_to is not None else "open"),
        ]
    )
    say()
    table(
        "Edges",
        ["id", "direction", "kind", "other node", "weight"],
        (
            [
                e.id,
                "out" if e.source_id == node_id else "in",
                e.kind,
                f"{labels[o]} ({o})"
                if (o := e.target_id if e.source_id == node_id else e.source_id)
                else "",
                f"{e.weight:g}",
            ]
            for e in edges
        ),
    )


@app.command("history")
def history(
    ctx: typer.Context,
    node_id: Annotated[str, typer.Argument(metavar="ID", help="The node.")],
    as_json: JsonLines = False,
) -> None:
    """Every version of a node: when it was recorded and when it holds (valid time)."""
    with open_memory(ctx, read_only=True) as mem:
        versions = mem.history(node_id)
    if any(isinstance(v.record, MemoryEdge) for v in versions):
        raise NotFoundError(f"{node_id!r} is an edge: see `phase-memory edges history {node_id}`")
    show_history(f"Node {node_id}", versions, as_json)

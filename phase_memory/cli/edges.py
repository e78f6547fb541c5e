"""``edges history``: the memory graph's edges."""

from __future__ import annotations

from typing import Annotated

import typer

from phase_memory.cli.context import open_memory
from phase_memory.cli.history import show_history
from phase_memory.cli.options import JsonLines
from phase_memory.errors import NotFoundError
from phase_memory.models import MemoryNode

app = typer.Typer(help="Edges of the memory graph.", no_args_is_help=True)


@app.command("history")
def history(
    ctx: typer.Context,
    edge_id: Annotated[str, typer.Argument(metavar="ID", help="The edge.")],
    as_json: JsonLines = False,
) -> None:
    """Every version of an edge: when it was recorded and when it holds (valid time)."""
    with open_memory(ctx, read_only=True) as mem:
        versions = mem.history(edge_id)
    if any(isinstance(v.record, MemoryNode) for v in versions):
        raise NotFoundError(f"{edge_id!r} is a node: see `phase-memory nodes history {edge_id}`")
    show_history(f"Edge {edge_id}", versions, as_json)

"""``activate``: which memories to bring into the next turn, and why."""

from __future__ import annotations

from typing import Annotated

import typer

from phase_memory.cli.context import open_memory
from phase_memory.cli.options import JsonDocument, parse_valid_at
from phase_memory.cli.output import plain, print_json, say, short, table
from phase_memory.errors import ValidationError
from phase_memory.models import ActivationPlan


def activate(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(metavar="QUERY", help="The question, as typed.")],
    profile: Annotated[str, typer.Option("--profile", metavar="ID", help="The profile.")],
    budget: Annotated[
        int | None,
        typer.Option(
            "--budget", metavar="N", min=1, help="At most N items (default: the profile's policy)."
        ),
    ] = None,
    path: Annotated[
        str | None,
        typer.Option("--path", metavar="ID", help="Rank as the conversation on this path."),
    ] = None,
    valid_at: Annotated[
        str | None,
        typer.Option(
            "--valid-at", metavar="WHEN",
            help="Rank what held at this ISO 8601 date or time (default: now).",
        ),
    ] = None,
    include_superseded: Annotated[
        bool,
        typer.Option(
            "--include-superseded",
            help="Let facts not valid then take part (their reasons say so).",
        ),
    ] = False,
    as_json: JsonDocument = False,
) -> None:
    """Rank a profile's memories for a query and store the plan.

    Only facts valid now (or at --valid-at) take part. Nodes at or above the
    profile's ``redact_at`` sensitivity are listed redacted: their content is withheld.
    """
    at = parse_valid_at(valid_at) if valid_at is not None else "now"
    if at == "any":
        raise ValidationError("--valid-at takes a date or time here; see --include-superseded")
    with open_memory(ctx) as mem:
        plan = mem.activate(
            profile, query, budget=budget, path_id=path,
            valid_at=None if at == "now" else at,
            include_superseded=include_superseded,
        )
    if as_json:
        print_json(plan)
        return
    show_plan(plan)


def show_plan(plan: ActivationPlan) -> None:
    """The plan as a table: rank, score, memory, reasons."""
    say(
        plain(
            f"Activation plan {plan.id} for {plan.query!r} "
            f"({len(plan.items)} of budget {plan.budget})"
        )
    )
    table(
        "Activated memories",
        ["#", "score", "node", "memory", "why"],
        (
            [
                item.rank,
                f"{item.score:.3f}",
                item.node_id,
                "[redacted]" if item.redacted else _memory(item.label, item.content),
                ", ".join(item.reasons),
            ]
            for item in plan.items
        ),
    )


def _memory(label: str | None, content: str | None) -> str:
    return short(f"{label or ''}: {content}" if content else label, 60)

"""``review``: decide the lifecycle actions agents proposed (the review queue)."""

from __future__ import annotations

from typing import Annotated

import typer

from phase_memory.cli.context import open_memory
from phase_memory.cli.output import fields, print_json, print_jsonl, say, short, table, when
from phase_memory.runtime.review_queue import Proposal

app = typer.Typer(help="The review queue: proposals agents made, for a person to decide.",
                  no_args_is_help=True)


def _summary(proposal: Proposal) -> list[str]:
    action = proposal.action
    return [proposal.id, action.kind.value, action.profile_id, short(", ".join(action.targets), 40),
            proposal.proposed_by, when(proposal.proposed_at), proposal.status,
            short(action.reason, 40)]


@app.command("list")
def list_(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Decided proposals too.")] = False,
    profile: Annotated[str | None, typer.Option("--profile", metavar="ID",
                                                help="Only this profile.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON Lines.")] = False,
) -> None:
    """List the proposals waiting for a decision (with --all, every proposal)."""
    with open_memory(ctx, read_only=True) as mem:
        proposals = mem.review.list(status=None if all_ else "pending", profile_id=profile)
    if as_json:
        print_jsonl(proposals)
        return
    table("Proposals", ["id", "kind", "profile", "targets", "by", "at", "status", "reason"],
          (_summary(p) for p in proposals))


@app.command("show")
def show(
    ctx: typer.Context,
    proposal_id: Annotated[str, typer.Argument(metavar="ID", help="The proposal.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one proposal: the action, what was archived for it, the decision."""
    with open_memory(ctx, read_only=True) as mem:
        proposal = mem.review.get(proposal_id)
        nodes = mem.graph.find_nodes(proposal.action.targets)
    if as_json:
        print_json(proposal)
        return
    action = proposal.action
    fields([
        ("id", proposal.id), ("kind", action.kind.value), ("profile", action.profile_id),
        ("reason", action.reason), ("params", action.params or ""),
        ("proposed by", proposal.proposed_by), ("proposed at", when(proposal.proposed_at)),
        ("status", proposal.status), ("decided by", proposal.decided_by or ""),
        ("decision note", proposal.decision_note),
    ])
    table("Targets", ["id", "kind", "label", "state"], (
        [t, nodes[t].kind, short(nodes[t].label, 50), nodes[t].state.value] if t in nodes
        else [t, "", "", "(not a node)"] for t in action.targets))


@app.command("approve")
def approve(
    ctx: typer.Context,
    proposal_id: Annotated[str, typer.Argument(metavar="ID", help="The proposal.")],
    by: Annotated[str, typer.Option("--by", metavar="NAME", help="Who approves.")],
    note: Annotated[str, typer.Option("--note", metavar="TEXT", help="Why.")] = "",
) -> None:
    """Approve a proposal: apply it now, through the same gate and audit as apply."""
    with open_memory(ctx) as mem:
        result = mem.review.approve(proposal_id, by=by, note=note)
    say(f"approved {proposal_id}: applied {', '.join(result.applied)} "
        f"(event position {result.events[0].position})")


@app.command("reject")
def reject(
    ctx: typer.Context,
    proposal_id: Annotated[str, typer.Argument(metavar="ID", help="The proposal.")],
    by: Annotated[str, typer.Option("--by", metavar="NAME", help="Who rejects.")],
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="Why.")],
) -> None:
    """Reject a proposal: what was archived for it is restored."""
    with open_memory(ctx) as mem:
        proposal = mem.review.reject(proposal_id, by=by, reason=reason)
    say(f"rejected {proposal.id}; restored {len(proposal.archived)} node(s)")

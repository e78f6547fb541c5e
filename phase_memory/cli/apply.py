"""``apply``: lifecycle actions through the review gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pydantic
import typer

from phase_memory.cli.context import CLI_ACTOR, open_memory
from phase_memory.cli.errors import CliError, CliUsageError, describe_validation
from phase_memory.cli.options import JsonDocument
from phase_memory.cli.output import print_json, say, table
from phase_memory.errors import ReviewRequiredError
from phase_memory.models import Approval, LifecycleAction, utc_now

_ACTIONS = pydantic.TypeAdapter(list[LifecycleAction])


def read_actions(file: Path) -> list[LifecycleAction]:
    """Actions from a JSON file: a list of actions, ``{"actions": [...]}``, or one action."""
    with file.open(encoding="utf-8") as handle:
        try:
            data: Any = json.load(handle)
        except json.JSONDecodeError as exc:
            raise CliError(
                f"{file}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            ) from None
    if isinstance(data, dict) and "actions" in data:
        data = data["actions"]
    elif isinstance(data, dict):
        data = [data]
    try:
        actions = _ACTIONS.validate_python(data)
    except pydantic.ValidationError as exc:
        raise CliError(f"{file}: {describe_validation(exc, 'lifecycle actions')}") from None
    if not actions:
        raise CliError(f"{file} holds no actions")
    return actions


def apply(
    ctx: typer.Context,
    actions_file: Annotated[
        Path,
        typer.Argument(
            metavar="ACTIONS.json",
            help='A JSON list of lifecycle actions (or {"actions": [...]}).',
        ),
    ],
    approve_by: Annotated[
        str | None,
        typer.Option(
            "--approve-by",
            metavar="NAME",
            help="Approve every action as NAME (needs --note).",
        ),
    ] = None,
    note: Annotated[
        str | None,
        typer.Option("--note", metavar="TEXT", help="Why it is approved (needs --approve-by)."),
    ] = None,
    as_json: JsonDocument = False,
) -> None:
    """Apply lifecycle actions (archive, restore, forget, merge_nodes, reweight, compact_path).

    Actions the profile's policy marks review-required are refused unless they
    carry an approval: give both --approve-by and --note to attach one to
    every action that has none. A refusal writes nothing but an audit record;
    the whole file is applied or nothing is.
    """
    if (approve_by is None) != (note is None):
        raise CliUsageError("--approve-by and --note go together: give both, or neither")
    actions = read_actions(actions_file)
    if approve_by is not None and note is not None:
        approval = Approval(approved_by=approve_by, approved_at=utc_now(), note=note)
        actions = [
            a if a.approval is not None else a.model_copy(update={"approval": approval})
            for a in actions
        ]
    kinds = {a.id: a.kind.value for a in actions}
    with open_memory(ctx) as mem:
        mem.actor = approve_by or CLI_ACTOR
        try:
            result = mem.apply(actions)
        except ReviewRequiredError as exc:
            if as_json:
                print_json({"applied": [], "denied": list(exc.denied)})
            else:
                table(
                    "Denied: review required",
                    ["action", "kind"],
                    ([action_id, kinds.get(action_id, "")] for action_id in exc.denied),
                )
            raise CliError(
                f"{len(exc.denied)} action(s) need review; nothing was applied "
                "(approve with --approve-by NAME --note TEXT)"
            ) from exc
    if as_json:
        print_json({"applied": result.applied, "denied": [], "events": result.events})
        return
    by_id = {a.id: a for a in actions}
    for action_id in result.applied:
        action = by_id.get(action_id)
        if action is None:
            continue
        approved = f", approved by {action.approval.approved_by}" if action.approval else ""
        say(
            f"Applied {action.kind.value} {action.id} on {', '.join(action.targets)}{approved}"
        )
    if result.redacted_event_ids:
        say(f"Erased forgotten content from {len(result.redacted_event_ids)} earlier event(s)")

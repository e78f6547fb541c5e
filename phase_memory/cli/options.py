"""Options shared by several commands, each defined once.

``--json`` has two forms (see :mod:`phase_memory.cli.output`): one JSON
document for a single object or report, JSON Lines for listings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from phase_memory.errors import ValidationError
from phase_memory.models import ValidAt

JsonDocument = Annotated[
    bool, typer.Option("--json", help="Print one JSON document instead of text.")
]
"""``--json`` of a command that reports one object (a plan, a report, a result)."""

JsonLines = Annotated[
    bool, typer.Option("--json", help="Print JSON Lines (one JSON object per line).")
]
"""``--json`` of a listing: one compact JSON object per line."""


def parse_valid_at(text: str) -> ValidAt:
    """``now``, ``any`` or an ISO 8601 date or time (UTC when it names no offset)."""
    if text in ("now", "any"):
        return text  # type: ignore[return-value]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"--valid-at takes 'now', 'any' or an ISO 8601 date or time, not {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

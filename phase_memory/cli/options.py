"""Options shared by several commands, each defined once.

``--json`` has two forms (see :mod:`phase_memory.cli.output`): one JSON
document for a single object or report, JSON Lines for listings.
"""

from __future__ import annotations

from typing import Annotated

import typer

JsonDocument = Annotated[
    bool, typer.Option("--json", help="Print one JSON document instead of text.")
]
"""``--json`` of a command that reports one object (a plan, a report, a result)."""

JsonLines = Annotated[
    bool, typer.Option("--json", help="Print JSON Lines (one JSON object per line).")
]
"""``--json`` of a listing: one compact JSON object per line."""

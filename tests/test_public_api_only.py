"""The package uses SQLAlchemy, Typer and Click through their public API only."""

from __future__ import annotations

import re
from pathlib import Path

import phase_memory

# Compiler internals SQLAlchemy may change in any release, and Typer's private copy of Click.
_PRIVATE = re.compile(r"positiontup|effective_value|\.binds\b|typer\._click|_click\b")


def test_no_private_attribute_of_a_library_is_used() -> None:
    root = Path(phase_memory.__file__).parent
    found = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for path in sorted(root.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if _PRIVATE.search(line)
    ]
    assert found == []

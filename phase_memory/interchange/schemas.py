"""JSON Schemas of the interchange formats, generated from the pydantic models.

``python -m phase_memory.interchange.schemas [DIRECTORY]`` writes them
(default ``docs/schemas``); the test suite fails when the files kept in
``docs/schemas`` are stale.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from phase_memory.interchange.atomic_write import write_text_atomically
from phase_memory.interchange.formats import GraphEnvelope, canonical_document
from phase_memory.models import MemoryEvent
from phase_memory.models.base import DomainModel

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

SCHEMAS: dict[str, tuple[type[DomainModel], str]] = {
    "graph-envelope.schema.json": (
        GraphEnvelope,
        "A Markitect graph envelope (markitect.graph) as phase-memory writes it "
        "(schema_version 2: nodes and edges carry valid_from / valid_to) and reads it "
        "(versions 1 and 2).",
    ),
    "event-line.schema.json": (
        MemoryEvent,
        "One line of an events JSONL file. Exports leave out 'position'; imports ignore it "
        "(the importing log assigns positions in line order).",
    ),
}


def schema_of(model: type[DomainModel], description: str) -> dict[str, Any]:
    """The JSON Schema of ``model`` with the dialect and a description."""
    schema = model.model_json_schema(mode="validation")
    return {"$schema": JSON_SCHEMA_DIALECT, **schema, "description": description}


def schema_documents() -> dict[str, str]:
    """File name -> canonical text of every schema."""
    return {
        name: canonical_document(schema_of(model, description))
        for name, (model, description) in SCHEMAS.items()
    }


def write_schemas(directory: str | os.PathLike[str] = "docs/schemas") -> list[Path]:
    """Write every schema into ``directory`` (created if missing); return the files."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in schema_documents().items():
        write_text_atomically(root / name, text)
        written.append(root / name)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: write the schemas into the directory given (or docs/schemas)."""
    args = sys.argv[1:] if argv is None else argv
    for path in write_schemas(args[0] if args else "docs/schemas"):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The JSON Schemas in docs/schemas are generated from the models and must not go stale."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from phase_memory.interchange.schemas import SCHEMAS, schema_documents, write_schemas

DOCS = Path(__file__).resolve().parent.parent / "docs" / "schemas"


def test_schemas_in_docs_are_up_to_date() -> None:
    for name, text in schema_documents().items():
        path = DOCS / name
        fix = "run `python -m phase_memory.interchange.schemas`"
        assert path.is_file(), f"{path} is missing: {fix}"
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: {fix}"


def test_schemas_describe_the_formats() -> None:
    envelope = json.loads(schema_documents()["graph-envelope.schema.json"])
    assert envelope["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(envelope["required"]) == {"envelope", "schema_version"}
    assert envelope["properties"]["envelope"]["const"] == "markitect.graph"
    assert envelope["properties"]["schema_version"]["enum"] == [1, 2]
    assert envelope["additionalProperties"] is False
    assert {"MemoryNode", "MemoryEdge", "MemoryPath", "Profile"} <= set(envelope["$defs"])
    event = json.loads(schema_documents()["event-line.schema.json"])
    assert {"kind", "profile_id"} <= set(event["required"])


def test_the_module_writes_the_schemas(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "phase_memory.interchange.schemas", str(tmp_path)], check=True,
        capture_output=True,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(SCHEMAS)
    write_schemas(tmp_path / "again")
    for name in SCHEMAS:
        assert (tmp_path / name).read_bytes() == (tmp_path / "again" / name).read_bytes()

"""Format detection is the library's: the API and ``phase-memory import`` agree on every input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import phase_memory as pm
from phase_memory.cli.app import main
from phase_memory.errors import ImportValidationError
from phase_memory.interchange import FORMATS, detect_format, import_path
from phase_memory.models import MemoryNode, Profile

_EVENT = {"event_id": "e1", "kind": "note.taken", "profile_id": "p", "payload": {}}
_AUDIT = {"id": "a1", "actor": "me", "operation": "x", "outcome": "applied"}
_MCP = {"type": "entity", "name": "Ada", "entityType": "person", "observations": []}


def _inputs(root: Path) -> dict[str, Path]:
    files = {
        "empty": "",
        "whitespace": " \n\n\t\n",
        "bom-only": "\ufeff",
        "envelope-one-line": json.dumps({"envelope": "markitect.graph", "schema_version": 1}),
        "envelope-indented": json.dumps(
            {"schema_version": 1, "envelope": "markitect.graph", "nodes": []}, indent=2
        ),
        "events": json.dumps(_EVENT) + "\n",
        "audit": json.dumps(_AUDIT) + "\n",
        "mcp": json.dumps(_MCP) + "\n",
        "other-json": json.dumps({"hello": "world"}) + "\n",
        "not-json": "hello, world\n",
        "a-list": "[1, 2]\n",
    }
    paths = {}
    for name, content in files.items():
        paths[name] = root / f"{name}.json"
        paths[name].write_text(content, encoding="utf-8")
    with pm.open(root / "source.db") as mem:
        mem.save_profile(Profile(id="p", name="p"))
        mem.save_node(MemoryNode(profile_id="p", kind="fact", label="a fact"))
        mem.export_workspace(root / "workspace")
    paths["workspace"] = root / "workspace"
    paths["missing"] = root / "missing.json"
    return paths


_NAMES = ["empty", "whitespace", "bom-only", "envelope-one-line", "envelope-indented", "events",
          "audit", "mcp", "other-json", "not-json", "a-list", "workspace", "missing"]


@pytest.mark.parametrize("name", _NAMES)
def test_api_and_cli_agree(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _inputs(tmp_path)[name]
    try:
        detected: str | None = detect_format(source)
    except ImportValidationError:
        detected = None
    code = main(["--db", str(tmp_path / "target.db"), "import", str(source), "--check", "--json"])
    out = capsys.readouterr()
    if detected is None:
        assert code == 1
        assert "error:" in out.err
        with pm.open(":memory:") as mem, pytest.raises(ImportValidationError):
            import_path(mem, source, check_only=True)
        return
    assert detected in FORMATS
    with pm.open(":memory:") as mem:
        result = import_path(mem, source, check_only=True)
    assert result.format == detected
    if code == 0:
        assert json.loads(out.out)["format"] == detected
    else:  # the content is invalid for its format: both report the same problems
        assert json.loads(out.out)["format"] == detected
        assert result.problems


def test_expected_formats(tmp_path: Path) -> None:
    paths = _inputs(tmp_path)
    expected = {"envelope-one-line": "envelope", "envelope-indented": "envelope",
                "events": "events", "audit": "audit", "mcp": "mcp-memory",
                "workspace": "workspace"}
    for name, kind in expected.items():
        assert detect_format(paths[name]) == kind
    empty_jsonl = tmp_path / "memory.jsonl"
    empty_jsonl.write_bytes(b"")  # the MCP memory server's empty graph
    assert detect_format(empty_jsonl) == "mcp-memory"
    for name in ("empty", "whitespace", "bom-only", "other-json", "not-json", "a-list", "missing"):
        with pytest.raises(ImportValidationError):
            detect_format(paths[name])


def test_a_profile_for_a_format_that_names_its_own_is_refused(tmp_path: Path) -> None:
    source = _inputs(tmp_path)["events"]
    with pm.open(":memory:") as mem, pytest.raises(ImportValidationError, match="MCP memory"):
        import_path(mem, source, profile_id="p")

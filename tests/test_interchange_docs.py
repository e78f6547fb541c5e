"""docs/envelope-format.md: its Python examples run, and its sample files are what we write."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import phase_memory as pm

DOC = Path(__file__).resolve().parent.parent / "docs" / "envelope-format.md"
TEXT = DOC.read_text(encoding="utf-8")
PYTHON = re.findall(r"^```python\n(.*?)^```", TEXT, re.S | re.M)
JSON = re.findall(r"^```json\n(.*?)^```", TEXT, re.S | re.M)


def test_the_page_has_examples() -> None:
    assert len(PYTHON) >= 3 and len(JSON) >= 4


@pytest.mark.parametrize("block", PYTHON, ids=[f"block-{n}" for n in range(len(PYTHON))])
def test_python_block_runs(
    block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(block, str(DOC), "exec"), {"__name__": "docs_envelope"})


def test_the_sample_envelope_is_what_an_export_writes(tmp_path: Path) -> None:
    at = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    with pm.open(":memory:") as mem:
        mem.save_profile(pm.Profile(id="alice", name="Alice", created_at=at, updated_at=at))
        for node_id, kind, label, content in (
            ("tea", "preference", "Likes green tea", "Sencha, no sugar"),
            ("kyoto", "place", "Kyoto", None),
        ):
            mem.save_node(pm.MemoryNode(id=node_id, profile_id="alice", kind=kind, label=label,
                                        content=content, created_at=at, updated_at=at))
        mem.save_edge(pm.MemoryEdge(id="tea-from-kyoto", profile_id="alice", source_id="tea",
                                    target_id="kyoto", kind="associated_with", created_at=at,
                                    updated_at=at))
        mem.graph.save_path(pm.MemoryPath(id="chat-1", profile_id="alice", root_path_id="chat-1",
                                          active=True, created_at=at, updated_at=at))
        mem.export_envelope(tmp_path / "graph.json")
    sample = next(block for block in JSON if '"envelope": "markitect.graph"' in block)
    written = (tmp_path / "graph.json").read_text(encoding="utf-8")
    assert written == sample.replace("phase-memory 0.1.0", f"phase-memory {pm.__version__}")


def test_the_sample_lines_parse() -> None:
    for block in JSON:
        for line in block.splitlines() if not block.startswith("{\n") else [block]:
            json.loads(line)

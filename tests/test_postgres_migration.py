"""docs/postgres.md, "Moving a SQLite memory into PostgreSQL": the documented steps, run.

The test runs the page's python block itself (the docs harness skips it: it
needs a server), with ``sqlite_path`` naming a SQLite memory that touches every
record type and ``postgres_url`` an empty schema of the test run; then checks
that the PostgreSQL memory is the SQLite one: the same graph, the same events
at the same positions, the same replays, byte-identical exports.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

import phase_memory as pm
from phase_memory.testing.spec_interchange import build_sample

pytestmark = pytest.mark.postgres

DOC = Path(__file__).resolve().parent.parent / "docs" / "postgres.md"


def _migration_block() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Moving a SQLite memory into PostgreSQL", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 1, "the section shows one python block"
    return blocks[0]


def test_the_documented_migration_moves_everything(
    postgres_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_path = tmp_path / "phase-memory.db"
    with pm.open(sqlite_path) as source:
        build_sample(source)
        expected_snapshot = source.graph.snapshot()
        expected_events = source.events.list()
        expected_replays = {
            path.id: source.events.replay(path_id=path.id).snapshot
            for path in source.graph.list_paths()
        }
    url = postgres_url.render_as_string(hide_password=False)

    monkeypatch.chdir(tmp_path)
    exec(_migration_block(), {"sqlite_path": str(sqlite_path), "postgres_url": url})

    with pm.open(url) as moved, pm.open(sqlite_path, read_only=True) as source:
        assert moved.graph.snapshot() == expected_snapshot
        assert moved.events.list() == expected_events
        for path_id, snapshot in expected_replays.items():
            assert moved.events.replay(path_id=path_id).snapshot == snapshot
        assert moved.events.replay().snapshot.same_records(moved.graph.snapshot())
        # Exports of both are byte-identical (the audit trails differ: the import is in one).
        source.export_events(tmp_path / "from-sqlite.jsonl")
        moved.export_events(tmp_path / "from-postgres.jsonl")
        source.export_envelope(tmp_path / "from-sqlite.json")
        moved.export_envelope(tmp_path / "from-postgres.json")
    for suffix in ("jsonl", "json"):
        sqlite_bytes = (tmp_path / f"from-sqlite.{suffix}").read_bytes()
        postgres_bytes = (tmp_path / f"from-postgres.{suffix}").read_bytes()
        if suffix == "json":  # the envelope names its export time
            sqlite_bytes, postgres_bytes = (
                re.sub(rb'"exported_at": "[^"]*"', b"", data)
                for data in (sqlite_bytes, postgres_bytes)
            )
        assert postgres_bytes == sqlite_bytes, suffix
    assert os.listdir(tmp_path / "memory-export")

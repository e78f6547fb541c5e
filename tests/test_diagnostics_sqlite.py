"""diagnose() on SQLite databases broken by raw ``sqlite3`` edits of the file.

Each test builds a clean memory, closes it, breaks the database file the way a
crash, a bad tool or a hand edit could, reopens it and checks the finding.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

import phase_memory as pm
from phase_memory.diagnostics import RepairReport
from phase_memory.testing.builders import P1, edge, node, profile


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "memory.db"
    with pm.open(path) as mem:
        mem.save_profile(profile())
        root = mem.paths.open(P1, path_id="root")
        mem.save_node(node("n1", label="alpha"), path_id=root.id)
        mem.save_node(node("n2", label="beta"), path_id=root.id)
        mem.save_edge(edge("e1", "n1", "n2"), path_id=root.id)
        mem.paths.branch(root.id, new_path_id="branch")
        mem.save_node(node("n3"), path_id="branch")
        assert mem.diagnose().ok
    return path


def _sql(path: Path, *statements: str) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA foreign_keys=OFF")
        for statement in statements:
            conn.execute(statement)
        conn.commit()


def _diagnose(path: Path, **options: object) -> Iterator[RepairReport]:
    with pm.open(path, **options) as mem:  # type: ignore[arg-type]
        yield mem.diagnose()


def _report(path: Path, **options: object) -> RepairReport:
    return next(_diagnose(path, **options))


def test_edge_whose_node_row_was_deleted(db: Path) -> None:
    _sql(db, "DELETE FROM nodes WHERE id = 'n2'")
    report = _report(db)
    assert {"edge.missing_endpoint", "storage.foreign_key", "graph.drift"} <= report.codes()
    [missing] = [f for f in report.findings if f.code == "edge.missing_endpoint"]
    assert missing.location == "edge e1" and "'n2'" in missing.message
    assert not report.ok


def test_event_moved_to_a_path_that_does_not_exist(db: Path) -> None:
    _sql(db, "UPDATE events SET path_id = 'ghost' WHERE kind = 'node.saved' AND path_id = "
             "'branch'")
    report = _report(db)
    [finding] = [f for f in report.findings if f.code == "event.unknown_path"]
    assert "'ghost'" in finding.message and "position" in finding.location


def test_path_whose_parent_row_is_missing(db: Path) -> None:
    _sql(db, "UPDATE paths SET parent_path_id = 'ghost' WHERE id = 'branch'")
    report = _report(db)
    assert "path.missing_parent" in report.codes()
    assert "graph.drift" in report.codes()  # the replay still has the real parent


def test_path_merged_into_a_missing_target(db: Path) -> None:
    _sql(db, "UPDATE paths SET status = 'merged', merged_into_path_id = 'ghost' "
             "WHERE id = 'branch'")
    assert "path.missing_merge_target" in _report(db).codes()


def test_malformed_stored_payload(db: Path) -> None:
    _sql(db, "UPDATE events SET payload = '{\"node\": 5}' WHERE kind = 'node.saved' AND "
             "payload LIKE '%\"n3\"%'")
    report = _report(db)
    assert "event.malformed_payload" in report.codes()
    assert "graph.drift" in report.codes()  # n3 is stored but no longer replayed


def test_unknown_event_schema_version(db: Path) -> None:
    _sql(db, "UPDATE events SET schema_version = 7 WHERE kind = 'edge.saved'")
    report = _report(db)
    [finding] = [f for f in report.findings if f.code == "event.unknown_schema_version"]
    assert finding.severity == "warning" and "7" in finding.message


def test_node_row_edited_behind_the_log(db: Path) -> None:
    _sql(db, "UPDATE nodes SET label = 'edited' WHERE id = 'n1'")
    [finding] = [f for f in _report(db).findings if f.code == "graph.drift"]
    assert finding.location == "node n1" and "label" in finding.message


def test_forgotten_node_that_kept_its_content(db: Path) -> None:
    _sql(db, "UPDATE nodes SET state = 'forgotten' WHERE id = 'n1'")
    codes = _report(db).codes()
    assert {"forget.content_in_node", "forget.content_in_event"} <= codes


def test_unknown_database_revision(db: Path) -> None:
    _sql(db, "UPDATE alembic_version SET version_num = 'ffffffffffff'")
    report = _report(db, read_only=True)
    [finding] = [f for f in report.findings if f.code == "schema.unknown_revision"]
    assert "'ffffffffffff'" in finding.message and finding.severity == "error"


def test_payload_that_is_not_json_at_all(db: Path) -> None:
    _sql(db, "UPDATE events SET payload = 'not json' WHERE kind = 'edge.saved'")
    report = _report(db)
    assert not report.ok
    assert report.codes() & {"event.malformed_payload", "event.unreadable"}


def test_malformed_row_is_located_and_every_other_check_still_runs(db: Path) -> None:
    # One malformed timestamp and, in the same file, a dangling edge.
    _sql(db, "UPDATE nodes SET created_at = 'x' WHERE id = 'n3'",
         "INSERT INTO edges (id, profile_id, source_id, target_id, kind, weight, attributes, "
         "created_at, updated_at) SELECT 'e9', profile_id, 'n1', 'ghost', kind, weight, "
         "attributes, created_at, updated_at FROM edges WHERE id = 'e1'")
    report = _report(db)
    [malformed] = [f for f in report.findings if f.code == "storage.malformed_row"]
    assert malformed.location == "nodes n3"
    assert "created_at" in malformed.message and "'x'" in malformed.message
    dangling = [f for f in report.findings if f.code == "edge.missing_endpoint"]
    assert [f.location for f in dangling] == ["edge e9"]
    assert {"references", "events", "replay", "drift", "forgotten"} <= set(report.checks)
    assert "graph.unreadable" not in report.codes()


def test_a_long_malformed_value_is_shortened(db: Path) -> None:
    _sql(db, "UPDATE paths SET updated_at = '" + "y" * 5000 + "' WHERE id = 'branch'")
    [malformed] = [f for f in _report(db).findings if f.code == "storage.malformed_row"]
    assert malformed.location == "paths branch" and "updated_at" in malformed.message
    assert len(malformed.message) < 400

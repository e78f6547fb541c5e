"""The valid-time migration (5b1d7e2a9c40) on databases the RELEASED baseline wrote.

The pattern every migration test follows (see ``tests/baseline_fixture.py``):
start from ``tests/fixtures/baseline-<rev>/``, written by the previous release's
code; opening it unupgraded is refused with the command to run; the upgrade
keeps a backup, every record and gains what the migration adds; downgrading
to the migration's down revision takes that away and keeps every record.
On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import URL, create_engine, inspect

import phase_memory as pm
from phase_memory.errors import SchemaVersionError
from phase_memory.sql import (
    database_revision,
    downgrade_database,
    migrate,
    open_sql_store,
    upgrade_database,
)
from tests.baseline_fixture import (
    BASELINE,
    as_baseline,
    expected,
    postgres_copy,
    records,
    sqlite_copy,
)

REVISION = "5b1d7e2a9c40"
"""This migration (the one constant to change if the chain is re-ordered at a merge)."""
VALID_TIME_INDEXES = {
    "nodes": "ix_nodes_profile_id_valid_to",
    "edges": "ix_edges_source_id_kind_valid_to",
}


def _down_revision() -> str:
    script = ScriptDirectory.from_config(migrate.alembic_config()).get_revision(REVISION)
    assert script is not None
    return str(script.down_revision)


DOWN = _down_revision()
"""The revision this migration follows (read from its script: a re-chained merge moves it)."""
BEFORE_THE_MOVE = datetime(2026, 2, 1, tzinfo=UTC)
"""After the baseline's records were made (2026-01-15), before the test's move."""


def _sqlite_columns(db: Path, table: str) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _sqlite_indexes(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}


def _lives_somewhere_else(target: str | URL) -> None:
    """What the migration is for: valid time and supersession on the upgraded data."""
    where = target.render_as_string(hide_password=False) if isinstance(target, URL) else target
    with pm.open(where) as mem:
        me = mem.graph.get_profile("me")
        policy = me.policy.model_copy(update={"single_valued_edge_kinds": frozenset({"lives_in"})})
        mem.save_profile(me.model_copy(update={"policy": policy}))
        mem.save_node(pm.MemoryNode(id="porto", profile_id="me", kind="city", label="Porto"))
        moved = mem.save_edge(pm.MemoryEdge(id="e-porto", profile_id="me", source_id="ana",
                                            target_id="porto", kind="lives_in",
                                            valid_from=datetime.now(UTC)))
        old = mem.graph.get_edge("e-lives")  # written by the baseline, valid_from NULL
        assert old.valid_to == moved.valid_from
        assert [e.id for e in mem.graph.list_edges("me", source_id="ana", kind="lives_in")] == [
            "e-porto"]
        assert [e.id for e in mem.graph.list_edges(
            "me", source_id="ana", kind="lives_in", valid_at=BEFORE_THE_MOVE)] == ["e-lives"]
        assert mem.diagnose().ok, mem.diagnose().findings  # tables == replay of the whole log
        # The full-text triggers on nodes survived the ALTERs: a new node is found.
        assert {m.node_id for m in mem.graph.search_text("me", ["porto"], 5)} == {"porto"}
        assert "porto" in {m.node_id for m in mem.graph.search_substring("me", "ort", 5)}


def test_the_migration_follows_its_down_revision() -> None:
    assert REVISION in migrate.known_revisions()
    assert DOWN in migrate.known_revisions()
    assert [r.revision for r in migrate.history()].index(REVISION) == [
        r.revision for r in migrate.history()].index(DOWN) - 1  # history is newest first


# --- SQLite ------------------------------------------------------------------------------


def test_a_baseline_file_is_refused_until_upgraded(tmp_path: Path) -> None:
    db = sqlite_copy(tmp_path)
    with pytest.raises(SchemaVersionError, match="phase-memory db upgrade"):
        open_sql_store(db)
    with pytest.raises(SchemaVersionError, match="phase-memory db upgrade"):
        pm.open(str(db))
    assert database_revision(db)[0] == BASELINE  # refused, and left as it was
    assert "valid_from" not in _sqlite_columns(db, "nodes")


def test_a_baseline_file_upgrades_keeps_every_record_and_gains_valid_time(
    tmp_path: Path,
) -> None:
    db = sqlite_copy(tmp_path)
    backup = upgrade_database(db)
    assert backup is not None and Path(backup).name == f"memory.db.bak-{BASELINE}"
    assert database_revision(backup)[0] == BASELINE  # the backup: as it was
    assert database_revision(db)[0] == migrate.head_revision()
    for table, index in VALID_TIME_INDEXES.items():
        assert {"valid_from", "valid_to"} <= _sqlite_columns(db, table)
        assert index in _sqlite_indexes(db)
    with open_sql_store(db) as store:
        assert as_baseline(records(store)) == expected("sqlite")
        assert store.integrity_findings() == []
        assert {m.node_id for m in store.graph.search_text("me", ["sencha"], 5)} == {"tea"}
    _lives_somewhere_else(str(db))


def test_downgrading_drops_valid_time_and_keeps_every_record(tmp_path: Path) -> None:
    db = sqlite_copy(tmp_path)
    upgrade_database(db)
    downgrade_database(db, DOWN)
    assert database_revision(db)[0] == DOWN
    for table, index in VALID_TIME_INDEXES.items():
        assert not {"valid_from", "valid_to"} & _sqlite_columns(db, table)
        assert index not in _sqlite_indexes(db)
    downgrade_database(db, BASELINE)  # and on down to what the baseline wrote
    upgrade_database(db)
    with open_sql_store(db) as store:
        assert as_baseline(records(store)) == expected("sqlite")
        assert {m.node_id for m in store.graph.search_text("me", ["sencha"], 5)} == {"tea"}
    _lives_somewhere_else(str(db))


# --- PostgreSQL --------------------------------------------------------------------------


def _pg_columns(url: URL, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {c["name"] for c in inspect(conn).get_columns(table)}
    finally:
        engine.dispose()


def test_postgresql_upgrades_the_baseline_dump_and_back(postgres_url: URL) -> None:
    base = postgres_url.update_query_dict({"options": ""}).render_as_string(hide_password=False)
    with postgres_copy(base) as url:
        with pytest.raises(SchemaVersionError, match="phase-memory db upgrade"):
            open_sql_store(url)
        assert database_revision(url)[0] == BASELINE
        upgrade_database(url)
        assert database_revision(url)[0] == migrate.head_revision()
        assert {"valid_from", "valid_to"} <= _pg_columns(url, "edges")
        with open_sql_store(url) as store:
            assert as_baseline(records(store)) == expected("postgres")
        downgrade_database(url, DOWN)
        assert not {"valid_from", "valid_to"} & _pg_columns(url, "nodes")
        downgrade_database(url, BASELINE)
        upgrade_database(url)
        with open_sql_store(url) as store:
            assert as_baseline(records(store)) == expected("postgres")
        _lives_somewhere_else(url)

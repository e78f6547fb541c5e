"""The substring-search migration (c4e1f0a9d2b3) on databases the RELEASED baseline wrote.

A baseline file (``tests/fixtures/baseline-aafd5b72b667``, see
``tests/baseline_fixture.py``) upgrades (backup taken), keeps every record and
gains the trigram index, filled from the nodes already there; downgrading to
the baseline drops the index and keeps the data. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import URL, create_engine, text

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
from tests.test_sql_migrations import sqlite_names

REVISION = "c4e1f0a9d2b3"
"""This migration."""
TRIGRAM_OBJECTS = {"nodes_trigram"}


def test_the_substring_migration_follows_the_baseline() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config()).get_revision(REVISION)
    assert script is not None and script.down_revision == BASELINE


def test_a_baseline_file_upgrades_keeps_it_and_gains_the_index(tmp_path: Path) -> None:
    db = sqlite_copy(tmp_path)
    with pytest.raises(SchemaVersionError, match="db upgrade"):
        open_sql_store(db)
    assert not TRIGRAM_OBJECTS & sqlite_names(db, "table")

    backup = upgrade_database(db, REVISION)
    assert backup is not None and Path(backup).name == f"memory.db.bak-{BASELINE}"
    assert database_revision(db)[0] == REVISION
    assert sqlite_names(db, "table") >= TRIGRAM_OBJECTS
    upgrade_database(db)  # on to the head, to read it with this version
    with open_sql_store(db) as store:
        assert as_baseline(records(store)) == expected("sqlite")
        # The index was filled from the nodes already there.
        assert {m.node_id for m in store.graph.search_substring("me", "reen te", 10)} == {"tea"}
        assert {m.node_id for m in store.graph.search_substring("me", "ISBO", 10)} == {
            "lisbon", "ana"}
        assert store.integrity_findings() == []
    assert database_revision(backup)[0] == BASELINE  # the backup: as it was


def test_downgrading_drops_the_index_and_keeps_the_data(tmp_path: Path) -> None:
    db = sqlite_copy(tmp_path)
    upgrade_database(db)
    downgrade_database(db, BASELINE)
    assert database_revision(db)[0] == BASELINE
    assert not TRIGRAM_OBJECTS & sqlite_names(db, "table")
    assert not {t for t in sqlite_names(db, "trigger") if "trigram" in t}
    upgrade_database(db)
    with open_sql_store(db) as store:
        assert as_baseline(records(store)) == expected("sqlite")
        assert {m.node_id for m in store.graph.search_substring("me", "tea", 10)} == {"tea"}


def test_postgresql_upgrades_from_the_baseline_and_back(postgres_url: URL) -> None:
    base = postgres_url.update_query_dict({"options": ""}).render_as_string(hide_password=False)
    with postgres_copy(base) as url:

        def index_exists() -> bool:
            engine = create_engine(url)
            try:
                with engine.connect() as conn:
                    found = conn.execute(text(
                        "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_nodes_substring' "
                        "AND schemaname = current_schema()")).scalar()
            finally:
                engine.dispose()
            return bool(found)

        assert not index_exists()
        upgrade_database(url, REVISION)
        assert index_exists()
        upgrade_database(url)
        with open_sql_store(url) as store:
            assert as_baseline(records(store)) == expected("postgres")
            assert {m.node_id for m in store.graph.search_substring("me", "reen te", 10)} == {
                "tea"}
        downgrade_database(url, BASELINE)
        assert not index_exists()
        upgrade_database(url)
        assert index_exists()
        with open_sql_store(url) as store:
            assert as_baseline(records(store)) == expected("postgres")

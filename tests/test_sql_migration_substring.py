"""The substring-search migration (c4e1f0a9d2b3): a database at the baseline revision,
holding data, upgrades (backup taken), keeps every record and gains the trigram index;
downgrading drops the index and keeps the data. On SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import URL, create_engine, text

from phase_memory.errors import SchemaVersionError
from phase_memory.sql import (
    database_revision,
    downgrade_database,
    migrate,
    open_sql_store,
    upgrade_database,
)
from tests.test_sql_migrations import everything, fill, sqlite_names

BASELINE = "aafd5b72b667"
SUBSTRING = "c4e1f0a9d2b3"
TRIGRAM_OBJECTS = {"nodes_trigram"}


def test_the_substring_migration_follows_the_baseline() -> None:
    assert migrate.head_revision() == SUBSTRING
    assert [r.revision for r in migrate.history()][:2] in (
        [BASELINE, SUBSTRING], [SUBSTRING, BASELINE])


def _at_baseline_with_data(db: Path) -> tuple[object, ...]:
    with open_sql_store(db) as store:
        fill(store)
        before = everything(store)
    downgrade_database(db, BASELINE)
    assert database_revision(db) == (BASELINE, SUBSTRING)
    assert not TRIGRAM_OBJECTS & sqlite_names(db, "table")
    assert not {t for t in sqlite_names(db, "trigger") if "trigram" in t}
    return before


def test_a_baseline_file_with_data_upgrades_keeps_it_and_gains_the_index(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    before = _at_baseline_with_data(db)
    with pytest.raises(SchemaVersionError, match="db upgrade"):
        open_sql_store(db)

    backup = upgrade_database(db)
    assert backup is not None and Path(backup).name == f"memory.db.bak-{BASELINE}"
    assert database_revision(db) == (SUBSTRING, SUBSTRING)
    assert sqlite_names(db, "table") >= TRIGRAM_OBJECTS
    with open_sql_store(db) as store:
        assert everything(store)[:2] == before[:2]
        # The index was filled from the nodes already there.
        assert {m.node_id for m in store.graph.search_substring("p1", "reen te", 10)} == {"tea"}
        assert {m.node_id for m in store.graph.search_substring("p1", "ONDAY", 10)} == {"coffee"}
        assert store.integrity_findings() == []
    assert database_revision(backup) == (BASELINE, SUBSTRING)  # the backup: as it was


def test_downgrading_drops_the_index_and_keeps_the_data(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    before = _at_baseline_with_data(db)
    upgrade_database(db)
    downgrade_database(db, BASELINE)
    assert not TRIGRAM_OBJECTS & sqlite_names(db, "table")
    upgrade_database(db)
    with open_sql_store(db) as store:
        assert everything(store)[:2] == before[:2]
        assert {m.node_id for m in store.graph.search_substring("p1", "tea", 10)} == {"tea"}


def test_postgresql_upgrades_from_the_baseline_and_back(postgres_url: URL) -> None:
    url = postgres_url.render_as_string(hide_password=False)
    with open_sql_store(url) as store:
        fill(store)
        before = everything(store)
    downgrade_database(url, BASELINE)

    def index_exists() -> bool:
        engine = create_engine(postgres_url)
        try:
            with engine.connect() as conn:
                found = conn.execute(text(
                    "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_nodes_substring' "
                    "AND schemaname = current_schema()")).scalar()
        finally:
            engine.dispose()
        return bool(found)

    assert not index_exists()
    upgrade_database(url)
    assert index_exists()
    with open_sql_store(url) as store:
        assert everything(store)[:2] == before[:2]
        assert {m.node_id for m in store.graph.search_substring("p1", "reen te", 10)} == {"tea"}

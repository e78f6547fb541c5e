"""PostgreSQL opening rules: processes creating one schema at once, schemas chosen by URL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from postgres_support import with_schema
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

import phase_memory as pm
from phase_memory.errors import StoreUnavailableError
from phase_memory.sql import migrate

pytestmark = pytest.mark.postgres

_OPEN = r"""
import sys
import phase_memory as pm
with pm.open(sys.argv[1], busy_timeout=30) as mem:
    mem.events.last_position()
"""


@pytest.fixture
def empty_schema(postgres_url: URL) -> Iterator[URL]:
    """A schema of its own, created empty (no tables) and dropped afterwards."""
    name = f"{postgres_url.query['options'].split('=')[-1]}_bare"
    base = postgres_url.difference_update_query(["options"])
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield with_schema(base, name)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        engine.dispose()


def test_processes_creating_one_schema_at_once_do_not_race(empty_schema: URL) -> None:
    url = empty_schema.render_as_string(hide_password=False)
    openers = [
        subprocess.Popen([sys.executable, "-c", _OPEN, url], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    for opener in openers:
        _, errors = opener.communicate(timeout=120)
        assert opener.returncode == 0, errors
    engine = create_engine(empty_schema)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    finally:
        engine.dispose()
    assert versions == [(migrate.head_revision(),)]


def test_each_schema_is_a_memory_of_its_own(postgres_url: URL, empty_schema: URL) -> None:
    with pm.open(postgres_url.render_as_string(hide_password=False)) as one:
        one.save_profile(pm.Profile(id="p1", name="Sam"))
    with pm.open(empty_schema.render_as_string(hide_password=False)) as two:
        assert two.graph.list_profiles() == []
        assert two.events.last_position() == 0


def test_a_search_path_without_an_existing_schema_is_refused(postgres_url: URL) -> None:
    missing = with_schema(postgres_url.difference_update_query(["options"]), "pm_no_such_schema")
    with pytest.raises(StoreUnavailableError, match="CREATE SCHEMA"):
        pm.open(missing.render_as_string(hide_password=False))

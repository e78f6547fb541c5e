"""Forgetting on PostgreSQL: after ``phase-memory db vacuum`` no relation file holds the content.

Reads the server's data files (``pg_relation_filepath`` under ``data_directory``),
which works when the server runs on this machine and its files are readable
from here; elsewhere the test is skipped with that reason.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import URL
from typer.testing import CliRunner

import phase_memory as pm
from phase_memory.cli import app
from phase_memory.testing.builders import P1, event
from phase_memory.testing.raw_files import (
    postgres_relation_files,
    scan,
    wait_for_older_snapshots,
)
from phase_memory.testing.spec_review import action

LABEL = "Marzipan-6620 locker"
CONTENT = "the locker code is tamarind-falcon-3185 " * 400  # TOASTed, compressed or not
ATTRIBUTE = "Vellichor-0427"
SECRETS = ("Marzipan-6620", "tamarind-falcon-3185", ATTRIBUTE)


def _files(url: URL) -> list:  # type: ignore[type-arg]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            files = postgres_relation_files(conn)
    finally:
        engine.dispose()
    if files is None:
        pytest.skip("the server's data files cannot be read from this process")
    return files


def test_db_vacuum_leaves_no_row_version_of_the_forgotten_content(postgres_url: URL) -> None:
    """Finding 6: plain VACUUM leaves the text in free space and the GIN index."""
    target = postgres_url.render_as_string(hide_password=False)
    with pm.open(target) as mem:
        mem.save_profile(pm.Profile(id=P1))
        mem.save_node(pm.MemoryNode(
            id="locker", profile_id=P1, kind="fact", label=LABEL, content=CONTENT,
            attributes={"owner": ATTRIBUTE},
        ))
        mem.activate(P1, "locker code")
        mem.record(event("note.added", {"text": f"said {LABEL}"}, seconds=3))
        assert scan(_files(postgres_url), SECRETS, words=False)
        result = mem.apply([action("forget", "locker", approved=True)])
        assert result.forgotten[0].vacuum_required
        # VACUUM FULL keeps the row versions an open transaction (anyone's, on a
        # shared server) may still see: wait for those to end first.
        if not wait_for_older_snapshots(mem.store):
            pytest.skip("another session keeps a transaction open")
    outcome = CliRunner().invoke(app, ["--db", target, "db", "vacuum"])
    assert outcome.exit_code == 0, outcome.output
    traces = scan(_files(postgres_url), SECRETS, words=False)
    assert traces == [], [str(t) for t in traces]
    with pm.open(target) as mem:
        assert mem.verify_forgotten("locker").ok

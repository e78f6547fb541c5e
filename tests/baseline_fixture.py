"""The databases the released baseline code wrote (``tests/fixtures/baseline-<rev>/``).

Every migration test starts from one of these, never from a database made at
head and downgraded: ``tests/fixtures/make_baseline_db.py`` (run with the
baseline release first on the import path) made them, and says how.

- :func:`sqlite_copy`: a private copy of the baseline SQLite file;
- :func:`postgres_copy`: the baseline's ``pg_dump`` loaded into a schema of
  its own (dropped afterwards), as a URL selecting it;
- :func:`records` / :func:`as_baseline`: every record of a store in the shape
  the fixture's ``expected-*.json`` holds, to compare after an upgrade.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from phase_memory.sql import SqlStore

BASELINE = "aafd5b72b667"
"""The schema revision of the previous release (0e0e572): the fixtures' revision."""
FIXTURE = Path(__file__).resolve().parent / "fixtures" / f"baseline-{BASELINE}"
DUMP_SCHEMA = "pm_baseline_fixture"
"""The schema ``postgres.sql`` creates and fills (renamed when loaded)."""

NEW_DEFAULTS: dict[str, dict[str, Any]] = {
    "nodes": {"valid_from": None, "valid_to": None},
    "edges": {"valid_from": None, "valid_to": None},
}
"""Fields later revisions added to the baseline's records, with what a migrated record holds."""
NEW_POLICY_DEFAULTS = {"single_valued_edge_kinds": []}


def expected(adapter: str) -> dict[str, Any]:
    """The records the baseline code read back from its fixture (``sqlite`` or ``postgres``)."""
    loaded: dict[str, Any] = json.loads(
        (FIXTURE / f"expected-{adapter}.json").read_text(encoding="utf-8"))
    return loaded


def sqlite_copy(directory: Path) -> Path:
    """A copy of the baseline SQLite memory in ``directory`` (the fixture is never touched)."""
    target = directory / "memory.db"
    shutil.copyfile(FIXTURE / "memory.db", target)
    return target


def _dump_statements(schema: str) -> str:
    sql = (FIXTURE / "postgres.sql").read_text(encoding="utf-8")
    # psql meta-commands (pg_dump's \restrict / \unrestrict) are not SQL.
    lines = [line for line in sql.splitlines() if not line.startswith("\\")]
    return re.sub(rf"\b{DUMP_SCHEMA}\b", schema, "\n".join(lines))


@contextmanager
def postgres_copy(base_url: str) -> Iterator[URL]:
    """The baseline's PostgreSQL dump loaded into a new schema; the URL selects it.

    The schema is this test's own (``pm_mig_<pid>_<random>``) and is dropped
    at the end: other tests and other runs on the same server are untouched.
    """
    schema = f"pm_mig_{os.getpid()}_{secrets.token_hex(4)}"
    engine = create_engine(base_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(_dump_statements(schema))
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def records(store: SqlStore) -> dict[str, Any]:
    """Every record of ``store``, as ``make_baseline_db.dump`` writes them."""
    graph = store.graph
    return {
        "revision": BASELINE,
        "profiles": [p.to_json_dict() for p in graph.list_profiles()],
        "nodes": [n.to_json_dict() for n in graph.iter_nodes()],
        "edges": [e.to_json_dict() for e in graph.iter_edges()],
        "paths": [p.to_json_dict() for p in graph.list_paths()],
        "activation_plans": [p.to_json_dict() for p in graph.list_activation_plans()],
        "events": [e.to_json_dict() for e in store.events.list()],
        "audit": [a.to_json_dict() for a in store.audit.list()],
    }


def as_baseline(found: dict[str, Any]) -> dict[str, Any]:
    """``found`` without the fields later revisions added, checking each holds its default.

    An upgraded record equals the baseline's once those are taken out; a new
    field holding anything but its default is an AssertionError.
    """
    shaped = json.loads(json.dumps(found))
    for table, defaults in NEW_DEFAULTS.items():
        for record in shaped[table]:
            for name, default in defaults.items():
                assert record.pop(name) == default, (table, record["id"], name)
    for profile in shaped["profiles"]:
        for name, default in NEW_POLICY_DEFAULTS.items():
            assert profile["policy"].pop(name) == default, (profile["id"], name)
    # Audit records the upgrades themselves wrote are not the baseline's.
    shaped["audit"] = [a for a in shaped["audit"] if a["operation"] != "db.migrate"]
    return shaped

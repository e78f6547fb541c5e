"""The Alembic migrations: one head, up and down with data, schema equal to the metadata."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from phase_memory.models import ActivationItem, ActivationPlan, AuditOutcome, MemoryEvent
from phase_memory.replay import (
    LoggedEvent,
    PutActivationPlan,
    PutEdge,
    PutNode,
    PutPath,
    PutProfile,
    effects_of,
)
from phase_memory.sql import (
    SqlStore,
    database_revision,
    downgrade_database,
    migrate,
    open_sql_store,
    upgrade_database,
)
from phase_memory.sql.tables import TABLE_NAMES, include_in_autogenerate, metadata
from phase_memory.testing.builders import (
    T0,
    audit,
    edge,
    edge_saved,
    event,
    node,
    node_saved,
    path,
    path_opened,
    profile,
    profile_saved,
)

REPO = Path(__file__).resolve().parent.parent
FTS_OBJECTS = {
    "nodes_fts",
    "nodes_fts_data",
    "nodes_fts_idx",
    "nodes_fts_docsize",
    "nodes_fts_config",
}
VIEWS = {"graph_nodes_view", "path_lineage_view", "events_view"}


def record(store: SqlStore, *events: MemoryEvent) -> None:
    """Append events and apply their graph effects in one transaction (as the runtime does)."""
    with store.transaction():
        positions = store.events.append(events)
        for made, position in zip(events, positions, strict=True):
            store.graph.apply(effects_of(LoggedEvent.of(made, position), store.graph))


def fill(store: SqlStore) -> None:
    """A small memory: a profile, nodes, an edge, two paths, events, a plan, audit records."""
    main = path("main", active=True)
    record(
        store,
        profile_saved(profile(), event_id="e-profile"),
        path_opened(main, event_id="e-main"),
        node_saved(
            node("tea", label="Green tea", content="drinks green tea", version=1),
            event_id="e-tea",
            path_id="main",
        ),
        node_saved(
            node("coffee", label="Coffee", content="only on Mondays", version=1),
            event_id="e-coffee",
        ),
        edge_saved(edge("tea-coffee", "tea", "coffee", kind="unlike"), event_id="e-edge"),
        event(
            "chat.turn",
            {"text": "Grüße 🙂", "n": [1, 2.5, None]},
            event_id="e-chat",
            path_id="main",
        ),
    )
    branch = path("branch", parent_path_id="main", root_path_id="main", fork_event_id="e-tea")
    record(store, path_opened(branch, event_id="e-branch"))
    plan = ActivationPlan(
        id="plan-1",
        profile_id="p1",
        path_id="main",
        query="tea?",
        budget=5,
        created_at=T0,
        items=[
            ActivationItem(
                node_id="tea",
                rank=1,
                score=0.9,
                reasons=["text match"],
                label="Green tea",
                content="drinks green tea",
            )
        ],
    )
    store.graph.apply([PutActivationPlan(plan)])
    store.audit.record(audit("audit-1", details={"why": "test"}))


def everything(store: SqlStore) -> tuple[object, ...]:
    return store.graph.snapshot(), store.events.list(), store.audit.list()


def sqlite_names(db: Path, kind: str) -> set[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = ?", (kind,)).fetchall()
    return {name for (name,) in rows}


def test_the_migrations_have_a_single_head() -> None:
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    assert len(scripts.get_heads()) == 1
    assert scripts.get_current_head() == migrate.head_revision()
    assert [r.revision for r in migrate.history() if r.is_head] == [migrate.head_revision()]


def test_the_migrations_are_found_beside_the_package() -> None:
    assert migrate.migrations_dir() == REPO / "migrations"
    assert migrate.alembic_ini() == REPO / "alembic.ini"


def test_a_new_database_is_created_at_head_with_every_object(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    with open_sql_store(db) as store:
        assert store.revision() == migrate.head_revision()
    assert database_revision(db) == (migrate.head_revision(), migrate.head_revision())
    assert set(TABLE_NAMES) | {"alembic_version"} | FTS_OBJECTS <= sqlite_names(db, "table")
    assert sqlite_names(db, "view") == VIEWS
    assert {
        f"nodes_{index}_after_{what}"
        for index in ("fts", "trigram", "tails") for what in ("insert", "update", "delete")
    } == sqlite_names(db, "trigger")


def test_schema_from_the_migrations_matches_the_metadata(tmp_path: Path) -> None:
    with open_sql_store(tmp_path / "memory.db") as store, store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include_in_autogenerate, "compare_type": True}
        )
        assert compare_metadata(context, metadata) == []


def test_constraint_names_follow_the_naming_convention(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    open_sql_store(db).close()
    indexes = sqlite_names(db, "index")
    named = {i for i in indexes if not i.startswith("sqlite_autoindex")}
    assert {
        "ix_events_path_id_position",
        "ix_events_profile_id_position",
        "ix_nodes_profile_id_kind",
        "ix_nodes_profile_id_state",
        "ix_edges_source_id",
        "ix_edges_target_id",
        "ix_edges_profile_id_kind",
        "uq_paths_one_active_per_tree",
    } <= named
    with sqlite3.connect(db) as conn:
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'edges'").fetchone()
    assert "CONSTRAINT fk_edges_source_id_nodes FOREIGN KEY" in sql
    assert "CONSTRAINT pk_edges PRIMARY KEY" in sql


def test_downgrade_to_base_and_upgrade_again_keeps_the_data(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    with open_sql_store(db) as store:
        fill(store)
        before = everything(store)
    head = migrate.head_revision()

    backup = downgrade_database(db, "base")
    assert backup is not None and Path(backup).name == f"memory.db.bak-{head}"
    assert database_revision(db) == (None, head)
    assert sqlite_names(db, "table") <= {"alembic_version"}
    assert sqlite_names(db, "view") == set()
    assert sqlite_names(db, "trigger") == set()

    upgrade_database(db)
    assert database_revision(db) == (head, head)

    # The downgrade backed the data up; restore it through the store's own API.
    with open_sql_store(backup, read_only=True) as saved, open_sql_store(db) as store:
        assert everything(saved) == before
        snapshot = saved.graph.snapshot()
        with store.transaction():
            store.graph.apply(
                [PutProfile(p) for p in snapshot.profiles.values()]
                + [PutNode(n) for n in snapshot.nodes.values()]
                + [PutEdge(e) for e in snapshot.edges.values()]
                + [PutPath(p) for p in snapshot.paths.values()]
                + [PutActivationPlan(p) for p in snapshot.activation_plans.values()]
            )
            store.events.append(saved.events.list())
            for audited in saved.audit.list():
                store.audit.record(audited)
        restored = everything(store)
        assert restored[0] == before[0]
        assert [e.model_copy(update={"position": None}) for e in restored[1]] == [  # type: ignore[attr-defined]
            e.model_copy(update={"position": None})
            for e in before[1]  # type: ignore[attr-defined]
        ]
        assert restored[2][-1] == before[2][-1]  # type: ignore[index]
        assert store.events.replay().snapshot.nodes == before[0].nodes  # type: ignore[attr-defined]
        assert {m.node_id for m in store.graph.search_text("p1", ["tea"], 10)} == {"tea"}
        assert store.integrity_findings() == []


def test_an_upgrade_leaves_an_audit_record(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    open_sql_store(db).close()
    downgrade_database(db, "base")
    upgrade_database(db)
    with open_sql_store(db) as store:
        # base dropped the audit table with the downgrade's record; the upgrade left its own
        [migrated] = store.audit.list()
    assert migrated.outcome == AuditOutcome.MIGRATED
    assert migrated.details["from"] == "base"
    assert migrated.details["to"] == migrate.head_revision()
    assert upgrade_database(db) is None  # already at head: nothing to do


def test_the_alembic_command_line_works_from_the_repository(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    command = [
        sys.executable,
        "-m",
        "alembic",
        "-c",
        str(REPO / "alembic.ini"),
        "-x",
        f"url=sqlite:///{db}",
    ]
    subprocess.run([*command, "upgrade", "head"], check=True, capture_output=True, cwd=tmp_path)
    current = subprocess.run(
        [*command, "current"], check=True, capture_output=True, text=True, cwd=tmp_path
    )
    assert migrate.head_revision() in current.stdout
    with open_sql_store(db) as store:
        fill(store)
        assert store.integrity_findings() == []

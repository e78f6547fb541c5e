"""baseline: every table, index and foreign key, the full-text index and the views

Revision ID: aafd5b72b667
Revises:
Create Date: 2026-11-25 11:38:34.388807

Generated with ``alembic revision``; the table operations started from
``--autogenerate`` output and were tidied by hand. Types are spelled out here
(not imported from the package) so this revision keeps describing the schema
it created whatever the package's tables look like later.

Beside the tables: on SQLite an FTS5 external-content table ``nodes_fts``
over ``nodes(label, content)`` kept in step by triggers; on PostgreSQL a
generated ``search_vector`` column with a GIN index. And three views for
people reading the database by hand: ``graph_nodes_view``,
``path_lineage_view`` and ``events_view``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "aafd5b72b667"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=200), nullable=nullable)


def _json(name: str) -> sa.Column[object]:
    kind = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    return sa.Column(name, kind, nullable=False)


def _ts(name: str) -> sa.Column[object]:
    # ISO-8601 UTC text on SQLite ("2024-05-01T12:00:00.000000Z"), timestamptz elsewhere.
    kind = sa.String(length=32).with_variant(postgresql.TIMESTAMP(timezone=True), "postgresql")
    return sa.Column(name, kind, nullable=False)


def _serial(name: str, autoincrement: bool) -> sa.Column[int]:
    # INTEGER PRIMARY KEY is SQLite's rowid alias.
    kind = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    return sa.Column(name, kind, autoincrement=autoincrement, nullable=False)


def upgrade() -> None:
    """Create the schema."""
    op.create_table(
        "profiles",
        _id("id"),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        _json("policy"),
        _json("attributes"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profiles")),
    )
    op.create_table(
        "nodes",
        _serial("node_seq", autoincrement=True),
        _id("id"),
        _id("profile_id"),
        sa.Column("kind", sa.String(length=200), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        _json("attributes"),
        sa.Column("salience", sa.Float(), nullable=False),
        sa.Column("sensitivity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"], ["profiles.id"], name=op.f("fk_nodes_profile_id_profiles")
        ),
        sa.PrimaryKeyConstraint("node_seq", name=op.f("pk_nodes")),
        sa.UniqueConstraint("id", name=op.f("uq_nodes_id")),
    )
    op.create_index(op.f("ix_nodes_profile_id_kind"), "nodes", ["profile_id", "kind"])
    op.create_index(op.f("ix_nodes_profile_id_state"), "nodes", ["profile_id", "state"])

    op.create_table(
        "edges",
        _id("id"),
        _id("profile_id"),
        _id("source_id"),
        _id("target_id"),
        sa.Column("kind", sa.String(length=200), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        _json("attributes"),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["profile_id"], ["profiles.id"], name=op.f("fk_edges_profile_id_profiles")
        ),
        sa.ForeignKeyConstraint(["source_id"], ["nodes.id"], name=op.f("fk_edges_source_id_nodes")),
        sa.ForeignKeyConstraint(["target_id"], ["nodes.id"], name=op.f("fk_edges_target_id_nodes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edges")),
    )
    op.create_index(op.f("ix_edges_profile_id_kind"), "edges", ["profile_id", "kind"])
    op.create_index(op.f("ix_edges_source_id"), "edges", ["source_id"])
    op.create_index(op.f("ix_edges_target_id"), "edges", ["target_id"])

    op.create_table(
        "paths",
        _id("id"),
        _id("profile_id"),
        _id("parent_path_id", nullable=True),
        _id("fork_event_id", nullable=True),
        _id("root_path_id", nullable=True),
        _id("tree_id"),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _id("merged_into_path_id", nullable=True),
        _id("merge_event_id", nullable=True),
        sa.Column("abandoned_reason", sa.Text(), nullable=True),
        sa.Column("compaction_status", sa.String(length=16), nullable=False),
        _id("summary_node_id", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["parent_path_id"],
            ["paths.id"],
            name=op.f("fk_paths_parent_path_id_paths"),
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"], ["profiles.id"], name=op.f("fk_paths_profile_id_profiles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paths")),
    )
    op.create_index(op.f("ix_paths_parent_path_id"), "paths", ["parent_path_id"])
    op.create_index(op.f("ix_paths_profile_id"), "paths", ["profile_id"])
    op.create_index(op.f("ix_paths_tree_id"), "paths", ["tree_id"])
    # At most one active path per conversation tree.
    op.create_index(
        "uq_paths_one_active_per_tree",
        "paths",
        ["tree_id"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )

    op.create_table(
        "events",
        _serial("position", autoincrement=False),
        _id("event_id"),
        sa.Column("kind", sa.String(length=200), nullable=False),
        _id("profile_id"),
        _id("path_id", nullable=True),
        _ts("occurred_at"),
        _json("payload"),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        _id("causation_id", nullable=True),
        sa.ForeignKeyConstraint(
            ["path_id"],
            ["paths.id"],
            name=op.f("fk_events_path_id_paths"),
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_events_event_id")),
    )
    op.create_index(op.f("ix_events_kind_position"), "events", ["kind", "position"])
    op.create_index(op.f("ix_events_path_id_position"), "events", ["path_id", "position"])
    op.create_index(op.f("ix_events_profile_id_position"), "events", ["profile_id", "position"])

    op.create_table(
        "activation_plans",
        _id("id"),
        _id("profile_id"),
        _id("path_id", nullable=True),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("budget", sa.Integer(), nullable=False),
        _ts("created_at"),
        sa.ForeignKeyConstraint(
            ["profile_id"], ["profiles.id"], name=op.f("fk_activation_plans_profile_id_profiles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activation_plans")),
    )
    op.create_index(op.f("ix_activation_plans_profile_id"), "activation_plans", ["profile_id"])

    op.create_table(
        "activation_items",
        _id("plan_id"),
        sa.Column("ordinal", sa.Integer(), autoincrement=False, nullable=False),
        _id("node_id"),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        _json("reasons"),
        sa.Column("redacted", sa.Boolean(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["activation_plans.id"],
            name=op.f("fk_activation_items_plan_id_activation_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_id", "ordinal", name=op.f("pk_activation_items")),
    )
    op.create_index(op.f("ix_activation_items_node_id"), "activation_items", ["node_id"])

    op.create_table(
        "audit_records",
        _serial("seq", autoincrement=True),
        _id("id"),
        _ts("at"),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("operation", sa.String(length=200), nullable=False),
        _json("subject_ids"),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        _json("details"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_records")),
        sa.UniqueConstraint("id", name=op.f("uq_audit_records_id")),
    )
    op.create_index(op.f("ix_audit_records_at"), "audit_records", ["at"])
    op.create_index(op.f("ix_audit_records_operation"), "audit_records", ["operation"])

    op.create_table(
        "runtime_metadata",
        sa.Column("key", sa.String(length=200), nullable=False),
        _json("value"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_runtime_metadata")),
    )

    if op.get_bind().dialect.name == "sqlite":
        _create_sqlite_fts()
    else:
        _create_postgresql_search()
    _create_views()


def _create_sqlite_fts() -> None:
    # External content: the text lives in nodes only; the index refers to
    # nodes.node_seq (the rowid alias, stable across VACUUM).
    op.execute(
        "CREATE VIRTUAL TABLE nodes_fts USING fts5("
        "label, content, content='nodes', content_rowid='node_seq', "
        "tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER nodes_fts_after_insert AFTER INSERT ON nodes BEGIN "
        "INSERT INTO nodes_fts(rowid, label, content) "
        "VALUES (new.node_seq, new.label, new.content); END"
    )
    op.execute(
        "CREATE TRIGGER nodes_fts_after_delete AFTER DELETE ON nodes BEGIN "
        "INSERT INTO nodes_fts(nodes_fts, rowid, label, content) "
        "VALUES ('delete', old.node_seq, old.label, old.content); END"
    )
    op.execute(
        "CREATE TRIGGER nodes_fts_after_update AFTER UPDATE OF label, content ON nodes "
        "WHEN old.label IS NOT new.label OR old.content IS NOT new.content BEGIN "
        "INSERT INTO nodes_fts(nodes_fts, rowid, label, content) "
        "VALUES ('delete', old.node_seq, old.label, old.content); "
        "INSERT INTO nodes_fts(rowid, label, content) "
        "VALUES (new.node_seq, new.label, new.content); END"
    )
    op.execute("INSERT INTO nodes_fts(nodes_fts) VALUES ('rebuild')")


def _create_postgresql_search() -> None:
    op.execute(
        "ALTER TABLE nodes ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
        "setweight(to_tsvector('simple', coalesce(label, '')), 'A') || "
        "setweight(to_tsvector('simple', coalesce(content, '')), 'B')) STORED"
    )
    op.execute("CREATE INDEX ix_nodes_search_vector ON nodes USING gin (search_vector)")


def _create_views() -> None:
    # Plain SQL that SQLite and PostgreSQL both understand.
    op.execute(
        """
        CREATE VIEW graph_nodes_view AS
        SELECT n.id, n.profile_id, n.kind, n.label, n.content, n.state, n.sensitivity,
               n.salience, n.version,
               (SELECT count(*) FROM edges e WHERE e.target_id = n.id) AS in_degree,
               (SELECT count(*) FROM edges e WHERE e.source_id = n.id) AS out_degree,
               n.attributes, n.created_at, n.updated_at
        FROM nodes n
        WHERE n.state <> 'forgotten'
        """
    )
    op.execute(
        """
        CREATE VIEW path_lineage_view AS
        WITH RECURSIVE lineage(path_id, ancestor_id, depth) AS (
            SELECT id, parent_path_id, 0 FROM paths
            UNION ALL
            SELECT l.path_id, p.parent_path_id, l.depth + 1
            FROM lineage l JOIN paths p ON p.id = l.ancestor_id
            WHERE l.depth < 1000
        ),
        depths AS (SELECT path_id, max(depth) AS depth FROM lineage GROUP BY path_id)
        SELECT p.id AS path_id, p.profile_id, p.status, p.active,
               p.parent_path_id, parent.status AS parent_status, p.fork_event_id,
               p.tree_id AS root_path_id, root.status AS root_status, d.depth,
               p.merged_into_path_id, p.merge_event_id, p.abandoned_reason,
               p.compaction_status, p.summary_node_id,
               (SELECT count(*) FROM events e WHERE e.path_id = p.id) AS own_events,
               p.created_at, p.updated_at
        FROM paths p
        JOIN depths d ON d.path_id = p.id
        LEFT JOIN paths parent ON parent.id = p.parent_path_id
        LEFT JOIN paths root ON root.id = p.tree_id
        """
    )
    op.execute(
        """
        CREATE VIEW events_view AS
        SELECT e.position, e.event_id, e.kind, e.profile_id, e.path_id, e.occurred_at,
               e.actor, e.schema_version, e.causation_id,
               CAST(e.payload AS TEXT) AS payload
        FROM events e
        """
    )


def downgrade() -> None:
    """Drop the schema (every table, with its data)."""
    for view in ("events_view", "path_lineage_view", "graph_nodes_view"):
        op.execute(f"DROP VIEW IF EXISTS {view}")
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("after_update", "after_delete", "after_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS nodes_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS nodes_fts")
    for table in (
        "runtime_metadata",
        "audit_records",
        "activation_items",
        "activation_plans",
        "events",
        "paths",
        "edges",
        "nodes",
        "profiles",
    ):
        op.drop_table(table)

"""substring search: a trigram index over node kinds, labels and contents

Revision ID: c4e1f0a9d2b3
Revises: aafd5b72b667
Create Date: 2026-12-06 23:58:00

``search_substring`` (and through it the MCP server's ``search_nodes`` and
activation) finds nodes whose kind, label or content holds a piece of text:
part of a word (``Lisb``), Japanese inside a phrase (``ラーメン`` in
``ラーメンが好き``), a symbol (``🚀``), an entity type (``person``). The word
index of the baseline cannot: it matches whole words only.

- SQLite: an FTS5 external-content table ``nodes_trigram`` over
  ``nodes(kind, label, content)`` with the ``trigram`` tokenizer
  (case-insensitive), kept in step by triggers like ``nodes_fts``, beside it.
  Nothing in ``nodes`` is altered, so no batch-mode table copy is needed.
- PostgreSQL: the ``pg_trgm`` extension (trusted: a user who may create
  objects in the database may create it) and a GIN trigram index on the
  lower-cased text of the three columns, which serves ``LIKE '%text%'``.

The upgrade fills the index from the nodes already stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "c4e1f0a9d2b3"
down_revision: str | Sequence[str] | None = "aafd5b72b667"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_COLUMNS = "kind, label, content"
_NEW = "new.node_seq, new.kind, new.label, new.content"
_OLD = "'delete', old.node_seq, old.kind, old.label, old.content"
# Must stay the expression phase_memory.sql.dialect searches with, or the index is not used.
_PG_TEXT = "lower(kind || ' ' || label || ' ' || coalesce(content, ''))"


def upgrade() -> None:
    """Create the substring index and fill it from the stored nodes."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"CREATE VIRTUAL TABLE nodes_trigram USING fts5({_SQLITE_COLUMNS}, "
            "content='nodes', content_rowid='node_seq', tokenize='trigram')"
        )
        op.execute(
            "CREATE TRIGGER nodes_trigram_after_insert AFTER INSERT ON nodes BEGIN "
            f"INSERT INTO nodes_trigram(rowid, {_SQLITE_COLUMNS}) VALUES ({_NEW}); END"
        )
        op.execute(
            "CREATE TRIGGER nodes_trigram_after_delete AFTER DELETE ON nodes BEGIN "
            f"INSERT INTO nodes_trigram(nodes_trigram, rowid, {_SQLITE_COLUMNS}) "
            f"VALUES ({_OLD}); END"
        )
        op.execute(
            "CREATE TRIGGER nodes_trigram_after_update AFTER UPDATE OF kind, label, content "
            "ON nodes WHEN old.kind IS NOT new.kind OR old.label IS NOT new.label "
            "OR old.content IS NOT new.content BEGIN "
            f"INSERT INTO nodes_trigram(nodes_trigram, rowid, {_SQLITE_COLUMNS}) "
            f"VALUES ({_OLD}); "
            f"INSERT INTO nodes_trigram(rowid, {_SQLITE_COLUMNS}) VALUES ({_NEW}); END"
        )
        op.execute("INSERT INTO nodes_trigram(nodes_trigram) VALUES ('rebuild')")
    else:
        # In public where there is one: an extension belongs to one schema, and a
        # schema dropped with CASCADE (a test run's, a tenant's) takes it along.
        has_public = op.get_bind().execute(sa.text(
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'public'")).scalar_one()
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm"
                   + (" WITH SCHEMA public" if has_public else ""))
        # An extension lives in one schema of the database (the first that made it),
        # maybe not on this search_path: name its operator class with that schema.
        schema = op.get_bind().execute(sa.text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n "
            "ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
        )).scalar_one()
        opclass = f'"{schema}".gin_trgm_ops'
        op.execute(
            f"CREATE INDEX ix_nodes_substring ON nodes USING gin (({_PG_TEXT}) {opclass})"
        )


def downgrade() -> None:
    """Drop the substring index (the nodes keep every row)."""
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("after_update", "after_delete", "after_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS nodes_trigram_{trigger}")
        op.execute("DROP TABLE IF EXISTS nodes_trigram")
    else:
        # The extension stays: other objects of the database may use it.
        op.execute("DROP INDEX IF EXISTS ix_nodes_substring")

"""entity names: an index of the nodes' ``mcp_name`` attribute

Revision ID: d5b8e2f4a7c1
Revises: c4e1f0a9d2b3
Create Date: 2026-12-07 02:10:00

MCP memory entities (``phase-memory mcp``, ``import --format mcp``) used to get
node ids derived from their names (``uuid5(profile, name)``), so after a
forget anyone could confirm a guessed name by computing its id. New entity
nodes get random ids; a name is found through the node's ``mcp_name``
attribute, which this index serves (``find_nodes_by_name``), on the nodes that
have one (a partial index: other nodes cost it nothing). Existing ids are
kept: they are found by the same attribute.

- SQLite: an index on ``(profile_id, json_extract(attributes, '$.mcp_name'))``,
  guarded by ``json_valid`` so a malformed row never fails a write;
- PostgreSQL: an index on ``(profile_id, attributes ->> 'mcp_name')``.

The index is filled from the nodes already stored as it is created.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "d5b8e2f4a7c1"
down_revision: str | Sequence[str] | None = "c4e1f0a9d2b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Must stay the expressions phase_memory.sql.dialect.NAME_EXPRESSIONS queries with,
# or the index is not used.
_SQLITE_NAME = (
    "CASE WHEN json_valid(attributes) THEN json_extract(attributes, '$.mcp_name') END"
)
_PG_NAME = "(attributes ->> 'mcp_name')"


def upgrade() -> None:
    """Create the name index (filled from the stored nodes)."""
    name = _SQLITE_NAME if op.get_bind().dialect.name == "sqlite" else _PG_NAME
    op.execute(
        f"CREATE INDEX ix_nodes_name ON nodes (profile_id, ({name})) "
        f"WHERE ({name}) IS NOT NULL"
    )


def downgrade() -> None:
    """Drop the name index (the nodes keep every row)."""
    op.execute("DROP INDEX IF EXISTS ix_nodes_name")

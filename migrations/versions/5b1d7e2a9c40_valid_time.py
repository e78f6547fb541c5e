"""valid time: valid_from / valid_to on nodes and edges

Revision ID: 5b1d7e2a9c40
Revises: c4e1f0a9d2b3
Create Date: 2026-12-07 02:20:00

Nodes and edges say when they hold in the world (issue 21, SPEC section 10):

- ``valid_from`` (NULL: from ``created_at``, when the fact was recorded) and
  ``valid_to`` (NULL: open-ended), timezone-aware like every timestamp
  (fixed-width ``...Z`` text on SQLite, ``timestamptz`` on PostgreSQL);
- ``ix_nodes_profile_id_valid_to`` (a profile's current or ended facts) and
  ``ix_edges_source_id_kind_valid_to`` (a source's current edge of a
  single-valued kind, which a new one supersedes).

Existing rows keep NULL in both columns: every fact stored before was valid
from when it was recorded and still is, which is what a replay of their
events (schema version 1, without the fields) folds into as well.

SQLite runs it in batch mode. Adding nullable columns and indexes needs no
table copy, so batch mode issues plain ``ALTER TABLE ... ADD COLUMN`` and
the full-text triggers on ``nodes`` stay in place; the downgrade drops the
columns with ``ALTER TABLE ... DROP COLUMN`` (SQLite 3.35 and later) for
the same reason (``recreate="never"``): a table copy would drop the triggers.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "5b1d7e2a9c40"
down_revision: str | Sequence[str] | None = "c4e1f0a9d2b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = {
    "nodes": ("ix_nodes_profile_id_valid_to", ["profile_id", "valid_to"]),
    "edges": ("ix_edges_source_id_kind_valid_to", ["source_id", "kind", "valid_to"]),
}


def _ts(name: str) -> sa.Column[object]:
    # As the baseline's timestamps: fixed-width text on SQLite, timestamptz on PostgreSQL.
    kind = sa.String(length=32).with_variant(postgresql.TIMESTAMP(timezone=True), "postgresql")
    return sa.Column(name, kind, nullable=True)


def upgrade() -> None:
    """Add the valid-time columns and their indexes; existing rows keep NULL."""
    for table, (index, columns) in _INDEXES.items():
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.add_column(_ts("valid_from"))
            batch.add_column(_ts("valid_to"))
            batch.create_index(index, columns)


def downgrade() -> None:
    """Drop the indexes and the columns (valid times are lost; everything else stays)."""
    for table, (index, _columns) in _INDEXES.items():
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.drop_index(index)
            batch.drop_column("valid_to")
            batch.drop_column("valid_from")

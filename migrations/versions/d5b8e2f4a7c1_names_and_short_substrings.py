"""entity names and short substrings: a name index, and an index for 1- and 2-character text

Revision ID: d5b8e2f4a7c1
Revises: 5b1d7e2a9c40
Create Date: 2026-12-07 02:10:00

**Entity names.** MCP memory entities (``phase-memory mcp``, ``import --format
mcp``) used to get node ids derived from their names (``uuid5(profile,
name)``), so after a forget anyone could confirm a guessed name by computing
its id. New entity nodes get random ids; a name is found through the node's
``mcp_name`` attribute, which ``ix_nodes_name`` serves (``find_nodes_by_name``),
on the nodes that have one (a partial index: other nodes cost it nothing).
Existing ids are kept: they are found by the same attribute.

- SQLite: ``(profile_id, json_extract(attributes, '$.mcp_name'))``, guarded by
  ``json_valid`` so a malformed row never fails a write;
- PostgreSQL: ``(profile_id, attributes ->> 'mcp_name')``.

**Short substrings.** A trigram index cannot serve a query of one or two
characters (``🚀``, ``ラ``, ``Li``), which was matched with ``LIKE`` over the
profile's nodes. Now:

- SQLite: a 1- or 2-character text occurs in a column either at the start of
  one of its trigrams (the FTS5 trigram index already has them: its terms are
  read by prefix through the ``fts5vocab`` table ``nodes_trigram_terms``) or
  within its last two characters, which no trigram starts at. The FTS5 table
  ``nodes_tails`` holds those: the 1- and 2-character pieces of the last two
  characters of each column, as stored (case is matched by the query), each
  written as the hex of its UTF-8 bytes (a token every tokenizer keeps whole);
  contentless, without positions, kept in step by triggers like
  ``nodes_trigram``. An FTS5 table rather than a plain one because it writes
  a new node's pieces together, in one small segment, not into as many
  places of a b-tree as there are pieces (measured: a third of the insert
  rate);
- PostgreSQL: ``phase_memory_short_grams(kind, label, content)``, an immutable
  function giving every distinct 1- and 2-character piece of the lower-cased
  columns, and a GIN index ``ix_nodes_short_grams`` on it, which serves
  ``@> ARRAY[lower(text)]``.

Both are filled from the nodes already stored.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "d5b8e2f4a7c1"
down_revision: str | Sequence[str] | None = "5b1d7e2a9c40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Must stay the expressions phase_memory.sql.dialect queries with, or the
# indexes are not used.
_SQLITE_NAME = (
    "CASE WHEN json_valid(attributes) THEN json_extract(attributes, '$.mcp_name') END"
)
_PG_NAME = "(attributes ->> 'mcp_name')"


def _sqlite_tails(row: str) -> str:
    """The tails document of ``row``: the hex of each piece of each column's last two chars."""
    pieces = [
        f"hex(substr({column}, {start}{length}))"
        for column in (f"{row}.kind", f"{row}.label", f"coalesce({row}.content, '')")
        for start, length in (("-1", ""), ("-2", ", 1"), ("-2", ""))
    ]
    return " || ' ' || ".join(pieces)


_INSERT_TAILS = (
    f"INSERT INTO nodes_tails (rowid, tails) VALUES (new.node_seq, {_sqlite_tails('new')})"
)
_DELETE_TAILS = (
    "INSERT INTO nodes_tails (nodes_tails, rowid, tails) "
    f"VALUES ('delete', old.node_seq, {_sqlite_tails('old')})"
)

_PG_SHORT_GRAMS = """
CREATE FUNCTION phase_memory_short_grams(kind text, label text, content text)
RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE COST 1000 AS $$
  SELECT coalesce(array_agg(DISTINCT gram), '{}')
  FROM (VALUES (lower(kind)), (lower(label)), (lower(coalesce(content, '')))) AS f(t),
  LATERAL (
    SELECT c, lead(c) OVER (ORDER BY i) AS after
    FROM unnest(regexp_split_to_array(f.t, '')) WITH ORDINALITY AS u(c, i)
  ) AS chars,
  LATERAL (VALUES (chars.c), (chars.c || chars.after)) AS g(gram)
  WHERE gram IS NOT NULL AND gram <> ''
$$
"""


def upgrade() -> None:
    """Create the name index and the short-substring index (filled from the stored nodes)."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    name = _SQLITE_NAME if sqlite else _PG_NAME
    op.execute(
        f"CREATE INDEX ix_nodes_name ON nodes (profile_id, ({name})) "
        f"WHERE ({name}) IS NOT NULL"
    )
    if sqlite:
        op.execute("CREATE VIRTUAL TABLE nodes_trigram_terms USING fts5vocab(nodes_trigram, row)")
        op.execute(
            # Keeps its docsize table (no columnsize=0): without it a contentless
            # table refuses to be read whole, as sqlite3's .dump and a scan do.
            "CREATE VIRTUAL TABLE nodes_tails USING fts5(tails, content='', detail='none', "
            "tokenize='ascii')"
        )
        op.execute(f"CREATE TRIGGER nodes_tails_after_insert AFTER INSERT ON nodes BEGIN "
                   f"{_INSERT_TAILS}; END")
        op.execute(f"CREATE TRIGGER nodes_tails_after_delete AFTER DELETE ON nodes BEGIN "
                   f"{_DELETE_TAILS}; END")
        op.execute(
            "CREATE TRIGGER nodes_tails_after_update AFTER UPDATE OF kind, label, content "
            "ON nodes WHEN old.kind IS NOT new.kind OR old.label IS NOT new.label "
            f"OR old.content IS NOT new.content BEGIN {_DELETE_TAILS}; {_INSERT_TAILS}; END"
        )
        op.execute(f"INSERT INTO nodes_tails (rowid, tails) "
                   f"SELECT node_seq, {_sqlite_tails('nodes')} FROM nodes")
    else:
        op.execute(_PG_SHORT_GRAMS)
        op.execute(
            "CREATE INDEX ix_nodes_short_grams ON nodes "
            "USING gin (phase_memory_short_grams(kind, label, content))"
        )


def downgrade() -> None:
    """Drop both indexes (the nodes keep every row)."""
    op.execute("DROP INDEX IF EXISTS ix_nodes_name")
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("after_update", "after_delete", "after_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS nodes_tails_{trigger}")
        op.execute("DROP TABLE IF EXISTS nodes_tails")
        op.execute("DROP TABLE IF EXISTS nodes_trigram_terms")
    else:
        op.execute("DROP INDEX IF EXISTS ix_nodes_short_grams")
        op.execute("DROP FUNCTION IF EXISTS phase_memory_short_grams(text, text, text)")

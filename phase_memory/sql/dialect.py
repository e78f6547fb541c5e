"""Every difference between SQLite and PostgreSQL, in one place.

- **upsert**: ``INSERT ... ON CONFLICT (key) DO UPDATE`` (both dialects have it,
  through different SQLAlchemy constructs);
- **full-text search**: an FTS5 ``MATCH`` ranked with bm25 on SQLite, a
  ``tsvector @@ tsquery`` ranked with ``ts_rank`` on PostgreSQL;
- **JSON as text**: SQLite keeps JSON as text already, PostgreSQL casts JSONB;
- **locking**: SQLite write transactions start with ``BEGIN IMMEDIATE`` (see
  :mod:`phase_memory.sql.engine`), which already serialises writers; on
  PostgreSQL the event log is locked for appends (so positions become visible
  in commit order) and migrations take an advisory lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Integer,
    Select,
    Table,
    Text,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    select,
    table,
    text,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from phase_memory.sql import tables as t

SQLITE = "sqlite"
POSTGRESQL = "postgresql"

SCHEMA_LOCK_KEY = 0x7068_6D65_6D00  # "phmem": the advisory lock of migrations
"""The PostgreSQL advisory lock key held while a migration runs."""

LABEL_WEIGHT = 2.0
"""A term in a node's label counts this many times a term in its content."""


def name_of(conn: Connection) -> str:
    """The dialect name of a connection (``sqlite`` or ``postgresql``)."""
    return conn.dialect.name


# --- upsert --------------------------------------------------------------------------


@cache
def upsert(dialect: str, table: Table, key: str = "id") -> Insert:
    """An insert that replaces every non-key column of an existing row with the same key.

    Columns not given (server-assigned keys such as ``nodes.node_seq``) keep
    their stored value. Built once per table and dialect, so SQLAlchemy's
    compiled-statement cache always hits.
    """
    module: Any = sqlite if dialect == SQLITE else postgresql
    stmt = module.insert(table)
    skip = {key, *(c.name for c in table.primary_key.columns if c.autoincrement is True)}
    updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in skip}
    result: Insert = stmt.on_conflict_do_update(index_elements=[table.c[key]], set_=updates)
    return result


# --- JSON as text ----------------------------------------------------------------------


def json_text(dialect: str, column: ColumnElement[Any]) -> ColumnElement[str]:
    """A JSON column read as its JSON text, without parsing it."""
    if dialect == SQLITE:
        return type_coerce(column, Text())
    return cast(column, Text())


def contains(dialect: str, haystack: ColumnElement[str], needle: Any) -> ColumnElement[bool]:
    """Case-sensitive substring test (``LIKE`` would fold ASCII case on SQLite)."""
    if dialect == SQLITE:
        return func.instr(haystack, needle) > 0
    return func.strpos(haystack, needle) > 0


# --- full-text search -------------------------------------------------------------------


_NODES_FTS = table("nodes_fts", column("rowid", Integer))
"""The FTS5 table of node labels and contents (SQLite only; created by the migrations)."""


def fts5_string(term: str) -> str:
    """A term as an FTS5 string literal: double quotes doubled, so no term is syntax."""
    return '"' + term.replace('"', '""') + '"'


def text_search(dialect: str, terms: Sequence[str]) -> tuple[Select[Any], dict[str, Any]]:
    """A query of ``(id, relevance)`` of active nodes of ``:profile_id`` matching any term.

    Best first, ties by id, at most ``:limit`` rows; relevance is positive.
    Returns the statement and its parameters (besides ``profile_id`` and ``limit``).
    """
    nodes = t.nodes
    if dialect == SQLITE:
        # Terms are OR-combined FTS5 string literals, so any input is safe.
        match = " OR ".join(fts5_string(term) for term in terms)
        fts: ColumnElement[Any] = literal_column("nodes_fts")
        rank = func.bm25(fts, literal_column(str(LABEL_WEIGHT)), literal_column("1.0"))
        stmt = (
            select(nodes.c.id, (-rank).label("relevance"))
            .select_from(_NODES_FTS.join(nodes, nodes.c.node_seq == _NODES_FTS.c.rowid))
            .where(fts.op("MATCH")(bindparam("match")))
            .where(nodes.c.profile_id == bindparam("profile_id"))
            .where(nodes.c.state == "active")
            .order_by(rank, nodes.c.id)
            .limit(bindparam("limit"))
        )
        return stmt, {"match": match}
    # PostgreSQL: each term through plainto_tsquery (never syntax), OR-ed with ||.
    params = {f"term_{i}": term for i, term in enumerate(terms)}
    config: ColumnElement[Any] = literal_column("'simple'::regconfig")
    queries = [func.plainto_tsquery(config, bindparam(name, type_=Text())) for name in params]
    tsquery: ColumnElement[Any] = queries[0]
    for query in queries[1:]:
        tsquery = tsquery.op("||")(query)
    vector: ColumnElement[Any] = literal_column("nodes.search_vector")
    relevance = func.ts_rank(vector, tsquery, type_=Float)
    stmt = (
        select(nodes.c.id, relevance.label("relevance"))
        .where(vector.op("@@")(tsquery))
        .where(nodes.c.profile_id == bindparam("profile_id"))
        .where(nodes.c.state == "active")
        .order_by(relevance.desc(), nodes.c.id)
        .limit(bindparam("limit"))
    )
    return stmt, params


def optimize_search_index(conn: Connection) -> None:
    """Merge the full-text index so no deleted term lingers in old segments."""
    if name_of(conn) == SQLITE:
        conn.exec_driver_sql("INSERT INTO nodes_fts(nodes_fts) VALUES ('optimize')")


# --- locking ---------------------------------------------------------------------------


def lock_event_log(conn: Connection) -> None:
    """Serialise appends, so positions are assigned and become visible in commit order.

    On SQLite the write transaction's ``BEGIN IMMEDIATE`` already holds the
    database's write lock.
    """
    if name_of(conn) == POSTGRESQL:
        conn.exec_driver_sql("LOCK TABLE events IN EXCLUSIVE MODE")


def lock_schema(conn: Connection) -> None:
    """Hold the migration lock until the current transaction ends."""
    if name_of(conn) == POSTGRESQL:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})

"""Every difference between SQLite and PostgreSQL, in one place.

- **upsert**: ``INSERT ... ON CONFLICT (key) DO UPDATE`` (both dialects have it,
  through different SQLAlchemy constructs);
- **full-text search**: an FTS5 ``MATCH`` ranked with bm25 on SQLite, a
  ``tsvector @@ tsquery`` ranked with ``ts_rank`` on PostgreSQL; forgetting a
  node merges the FTS5 index in the same transaction, so no erased term
  lingers in an old index segment, and zero-fills every free page of a SQLite
  file (:func:`clear_free_pages`);
- **JSON**: SQLite keeps JSON as text already, PostgreSQL casts JSONB; JSONB
  keeps numbers as ``numeric``, so floats are written in a form that reads
  back as the same float (``1e20`` would come back as an integer);
- **locking**: SQLite write transactions start with ``BEGIN IMMEDIATE`` (see
  :mod:`phase_memory.sql.engine`), which serialises writers; on PostgreSQL
  every write transaction starts by taking the store's *writer lock*, a
  transaction-scoped advisory lock keyed on the schema, so writers take turns
  just as on SQLite: positions are assigned as the newest plus one and become
  visible in commit order (a reader tailing with ``after=`` never skips one).
  Migrations take a second advisory lock;
- **snapshots**: a multi-statement read runs ``REPEATABLE READ`` on
  PostgreSQL (SQLite's read transactions are snapshots already);
- **vacuum**: ``VACUUM`` on SQLite, ``VACUUM FULL`` of every table on
  PostgreSQL (see :func:`vacuum_statements`);
- **schemas**: on PostgreSQL the store lives in the first schema of the
  connection's ``search_path`` (``?options=-csearch_path%3Dname`` in the URL),
  which must exist.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
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
    and_,
    bindparam,
    case,
    cast,
    column,
    func,
    literal_column,
    or_,
    select,
    table,
    text,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from phase_memory import json_codec
from phase_memory.sql import tables as t
from phase_memory.sql.rows import NODE_COLUMNS

SQLITE = "sqlite"
POSTGRESQL = "postgresql"

SCHEMA_LOCK_KEY = 0x7068_6D65_6D00  # "phmem": the advisory lock of migrations
"""The PostgreSQL advisory lock key held while a migration runs."""

WRITER_LOCK_CLASS = 0x706D_7772  # "pmwr"
"""First key of the PostgreSQL writer lock; the second is a hash of the schema's name."""

WRITER_LOCK_SQL = (
    f"SELECT pg_advisory_xact_lock({WRITER_LOCK_CLASS}, "
    "hashtext(coalesce(current_schema(), '')))"
)
"""Taken first in every PostgreSQL write transaction (see :func:`begin_postgresql`)."""

SNAPSHOT_SQL = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"
"""First statement of a PostgreSQL read that must see one snapshot."""

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


def timestamp_as_stored(dialect: str, column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A timestamp column read as the database stores it (text on SQLite), unconverted."""
    if dialect == SQLITE:
        return type_coerce(column, Text()).label(column.key)
    return column


def contains(dialect: str, haystack: ColumnElement[str], needle: Any) -> ColumnElement[bool]:
    """Case-sensitive substring test (``LIKE`` would fold ASCII case on SQLite)."""
    if dialect == SQLITE:
        return func.instr(haystack, needle) > 0
    return func.strpos(haystack, needle) > 0


# --- JSON as written -------------------------------------------------------------------

def json_dumps(value: Any) -> str:
    """How JSON columns are written: compact UTF-8 text readable in ``sqlite3``.

    orjson's bytes, with the standard library's float spelling (see
    :mod:`phase_memory.json_codec`). Text with no UTF-8 form (a lone surrogate)
    is given to the driver as text, which refuses it as every other text column does.
    """
    return json_codec.dumps(value)


json_loads = json_codec.loads
"""How JSON columns are read back."""


def json_serializer(dialect: str) -> Callable[[Any], str]:
    """The JSON serializer of an engine of ``dialect``."""
    return json_dumps if dialect == SQLITE else _jsonb_dumps


def _jsonb_dumps(value: Any) -> str:
    """JSON for a JSONB column: floats written so they read back as the same float.

    JSONB stores numbers as ``numeric`` and prints ``1e+20`` back as
    ``100000000000000000000``, which JSON readers take for an integer. Floats
    with a positive exponent are written out in full with a ``.0`` instead
    (``numeric`` keeps that scale); every other float already prints with a
    point or a negative exponent, which comes back with a point.
    """
    text = json_dumps(value)
    if "e+" not in text:  # the common case: no such float (or only a string holding "e+")
        return text
    return _encode(value)


def _encode(value: Any) -> str:
    if isinstance(value, float):
        literal = repr(value)
        if "e+" in literal:
            return format(Decimal(literal), "f") + ".0"
        return json_dumps(value)
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(_key(key) + ":" + _encode(item) for key, item in value.items())
            + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    return json_dumps(value)


def _key(key: Any) -> str:
    # Non-string keys become strings ("1", "true").
    encoded = json_dumps({key: None})
    return encoded[1 : encoded.rindex(":")]


# --- the event insert, as plain SQL text ----------------------------------------------
# Appending runs for every event, so its INSERT is plain SQL with positional
# parameters, run on the driver's cursor (see phase_memory.sql.event_log):
# binding ten parameters by name cost sqlite3 about as much as inserting the row.

EVENT_INSERT_COLUMNS = tuple(c.name for c in t.events.columns)
"""The columns of an event row, in the order :func:`event_values` gives them."""


@cache
def insert_event_sql(dialect: str, *, positioned: bool = True) -> str:
    """``INSERT INTO events`` of one row of :data:`EVENT_INSERT_COLUMNS`, positional.

    ``positioned=False`` (SQLite only) leaves ``position`` out: it is the
    table's rowid, which SQLite assigns as the newest plus one, as the log's
    positions are.
    """
    names = EVENT_INSERT_COLUMNS if positioned else EVENT_INSERT_COLUMNS[1:]
    if dialect == SQLITE:
        marks = ["?"] * len(names)
    else:
        marks = ["CAST(%s AS JSONB)" if name == "payload" else "%s" for name in names]
    return f"INSERT INTO events ({', '.join(names)}) VALUES ({', '.join(marks)})"


@cache
def append_event_sql(dialect: str) -> str:
    """One event appended at the newest position plus one, in one round trip (PostgreSQL).

    Parameters: :data:`EVENT_INSERT_COLUMNS` without ``position``, then the
    event id again. Nothing is inserted, and no row returned, when the id is
    stored already (no failed statement aborts the caller's transaction).
    """
    names = EVENT_INSERT_COLUMNS[1:]
    marks = ["CAST(%s AS JSONB)" if name == "payload" else "%s" for name in names]
    return (
        f"INSERT INTO events ({', '.join(EVENT_INSERT_COLUMNS)}) "
        f"SELECT (SELECT COALESCE(MAX(position), 0) + 1 FROM events), {', '.join(marks)} "
        "WHERE NOT EXISTS (SELECT 1 FROM events WHERE event_id = %s) RETURNING position"
    )


def timestamp_param(dialect: str) -> Callable[[datetime], Any]:
    """A timestamp as plain SQL text binds it (the stored text on SQLite)."""
    return t.to_text if dialect == SQLITE else _utc


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def payload_text(dialect: str, encoded: bytes | None, value: Any) -> str:
    """The JSON text a JSON column of ``dialect`` stores for ``value``.

    ``encoded``: orjson's bytes of ``value`` when the caller has them (the limit
    check's), so the payload is encoded once. Raises ``ValueError`` for NaN
    and the infinities.
    """
    text = json_codec.text_of(encoded, value)
    if dialect == SQLITE or "e+" not in text:
        return text
    return _encode(value)  # JSONB: see _jsonb_dumps


# --- full-text search -------------------------------------------------------------------


_NODES_FTS = table("nodes_fts", column("rowid", Integer))
"""The FTS5 table of node labels and contents (SQLite only; created by the migrations)."""


def fts5_string(term: str) -> str:
    """A term as an FTS5 string literal: double quotes doubled, so no term is syntax."""
    return '"' + term.replace('"', '""') + '"'


_FTS: ColumnElement[Any] = literal_column("nodes_fts")
_MATCHES = _FTS.op("MATCH")(bindparam("match"))
"""The FTS5 condition: the node's label or content matches ``:match``."""
_BM25 = func.bm25(_FTS, literal_column(str(LABEL_WEIGHT)), literal_column("1.0"))
"""A match's bm25 score, label terms weighted: lower is better."""


def _sqlite_text_search() -> Select[Any]:
    nodes = t.nodes
    return (
        select(*NODE_COLUMNS, (-_BM25).label("relevance"))
        .select_from(_NODES_FTS.join(nodes, nodes.c.node_seq == _NODES_FTS.c.rowid))
        .where(_MATCHES)
        .where(nodes.c.profile_id == bindparam("profile_id"))
        .where(nodes.c.state == "active")
        .order_by(_BM25, nodes.c.id)
        .limit(bindparam("limit"))
    )


SQLITE_TEXT_SEARCH = _sqlite_text_search()
"""The SQLite search statement: the same for any terms (they are one ``:match`` string)."""


def _sqlite_text_search_top() -> Select[Any]:
    nodes = t.nodes
    score = _BM25.label("score")
    # FTS5 ranks every match but keeps only the best :candidates; only those
    # are looked up in ``nodes`` (a match failing the filter gets NULL columns,
    # so the caller still sees its score).
    top = (
        select(_NODES_FTS.c.rowid.label("seq"), score)
        .where(_MATCHES)
        .order_by(score)
        .limit(bindparam("candidates"))
        .subquery("top")
    )
    usable = and_(
        nodes.c.node_seq == top.c.seq,
        nodes.c.profile_id == bindparam("profile_id"),
        nodes.c.state == "active",
    )
    return select(*NODE_COLUMNS, top.c.score).select_from(top.outerjoin(nodes, usable))


SQLITE_TEXT_SEARCH_TOP = _sqlite_text_search_top()
"""The SQLite search's first try: the best ``:candidates`` matches of any node, each
with the columns of its node when that node is an active one of ``:profile_id``.

Each row is the node's columns (all NULL for a match that does not qualify),
then its bm25 score (lower is better). See :func:`phase_memory.sql.search.search_text`.
"""


def fts5_match(terms: Sequence[str]) -> str:
    """An FTS5 query matching any of ``terms``: OR-ed string literals, so any input is safe."""
    return " OR ".join(fts5_string(term) for term in terms)


def text_search(dialect: str, terms: Sequence[str]) -> tuple[Select[Any], dict[str, Any]]:
    """Active nodes of ``:profile_id`` matching any term: their columns, then relevance.

    Best first, ties by id, at most ``:limit`` rows; relevance is positive.
    Returns the statement and its parameters (besides ``profile_id`` and ``limit``).
    """
    if dialect == SQLITE:
        return SQLITE_TEXT_SEARCH, {"match": fts5_match(terms)}
    nodes = t.nodes
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
        select(*NODE_COLUMNS, relevance.label("relevance"))
        .where(vector.op("@@")(tsquery))
        .where(nodes.c.profile_id == bindparam("profile_id"))
        .where(nodes.c.state == "active")
        .order_by(relevance.desc(), nodes.c.id)
        .limit(bindparam("limit"))
    )
    return stmt, params


# --- nodes by name (the ``mcp_name`` attribute) ------------------------------------------

NAME_EXPRESSIONS = {
    SQLITE: "CASE WHEN json_valid(nodes.attributes) "
            "THEN json_extract(nodes.attributes, '$.mcp_name') END",
    POSTGRESQL: "(nodes.attributes ->> 'mcp_name')",
}
"""A node's ``mcp_name`` attribute, as the name index is built on it (see the
migration ``d5b8e2f4a7c1``); a query must use the same expression to use the
index. SQLite checks the JSON first, so a malformed row never fails a write."""


@cache
def nodes_by_name(dialect: str) -> Select[Any]:
    """Nodes of ``:profile_id`` whose name is one of ``:names_``, by name, created_at, id.

    Each row is the node's columns, then the name. Served by ``ix_nodes_name``
    (a partial index of the nodes that have a name).
    """
    nodes = t.nodes
    name: ColumnElement[Any] = literal_column(NAME_EXPRESSIONS[dialect], Text())
    return (
        select(*NODE_COLUMNS, name.label("name_"))
        .where(nodes.c.profile_id == bindparam("profile_id"))
        .where(name.in_(bindparam("names_", expanding=True)))
        .order_by(name, nodes.c.created_at, nodes.c.id)
    )


# --- substring search (trigram index) ---------------------------------------------------

TRIGRAM = 3
"""The trigram index needs this many characters of query text to use the index."""

_NODES_TRIGRAM = table("nodes_trigram", column("rowid", Integer))
"""The FTS5 trigram table over node kinds, labels and contents (SQLite only)."""
_TRIGRAM: ColumnElement[Any] = literal_column("nodes_trigram")
_TRIGRAM_BM25 = func.bm25(_TRIGRAM, literal_column("1.0"), literal_column(str(LABEL_WEIGHT)),
                          literal_column("1.0"))
PG_SUBSTRING_TEXT = "lower(nodes.kind || ' ' || nodes.label || ' ' || coalesce(nodes.content, ''))"
"""The expression the PostgreSQL trigram index is built on (see the migration)."""


def like_pattern(text: str) -> str:
    """``%text%`` for LIKE with ``\\`` as the escape character, so ``%`` and ``_`` are literal."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def substring_search(dialect: str, text: str) -> tuple[Select[Any], dict[str, Any]]:
    """Active nodes of ``:profile_id`` whose kind, label or content holds ``text``.

    Case-insensitive; best first, ties by id, at most ``:limit`` rows; each row is
    the node's columns, then a positive relevance. For ``text`` of at least
    :data:`TRIGRAM` characters: through the trigram index (FTS5 ``trigram``
    phrase on SQLite, ``pg_trgm`` GIN on PostgreSQL). Shorter text cannot use a
    trigram index: see :func:`short_substring_search`.
    """
    nodes = t.nodes
    if dialect == SQLITE:
        stmt = (
            select(*NODE_COLUMNS, (-_TRIGRAM_BM25).label("relevance"))
            .select_from(_NODES_TRIGRAM.join(nodes, nodes.c.node_seq == _NODES_TRIGRAM.c.rowid))
            .where(_TRIGRAM.op("MATCH")(bindparam("match")))
            .where(nodes.c.profile_id == bindparam("profile_id"))
            .where(nodes.c.state == "active")
            .order_by(_TRIGRAM_BM25, nodes.c.id)
            .limit(bindparam("limit"))
        )
        return stmt, {"match": fts5_string(text)}
    pattern = like_pattern(text.lower())
    haystack: ColumnElement[Any] = literal_column(PG_SUBSTRING_TEXT)
    # Label hits first: a name that holds the text says more than a passing mention.
    in_label = func.lower(nodes.c.label).like(bindparam("pattern"), escape="\\")
    relevance = case((in_label, 2.0), else_=1.0)
    stmt = (
        select(*NODE_COLUMNS, relevance.label("relevance"))
        .where(haystack.like(bindparam("pattern"), escape="\\"))
        .where(nodes.c.profile_id == bindparam("profile_id"))
        .where(nodes.c.state == "active")
        .order_by(relevance.desc(), nodes.c.id)
        .limit(bindparam("limit"))
    )
    return stmt, {"pattern": pattern}


# --- substring search of one or two characters (the short-substring index) ---------------

_NODES_TRIGRAM_TERMS = table("nodes_trigram_terms", column("term", Text))
"""The ``fts5vocab`` table of the trigram index: its terms, in order (SQLite only)."""
_NODES_TAILS = table("nodes_tails", column("rowid", Integer))
"""The FTS5 table of the 1- and 2-character pieces of the last two characters of each
node column, as hex tokens (SQLite only; created by the migrations)."""
_TAILS: ColumnElement[Any] = literal_column("nodes_tails")
PG_SHORT_GRAMS = "phase_memory_short_grams(nodes.kind, nodes.label, nodes.content)"
"""The expression the PostgreSQL short-substring index is built on (see the migration)."""

SQLITE_TRIGRAM_TERMS = (
    select(_NODES_TRIGRAM_TERMS.c.term)
    .where(_NODES_TRIGRAM_TERMS.c.term >= bindparam("low"))
    .where(_NODES_TRIGRAM_TERMS.c.term < bindparam("high"))
)
"""The trigram index's terms from ``:low`` up to ``:high`` (those with a given prefix)."""


def trigram_prefix_range(text: str) -> tuple[str, str]:
    """The term range of the trigrams that start with ``text`` (as the index folds case).

    The FTS5 trigram tokenizer folds each character to lower case; UTF-8 keeps
    code point order, so the terms starting with ``text`` are those from
    ``text`` up to (not including) ``text`` with its last character's code point
    plus one.
    """
    folded = "".join(_fold(c) for c in text)
    following = ord(folded[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # no surrogate is text: skip to the next character
        following = 0xE000
    high = folded[:-1] + chr(following) if following <= 0x10FFFF else folded + "\U0010ffff" * 3
    return folded, high


def _fold(char: str) -> str:
    lower = char.lower()
    return lower if len(lower) == 1 else char


def case_variants(text: str) -> list[str]:
    """``text`` with each character as given, lower-cased and upper-cased: every combination.

    How a one- or two-character text is matched against stored text whose case
    was kept (the tails on SQLite, label hits): at most nine strings.
    """
    variants = [""]
    for char in text:
        forms = dict.fromkeys(c for c in (char, char.lower(), char.upper()) if len(c) == 1)
        variants = [v + c for v in variants for c in forms]
    return variants


def short_substring_search(
    dialect: str, text: str, terms: Sequence[str]
) -> tuple[Select[Any], dict[str, Any]]:
    """Active nodes of ``:profile_id`` whose kind, label or content holds ``text`` (1-2 chars).

    The same rows and order as :func:`substring_search`, through an index:

    - SQLite: the nodes having one of ``terms`` (the trigram terms starting with
      ``text``, read with :data:`SQLITE_TRIGRAM_TERMS`; ``text`` occurs there
      wherever a trigram starts with it) and the nodes whose ``nodes_tails`` hold
      it (within a column's last two characters, where no trigram starts: the
      hex of each case variant), each looked up by its ``node_seq``;
    - PostgreSQL: ``ix_nodes_short_grams``, the GIN index of every 1- and
      2-character piece of the lower-cased columns.
    """
    nodes = t.nodes
    if dialect == SQLITE:
        variants = case_variants(text)
        params: dict[str, Any] = {f"v{i}": v for i, v in enumerate(variants)}
        by_tail = select(_NODES_TAILS.c.rowid).where(_TAILS.op("MATCH")(bindparam("tails")))
        in_label = or_(*(func.instr(nodes.c.label, bindparam(name)) > 0 for name in params))
        params["tails"] = fts5_match([v.encode("utf-8").hex() for v in variants])
        if terms:
            by_trigram = select(_NODES_TRIGRAM.c.rowid).where(
                _TRIGRAM.op("MATCH")(bindparam("match")))
            params["match"] = fts5_match(terms)
            condition: ColumnElement[bool] = nodes.c.node_seq.in_(by_tail.union(by_trigram))
        else:
            condition = nodes.c.node_seq.in_(by_tail)
    else:
        params = {"short": text, "pattern": like_pattern(text.lower())}
        grams: ColumnElement[Any] = literal_column(PG_SHORT_GRAMS)
        wanted = postgresql.array([func.lower(bindparam("short", type_=Text()))])
        condition = grams.op("@>")(wanted)
        in_label = func.lower(nodes.c.label).like(bindparam("pattern"), escape="\\")
    relevance = case((in_label, 2.0), else_=1.0)
    stmt = (
        select(*NODE_COLUMNS, relevance.label("relevance"))
        .where(condition)
        .where(nodes.c.profile_id == bindparam("profile_id"))
        .where(nodes.c.state == "active")
        .order_by(relevance.desc(), nodes.c.id)
        .limit(bindparam("limit"))
    )
    return stmt, params


def optimize_search_index(conn: Connection) -> None:
    """Merge the full-text index so no deleted term lingers in old segments.

    FTS5 keeps a deleted or replaced row's terms in older index segments until
    they are merged; the graph store calls this in the transaction that writes
    a forgotten node. PostgreSQL's GIN index drops them with the row version
    (the space is reclaimed by ``VACUUM``), so there is nothing to do there.
    """
    if name_of(conn) == SQLITE:
        conn.exec_driver_sql("INSERT INTO nodes_fts(nodes_fts) VALUES ('optimize')")
        conn.exec_driver_sql("INSERT INTO nodes_trigram(nodes_trigram) VALUES ('optimize')")
        conn.exec_driver_sql("INSERT INTO nodes_tails(nodes_tails) VALUES ('optimize')")


_SWEEP_KEY = "phase_memory.free_page_sweep"


def clear_free_pages(conn: Connection) -> int:
    """Zero-fill every free page of a SQLite file, in the current transaction; how many.

    Connections run with ``secure_delete = ON``, which zero-fills pages as they
    are freed; pages freed before that (by an earlier version of this library,
    which used ``FAST``, or by another program) may still hold old text. A
    forget takes them all with one ``zeroblob`` row as large as the free space
    (the blob's pages are written as zeros) and frees them again (zero-filled
    by ``secure_delete``), so no page of the file keeps what was forgotten. It
    costs one write of each free page, nothing when there are none.
    PostgreSQL: nothing to do here (``db vacuum`` rewrites the table files).
    """
    if name_of(conn) != SQLITE:
        return 0
    free = int(conn.exec_driver_sql("PRAGMA freelist_count").scalar() or 0)
    if free == 0:
        return 0
    page_size = int(conn.exec_driver_sql("PRAGMA page_size").scalar() or 4096)
    conn.exec_driver_sql(
        "INSERT INTO runtime_metadata (key, value, updated_at) "
        "VALUES (?, zeroblob(?), '1970-01-01T00:00:00Z')",
        (_SWEEP_KEY, free * page_size),
    )
    conn.exec_driver_sql("DELETE FROM runtime_metadata WHERE key = ?", (_SWEEP_KEY,))
    return free


def older_transactions(conn: Connection) -> int:
    """PostgreSQL: other sessions of the database whose open transaction began before now.

    ``VACUUM FULL`` keeps the row versions such a transaction may still see.
    """
    if name_of(conn) == SQLITE:
        return 0
    return int(
        conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xmin IS NOT NULL "
            "AND xact_start < clock_timestamp()"
        ).scalar() or 0
    )


def vacuum_statements(dialect: str) -> list[str]:
    """What ``phase-memory db vacuum`` runs, outside any transaction.

    SQLite: ``VACUUM`` (a new file without free pages). PostgreSQL:
    ``VACUUM (FULL, ANALYZE)`` of each table of the store: the table, its TOAST
    table and every index on it (GIN, trigram) are written anew, so dead row
    versions, which plain ``VACUUM`` only marks reusable, leave the disk.
    """
    if dialect == SQLITE:
        return ["VACUUM"]
    return [f'VACUUM (FULL, ANALYZE) "{table.name}"' for table in t.metadata.sorted_tables]


# --- locking ---------------------------------------------------------------------------


def lock_event_log(conn: Connection) -> None:
    """Serialise appends, so positions are assigned and become visible in commit order.

    Nothing to do on either dialect: every write transaction already holds the
    writers' lock from its first statement (``BEGIN IMMEDIATE`` on SQLite, the
    writer lock of :func:`begin_postgresql` on PostgreSQL), and positions are
    the newest plus one, assigned under it. So an append commits before the
    next one can read the newest position, and a reader tailing with
    ``after=`` sees positions in commit order.
    """


def begin_postgresql(driver_connection: Any, *, write: bool, snapshot: bool) -> None:
    """The first statement of a PostgreSQL transaction (psycopg begins implicitly).

    A write transaction waits for the store's writer lock (up to the
    connection's ``lock_timeout``, then StoreBusyError), so writers of one
    schema take turns as they do on SQLite; a snapshot read asks for
    ``REPEATABLE READ``.
    """
    if write:
        driver_connection.execute(WRITER_LOCK_SQL)
    elif snapshot:
        driver_connection.execute(SNAPSHOT_SQL)


def postgresql_session_settings(*, lock_timeout: float, read_only: bool) -> list[str]:
    """``SET`` statements run on every new PostgreSQL connection."""
    # lock_timeout 0 would mean "wait forever": the shortest wait is a millisecond.
    settings = [f"SET lock_timeout = {max(1, int(lock_timeout * 1000))}"]
    if read_only:
        settings.append("SET default_transaction_read_only = on")
    return settings


def missing_schema(conn: Connection) -> bool:
    """Whether a PostgreSQL connection's ``search_path`` names no existing schema."""
    if name_of(conn) != POSTGRESQL:
        return False
    return conn.exec_driver_sql("SELECT current_schema()").scalar() is None


def lock_schema(conn: Connection) -> None:
    """Hold the migration lock until the current transaction ends."""
    if name_of(conn) == POSTGRESQL:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})

"""The SQL schema as SQLAlchemy Core tables.

This metadata is what the Alembic migrations create (``migrations/``) and what
autogenerate compares against; the library never calls ``create_all``.

Two objects live only in the migrations, outside this metadata, because
SQLAlchemy cannot describe them portably: the full-text index of nodes
(an FTS5 external-content table ``nodes_fts`` with its triggers on SQLite, a
generated ``search_vector`` column with a GIN index on PostgreSQL) and the
inspection views. :data:`MIGRATION_ONLY` names them so autogenerate ignores them.

Timestamps are ISO-8601 UTC text on SQLite (``2024-05-01T12:00:00.000000Z``,
readable in ``sqlite3`` and sortable as text) and ``timestamptz`` on
PostgreSQL; JSON columns are JSON text on SQLite and JSONB on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeEngine

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

ID_LENGTH = 200
"""Identifiers are at most 200 characters (see ``phase_memory.models.ids``)."""

MIGRATION_ONLY = frozenset(
    {
        "nodes_fts",
        "nodes_fts_data",
        "nodes_fts_idx",
        "nodes_fts_docsize",
        "nodes_fts_config",
        "nodes_fts_content",
        "search_vector",
        "ix_nodes_search_vector",
        "ix_nodes_substring",
        "ix_nodes_name",
        "ix_nodes_short_grams",
        "nodes_tails",
        "graph_nodes_view",
        "path_lineage_view",
        "events_view",
    }
)
"""Schema objects created by the migrations but kept out of this metadata."""


def include_in_autogenerate(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic ``include_object`` hook: leave :data:`MIGRATION_ONLY` objects alone."""
    if name is None:
        return True
    return name not in MIGRATION_ONLY and not name.startswith(
        ("nodes_fts", "nodes_trigram", "nodes_tails"))


class UtcTimestamp(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime, exact to the microsecond.

    SQLite: fixed-width ISO-8601 text ending in ``Z``; PostgreSQL: ``timestamptz``.
    """

    impl = String(32)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(32))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return to_text(value)
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        # One plain function per value instead of TypeDecorator's wrapper calling
        # process_bind_param: timestamps are on every row read and written.
        if dialect.name == "sqlite":
            return _text_or_none
        return super().bind_processor(dialect)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _datetime_or_none
        return super().result_processor(dialect, coltype)


def _text_or_none(value: datetime | None) -> str | None:
    return None if value is None else to_text(value)


def _datetime_or_none(value: str | None) -> datetime | None:
    # fromisoformat reads the stored "...Z" as UTC (timezone.utc).
    return None if value is None else datetime.fromisoformat(value)


class Real(TypeDecorator[float]):
    """A float column; negative zero is stored as zero.

    SQLite's REAL already turns ``-0.0`` into ``0.0``, and so does PostgreSQL's
    JSONB (``numeric`` has no negative zero); a PostgreSQL ``float8`` would keep
    the sign, and a node or edge read from its row would then differ from the
    same record replayed from its event. Storing zero keeps them equal everywhere.
    """

    impl = Float
    cache_ok = True

    def process_bind_param(self, value: float | None, dialect: Dialect) -> float | None:
        return None if value is None else value + 0.0

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        # SQLite's REAL stores -0.0 as 0.0 itself: nothing to do per value there.
        if dialect.name == "sqlite":
            return None
        return super().bind_processor(dialect)


def to_text(value: datetime) -> str:
    """The stored text form of a timestamp (UTC, microseconds, ``Z``)."""
    # Offset zero comes as datetime.UTC or as pydantic-core's own tzinfo: no
    # conversion for either (utcoffset() is a zero timedelta, which is false).
    if value.tzinfo is not UTC:
        offset = value.utcoffset()
        if offset is None or offset:
            value = value.astimezone(UTC)
    # "YYYY-MM-DDTHH:MM:SS.ffffff" is the first 26 characters; "+00:00" follows.
    return value.isoformat(timespec="microseconds")[:26] + "Z"


def _id(name: str, *args: Any, **kwargs: Any) -> Column[str]:
    kwargs.setdefault("nullable", False)
    return Column(name, String(ID_LENGTH), *args, **kwargs)


def _json() -> TypeEngine[Any]:
    return JSON().with_variant(JSONB(), "postgresql")


def _ts(name: str) -> Column[datetime]:
    return Column(name, UtcTimestamp(), nullable=False)


def _serial() -> TypeEngine[int]:
    # INTEGER PRIMARY KEY is SQLite's rowid alias; BIGINT elsewhere.
    return BigInteger().with_variant(Integer(), "sqlite")


profiles = Table(
    "profiles",
    metadata,
    _id("id", primary_key=True),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("policy", _json(), nullable=False),
    Column("attributes", _json(), nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
)

nodes = Table(
    "nodes",
    metadata,
    # A stable integer key: the rowid the full-text index refers to (a TEXT
    # primary key would leave SQLite's implicit rowid free to change on VACUUM).
    Column("node_seq", _serial(), primary_key=True, autoincrement=True),
    _id("id", unique=True),
    _id("profile_id", ForeignKey("profiles.id")),
    Column("kind", String(ID_LENGTH), nullable=False),
    Column("label", Text, nullable=False),
    Column("content", Text, nullable=True),
    Column("attributes", _json(), nullable=False),
    Column("salience", Real(), nullable=False),
    Column("sensitivity", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
    Column("version", Integer, nullable=False),
    # Valid time (migration 5b1d7e2a9c40): NULL valid_from means "from created_at",
    # NULL valid_to open-ended; the index finds a profile's current (or ended) facts.
    Column("valid_from", UtcTimestamp(), nullable=True),
    Column("valid_to", UtcTimestamp(), nullable=True),
    Index(None, "profile_id", "kind"),
    Index(None, "profile_id", "state"),
    Index(None, "profile_id", "valid_to"),
)

edges = Table(
    "edges",
    metadata,
    _id("id", primary_key=True),
    _id("profile_id", ForeignKey("profiles.id")),
    _id("source_id", ForeignKey("nodes.id")),
    _id("target_id", ForeignKey("nodes.id")),
    Column("kind", String(ID_LENGTH), nullable=False),
    Column("weight", Real(), nullable=False),
    Column("attributes", _json(), nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
    Column("valid_from", UtcTimestamp(), nullable=True),
    Column("valid_to", UtcTimestamp(), nullable=True),
    Index(None, "source_id"),
    Index(None, "target_id"),
    Index(None, "profile_id", "kind"),
    # A source's current edge of a kind (single-valued kinds' supersession).
    Index(None, "source_id", "kind", "valid_to"),
)

paths = Table(
    "paths",
    metadata,
    _id("id", primary_key=True),
    _id("profile_id", ForeignKey("profiles.id")),
    # Deferred: an import may list a branch before its parent.
    _id(
        "parent_path_id",
        ForeignKey("paths.id", deferrable=True, initially="DEFERRED"),
        nullable=True,
    ),
    _id("fork_event_id", nullable=True),
    # The model's value, exactly as given (None for most roots) ...
    _id("root_path_id", nullable=True),
    # ... and the conversation tree it resolves to (``MemoryPath.tree_id``).
    _id("tree_id"),
    Column("status", String(16), nullable=False),
    Column("active", Boolean, nullable=False),
    _id("merged_into_path_id", nullable=True),
    _id("merge_event_id", nullable=True),
    Column("abandoned_reason", Text, nullable=True),
    Column("compaction_status", String(16), nullable=False),
    _id("summary_node_id", nullable=True),
    _ts("created_at"),
    _ts("updated_at"),
    Index(None, "profile_id"),
    Index(None, "parent_path_id"),
    Index(None, "tree_id"),
    # At most one active path per conversation tree.
    Index(
        "uq_paths_one_active_per_tree",
        "tree_id",
        unique=True,
        sqlite_where=text("active"),
        postgresql_where=text("active"),
    ),
)

events = Table(
    "events",
    metadata,
    Column("position", _serial(), primary_key=True, autoincrement=False),
    _id("event_id", unique=True),
    Column("kind", String(ID_LENGTH), nullable=False),
    _id("profile_id"),
    # Deferred: a path.opened event names the path its own effect creates.
    _id(
        "path_id",
        ForeignKey("paths.id", deferrable=True, initially="DEFERRED"),
        nullable=True,
    ),
    _ts("occurred_at"),
    Column("payload", _json(), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("actor", Text, nullable=False),
    _id("causation_id", nullable=True),
    Index(None, "path_id", "position"),
    Index(None, "profile_id", "position"),
    Index(None, "kind", "position"),
)

activation_plans = Table(
    "activation_plans",
    metadata,
    _id("id", primary_key=True),
    _id("profile_id", ForeignKey("profiles.id")),
    _id("path_id", nullable=True),
    Column("query", Text, nullable=False),
    Column("budget", Integer, nullable=False),
    _ts("created_at"),
    Index(None, "profile_id"),
)

activation_items = Table(
    "activation_items",
    metadata,
    _id("plan_id", ForeignKey("activation_plans.id", ondelete="CASCADE"), primary_key=True),
    Column("ordinal", Integer, primary_key=True, autoincrement=False),
    _id("node_id"),
    Column("rank", Integer, nullable=False),
    Column("score", Real(), nullable=False),
    Column("reasons", _json(), nullable=False),
    Column("redacted", Boolean, nullable=False),
    Column("label", Text, nullable=True),
    Column("content", Text, nullable=True),
    Index(None, "node_id"),
)

audit_records = Table(
    "audit_records",
    metadata,
    Column("seq", _serial(), primary_key=True, autoincrement=True),
    _id("id", unique=True),
    _ts("at"),
    Column("actor", Text, nullable=False),
    Column("operation", String(ID_LENGTH), nullable=False),
    Column("subject_ids", _json(), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("details", _json(), nullable=False),
    Index(None, "operation"),
    Index(None, "at"),
)

runtime_metadata = Table(
    "runtime_metadata",
    metadata,
    Column("key", String(ID_LENGTH), primary_key=True),
    Column("value", _json(), nullable=False),
    _ts("updated_at"),
)

TABLE_NAMES = tuple(metadata.tables)
"""Every table of the schema (Alembic's ``alembic_version`` aside)."""

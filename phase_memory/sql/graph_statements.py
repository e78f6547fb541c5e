"""The graph store's statements, built and compiled once.

Hot lookups use statements built once, with bound parameters: building a
select anew on every call (and computing its cache key) cost more than
running it on SQLite. Parameters are named ``<column>_``.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Table, bindparam, delete, exists, or_, select

from phase_memory.sql import dialect, rows
from phase_memory.sql import tables as t
from phase_memory.sql.prepared import Prepared

ITEM_SELECT = select(t.activation_items.c.plan_id, *rows.ITEM_COLUMNS)
DELETE_BY_ID = {
    table.name: Prepared(delete(table).where(table.c.id == bindparam("id_")))
    for table in (t.profiles, t.nodes, t.edges, t.paths)
}
DELETE_ITEMS = Prepared(
    delete(t.activation_items).where(t.activation_items.c.plan_id == bindparam("plan_id_"))
)
BY_ID = {
    table.name: Prepared(select(*columns).where(table.c.id == bindparam("id_")))
    for table, columns in (
        (t.profiles, rows.PROFILE_COLUMNS),
        (t.nodes, rows.NODE_COLUMNS),
        (t.edges, rows.EDGE_COLUMNS),
        (t.paths, rows.PATH_COLUMNS),
    )
}


@cache
def exists_where(table_name: str, names: tuple[str, ...]) -> Prepared:
    """``SELECT EXISTS (... WHERE <name> = :<name>_ ...)``."""
    table = t.metadata.tables[table_name]
    return Prepared(
        select(exists().where(*(table.c[name] == bindparam(f"{name}_") for name in names)))
    )


@cache
def upsert(dialect_name: str, table: Table) -> Prepared:
    """Insert-or-replace of whole rows (every column but server-assigned keys)."""
    keys = [c.name for c in table.columns if c.name not in SERVER_KEYS]
    return Prepared(dialect.upsert(dialect_name, table), column_keys=keys)


SERVER_KEYS = {"node_seq"}
"""Columns the database assigns (never written by an upsert)."""
FIND_NODES_CHUNK = 256
"""Most ids one ``find_nodes`` statement looks up (well under SQLite's variable limit)."""


@cache
def nodes_in(size: int) -> tuple[Prepared, tuple[str, ...]]:
    """``SELECT <node columns> FROM nodes WHERE id IN (:id0_, ...)`` for ``size`` ids.

    ``find_nodes`` pads its ids up to a power of two (repeating the last one),
    so a handful of statements, each compiled once, serve every batch size.
    """
    names = tuple(f"id{i}_" for i in range(size))
    stmt = select(*rows.NODE_COLUMNS).where(t.nodes.c.id.in_([bindparam(n) for n in names]))
    return Prepared(stmt), names


def padded_size(count: int) -> int:
    """The power of two at or above ``count``: the statement size for ``count`` ids."""
    size = 1
    while size < count:
        size *= 2
    return size


_edges = t.edges
TOUCHING = Prepared(
    select(*rows.EDGE_COLUMNS)
    .where(or_(_edges.c.source_id == bindparam("id_"), _edges.c.target_id == bindparam("id_")))
    .order_by(_edges.c.id)
)
TOUCHES = Prepared(
    select(
        exists().where(
            or_(_edges.c.source_id == bindparam("id_"), _edges.c.target_id == bindparam("id_"))
        )
    )
)
IN_TREE = Prepared(
    select(*rows.PATH_COLUMNS).where(t.paths.c.tree_id == bindparam("tree_")).order_by(t.paths.c.id)
)
NODE_STATE = Prepared(
    select(t.nodes.c.version, t.nodes.c.profile_id).where(t.nodes.c.id == bindparam("id_"))
)
ENDS = Prepared(
    select(t.nodes.c.id, t.nodes.c.profile_id).where(
        or_(t.nodes.c.id == bindparam("source_"), t.nodes.c.id == bindparam("target_"))
    )
)
OTHER_ACTIVE = Prepared(
    select(t.paths.c.id)
    .where(
        t.paths.c.tree_id == bindparam("tree_"),
        t.paths.c.active,
        t.paths.c.id != bindparam("id_"),
    )
    .limit(1)
)
DELETE_TOUCHING = Prepared(
    delete(_edges).where(
        or_(_edges.c.source_id == bindparam("id_"), _edges.c.target_id == bindparam("id_"))
    )
)
INSERT_ITEMS = Prepared(
    t.activation_items.insert(), column_keys=[c.name for c in t.activation_items.columns]
)


@cache
def edges_where(source: bool, target: bool, kind: bool) -> Prepared:
    """``list_edges`` for one combination of filters (parameters named ``<column>_``)."""
    edges = t.edges
    stmt = select(*rows.EDGE_COLUMNS).where(edges.c.profile_id == bindparam("profile_id_"))
    if source:
        stmt = stmt.where(edges.c.source_id == bindparam("source_id_"))
    if target:
        stmt = stmt.where(edges.c.target_id == bindparam("target_id_"))
    if kind:
        stmt = stmt.where(edges.c.kind == bindparam("kind_"))
    return Prepared(stmt.order_by(edges.c.id))

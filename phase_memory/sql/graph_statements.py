"""The graph store's statements, built once.

They run through ``Connection.execute``: built once, so SQLAlchemy's compiled
cache always hits; lists of ids are expanding ``IN`` parameters. Parameters
are named ``<column>_``. Only the upsert of whole rows, the lookups by id
(on every write of the fold) and ``list_edges`` (a latency target) run on the
driver's cursor (:mod:`phase_memory.sql.direct`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
)

from phase_memory.sql import dialect, rows
from phase_memory.sql import tables as t
from phase_memory.sql.direct import DirectStatement

ITEM_SELECT = select(t.activation_items.c.plan_id, *rows.ITEM_COLUMNS)
DELETE_BY_ID = {
    table.name: delete(table).where(table.c.id == bindparam("id_"))
    for table in (t.profiles, t.nodes, t.edges, t.paths)
}
DELETE_ITEMS = delete(t.activation_items).where(
    t.activation_items.c.plan_id == bindparam("plan_id_")
)
BY_ID = {  # looked up for every recorded event: on the driver's cursor
    table.name: DirectStatement(select(*columns).where(table.c.id == bindparam("id_")))
    for table, columns in (
        (t.profiles, rows.PROFILE_COLUMNS),
        (t.nodes, rows.NODE_COLUMNS),
        (t.edges, rows.EDGE_COLUMNS),
        (t.paths, rows.PATH_COLUMNS),
    )
}


@cache
def exists_where(table_name: str, names: tuple[str, ...]) -> Select[tuple[bool]]:
    """``SELECT EXISTS (... WHERE <name> = :<name>_ ...)``."""
    table = t.metadata.tables[table_name]
    return select(exists().where(*(table.c[name] == bindparam(f"{name}_") for name in names)))


@cache
def upsert(dialect_name: str, table: Table) -> DirectStatement:
    """Insert-or-replace of whole rows (every column but server-assigned keys)."""
    keys = [c.name for c in table.columns if c.name not in SERVER_KEYS]
    return DirectStatement(dialect.upsert(dialect_name, table), table=table, column_keys=keys)


SERVER_KEYS = {"node_seq"}
"""Columns the database assigns (never written by an upsert)."""
FIND_NODES_CHUNK = 256
"""Most ids one ``find_nodes`` statement looks up (well under SQLite's variable limit)."""
NODES_IN = select(*rows.NODE_COLUMNS).where(t.nodes.c.id.in_(bindparam("ids_", expanding=True)))

_edges = t.edges
TOUCHING = (
    select(*rows.EDGE_COLUMNS)
    .where(or_(_edges.c.source_id == bindparam("id_"), _edges.c.target_id == bindparam("id_")))
    .order_by(_edges.c.id)
)
TOUCHES = select(
    exists().where(
        or_(_edges.c.source_id == bindparam("id_"), _edges.c.target_id == bindparam("id_"))
    )
)
IN_TREE = DirectStatement(
    # Run on the driver's cursor: a LangGraph saver looks a thread's paths up on every read.
    select(*rows.PATH_COLUMNS).where(t.paths.c.tree_id == bindparam("tree_")).order_by(t.paths.c.id)
)
NODE_STATE = select(t.nodes.c.version, t.nodes.c.profile_id).where(
    t.nodes.c.id == bindparam("id_")
)
ENDS = select(t.nodes.c.id, t.nodes.c.profile_id).where(
    or_(t.nodes.c.id == bindparam("source_"), t.nodes.c.id == bindparam("target_"))
)
OTHER_ACTIVE = (
    select(t.paths.c.id)
    .where(
        t.paths.c.tree_id == bindparam("tree_"),
        t.paths.c.active,
        t.paths.c.id != bindparam("id_"),
    )
    .limit(1)
)
DELETE_TOUCHING = delete(_edges).where(
    or_(_edges.c.source_id == bindparam("id_"), _edges.c.target_id == bindparam("id_"))
)
INSERT_ITEMS = t.activation_items.insert()


def holds_at(table: Table, at: Any) -> ColumnElement[bool]:
    """Rows of ``table`` (nodes or edges) valid at ``at`` (a datetime or a bind parameter).

    ``valid_from`` NULL means from ``created_at``; ``valid_to`` NULL, open-ended.
    """
    return and_(
        func.coalesce(table.c.valid_from, table.c.created_at) <= at,
        or_(table.c.valid_to.is_(None), table.c.valid_to > at),
    )


@cache
def edges_of_profile(filters: tuple[str, ...], valid: bool = False) -> DirectStatement:
    """``list_edges``: a profile's edges, by id, where each column of ``filters`` equals
    its ``:<column>_`` parameter (and, with ``valid``, valid at ``:at_``).

    Built once per set of filters, and run on the driver's cursor: through
    ``Connection.execute`` (its compiled cache, autobegin, result set-up and the
    rollback that ends the read) a lookup of a few edges cost three times what
    it did on the cursor, and ``list_edges`` has a latency target
    (docs/performance.md).
    """
    edges = t.edges
    return DirectStatement(
        select(*rows.EDGE_COLUMNS)
        .where(
            edges.c.profile_id == bindparam("profile_id_"),
            *(edges.c[name] == bindparam(f"{name}_") for name in filters),
            *((holds_at(edges, bindparam("at_", type_=t.UtcTimestamp())),) if valid else ()),
        )
        .order_by(edges.c.id),
        types={"at_": t.UtcTimestamp()} if valid else None,
    )

"""Reading the graph tables row by row, to locate malformed rows instead of failing.

A row edited by hand (a timestamp ``x`` written with ``sqlite3``) makes the
normal reads fail on the first bad value. :func:`readable_graph` reads every
column raw, converts each value with the column's own type, validates the row
with its model, and keeps what is well formed: diagnostics then report each
malformed row (table, id, column, the value shortened) and run every other
check over the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Column, Table, select, type_coerce
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.types import NullType

from phase_memory.models import GraphSnapshot, MemoryEdge, MemoryNode, MemoryPath, Profile
from phase_memory.protocols import MalformedRow
from phase_memory.sql import rows
from phase_memory.sql import tables as t
from phase_memory.sql.dialect import SQLITE

SHOWN_VALUE = 60
"""Characters of a malformed value a finding shows."""

_GRAPH_TABLES: tuple[tuple[Table, type[BaseModel], Sequence[Column[Any]], str], ...] = (
    (t.profiles, Profile, rows.PROFILE_COLUMNS, "profiles"),
    (t.nodes, MemoryNode, rows.NODE_COLUMNS, "nodes"),
    (t.edges, MemoryEdge, rows.EDGE_COLUMNS, "edges"),
    (t.paths, MemoryPath, rows.PATH_COLUMNS, "paths"),
)


def shortened(value: Any) -> str:
    """``repr(value)``, cut to :data:`SHOWN_VALUE` characters."""
    return _cut(repr(value), SHOWN_VALUE)


def _cut(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _converter(column: Column[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
    return processor


def _check_row(
    table: str, model: type[BaseModel], names: Sequence[str],
    converters: Sequence[Callable[[Any], Any] | None], raw: Sequence[Any],
) -> tuple[BaseModel | None, MalformedRow | None]:
    record_id = _cut(str(raw[names.index("id")]), SHOWN_VALUE)
    values: dict[str, Any] = {}
    for name, convert, value in zip(names, converters, raw, strict=True):
        try:
            values[name] = convert(value) if convert is not None and value is not None else value
        except (ValueError, TypeError) as exc:
            return None, MalformedRow(table, record_id, name, shortened(value),
                                     _cut(str(exc), 2 * SHOWN_VALUE))
    try:
        return model.model_validate(values), None
    except PydanticValidationError as exc:
        error = exc.errors()[0]
        column = str(error["loc"][0]) if error["loc"] else ""
        bad = values.get(column, error.get("input"))
        return None, MalformedRow(table, record_id, column, shortened(bad),
                                 _cut(error["msg"], 2 * SHOWN_VALUE))


def readable_graph(
    conn: Connection, read_plans: Callable[[Connection], dict[str, Any]]
) -> tuple[GraphSnapshot, list[MalformedRow]]:
    """Every well-formed graph record as a snapshot, and where each malformed row is."""
    dialect = conn.dialect
    # SQLite stores any value in any column: read them raw and convert each with its
    # column's type here, so one bad value names its column. PostgreSQL's typed
    # columns cannot hold such values: its rows are read as usual, checked by model.
    read_raw = dialect.name == SQLITE
    found: list[MalformedRow] = []
    records: dict[str, dict[str, Any]] = {}
    for table, model, columns, name in _GRAPH_TABLES:
        names = [c.name for c in columns]
        if read_raw:
            converters = [_converter(c, dialect) for c in columns]
            selected: list[Any] = [type_coerce(c, NullType()) for c in columns]
        else:
            converters = [None] * len(columns)
            selected = list(columns)
        statement = select(*selected).order_by(table.c.id)
        kept: dict[str, Any] = {}
        for raw in conn.execute(statement):
            record, problem = _check_row(name, model, names, converters, raw)
            if problem is not None:
                found.append(problem)
            elif record is not None:
                kept[record.id] = record  # type: ignore[attr-defined]
        records[name] = kept
    try:
        plans = read_plans(conn)
    except (ValueError, TypeError, PydanticValidationError) as exc:
        found.append(MalformedRow("activation_plans", "", "", "", str(exc)))
        plans = {}
    snapshot = GraphSnapshot.model_construct(
        profiles=records["profiles"], nodes=records["nodes"], edges=records["edges"],
        paths=records["paths"], activation_plans=plans, position=0,
    )
    return snapshot, found


__all__ = ["SHOWN_VALUE", "readable_graph", "shortened"]

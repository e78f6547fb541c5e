"""The few hot statements that run on the driver's cursor, on every dialect.

Everything else goes through ``Connection.execute`` (SQLAlchemy's compiled
cache, expanding ``IN``, events, ``echo``). A few statements run so often that
``Connection.execute``'s own cost (about 20 µs a call on the reference machine,
more than SQLite needs to insert a row) shows in the benchmarks: the event
insert (bulk and single appends), the node/edge/profile/path upsert of the
fold, the event listing and replay pages, and ``list_edges`` (a latency
target). For those, :class:`DirectStatement` uses only SQLAlchemy's public
API: the statement is compiled once per dialect (``Compiled.string``,
``Compiled.params`` for its literal values), its
parameters are converted by the bind processors of the columns' types
(``TypeEngine.dialect_impl(...).bind_processor(...)``: the same timestamp and
JSON conversions as everywhere else) and its result columns by their result
processors; the engines use a named parameter style (``:name`` on SQLite,
``%(name)s`` on PostgreSQL), so parameters are passed by name, in a dict.
The statement runs on the connection's DB-API cursor inside the SQLAlchemy
connection's transaction, the same way on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Dialect, Table
from sqlalchemy.exc import StatementError
from sqlalchemy.sql.base import Executable
from sqlalchemy.types import TypeEngine

Processor = Callable[[Any], Any]
_T = TypeVar("_T")

MEMO_SIZE = 256
"""Rows a :meth:`DirectStatement.first_model` (or ``all_models``) memo keeps before it
starts again."""


class _Plan:
    """A statement compiled for one dialect, with its converters."""

    __slots__ = ("columns", "converters", "dialect", "literals", "results", "sql")

    def __init__(self, statement: DirectStatement, dialect: Dialect) -> None:
        compiled = statement.statement.compile(  # type: ignore[attr-defined]
            dialect=dialect, column_keys=statement.column_keys
        )
        self.sql: str = compiled.string
        # Literal values inside the statement (LIMIT 1, a constant) are parameters too.
        self.literals: dict[str, Any] = {
            name: value for name, value in compiled.params.items() if value is not None
        }
        self.converters: tuple[tuple[str, Processor], ...] = tuple(
            (name, processor)
            for name, type_ in statement.bind_types.items()
            if (processor := type_.dialect_impl(dialect).bind_processor(dialect)) is not None
        )
        self.columns = statement.result_columns
        self.dialect = dialect
        self.results: tuple[tuple[int, Processor], ...] | None = None  # at the first rows

    def result_processors(self, description: Sequence[Sequence[Any]]) -> None:
        """The result converters, given the driver's column types (``cursor.description``)."""
        dialect = self.dialect
        self.results = tuple(
            (index, processor)
            # (no columns declared for a RETURNING: its values are returned as they are)
            for index, (column, described) in enumerate(
                zip(self.columns, description, strict=False)
            )
            if (processor := column.type.dialect_impl(dialect).result_processor(
                dialect, described[1]
            ))
            is not None
        )

    def parameters(self, params: Mapping[str, Any]) -> dict[str, Any]:
        # Runs for every row written: one dict copy, then only the converted values.
        values = {**self.literals, **params} if self.literals else dict(params)
        for name, processor in self.converters:
            values[name] = processor(values[name])
        return values

    def rows(self, raw: Sequence[Sequence[Any]], cursor: Any) -> list[tuple[Any, ...]]:
        if self.results is None:
            self.result_processors(cursor.description or ())
        results = self.results
        if not results:  # the driver's rows are tuples already (sqlite3, psycopg)
            return raw if isinstance(raw, list) else [tuple(row) for row in raw]
        converted = []
        for row in raw:
            values = list(row)
            for index, processor in results:
                value = values[index]
                if value is not None:
                    values[index] = processor(value)
            converted.append(tuple(values))
        return converted


class DirectStatement:
    """A Core statement run on the driver's cursor, compiled once per dialect.

    ``table``: parameters named after its columns are converted by the
    columns' types (an INSERT or upsert of whole rows; ``column_keys`` fixes
    which columns every row gives, ``converted`` names them when the statement
    is not such an INSERT); ``types`` gives the type of any other parameter
    that needs converting (a timestamp compared with stored ones). Selected
    columns are converted by theirs (returned ones are not: return plain values).
    """

    __slots__ = ("_plans", "bind_types", "column_keys", "result_columns", "statement")

    def __init__(
        self,
        statement: Executable,
        *,
        table: Table | None = None,
        column_keys: Sequence[str] | None = None,
        converted: Sequence[str] | None = None,
        types: Mapping[str, TypeEngine[Any]] | None = None,
    ) -> None:
        self.statement = statement
        self.column_keys = list(column_keys) if column_keys is not None else None
        keys = converted if converted is not None else self.column_keys or []
        self.bind_types: dict[str, TypeEngine[Any]] = (
            {key: table.c[key].type for key in keys} if table is not None else {}
        )
        self.bind_types.update(types or {})
        selected: Sequence[ColumnElement[Any]] = getattr(statement, "selected_columns", ())
        self.result_columns = list(selected)
        self._plans: dict[str, _Plan] = {}

    def _plan(self, conn: Connection) -> _Plan:
        dialect = conn.dialect
        plan = self._plans.get(dialect.name)
        if plan is None:
            plan = self._plans[dialect.name] = _Plan(self, dialect)
        return plan

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every result row, as tuples in column order."""
        plan = self._plan(conn)
        cursor = _cursor(conn)
        try:
            cursor.execute(plan.sql, plan.parameters(params))
            return plan.rows(cursor.fetchall(), cursor)
        except ValueError as exc:
            raise _refused(plan, exc) from exc
        finally:
            cursor.close()

    def first_model(
        self,
        conn: Connection,
        params: Mapping[str, Any],
        build: Callable[[tuple[Any, ...]], _T],
        memo: dict[tuple[Any, ...], _T],
    ) -> _T | None:
        """``build(first row)``, or None, remembered by the row's stored values.

        For records read far more often than they change (profiles, looked up
        for every recorded event): the same stored row always builds an equal
        immutable model, so a row seen before skips its conversion and
        validation. ``memo`` is the caller's, emptied at :data:`MEMO_SIZE` rows.
        """
        plan = self._plan(conn)
        cursor = _cursor(conn)
        try:
            cursor.execute(plan.sql, plan.parameters(params))
            raw = cursor.fetchone()
            return None if raw is None else _memoised(plan, cursor, raw, build, memo)
        finally:
            cursor.close()

    def all_models(
        self,
        conn: Connection,
        params: Mapping[str, Any],
        build: Callable[[tuple[Any, ...]], _T],
        memo: dict[tuple[Any, ...], _T],
    ) -> list[_T]:
        """``build(row)`` of every result row, remembered by the rows' stored values.

        :meth:`first_model` for every row (paths, read on every LangGraph read):
        a row seen before skips its conversion and validation.
        """
        plan = self._plan(conn)
        cursor = _cursor(conn)
        try:
            cursor.execute(plan.sql, plan.parameters(params))
            return [_memoised(plan, cursor, raw, build, memo) for raw in cursor.fetchall()]
        finally:
            cursor.close()

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run a write statement for every parameter set (one ``executemany``)."""
        if not rows:
            return
        plan = self._plan(conn)
        cursor = _cursor(conn)
        try:
            if len(rows) == 1:
                cursor.execute(plan.sql, plan.parameters(rows[0]))
            else:
                cursor.executemany(plan.sql, [plan.parameters(row) for row in rows])
        except ValueError as exc:
            raise _refused(plan, exc) from exc
        finally:
            cursor.close()


def _memoised(
    plan: _Plan,
    cursor: Any,
    raw: Sequence[Any],
    build: Callable[[tuple[Any, ...]], _T],
    memo: dict[tuple[Any, ...], _T],
) -> _T:
    """``build`` of a driver row, from ``memo`` when the same stored values were built before."""
    key = tuple(raw)
    try:
        found = memo.get(key)
    except TypeError:  # a driver that parses JSON itself gives dicts: no memo
        return build(plan.rows([raw], cursor)[0])
    if found is None:
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        found = memo[key] = build(plan.rows([raw], cursor)[0])
    return found


def run_plain(conn: Connection, sql: str, rows: Iterable[Sequence[Any]]) -> None:
    """Run plain SQL text with positional parameters for every row (one ``executemany``).

    For the few statements whose text :mod:`phase_memory.sql.dialect` owns
    (the event insert): parameters bound by position, already converted by
    the caller, on the connection's DB-API cursor inside its transaction.
    ``rows`` may be an iterator (the driver takes them one by one).
    """
    cursor = _cursor(conn)
    try:
        if isinstance(rows, list) and len(rows) == 1:
            cursor.execute(sql, rows[0])
        else:
            cursor.executemany(sql, rows)
    finally:
        cursor.close()


def insert_plain(conn: Connection, sql: str, values: Sequence[Any]) -> int | None:
    """Run a plain SQL INSERT of one row: its first returned value, else the driver's row id.

    A statement with ``RETURNING`` gives the first value of its first row (None
    when it inserted nothing); without, the DB-API ``lastrowid`` (SQLite's rowid).
    """
    cursor = _cursor(conn)
    try:
        cursor.execute(sql, values)
        if cursor.description is not None:
            row = cursor.fetchone()
            return None if row is None else int(row[0])
        return int(cursor.lastrowid)
    finally:
        cursor.close()


def _cursor(conn: Connection) -> Any:
    """A DB-API cursor of the connection, inside its current transaction."""
    return conn.connection.cursor()


def _refused(plan: _Plan, error: ValueError) -> StatementError:
    """A parameter its column cannot hold (NaN in JSON), as SQLAlchemy reports one."""
    return StatementError(str(error), plan.sql, None, error)

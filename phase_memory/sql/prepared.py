"""Hot statements compiled once and run straight on the DBAPI cursor (SQLite).

SQLAlchemy's ``Connection.execute`` costs about 90 µs per call on a small
machine, several times what SQLite needs to run a point lookup. The runtime's
hot path (record an event: append, a few lookups by the fold, an upsert) makes
half a dozen such calls per event, so the statements it runs are Core
statements wrapped in :class:`Prepared`: compiled once per dialect with
SQLAlchemy's compiler, their parameters converted by the columns' own bind
processors (the same ``UtcTimestamp`` and JSON conversions as everywhere else)
and their result columns by the columns' result processors, but executed on the
connection's DBAPI cursor, inside the SQLAlchemy connection's transaction.

Only SQLite takes this lane; other dialects run the same statement through
``Connection.execute``. Both return plain tuples in the statement's column order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import Compiled

_T = TypeVar("_T")

MEMO_SIZE = 256
"""Rows a :meth:`Prepared.first_model` memo keeps before it starts again."""


def _values_getter(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    def values_of(params: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(params[name] for name in names)

    return values_of


class _Plan:
    """A statement compiled for one dialect, with its parameter and result converters."""

    __slots__ = ("converted", "defaults", "names", "results", "sql", "values_of")

    def __init__(self, compiled: Compiled, statement: Any, dialect: Dialect) -> None:
        self.sql = compiled.string
        self.names: tuple[str, ...] = tuple(getattr(compiled, "positiontup", None) or ())
        binds = getattr(compiled, "binds", {})
        # Literal values inside the statement (LIMIT 1, a constant) are binds too.
        self.defaults = {
            name: bind.effective_value for name, bind in binds.items() if not bind.required
        }
        # Every parameter of a row in one C call (a statement of one parameter
        # gets a getter that still returns a tuple).
        self.values_of: Callable[[Mapping[str, Any]], tuple[Any, ...]] = (
            itemgetter(*self.names) if len(self.names) > 1 else _values_getter(self.names)
        )
        processors = (
            binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in self.names
        )
        # Only the parameters that need converting (timestamps, JSON), by position.
        self.converted: tuple[tuple[int, Callable[[Any], Any]], ...] = tuple(
            (index, processor)
            for index, processor in enumerate(processors)
            if processor is not None
        )
        columns = getattr(statement, "selected_columns", None) or ()
        results = (
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
        # Only the result columns that need converting, by position.
        self.results: tuple[tuple[int, Callable[[Any], Any]], ...] = tuple(
            (index, processor) for index, processor in enumerate(results) if processor is not None
        )

    def parameters(self, params: Mapping[str, Any]) -> list[Any]:
        # This runs for every row written: no generators, one C call for the values.
        try:
            values = list(self.values_of(params))
        except KeyError:  # a literal of the statement (LIMIT 1), or a missing value
            defaults = self.defaults
            values = [params[name] if name in params else defaults[name] for name in self.names]
        for index, processor in self.converted:
            values[index] = processor(values[index])
        return values

    def rows(self, raw: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        results = self.results
        if not results:
            return raw  # the driver's rows are tuples already
        converted = []
        for row in raw:
            values = list(row)
            for index, processor in results:
                value = values[index]
                if value is not None:
                    values[index] = processor(value)
            converted.append(tuple(values))
        return converted


class Prepared:
    """A Core statement run on the DBAPI cursor on SQLite, through SQLAlchemy elsewhere.

    ``column_keys`` fixes the parameters of an INSERT (every row must give them all).
    """

    __slots__ = ("_column_keys", "_plans", "statement")

    def __init__(self, statement: Executable, column_keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self._column_keys = list(column_keys) if column_keys is not None else None
        self._plans: dict[str, _Plan] = {}

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            compiled = self.statement.compile(  # type: ignore[attr-defined]
                dialect=dialect, column_keys=self._column_keys
            )
            plan = self._plans[dialect.name] = _Plan(compiled, self.statement, dialect)
        return plan

    def all(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[Any]:
        """Every result row, as tuples in column order."""
        if conn.dialect.name != "sqlite":
            return [tuple(row) for row in conn.execute(self.statement, dict(params or {}))]
        plan = self._plan(conn.dialect)
        cursor = conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            plan.sql, plan.parameters(params or {})
        )
        return plan.rows(cursor.fetchall())

    def first(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first result row, or None."""
        found = self.all(conn, params)
        return found[0] if found else None

    def first_model(
        self,
        conn: Connection,
        params: Mapping[str, Any],
        build: Callable[[tuple[Any, ...]], _T],
        memo: dict[tuple[Any, ...], _T],
    ) -> _T | None:
        """``build(first row)``, or None; on SQLite, remembered by the row's stored values.

        For records read far more often than they change (profiles): the same
        stored row always builds an equal immutable model, so a row seen before
        skips its conversion and validation. ``memo`` is the caller's and is
        emptied when it reaches :data:`MEMO_SIZE` rows.
        """
        if conn.dialect.name != "sqlite":
            row = self.first(conn, params)
            return None if row is None else build(row)
        plan = self._plan(conn.dialect)
        cursor = conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            plan.sql, plan.parameters(params)
        )
        raw = cursor.fetchone()
        if raw is None:
            return None
        found = memo.get(raw)
        if found is None:
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            found = memo[raw] = build(plan.rows([raw])[0])
        return found

    def scalar(self, conn: Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the first row, or None."""
        row = self.first(conn, params)
        return None if row is None else row[0]

    def run(self, conn: Connection, params: Mapping[str, Any] | None = None) -> int:
        """Run a write statement once; returns the number of rows it changed."""
        if conn.dialect.name != "sqlite":
            return int(conn.execute(self.statement, dict(params or {})).rowcount)
        plan = self._plan(conn.dialect)
        cursor = conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            plan.sql, plan.parameters(params or {})
        )
        return int(cursor.rowcount)

    def insert_returning_rowid(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run a one-row INSERT on SQLite; return the rowid SQLite assigned."""
        plan = self._plan(conn.dialect)
        cursor = conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            plan.sql, plan.parameters(params)
        )
        rowid = cursor.lastrowid
        assert rowid is not None
        return int(rowid)

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run a write statement for every parameter set (one executemany)."""
        if not rows:
            return
        if conn.dialect.name != "sqlite":
            conn.execute(self.statement, [dict(row) for row in rows])
            return
        plan = self._plan(conn.dialect)
        conn.connection.driver_connection.executemany(  # type: ignore[union-attr]
            plan.sql, [plan.parameters(row) for row in rows]
        )

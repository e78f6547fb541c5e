"""The event log on SQL: append in batches, list, stream and replay.

Positions are assigned by :meth:`SqlEventLog.append` inside its write
transaction: the newest position plus one, two, ... for the batch. The write
transaction holds the database's write lock (``BEGIN IMMEDIATE`` on SQLite,
a table lock on PostgreSQL), so positions are strictly increasing in commit
order and a reader tailing with ``after=`` never skips an event.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from itertools import chain
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    Text,
    bindparam,
    exists,
    func,
    select,
    type_coerce,
    update,
)
from sqlalchemy import exc as sa_exc

from phase_memory.errors import ConflictError, DuplicateEventError, NotFoundError
from phase_memory.models import JsonObject, MemoryEvent, ReplayResult
from phase_memory.replay import replay
from phase_memory.sql import dialect, rows
from phase_memory.sql import tables as t
from phase_memory.sql.connections import Connections
from phase_memory.sql.prepared import Prepared

CHUNK = 2000
"""Events fetched per round trip when streaming."""

_IN_BATCH = 500
"""Event ids checked per duplicate-lookup query."""

_events = t.events
_INSERT = Prepared(_events.insert(), column_keys=[c.name for c in _events.columns])
_LAST = Prepared(select(func.max(_events.c.position)))
_LAST_AND_SEEN = Prepared(
    select(
        select(func.max(_events.c.position)).scalar_subquery(),
        exists().where(_events.c.event_id == bindparam("id_")),
    )
)
_GET = Prepared(select(*rows.EVENT_COLUMNS).where(_events.c.event_id == bindparam("id_")))
_SEEN = select(_events.c.event_id).where(
    _events.c.event_id.in_(bindparam("ids_", expanding=True)),
    _events.c.position <= bindparam("last_"),
)
_REPLACE = Prepared(
    update(_events)
    .where(_events.c.event_id == bindparam("event_id_"))
    .values(payload=bindparam("payload_"))
)


class SqlEventLog:
    """:class:`~phase_memory.protocols.MemoryEventLog` in the ``events`` table."""

    def __init__(self, connections: Connections) -> None:
        self._db = connections
        self._dialect = connections.dialect
        payload = dialect.json_text(self._dialect, _events.c.payload).label("payload")
        # Replay takes the timestamp as SQLite stores it (LoggedEvent parses it
        # when a fold asks): rows then need no conversion at all.
        occurred = (
            type_coerce(_events.c.occurred_at, Text()).label("occurred_at")
            if self._dialect == "sqlite"
            else _events.c.occurred_at
        )
        self._logged = _paged(
            select(
                _events.c.position,
                _events.c.event_id,
                _events.c.kind,
                _events.c.profile_id,
                _events.c.path_id,
                occurred,
                _events.c.schema_version,
                payload,
            )
        )

    def append(
        self, events: Sequence[MemoryEvent], *, expected_position: int | None = None
    ) -> builtins.list[int]:
        """Append a batch atomically and return the positions assigned."""
        if not events and expected_position is None:
            return []
        joined = self._db.in_transaction()
        with self._db.write("append") as conn:
            dialect.lock_event_log(conn)
            if len(events) == 1 and expected_position is None and self._dialect == "sqlite":
                return [_append_one_sqlite(conn, events[0])]
            ids = [event.event_id for event in events]
            if len(ids) == 1:
                # The common case, one round trip: the newest position and the duplicate test.
                last_value, duplicate = _LAST_AND_SEEN.first(conn, {"id_": ids[0]})
                if duplicate:
                    raise DuplicateEventError(ids[0])
            else:
                last_value = _LAST.scalar(conn)
            last = int(last_value or 0)
            if expected_position is not None and expected_position != last:
                raise ConflictError(f"log is at position {last}, expected {expected_position}")
            if not events:
                return []
            if len(set(ids)) != len(ids):
                _raise_first_duplicate(conn, ids, last)
            positions = list(range(last + 1, last + 1 + len(events)))
            params = [rows.event_row(e, p) for e, p in zip(events, positions, strict=True)]
            if len(ids) == 1:
                _INSERT.run_many(conn, params)
            elif not joined and self._dialect == "sqlite":
                # A batch relies on the unique index for ids already stored. In a
                # transaction of its own, a duplicate rolls all of it back.
                try:
                    _INSERT.run_many(conn, params)
                except (sqlite3.IntegrityError, sa_exc.IntegrityError):
                    _raise_first_duplicate(conn, ids, last)
                    raise
            else:
                # Joined to the caller's transaction: inside a savepoint, so a
                # duplicate undoes the rows inserted before it and nothing else.
                # (PostgreSQL always takes this way: a failed statement aborts its
                # transaction, and the duplicate lookup needs a live one.)
                savepoint = conn.begin_nested()
                try:
                    _INSERT.run_many(conn, params)
                except (sqlite3.IntegrityError, sa_exc.IntegrityError):
                    savepoint.rollback()
                    _raise_first_duplicate(conn, ids, last)
                    raise
                savepoint.commit()
        return positions

    def get(self, event_id: str) -> MemoryEvent:
        """The event with this id (position set)."""
        with self._db.read("get") as conn:
            row = _GET.first(conn, {"id_": event_id})
            if row is None:
                raise NotFoundError(f"event {event_id!r} does not exist")
            return rows.event_of(row)

    def list(
        self,
        profile_id: str | None = None,
        kinds: Sequence[str] | None = None,
        path_id: str | None = None,
        after: int | None = None,
        limit: int | None = None,
        *,
        newest_first: bool = False,
    ) -> builtins.list[MemoryEvent]:
        """Events in position order (descending with ``newest_first``), filtered."""
        if (kinds is not None and not kinds) or (limit is not None and limit <= 0):
            return []
        wanted_kinds = builtins.list(dict.fromkeys(kinds)) if kinds is not None else []
        if len(wanted_kinds) <= _PREPARED_KINDS:
            # The common listings (tailing with after= and limit=, a path's events of a
            # kind or two) run a statement built once; building it per call cost more
            # than running it.
            given = {"profile_id_": profile_id, "path_id_": path_id, "after_": after,
                     "limit_": limit}
            params = {name: value for name, value in given.items() if value is not None}
            params.update({f"kind_{i}_": kind for i, kind in enumerate(wanted_kinds)})
            filters = (value is not None for value in given.values())
            listing = _listing(*filters, len(wanted_kinds), newest_first)
            with self._db.read("list") as conn:
                return [rows.event_of(row) for row in listing.all(conn, params)]
        order = _events.c.position.desc() if newest_first else _events.c.position
        stmt = select(*rows.EVENT_COLUMNS).order_by(order)
        stmt = _filtered(stmt, profile_id=profile_id, after=after)
        stmt = stmt.where(_events.c.kind.in_(wanted_kinds))
        if path_id is not None:
            stmt = stmt.where(_events.c.path_id == path_id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._db.read("list") as conn:
            return [rows.event_of(row) for row in conn.execute(stmt)]

    def iter(
        self, profile_id: str | None = None, after: int | None = None, until: int | None = None
    ) -> Iterator[MemoryEvent]:
        """Stream events in position order, ``after`` < position <= ``until``."""
        page = _PAGES_BY_PROFILE if profile_id is not None else _PAGES
        pages = self._pages(page, _EVENT_POSITION, profile_id, after, until, "iter")
        for row in chain.from_iterable(pages):
            yield rows.event_of(row)

    def _pages(
        self,
        statement: Prepared,
        position_index: int,
        profile_id: str | None,
        after: int | None,
        until: int | None,
        where: str,
    ) -> Iterator[builtins.list[Any]]:
        """The rows, a page (a list) at a time."""
        # Keyset pages by position: bounded memory, no connection held between pages.
        # Without ``until`` the stream stops at the newest position seen when it
        # started, so a concurrent writer cannot make it run forever.
        if until is None:
            until = self.last_position()
        params: dict[str, Any] = {"until_": until, "limit_": CHUNK, "profile_": profile_id}
        cursor = after or 0
        while cursor < until:
            params["after_"] = cursor
            with self._db.read(where) as conn:
                page = statement.all(conn, params)
            yield page
            if len(page) < CHUNK:
                return
            cursor = page[-1][position_index]

    def replay(self, until: int | None = None, path_id: str | None = None) -> ReplayResult:
        """Fold the log (up to ``until``, along ``path_id``'s history) into a snapshot.

        Rows go to the fold as :class:`~phase_memory.replay.LoggedEvent` with the
        payload still JSON text: each payload is parsed once, into its model.
        """
        # The select lists LoggedEvent's fields in order.
        pages = self._pages(self._logged, 0, None, None, until, "replay")
        return replay(chain.from_iterable(pages), until=until, path_id=path_id)

    def last_position(self) -> int:
        """The position of the newest event, 0 when the log is empty."""
        with self._db.read("last_position") as conn:
            return int(_LAST.scalar(conn) or 0)

    def find_mentioning(self, text: str) -> builtins.list[MemoryEvent]:
        """Events whose payload contains ``text`` anywhere, in position order."""
        # Payloads are stored as JSON text; look for the text as it appears there.
        needle = json.dumps(text, ensure_ascii=False)[1:-1]
        haystack = dialect.json_text(self._dialect, _events.c.payload)
        stmt = (
            select(*rows.EVENT_COLUMNS)
            .where(dialect.contains(self._dialect, haystack, needle))
            .order_by(_events.c.position)
        )
        with self._db.read("find_mentioning") as conn:
            return [rows.event_of(row) for row in conn.execute(stmt)]

    def replace_payloads(self, payloads: Mapping[str, JsonObject]) -> None:
        """Rewrite payloads by event id. Only ``forget`` uses this: it erases content."""
        if not payloads:
            return
        with self._db.write("replace_payloads") as conn:
            for event_id, payload in payloads.items():
                if _REPLACE.run(conn, {"event_id_": event_id, "payload_": payload}) == 0:
                    raise NotFoundError(f"event {event_id!r} does not exist")


_PREPARED_KINDS = 4
"""``list`` with at most this many kinds runs a prepared statement."""


@cache
def _listing(
    profile: bool, path: bool, after: bool, limit: bool, kinds: int, newest_first: bool
) -> Prepared:
    """``list`` for one combination of filters (``kinds``: how many kinds, 0 for all)."""
    stmt = select(*rows.EVENT_COLUMNS)
    if kinds:
        stmt = stmt.where(_events.c.kind.in_([bindparam(f"kind_{i}_") for i in range(kinds)]))
    if profile:
        stmt = stmt.where(_events.c.profile_id == bindparam("profile_id_"))
    if after:
        stmt = stmt.where(_events.c.position > bindparam("after_"))
    if path:
        stmt = stmt.where(_events.c.path_id == bindparam("path_id_"))
    stmt = stmt.order_by(_events.c.position.desc() if newest_first else _events.c.position)
    if limit:
        stmt = stmt.limit(bindparam("limit_"))
    return Prepared(stmt)


def _paged(stmt: Select[Any], *, by_profile: bool = False) -> Prepared:
    """One keyset page: ``:after_ < position <= :until_``, at most ``:limit_`` rows."""
    position = _events.c.position
    stmt = stmt.where(position > bindparam("after_"), position <= bindparam("until_"))
    if by_profile:
        stmt = stmt.where(_events.c.profile_id == bindparam("profile_"))
    return Prepared(stmt.order_by(position).limit(bindparam("limit_")))


_EVENT_SELECT = select(*rows.EVENT_COLUMNS)
_PAGES = _paged(_EVENT_SELECT)
_PAGES_BY_PROFILE = _paged(_EVENT_SELECT, by_profile=True)
_EVENT_POSITION = rows.EVENT_FIELDS.index("position")


def _append_one_sqlite(conn: Connection, event: MemoryEvent) -> int:
    """Append one event on SQLite in one statement; return its position.

    ``position`` is the table's rowid: given as NULL, SQLite assigns the newest
    plus one, exactly what :meth:`SqlEventLog.append` computes elsewhere, and
    the write transaction's lock keeps it from changing under us. The unique
    index on ``event_id`` finds a duplicate (a one-row insert that fails
    writes nothing), so no lookup runs before the insert.
    """
    try:
        return _INSERT.insert_returning_rowid(conn, rows.event_row(event, None))
    except sqlite3.IntegrityError as exc:
        if "events.event_id" in str(exc):
            raise DuplicateEventError(event.event_id) from None
        raise


def _raise_first_duplicate(conn: Connection, ids: builtins.list[str], last: int) -> None:
    """DuplicateEventError for the first id of a batch that is stored or seen before in it.

    Stored means at a position up to ``last``, the newest before the batch: rows
    the batch itself inserted before failing are not counted.
    """
    stored: set[str] = set()
    for start in range(0, len(ids), _IN_BATCH):
        chunk = ids[start : start + _IN_BATCH]
        stored.update(conn.execute(_SEEN, {"ids_": chunk, "last_": last}).scalars())
    seen: set[str] = set()
    for event_id in ids:
        if event_id in stored or event_id in seen:
            raise DuplicateEventError(event_id)
        seen.add(event_id)


def _filtered(
    stmt: Select[Any],
    *,
    profile_id: str | None = None,
    after: int | None = None,
    until: int | None = None,
) -> Select[Any]:
    if profile_id is not None:
        stmt = stmt.where(_events.c.profile_id == profile_id)
    if after is not None:
        stmt = stmt.where(_events.c.position > after)
    if until is not None:
        stmt = stmt.where(_events.c.position <= until)
    return stmt

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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache, partial
from itertools import chain
from operator import attrgetter
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    Select,
    bindparam,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy import exc as sa_exc

from phase_memory.errors import ConflictError, DuplicateEventError, NotFoundError
from phase_memory.models import JsonObject, MemoryEvent, ReplayResult
from phase_memory.models.events import checked_payloads
from phase_memory.models.limits import check_int64
from phase_memory.protocols import EventPayload
from phase_memory.replay import replay
from phase_memory.sql import dialect, rows
from phase_memory.sql import tables as t
from phase_memory.sql.connections import Connections
from phase_memory.sql.direct import DirectStatement, insert_plain, run_plain
from phase_memory.sql.errors import translate

CHUNK = 2000
"""Events fetched per round trip when streaming."""

_IN_BATCH = 500
"""Event ids checked per duplicate-lookup query."""

_events = t.events
_LAST = select(func.max(_events.c.position))
_LAST_DIRECT = DirectStatement(_LAST)
_SQLITE = dialect.SQLITE
_LAST_AND_SEEN = select(
    select(func.max(_events.c.position)).scalar_subquery(),
    exists().where(_events.c.event_id == bindparam("id_")),
)
_GET = DirectStatement(  # by id: a LangGraph saver reads checkpoints this way
    select(*rows.EVENT_COLUMNS).where(_events.c.event_id == bindparam("id_"))
)
_SEEN = select(_events.c.event_id).where(
    _events.c.event_id.in_(bindparam("ids_", expanding=True)),
    _events.c.position <= bindparam("last_"),
)
_REPLACE = (
    update(_events)
    .where(_events.c.event_id == bindparam("event_id_"))
    .values(payload=bindparam("payload_"))
)


class SqlEventLog:
    """:class:`~phase_memory.protocols.MemoryEventLog` in the ``events`` table."""

    def __init__(self, connections: Connections) -> None:
        self._db = connections
        self._dialect = connections.dialect
        self._payload_text = partial(dialect.payload_text, self._dialect)
        payload = dialect.json_text(self._dialect, _events.c.payload).label("payload")
        # Replay takes the timestamp as the database stores it (LoggedEvent
        # parses text when a fold asks): rows then need no conversion at all.
        occurred = dialect.timestamp_as_stored(self._dialect, _events.c.occurred_at)
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
        name = self._dialect
        try:
            # The limit check encodes each payload; the row stores that same JSON.
            texts = checked_payloads(events, expected_position, self._payload_text)
        except ValueError as exc:  # NaN or an infinity: not JSON
            raise translate(exc, "append") from exc
        if not events and expected_position is None:
            return []
        occurred = dialect.timestamp_param(name)
        values = [
            rows.event_values(e, occurred(e.occurred_at), text)
            for e, text in zip(events, texts, strict=True)
        ]
        del texts
        joined = self._db.in_transaction()
        batch: _Batch | None = None
        try:
            return self._append(events, values, expected_position, joined)
        except _BatchFailed as failed:
            batch = failed.batch
        # The batch's own transaction was rolled back: name the duplicate, if that
        # was the cause, from what was stored before it.
        with self._db.read("append") as conn:
            _raise_first_duplicate(conn, batch.ids, batch.last)
        raise translate(batch.error, "append") from batch.error

    def _append(
        self,
        events: Sequence[MemoryEvent],
        values: builtins.list[tuple[Any, ...]],
        expected_position: int | None,
        joined: bool,
    ) -> builtins.list[int]:
        with self._db.write("append") as conn:
            dialect.lock_event_log(conn)
            if len(events) == 1 and expected_position is None:
                return [self._append_one(conn, events[0].event_id, values[0])]
            ids = [event.event_id for event in events]
            if len(ids) == 1:
                last_value, duplicate = conn.execute(_LAST_AND_SEEN, {"id_": ids[0]}).one()
                if duplicate:
                    raise DuplicateEventError(ids[0])
            else:
                last_value = _LAST_DIRECT.all(conn, {})[0][0]
            last = int(last_value or 0)
            if expected_position is not None and expected_position != last:
                raise ConflictError(f"log is at position {last}, expected {expected_position}")
            if not events:
                return []
            if len(set(ids)) != len(ids):
                _raise_first_duplicate(conn, ids, last)
            positions = list(range(last + 1, last + 1 + len(events)))
            # Rows made as the driver takes them: a big batch is not copied again.
            params: Iterable[tuple[Any, ...]] = (
                [(last + 1, *values[0])] if len(values) == 1
                else ((p, *v) for p, v in zip(positions, values, strict=True))
            )
            sql = dialect.insert_event_sql(self._dialect)
            if len(ids) == 1:
                run_plain(conn, sql, params)  # the lookup above found no duplicate
            elif not joined:
                # A batch relies on the unique index for ids already stored. In a
                # transaction of its own, a duplicate rolls all of it back; the
                # duplicate is named afterwards (append). No savepoint: SQLite
                # would keep a statement journal of every page the batch changes.
                try:
                    run_plain(conn, sql, params)
                except (sa_exc.IntegrityError, conn.dialect.loaded_dbapi.IntegrityError) as exc:
                    raise _BatchFailed(_Batch(ids, last, exc)) from exc
            else:
                # Joined to the caller's transaction: inside a savepoint, so a
                # duplicate undoes the rows inserted before it and nothing else,
                # and the transaction stays usable for the lookup that names the
                # duplicate (PostgreSQL aborts a transaction whose statement failed).
                savepoint = conn.begin_nested()
                try:
                    run_plain(conn, sql, params)
                except (sa_exc.IntegrityError, conn.dialect.loaded_dbapi.IntegrityError):
                    savepoint.rollback()
                    _raise_first_duplicate(conn, ids, last)
                    raise
                savepoint.commit()
        return positions

    def _append_one(self, conn: Connection, event_id: str, values: tuple[Any, ...]) -> int:
        """The common case, one event, one round trip: its position."""
        if self._dialect != dialect.SQLITE:
            found = insert_plain(conn, dialect.append_event_sql(self._dialect), (*values, event_id))
            if found is None:
                raise DuplicateEventError(event_id)
            return found
        # SQLite assigns the rowid (the position) as the newest plus one. A stored
        # id fails the unique index; SQLite undoes the statement, not the transaction.
        try:
            position = insert_plain(conn, dialect.insert_event_sql(_SQLITE, positioned=False),
                                    values)
        except conn.dialect.loaded_dbapi.IntegrityError:
            if _GET.all(conn, {"id_": event_id}):
                raise DuplicateEventError(event_id) from None
            raise
        assert position is not None
        return position

    def get(self, event_id: str) -> MemoryEvent:
        """The event with this id (position set)."""
        with self._db.read("get") as conn:
            found = _GET.all(conn, {"id_": event_id})
        if not found:
            raise NotFoundError(f"event {event_id!r} does not exist")
        return rows.event_of(found[0])

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
        found = self._listed(False, profile_id, kinds, path_id, after, limit, newest_first)
        return [rows.event_of(row) for row in found]

    def payloads(
        self,
        profile_id: str | None = None,
        kinds: Sequence[str] | None = None,
        path_id: str | None = None,
        after: int | None = None,
        limit: int | None = None,
        *,
        newest_first: bool = False,
    ) -> builtins.list[EventPayload]:
        """:meth:`list`'s events as (position, id, kind, path, payload)."""
        found = self._listed(True, profile_id, kinds, path_id, after, limit, newest_first)
        return [rows.event_payload_of(row) for row in found]

    def newest_per_path(
        self, root_path_id: str, kinds: Sequence[str] | None = None
    ) -> builtins.list[EventPayload]:
        """The newest event (of ``kinds``) on each path of a conversation tree, by path id."""
        if kinds is not None and not kinds:
            return []
        # A LangGraph saver calls this on every get_tuple: the statement and the
        # kinds' parameters are made once per set of kinds.
        heads, kind_params = _heads(self._dialect, None if kinds is None else tuple(kinds))
        params = {"tree_": root_path_id, **kind_params}
        with self._db.read("newest_per_path") as conn:
            found: Sequence[Sequence[Any]] = (
                heads.all(conn, params)
                if isinstance(heads, DirectStatement)
                else conn.execute(heads, params).all()
            )
        newest = [rows.event_payload_of(row) for row in found]
        if len(newest) > 1:
            newest.sort(key=_PATH_OF_PAYLOAD)
        return newest

    def _listed(
        self,
        short: bool,
        profile_id: str | None,
        kinds: Sequence[str] | None,
        path_id: str | None,
        after: int | None,
        limit: int | None,
        newest_first: bool,
    ) -> Iterable[Sequence[Any]]:
        """The rows ``list`` (``short``: ``payloads``) reads."""
        if after is not None or limit is not None:
            check_int64(after=after, limit=limit)
        if (kinds is not None and not kinds) or (limit is not None and limit <= 0):
            return []
        # The common listings (tailing with after= and limit=, a path's events of a
        # kind or two; the LangGraph saver on every put) run a statement made once
        # per set of filters, with its kinds' parameters: building it per call
        # cost more than running it.
        listing, params = _listing(
            self._dialect, short, profile_id is not None, path_id is not None,
            after is not None, limit is not None,
            None if kinds is None else tuple(kinds), newest_first,
        )
        params = dict(params)
        if profile_id is not None:
            params["profile_id_"] = profile_id
        if path_id is not None:
            params["path_id_"] = path_id
        if after is not None:
            params["after_"] = after
        if limit is not None:
            params["limit_"] = limit
        with self._db.read("list") as conn:
            if isinstance(listing, DirectStatement):
                return listing.all(conn, params)
            return conn.execute(listing, params).all()

    def iter(
        self, profile_id: str | None = None, after: int | None = None, until: int | None = None
    ) -> Iterator[MemoryEvent]:
        """Stream events in position order, ``after`` < position <= ``until``."""
        check_int64(after=after, until=until)
        page = _PAGES_BY_PROFILE if profile_id is not None else _PAGES
        pages = self._pages(page, _EVENT_POSITION, profile_id, after, until, "iter")
        for row in chain.from_iterable(pages):
            yield rows.event_of(row)

    def _pages(
        self,
        statement: DirectStatement,
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
        check_int64(until=until)
        # The select lists LoggedEvent's fields in order.
        pages = self._pages(self._logged, 0, None, None, until, "replay")
        return replay(chain.from_iterable(pages), until=until, path_id=path_id)

    def last_position(self) -> int:
        """The position of the newest event, 0 when the log is empty."""
        with self._db.read("last_position") as conn:
            return int(conn.execute(_LAST).scalar() or 0)

    def find_mentioning(self, text: str, *others: str) -> builtins.list[MemoryEvent]:
        """Events whose payload contains ``text`` (or any of ``others``), in position order.

        One scan of the log, however many texts.
        """
        # Payloads are stored as JSON text; look for the text as it appears there.
        haystack = dialect.json_text(self._dialect, _events.c.payload)
        stmt = (
            select(*rows.EVENT_COLUMNS)
            .where(or_(*(
                dialect.contains(self._dialect, haystack, json.dumps(t, ensure_ascii=False)[1:-1])
                for t in (text, *others)
            )))
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
                result = conn.execute(_REPLACE, {"event_id_": event_id, "payload_": payload})
                if result.rowcount == 0:
                    raise NotFoundError(f"event {event_id!r} does not exist")


_KINDS_BOUND = 4
"""Up to this many kinds, ``list`` binds each kind as its own parameter."""


def _of_kinds(
    events: FromClause, kinds: tuple[str, ...] | None
) -> tuple[ColumnElement[bool] | None, dict[str, Any]]:
    """The filter on ``events.kind`` for ``kinds`` (None: any kind) and its parameters.

    Up to :data:`_KINDS_BOUND` kinds are separate parameters (``kind_0``, ...),
    so the statement runs on the driver's cursor; more are one expanding
    ``kinds_`` (the statement then runs through SQLAlchemy).
    """
    if kinds is None:
        return None, {}
    wanted = builtins.list(dict.fromkeys(kinds))
    if len(wanted) > _KINDS_BOUND:
        return events.c.kind.in_(bindparam("kinds_", expanding=True)), {"kinds_": wanted}
    clause = events.c.kind.in_([bindparam(f"kind_{i}") for i in range(len(wanted))])
    return clause, {f"kind_{i}": kind for i, kind in enumerate(wanted)}


@lru_cache(maxsize=256)
def _listing(
    dialect_name: str,
    short: bool,
    profile: bool,
    path: bool,
    after: bool,
    limit: bool,
    kinds: tuple[str, ...] | None,
    newest_first: bool,
) -> tuple[DirectStatement | Select[Any], dict[str, Any]]:
    """``list`` (``short``: ``payloads``) on a dialect for one set of filters (``<filter>_``).

    Returns the statement and the parameters of its kinds (see :func:`_of_kinds`).
    """
    if short:  # the payload as its JSON text: rows.event_payload_of parses it
        payload = dialect.json_text(dialect_name, _events.c.payload).label("payload")
        stmt = select(*rows.PAYLOAD_COLUMNS[:-1], payload)
    else:
        stmt = select(*rows.EVENT_COLUMNS)
    of_kinds, params = _of_kinds(_events, kinds)
    if of_kinds is not None:
        stmt = stmt.where(of_kinds)
    if profile:
        stmt = stmt.where(_events.c.profile_id == bindparam("profile_id_"))
    if after:
        stmt = stmt.where(_events.c.position > bindparam("after_"))
    if path:
        stmt = stmt.where(_events.c.path_id == bindparam("path_id_"))
    stmt = stmt.order_by(_events.c.position.desc() if newest_first else _events.c.position)
    if limit:
        stmt = stmt.limit(bindparam("limit_"))
    return (stmt if "kinds_" in params else DirectStatement(stmt)), params


@lru_cache(maxsize=64)
def _heads(
    dialect_name: str, kinds: tuple[str, ...] | None
) -> tuple[DirectStatement | Select[Any], dict[str, Any]]:
    """``newest_per_path`` on a dialect for ``kinds``: the statement and the kinds' parameters."""
    paths, on_path = t.paths, _events.alias("on_path")
    newest = select(on_path.c.position).where(on_path.c.path_id == paths.c.id)
    of_kinds, params = _of_kinds(on_path, kinds)
    if of_kinds is not None:
        newest = newest.where(of_kinds)
    # ORDER BY ... LIMIT 1 rather than max(): it stops at the first match walking
    # the (path_id, position) index backwards, whatever the kinds filter.
    newest_position = (
        newest.order_by(on_path.c.position.desc()).limit(1).correlate(paths).scalar_subquery()
    )
    payload = dialect.json_text(dialect_name, _events.c.payload).label("payload")
    stmt = (
        select(*rows.PAYLOAD_COLUMNS[:-1], payload)
        .select_from(paths.join(_events, _events.c.position == newest_position))
        .where(paths.c.tree_id == bindparam("tree_"))
    )
    return (stmt if "kinds_" in params else DirectStatement(stmt)), params


def _paged(stmt: Select[Any], *, by_profile: bool = False) -> DirectStatement:
    """One keyset page: ``:after_ < position <= :until_``, at most ``:limit_`` rows."""
    position = _events.c.position
    stmt = stmt.where(position > bindparam("after_"), position <= bindparam("until_"))
    if by_profile:
        stmt = stmt.where(_events.c.profile_id == bindparam("profile_"))
    return DirectStatement(stmt.order_by(position).limit(bindparam("limit_")))


_EVENT_SELECT = select(*rows.EVENT_COLUMNS)
_PAGES = _paged(_EVENT_SELECT)
_PAGES_BY_PROFILE = _paged(_EVENT_SELECT, by_profile=True)
_EVENT_POSITION = rows.EVENT_FIELDS.index("position")
_PATH_OF_PAYLOAD = attrgetter("path_id")


class _Batch(NamedTuple):
    """A batch whose insert failed: its ids, the newest position before it, the error."""

    ids: builtins.list[str]
    last: int
    error: BaseException


class _BatchFailed(Exception):
    """Carries a failed batch out of its (rolled back) transaction."""

    def __init__(self, batch: _Batch) -> None:
        super().__init__("the batch's insert failed")
        self.batch = batch


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

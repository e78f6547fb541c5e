"""In-memory event log."""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterator, Mapping, Sequence

from phase_memory.errors import ConflictError, DuplicateEventError, NotFoundError
from phase_memory.memory.state import SharedState
from phase_memory.models import JsonObject, MemoryEvent, ReplayResult
from phase_memory.models.events import check_appendable
from phase_memory.models.limits import check_int64
from phase_memory.protocols import EventPayload
from phase_memory.replay import LoggedEvent, replay


class InMemoryEventLog:
    """:class:`~phase_memory.protocols.MemoryEventLog` kept in a Python list.

    Positions are 1, 2, 3, ... in append order.
    """

    def __init__(self, shared: SharedState) -> None:
        self._shared = shared

    def append(
        self, events: Sequence[MemoryEvent], *, expected_position: int | None = None
    ) -> builtins.list[int]:
        """Append a batch atomically; return the positions assigned."""
        check_appendable(events, expected_position)
        shared = self._shared
        with shared.transaction():
            last = len(shared.events)
            if expected_position is not None and expected_position != last:
                raise ConflictError(
                    f"log is at position {last}, expected {expected_position}"
                )
            seen: set[str] = set()
            for event in events:
                if event.event_id in shared.event_index or event.event_id in seen:
                    raise DuplicateEventError(event.event_id)
                seen.add(event.event_id)
            positions = []
            for offset, event in enumerate(events, start=1):
                position = last + offset
                shared.event_index[event.event_id] = len(shared.events)
                shared.events.append(event.model_copy(update={"position": position}))
                positions.append(position)
            return positions

    def get(self, event_id: str) -> MemoryEvent:
        """The event with this id."""
        with self._shared.lock:
            index = self._shared.event_index.get(event_id)
            if index is None:
                raise NotFoundError(f"event {event_id!r} does not exist")
            return self._shared.events[index]

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
        check_int64(after=after, limit=limit)
        kind_set = set(kinds) if kinds is not None else None
        with self._shared.lock:
            start = max(after or 0, 0)
            candidates = self._shared.events[start:]
        if newest_first:
            candidates = candidates[::-1]
        found: builtins.list[MemoryEvent] = []
        for event in candidates:
            if limit is not None and len(found) >= limit:
                break
            if (
                (profile_id is None or event.profile_id == profile_id)
                and (kind_set is None or event.kind in kind_set)
                and (path_id is None or event.path_id == path_id)
            ):
                found.append(event)
        return found

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
        return [
            EventPayload(e.position or 0, e.event_id, e.kind, e.path_id, e.payload)
            for e in self.list(profile_id, kinds, path_id, after, limit,
                               newest_first=newest_first)
        ]

    def newest_per_path(
        self, root_path_id: str, kinds: Sequence[str] | None = None
    ) -> builtins.list[EventPayload]:
        """The newest event (of ``kinds``) on each path of a conversation tree, by path id."""
        kind_set = set(kinds) if kinds is not None else None
        newest: dict[str, EventPayload] = {}
        # Walked from the newest end under the lock (no copy of the log): it stops
        # once every path of the tree has its event.
        with self._shared.lock:
            tree = {path.id for path in self._shared.graph.paths_in_tree(root_path_id)}
            for e in reversed(self._shared.events):
                if len(newest) == len(tree):
                    break
                path_id = e.path_id
                if (
                    path_id in tree
                    and path_id not in newest
                    and (kind_set is None or e.kind in kind_set)
                ):
                    newest[path_id] = EventPayload(
                        e.position or 0, e.event_id, e.kind, path_id, e.payload
                    )
        return [newest[path_id] for path_id in sorted(newest)]

    def iter(
        self, profile_id: str | None = None, after: int | None = None, until: int | None = None
    ) -> Iterator[MemoryEvent]:
        """Events in position order, ``after`` < position <= ``until``."""
        check_int64(after=after, until=until)
        with self._shared.lock:
            events = self._shared.events[max(after or 0, 0) : until]
        return iter([e for e in events if profile_id is None or e.profile_id == profile_id])

    def replay(self, until: int | None = None, path_id: str | None = None) -> ReplayResult:
        """Fold the log into a snapshot (see :func:`phase_memory.replay.replay`)."""
        check_int64(until=until)
        with self._shared.lock:
            events = list(self._shared.events)
        return replay((LoggedEvent.of(e) for e in events), until=until, path_id=path_id)

    def last_position(self) -> int:
        """Position of the newest event, 0 when empty."""
        with self._shared.lock:
            return len(self._shared.events)

    def find_mentioning(self, text: str, *others: str) -> builtins.list[MemoryEvent]:
        """Events whose payload JSON contains ``text`` (or any of ``others``)."""
        needles = [json.dumps(t, ensure_ascii=False)[1:-1] for t in (text, *others)]
        with self._shared.lock:
            events = list(self._shared.events)
        found = []
        for e in events:
            body = json.dumps(e.payload, ensure_ascii=False)
            if any(needle in body for needle in needles):
                found.append(e)
        return found

    def replace_payloads(self, payloads: Mapping[str, JsonObject]) -> None:
        """Rewrite event payloads by id (only ``forget`` does this)."""
        shared = self._shared
        with shared.transaction():
            for event_id, payload in payloads.items():
                index = shared.event_index.get(event_id)
                if index is None:
                    raise NotFoundError(f"event {event_id!r} does not exist")
                shared.replace_event(
                    index, shared.events[index].model_copy(update={"payload": payload})
                )

"""LangGraph checkpoints as events on conversational paths, through the public runtime.

Each checkpoint is one ``langgraph.checkpoint`` event and each ``put_writes``
call one ``langgraph.writes`` event, on the path of the checkpoint's thread
and namespace (see :mod:`phase_memory.langgraph.threads`). Payloads are JSON
(see :mod:`phase_memory.langgraph.encoding`).

The log stays append-only. A checkpoint put again with other content (LangGraph's
savers overwrite it) is a ``langgraph.checkpoint.replaced`` event after the first,
on the same path: a checkpoint reads as the newest of its events, and replay and
``phase-memory events`` show both. Writes stored again after their thread was
erased are a new writes event. Erasing (delete_thread, prune, delete_for_runs)
replaces payloads by a redaction marker, as forgetting does (the events stay),
and writes an audit record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from operator import itemgetter
from typing import Any

from phase_memory.errors import ConflictError, DuplicateEventError, NotFoundError
from phase_memory.langgraph.threads import (
    CHECKPOINT_KIND,
    REPLACED_KIND,
    WRITES_KIND,
    ThreadKey,
    root_path_id,
)
from phase_memory.models import (
    AuditOutcome,
    AuditRecord,
    JsonObject,
    MemoryEvent,
    Profile,
    new_id,
    utc_now,
)
from phase_memory.models.events import REDACTION_KEY
from phase_memory.protocols import EventPayload
from phase_memory.runtime import PhaseMemoryRuntime

_ALL_KINDS = (CHECKPOINT_KIND, REPLACED_KIND, WRITES_KIND)
_CHECKPOINT_KINDS = (CHECKPOINT_KIND, REPLACED_KIND)
_PLACEMENTS_KEPT = 10_000
_POSITION = itemgetter(0)  # of an EventPayload


def is_erased(event: EventPayload | MemoryEvent) -> bool:
    """Whether the event's payload was erased (deleted thread, pruned, deleted run)."""
    return REDACTION_KEY in event.payload


def _payload_of(event: MemoryEvent) -> EventPayload:
    return EventPayload(event.position or 0, event.event_id, event.kind, event.path_id,
                        event.payload)


class StoredCheckpoint:
    """A checkpoint: its first event, its newest (the content), and its writes events."""

    # A plain class with slots: one is built for every checkpoint listed.
    __slots__ = ("checkpoint_id", "event", "first", "replaced", "writes")

    def __init__(
        self,
        first: EventPayload,
        event: EventPayload,
        writes: list[EventPayload],
        replaced: list[EventPayload],
    ) -> None:
        self.first = first
        """The event that placed the checkpoint (its path and position)."""
        self.event = event
        """The newest event of the checkpoint (``first`` unless it was put again)."""
        self.writes = writes
        """Its live writes events, in position order."""
        self.replaced = replaced
        """The events of the checkpoint before ``event`` (re-puts), oldest first."""
        self.checkpoint_id = str(event.payload["checkpoint_id"])
        """The checkpoint's id."""

    @property
    def payload(self) -> JsonObject:
        """The checkpoint as stored last."""
        return self.event.payload


class CheckpointLog:
    """Reads and writes a profile's LangGraph checkpoints as events."""

    def __init__(self, mem: PhaseMemoryRuntime, profile_id: str) -> None:
        self.mem = mem
        self.profile_id = profile_id
        # Paths are never deleted, so one seen to exist stays known.
        self._known_paths: set[str] = set()
        self._placed: dict[str, tuple[str, int]] = {}
        if mem.graph.find_profile(profile_id) is None:
            mem.save_profile(
                Profile(
                    id=profile_id,
                    name="LangGraph threads",
                    description="Checkpoints of LangGraph threads, one conversation tree each.",
                )
            )

    # --- writing ---------------------------------------------------------------------

    def put_checkpoint(
        self,
        key: ThreadKey,
        checkpoint_id: str,
        parent_id: str | None,
        payload: JsonObject,
        *,
        check_first: bool = False,
    ) -> None:
        """Store a checkpoint on its path (a new branch when it forks).

        Put again, it is stored again after the first (nothing when the content is
        the same). ``check_first``: look for the checkpoint before writing (inside a
        caller's transaction, where a refused insert would spoil it on PostgreSQL).
        """
        event_id = key.checkpoint_event_id(checkpoint_id)
        if check_first and self.find(event_id) is not None:
            self._put_again(key, checkpoint_id, payload)
            return
        try:
            # One transaction: the fork check reads what the insert then extends. A
            # duplicate rolls it all back (on PostgreSQL too) before the re-put.
            with self.mem.store.transaction():
                path_id = self._path_for(key, checkpoint_id, parent_id)
                position = self._record(CHECKPOINT_KIND, event_id, path_id, payload)
        except DuplicateEventError:
            self._known_paths.clear()  # paths opened in the rolled-back transaction
            self._put_again(key, checkpoint_id, payload)
            return
        self._remember(event_id, path_id, position)

    def _put_again(self, key: ThreadKey, checkpoint_id: str, payload: JsonObject) -> None:
        """A checkpoint stored before: its new content as a ``replaced`` event, on its path."""
        first = self.find(key.checkpoint_event_id(checkpoint_id))
        if first is None or first.path_id is None:  # erased meanwhile by another writer
            raise ConflictError(f"checkpoint {checkpoint_id!r} changed while it was put again")
        events = self._events_of(key, checkpoint_id, _payload_of(first))
        if events[-1].payload == payload:
            return  # the same content: nothing to store
        number = len(events)  # the first, then replaced .1, .2, ...
        self._record(REPLACED_KIND, key.replaced_event_id(checkpoint_id, number),
                     first.path_id, payload)

    def put_writes(
        self,
        key: ThreadKey,
        checkpoint_id: str,
        event_id: str,
        payload: JsonObject,
        *,
        check_first: bool = False,
    ) -> None:
        """Store one ``put_writes`` call's writes; the very same call again changes nothing."""
        if check_first and self.find(event_id) is not None:
            self._restore(key, checkpoint_id, event_id, payload)
            return
        placed = self._placement(key.checkpoint_event_id(checkpoint_id))
        path_id = placed[0] if placed is not None else self._namespace_path(key)
        try:
            self._record(WRITES_KIND, event_id, path_id, payload)
        except DuplicateEventError:
            self._restore(key, checkpoint_id, event_id, payload)

    def _restore(
        self, key: ThreadKey, checkpoint_id: str, event_id: str, payload: JsonObject
    ) -> None:
        """A writes event stored before: kept; if it was erased since, stored again anew."""
        existing = self.find(event_id)
        if existing is None or not is_erased(existing) or existing.path_id is None:
            return
        again = key.writes_event_id(checkpoint_id, str(payload["task_id"]), (), salt=new_id())
        self._record(WRITES_KIND, again, existing.path_id, payload)

    def _record(self, kind: str, event_id: str, path_id: str, payload: JsonObject) -> int:
        event = MemoryEvent.model_construct(
            event_id=event_id,
            kind=kind,
            profile_id=self.profile_id,
            path_id=path_id,
            occurred_at=utc_now(),
            payload=payload,
            schema_version=1,
            actor=self.mem.actor,
            causation_id=None,
            position=None,
        )
        # The recorder's own entry point: every check as record_trusted, only the
        # position back (no copy of the event to carry it).
        [position] = self.mem.recorder.record_events([event])
        return position

    def _remember(self, event_id: str, path_id: str, position: int) -> None:
        # An event's path and position never change: safe to keep (bounded).
        if len(self._placed) >= _PLACEMENTS_KEPT:
            self._placed.clear()
        self._placed[event_id] = (path_id, position)

    def _placement(self, event_id: str) -> tuple[str, int] | None:
        """(path, position) of a stored event, from memory or the log."""
        placed = self._placed.get(event_id)
        if placed is not None:
            return placed
        event = self.find(event_id)
        if event is None or event.path_id is None or event.position is None:
            return None
        self._remember(event_id, event.path_id, event.position)
        return event.path_id, event.position

    def _path_for(self, key: ThreadKey, checkpoint_id: str, parent_id: str | None) -> str:
        """The path a new checkpoint goes on: its parent's, or a new branch when it forks."""
        if parent_id is None:
            return self._namespace_path(key)
        parent_event_id = key.checkpoint_event_id(parent_id)
        placed = self._placement(parent_event_id)
        if placed is None:
            return self._namespace_path(key)
        parent_path, parent_position = placed
        later = self.mem.events.payloads(
            path_id=parent_path, kinds=(CHECKPOINT_KIND,), after=parent_position, limit=1
        )
        if not later:
            return parent_path
        fork_id = key.fork_path_id(checkpoint_id)
        if not self._path_exists(fork_id):
            with suppress(ConflictError):  # opened meanwhile by another writer
                self.mem.paths.branch(parent_path, at=parent_event_id, new_path_id=fork_id)
            self._known_paths.add(fork_id)
        return fork_id

    def _namespace_path(self, key: ThreadKey) -> str:
        """The namespace's own path, opened (with the thread's root) on first use."""
        root = key.root_path_id
        if not self._path_exists(root):
            with suppress(ConflictError):  # opened meanwhile by another writer
                self.mem.paths.open(self.profile_id, path_id=root)
            self._known_paths.add(root)
        own = key.namespace_path_id
        if own != root and not self._path_exists(own):
            # A namespace branches off the root's opening: it inherits none of its checkpoints.
            [opened] = self.mem.events.list(path_id=root, limit=1)
            with suppress(ConflictError):  # opened meanwhile by another writer
                self.mem.paths.branch(root, at=opened.event_id, new_path_id=own)
            self._known_paths.add(own)
        return own

    def _path_exists(self, path_id: str) -> bool:
        if path_id in self._known_paths:
            return True
        if self.mem.graph.find_path(path_id) is None:
            return False
        self._known_paths.add(path_id)
        return True

    # --- reading ---------------------------------------------------------------------

    def find(self, event_id: str) -> MemoryEvent | None:
        """The event with this id, if stored."""
        try:
            return self.mem.events.get(event_id)
        except NotFoundError:
            return None

    def _events_of(
        self, key: ThreadKey, checkpoint_id: str, first: EventPayload
    ) -> list[EventPayload]:
        """The checkpoint's events, oldest first: ``first`` and those of its re-puts."""
        events = [first]
        while True:
            again = self.find(key.replaced_event_id(checkpoint_id, len(events)))
            if again is None:
                return events
            events.append(_payload_of(again))

    def checkpoint(self, key: ThreadKey, checkpoint_id: str) -> StoredCheckpoint | None:
        """One checkpoint with its writes (None when absent or erased)."""
        first = self.find(key.checkpoint_event_id(checkpoint_id))
        if first is None or first.path_id is None:
            return None
        return self._stored(self._events_of(key, checkpoint_id, _payload_of(first)))

    def _stored(self, events: list[EventPayload]) -> StoredCheckpoint | None:
        """The checkpoint of these events (oldest first), unless its newest is erased."""
        newest = events[-1]
        if is_erased(newest):
            return None
        return StoredCheckpoint(events[0], newest, self._writes_after(events[0], newest),
                                events[:-1])

    def latest(self, key: ThreadKey) -> StoredCheckpoint | None:
        """The namespace's checkpoint with the greatest id, over all its paths."""
        best: StoredCheckpoint | None = None
        # One read gives each path's newest event. Usually (a thread read between
        # runs) that is the first put of a live checkpoint, with no writes after
        # it: the path's newest checkpoint. Else the path is read further.
        for newest in self.mem.events.newest_per_path(key.root_path_id, _ALL_KINDS):
            path_id = newest.path_id
            if path_id is None or not key.owns_path(path_id):
                continue
            if newest.kind == CHECKPOINT_KIND and not is_erased(newest):
                found: StoredCheckpoint | None = StoredCheckpoint(newest, newest, [], [])
            else:
                found = self._newest_checkpoint(key, path_id)
            if found is not None and (best is None or found.checkpoint_id > best.checkpoint_id):
                best = found
        return best

    def _newest_checkpoint(self, key: ThreadKey, path_id: str) -> StoredCheckpoint | None:
        # The path's newest checkpoint event is usually a first put and live: it is
        # the newest checkpoint, with the writes after it. After a re-put, pruning
        # or a deleted run, read them all.
        found = self.mem.events.payloads(
            path_id=path_id, kinds=_CHECKPOINT_KINDS, limit=1, newest_first=True
        )
        if not found:
            return None
        [newest] = found
        if newest.kind == CHECKPOINT_KIND and not is_erased(newest):
            return StoredCheckpoint(newest, newest, self._writes_after(newest, newest), [])
        stored = _grouped(self.mem.events.payloads(path_id=path_id, kinds=_ALL_KINDS))
        mine = [s for s in stored if s.payload.get("checkpoint_ns") == key.checkpoint_ns]
        return max(mine, key=lambda s: s.checkpoint_id, default=None)

    def _writes_after(self, first: EventPayload, newest: EventPayload) -> list[EventPayload]:
        checkpoint_id = newest.payload["checkpoint_id"]
        return [
            event
            for event in self.mem.events.payloads(
                path_id=first.path_id, kinds=(WRITES_KIND,), after=first.position
            )
            if not is_erased(event) and event.payload.get("checkpoint_id") == checkpoint_id
        ]

    def thread_checkpoints(
        self, thread_id: str | None, checkpoint_ns: str | None = None
    ) -> list[StoredCheckpoint]:
        """Live checkpoints of a thread (one namespace, or all; every thread when None)."""
        if thread_id is None:
            events = self.mem.events.payloads(profile_id=self.profile_id, kinds=_ALL_KINDS)
        else:
            key = ThreadKey(thread_id, checkpoint_ns or "")
            tree = self.mem.graph.paths_in_tree(root_path_id(thread_id))
            events = []
            for path in tree:
                if checkpoint_ns is None or key.owns_path(path.id):
                    events.extend(self.mem.events.payloads(path_id=path.id, kinds=_ALL_KINDS))
        return _grouped(events)

    def thread_events(self, thread_id: str) -> list[EventPayload]:
        """Every live checkpoint and writes event of a thread, all namespaces and forks."""
        events: list[EventPayload] = []
        for path in self.mem.graph.paths_in_tree(root_path_id(thread_id)):
            found = self.mem.events.payloads(path_id=path.id, kinds=_ALL_KINDS)
            events.extend(event for event in found if not is_erased(event))
        return events

    def checkpoints_of_runs(self, run_ids: set[str]) -> list[StoredCheckpoint]:
        """Live checkpoints (every thread) whose metadata names one of ``run_ids``."""
        return [
            stored
            for stored in self.thread_checkpoints(None)
            if _run_id(stored.payload) in run_ids
        ]

    # --- erasing ---------------------------------------------------------------------

    def erase(
        self,
        events: Iterable[EventPayload],
        *,
        operation: str,
        subject_ids: Sequence[str],
        details: JsonObject,
    ) -> int:
        """Erase the events' payloads and audit it (even when none); returns events erased."""
        at = utc_now()
        marker: JsonObject = {
            REDACTION_KEY: {"erased_by": operation, "at": at.isoformat().replace("+00:00", "Z")}
        }
        event_ids = sorted({event.event_id for event in events})
        with self.mem.store.transaction():
            self.mem.events.replace_payloads({event_id: marker for event_id in event_ids})
            self.mem.audit.record(
                AuditRecord(
                    id=new_id(),
                    at=at,
                    actor=self.mem.actor,
                    operation=operation,
                    subject_ids=list(subject_ids),
                    outcome=AuditOutcome.APPLIED,
                    details={**details, "events_erased": len(event_ids)},
                )
            )
        return len(event_ids)


def _run_id(payload: JsonObject) -> Any:
    metadata = payload.get("metadata")
    return metadata.get("run_id") if isinstance(metadata, dict) else None


def _grouped(events: Iterable[EventPayload]) -> list[StoredCheckpoint]:
    """Live checkpoints (the newest event of each) with their live writes, in position order."""
    firsts: dict[tuple[Any, Any, Any], EventPayload] = {}
    newest: dict[tuple[Any, Any, Any], EventPayload] = {}
    earlier: dict[tuple[Any, Any, Any], list[EventPayload]] = {}
    writes: dict[tuple[Any, Any, Any], list[EventPayload]] = {}
    for event in sorted(events, key=_POSITION):
        p = event.payload
        if REDACTION_KEY in p:
            continue  # erasing takes every event of a checkpoint: a later put is live again
        group = (p.get("thread_id"), p.get("checkpoint_ns"), p.get("checkpoint_id"))
        kind = event.kind
        if kind == CHECKPOINT_KIND:
            firsts[group] = newest[group] = event
        elif kind == REPLACED_KIND:
            if group in newest:
                earlier.setdefault(group, []).append(newest[group])
            else:
                firsts[group] = event
            newest[group] = event
        else:
            writes.setdefault(group, []).append(event)
    return [
        StoredCheckpoint(first, newest[group], writes.get(group) or [], earlier.get(group) or [])
        for group, first in firsts.items()
    ]


def events_of(checkpoints: Iterable[StoredCheckpoint]) -> list[EventPayload]:
    """The checkpoints' events (every put of each) and their writes events."""
    found: dict[str, EventPayload] = {}
    for stored in checkpoints:
        for event in (stored.first, *stored.replaced, stored.event, *stored.writes):
            found[event.event_id] = event
    return list(found.values())


__all__ = ["CheckpointLog", "StoredCheckpoint", "events_of", "is_erased"]

"""LangGraph checkpoints as events on conversational paths, through the public runtime.

Each checkpoint is one ``langgraph.checkpoint`` event and each ``put_writes``
call one ``langgraph.writes`` event, on the path of the checkpoint's thread
and namespace (see :mod:`phase_memory.langgraph.threads`). Payloads are JSON
(see :mod:`phase_memory.langgraph.encoding`). Erasing replaces the payloads
of a thread's events by a redaction marker (the event log keeps the events,
as it does for forgotten nodes) and writes an audit record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from phase_memory.errors import ConflictError, DuplicateEventError, NotFoundError
from phase_memory.langgraph.threads import CHECKPOINT_KIND, WRITES_KIND, ThreadKey, root_path_id
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
from phase_memory.runtime import PhaseMemoryRuntime

_BOTH_KINDS = [CHECKPOINT_KIND, WRITES_KIND]
_PLACEMENTS_KEPT = 10_000


def is_erased(event: MemoryEvent) -> bool:
    """Whether the event's payload was erased (deleted thread, pruned, deleted run)."""
    return REDACTION_KEY in event.payload


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint event with the writes events that belong to it (position order)."""

    event: MemoryEvent
    writes: list[MemoryEvent]

    @property
    def payload(self) -> JsonObject:
        """The checkpoint event's payload."""
        return self.event.payload

    @property
    def checkpoint_id(self) -> str:
        """The checkpoint's id."""
        return str(self.event.payload["checkpoint_id"])


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
        """Store a checkpoint on its path (a new branch when it forks); a re-put replaces.

        ``check_first``: look for the checkpoint before writing (inside a caller's
        transaction, where a refused insert would spoil the transaction on PostgreSQL).
        """
        event_id = key.checkpoint_event_id(checkpoint_id)
        if check_first and self.find(event_id) is not None:
            self.mem.events.replace_payloads({event_id: payload})
            return
        try:
            # One transaction: the fork check reads what the insert then extends. A
            # duplicate rolls it all back (on PostgreSQL too) before the replace.
            with self.mem.store.transaction():
                path_id = self._path_for(key, checkpoint_id, parent_id)
                position = self._record(CHECKPOINT_KIND, event_id, path_id, payload)
        except DuplicateEventError:
            self._known_paths.clear()  # paths opened in the rolled-back transaction
            self.mem.events.replace_payloads({event_id: payload})
            return
        self._remember(event_id, path_id, position)

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
            self._restore(event_id, payload)
            return
        placed = self._placement(key.checkpoint_event_id(checkpoint_id))
        path_id = placed[0] if placed is not None else self._namespace_path(key)
        try:
            self._record(WRITES_KIND, event_id, path_id, payload)
        except DuplicateEventError:
            self._restore(event_id, payload)

    def _restore(self, event_id: str, payload: JsonObject) -> None:
        """A writes event stored before: erased since, it is stored again; else kept."""
        existing = self.find(event_id)
        if existing is not None and is_erased(existing):
            self.mem.events.replace_payloads({event_id: payload})

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
        [recorded] = self.mem.record_trusted([event])
        return recorded.position or 0

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
        later = self.mem.events.list(
            path_id=parent_path, kinds=[CHECKPOINT_KIND], after=parent_position, limit=1
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

    def checkpoint(self, key: ThreadKey, checkpoint_id: str) -> StoredCheckpoint | None:
        """One checkpoint with its writes (None when absent or erased)."""
        event = self.find(key.checkpoint_event_id(checkpoint_id))
        if event is None or is_erased(event) or event.path_id is None:
            return None
        return StoredCheckpoint(event, self._writes_after(event))

    def latest(self, key: ThreadKey) -> StoredCheckpoint | None:
        """The namespace's checkpoint with the greatest id, over all its paths."""
        best: MemoryEvent | None = None
        for path_id in self.paths_of(key):
            newest = self._newest_checkpoint(path_id)
            if newest is not None and (
                best is None
                or str(newest.payload["checkpoint_id"]) > str(best.payload["checkpoint_id"])
            ):
                best = newest
        return None if best is None else StoredCheckpoint(best, self._writes_after(best))

    def _newest_checkpoint(self, path_id: str) -> MemoryEvent | None:
        # Usually the newest event is live; after pruning or a deleted run look further back.
        for limit in (1, 16, None):
            found = self.mem.events.list(
                path_id=path_id, kinds=[CHECKPOINT_KIND], limit=limit, newest_first=True
            )
            for event in found:
                if not is_erased(event):
                    return event
            if limit is None or len(found) < limit:
                return None
        return None

    def _writes_after(self, checkpoint: MemoryEvent) -> list[MemoryEvent]:
        checkpoint_id = checkpoint.payload["checkpoint_id"]
        return [
            event
            for event in self.mem.events.list(
                path_id=checkpoint.path_id, kinds=[WRITES_KIND], after=checkpoint.position
            )
            if not is_erased(event) and event.payload.get("checkpoint_id") == checkpoint_id
        ]

    def paths_of(self, key: ThreadKey) -> list[str]:
        """The paths holding checkpoints of this namespace (its own and its forks)."""
        tree = self.mem.graph.paths_in_tree(key.root_path_id)
        return [path.id for path in tree if key.owns_path(path.id)]

    def thread_checkpoints(
        self, thread_id: str | None, checkpoint_ns: str | None = None
    ) -> list[StoredCheckpoint]:
        """Live checkpoints of a thread (one namespace, or all; every thread when None)."""
        if thread_id is None:
            events = self.mem.events.list(profile_id=self.profile_id, kinds=_BOTH_KINDS)
        else:
            key = ThreadKey(thread_id, checkpoint_ns or "")
            tree = self.mem.graph.paths_in_tree(root_path_id(thread_id))
            events = []
            for path in tree:
                if checkpoint_ns is None or key.owns_path(path.id):
                    events.extend(self.mem.events.list(path_id=path.id, kinds=_BOTH_KINDS))
        return _grouped(events)

    def thread_events(self, thread_id: str) -> list[MemoryEvent]:
        """Every live checkpoint and writes event of a thread, all namespaces and forks."""
        events: list[MemoryEvent] = []
        for path in self.mem.graph.paths_in_tree(root_path_id(thread_id)):
            found = self.mem.events.list(path_id=path.id, kinds=_BOTH_KINDS)
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
        events: Iterable[MemoryEvent],
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


def _grouped(events: Iterable[MemoryEvent]) -> list[StoredCheckpoint]:
    """Live checkpoint events with their live writes, in position order."""
    checkpoints: dict[tuple[Any, Any, Any], MemoryEvent] = {}
    writes: dict[tuple[Any, Any, Any], list[MemoryEvent]] = {}
    for event in sorted(events, key=lambda e: e.position or 0):
        if is_erased(event):
            continue
        p = event.payload
        group = (p.get("thread_id"), p.get("checkpoint_ns"), p.get("checkpoint_id"))
        if event.kind == CHECKPOINT_KIND:
            checkpoints[group] = event
        else:
            writes.setdefault(group, []).append(event)
    return [StoredCheckpoint(event, writes.get(group, [])) for group, event in checkpoints.items()]


def events_of(checkpoints: Iterable[StoredCheckpoint]) -> list[MemoryEvent]:
    """The checkpoints' events and their writes events."""
    return [event for stored in checkpoints for event in (stored.event, *stored.writes)]


__all__ = ["CheckpointLog", "StoredCheckpoint", "events_of", "is_erased"]

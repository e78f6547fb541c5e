"""Conversational paths: open, branch, merge, abandon, activate, and their histories.

Every operation is recorded as a structured ``path.*`` event; the path rows
are the projection of those events.
"""

from __future__ import annotations

import builtins

from phase_memory.errors import PathStateError, ValidationError
from phase_memory.models import (
    MemoryEvent,
    MemoryPath,
    PathAbandoned,
    PathActivated,
    PathMerged,
    PathOpened,
    PathStatus,
    new_id,
    utc_now,
)
from phase_memory.recorder import Recorder
from phase_memory.replay import LoggedEvent, effective_history


class PathsAPI:
    """``mem.paths``: branches of conversations, as events."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def get(self, path_id: str) -> MemoryPath:
        """The path with this id."""
        return self._recorder.store.graph.get_path(path_id)

    def list(self, profile_id: str | None = None) -> builtins.list[MemoryPath]:
        """Paths by id, optionally of one profile."""
        return self._recorder.store.graph.list_paths(profile_id)

    def open(
        self, profile_id: str, *, path_id: str | None = None, active: bool = True
    ) -> MemoryPath:
        """Start a new conversation: a root path, active in its own tree by default."""
        recorder = self._recorder
        pid = path_id or new_id()
        now = utc_now()
        path = MemoryPath(
            id=pid, profile_id=profile_id, root_path_id=pid, active=active,
            created_at=now, updated_at=now,
        )
        opened = recorder.new_event("path.opened", profile_id, PathOpened(path=path), path_id=pid)
        recorder.record_trusted([opened])
        return path

    def branch(
        self,
        path_id: str,
        *,
        at: str | None = None,
        new_path_id: str | None = None,
        activate: bool = False,
    ) -> MemoryPath:
        """Fork a child path from ``path_id`` at event ``at`` (default: its latest event).

        The child's history is the parent's effective history up to and
        including ``at``, then its own events.
        """
        recorder = self._recorder
        with recorder.store.transaction():
            parent = self.get(path_id)
            history = self._history(parent)
            if not history:
                raise PathStateError(f"path {path_id!r} has no events to branch from")
            if at is None:
                at = history[-1].event_id
            elif all(event.event_id != at for event in history):
                raise ValidationError(
                    f"event {at!r} is not in the history of path {path_id!r}; "
                    "a branch must fork at one of its events"
                )
            child_id = new_path_id or new_id()
            now = utc_now()
            child = MemoryPath(
                id=child_id, profile_id=parent.profile_id, parent_path_id=parent.id,
                fork_event_id=at, root_path_id=parent.tree_id, active=activate,
                created_at=now, updated_at=now,
            )
            recorder.record_trusted(
                [
                    recorder.new_event(
                        "path.branched", parent.profile_id, PathOpened(path=child),
                        path_id=child_id,
                    )
                ]
            )
        return self.get(child_id)

    def merge(self, path_id: str, *, into: str) -> MemoryPath:
        """Merge a branch into ``into``: its own events join the target's history here.

        Refused for a merged or abandoned source, a closed target, a target in
        another profile, and a target that descends from the source.
        """
        recorder = self._recorder
        with recorder.store.transaction():
            source = self.get(path_id)
            target = self.get(into)
            if source.id == target.id:
                raise PathStateError("a path cannot be merged into itself")
            if source.status is not PathStatus.OPEN:
                raise PathStateError(f"path {source.id!r} is already {source.status.value}")
            if target.status is not PathStatus.OPEN:
                raise PathStateError(f"target path {target.id!r} is {target.status.value}")
            if source.profile_id != target.profile_id:
                raise PathStateError("paths of different profiles cannot be merged")
            if source.id in {p.id for p in self.lineage(target.id)}:
                raise PathStateError(
                    f"path {target.id!r} descends from {source.id!r}; "
                    "a path cannot be merged into its own descendant"
                )
            recorder.record_trusted(
                [
                    recorder.new_event(
                        "path.merged",
                        target.profile_id,
                        PathMerged(source_path_id=source.id, target_path_id=target.id),
                        path_id=target.id,
                    )
                ]
            )
        return self.get(path_id)

    def abandon(self, path_id: str, *, reason: str) -> MemoryPath:
        """Mark a path abandoned; its events are kept."""
        recorder = self._recorder
        with recorder.store.transaction():
            path = self.get(path_id)
            if path.status is not PathStatus.OPEN:
                raise PathStateError(f"path {path_id!r} is already {path.status.value}")
            recorder.record_trusted(
                [
                    recorder.new_event(
                        "path.abandoned", path.profile_id,
                        PathAbandoned(path_id=path_id, reason=reason), path_id=path_id,
                    )
                ]
            )
        return self.get(path_id)

    def activate(self, path_id: str) -> MemoryPath:
        """Make this path the active one of its conversation tree."""
        recorder = self._recorder
        with recorder.store.transaction():
            path = self.get(path_id)
            if path.status is not PathStatus.OPEN:
                raise PathStateError(
                    f"path {path_id!r} is {path.status.value} and cannot be active"
                )
            recorder.record_trusted(
                [
                    recorder.new_event(
                        "path.activated", path.profile_id, PathActivated(path_id=path_id),
                        path_id=path_id,
                    )
                ]
            )
        return self.get(path_id)

    def lineage(self, path_id: str) -> builtins.list[MemoryPath]:
        """The path and its ancestors, root first."""
        chain: builtins.list[MemoryPath] = []
        current: MemoryPath | None = self.get(path_id)
        seen: set[str] = set()
        while current is not None and current.id not in seen:
            seen.add(current.id)
            chain.append(current)
            parent_id = current.parent_path_id
            current = self._recorder.store.graph.find_path(parent_id) if parent_id else None
        chain.reverse()
        return chain

    def events(self, path_id: str) -> builtins.list[MemoryEvent]:
        """The path's effective history: inherited prefix, own events, merged branches."""
        return self._history(self.get(path_id))

    def _history(self, path: MemoryPath) -> builtins.list[MemoryEvent]:
        events = self._recorder.store.events.list(profile_id=path.profile_id)
        by_id = {e.event_id: e for e in events}
        logged = [LoggedEvent.of(e) for e in events]
        return [by_id[e.event_id] for e in effective_history(logged, path.id)]


__all__ = ["PathsAPI"]

"""A path's effective history: the events it "remembers", in the order they apply."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from pydantic import ValidationError as PydanticValidationError

from phase_memory.models import MemoryPath, PathMerged, PathOpened
from phase_memory.replay.effects import MalformedEvent, ReplayConflict
from phase_memory.replay.logged_event import LoggedEvent, parse_payload


def effective_history(events: Sequence[LoggedEvent], path_id: str) -> list[LoggedEvent]:
    """The events a path "remembers", in the order they apply.

    A branch inherits its parent's effective history up to and including the
    fork event, then has its own events; a merged branch's own events enter the
    target's history just before the ``path.merged`` event that merged them.
    Events without a ``path_id`` (shared memory) belong to every path of their
    profile, at their position. Unknown paths have an empty history.
    """
    by_path: dict[str, list[LoggedEvent]] = defaultdict(list)
    shared: dict[str, list[LoggedEvent]] = defaultdict(list)
    parents: dict[str, tuple[str | None, str | None, str]] = {}
    for event in events:
        if event.path_id is None:
            shared[event.profile_id].append(event)
        else:
            by_path[event.path_id].append(event)
        if event.kind in ("path.opened", "path.branched"):
            try:
                path = parse_payload(event, PathOpened).path
            except ReplayConflict:
                continue
            parents[path.id] = (path.parent_path_id, path.fork_event_id, path.profile_id)
        elif event.kind == "graph.imported":
            # Paths an envelope import brought in have no path.opened event here.
            for pid, lineage in _imported_paths(event):
                parents.setdefault(pid, lineage)

    def merged_source(event: LoggedEvent) -> str | None:
        try:
            return parse_payload(event, PathMerged).source_path_id
        except ReplayConflict:
            return None

    def keyed_own(pid: str, seen: frozenset[str]) -> list[tuple[int, int, int, LoggedEvent]]:
        # A path's own events keyed by position; the events of a branch merged
        # into it are keyed by the position of the ``path.merged`` event (and
        # sort just before it, in the branch's own order).
        keyed: list[tuple[int, int, int, LoggedEvent]] = []
        for event in by_path.get(pid, ()):
            if event.kind == "path.merged":
                source = merged_source(event)
                if source is not None and source not in seen:
                    merged_in = contribution(source, seen | {source})
                    keyed.extend((event.position, 0, sub, e) for sub, e in enumerate(merged_in))
            keyed.append((event.position, 1, 0, event))
        return keyed

    def contribution(pid: str, seen: frozenset[str]) -> list[LoggedEvent]:
        # What a path brings to the target it is merged into: its own events,
        # with the branches merged into it in turn, but no shared events (the
        # target has those at their own positions already).
        return [item[3] for item in sorted(keyed_own(pid, seen), key=_sort_key)]

    def history(pid: str, seen: frozenset[str]) -> list[LoggedEvent]:
        if pid not in parents:
            return []
        parent, fork_event_id, profile_id = parents[pid]
        prefix: list[LoggedEvent] = []
        fork_position = 0
        if parent is not None and parent not in seen:
            inherited = history(parent, seen | {parent})
            for index, event in enumerate(inherited):
                if event.event_id == fork_event_id:
                    prefix = inherited[: index + 1]
                    fork_position = event.position
                    break
        # Shared events after the fork, unless the prefix holds them already (a
        # fork at an event merged in from another branch sorts after them).
        in_prefix = {e.event_id for e in prefix}
        keyed = keyed_own(pid, seen)
        keyed.extend(
            (e.position, 1, 0, e)
            for e in shared.get(profile_id, ())
            if e.position > fork_position and e.event_id not in in_prefix
        )
        keyed.sort(key=_sort_key)
        return prefix + [item[3] for item in keyed]

    return history(path_id, frozenset({path_id}))


def _imported_paths(event: LoggedEvent) -> list[tuple[str, tuple[str | None, str | None, str]]]:
    """The paths of a ``graph.imported`` event, each with its parent, fork event and profile.

    Only the ``paths`` array is read: most import events carry nodes or edges,
    and their payloads (when still JSON text) are not parsed for nothing.
    """
    payload = event.payload
    if isinstance(payload, str) and '"paths":[]' in payload:
        return []
    try:
        records = event.payload_dict().get("paths")
    except (ValueError, MalformedEvent):
        return []
    found = []
    for record in records if isinstance(records, list) else ():
        try:
            path = MemoryPath.model_validate(record)
        except PydanticValidationError:
            continue  # the fold reports the malformed record
        found.append((path.id, (path.parent_path_id, path.fork_event_id, path.profile_id)))
    return found


def _sort_key(item: tuple[int, int, int, LoggedEvent]) -> tuple[int, int, int]:
    return item[0], item[1], item[2]

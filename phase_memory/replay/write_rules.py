"""The rules every record an event puts must keep, written once for every writer.

The fold (:mod:`phase_memory.replay.fold`) calls these while deciding an event's
effects, so ``record``, every importer and a replay of the log refuse the same
records, and nothing accepted is what ``diagnose()`` calls broken:

- the records an event carries belong to the event's profile;
- a forgotten node holds no label, content or attributes (forgetting erases them);
- a merged path names the path it was merged into;
- a path's summary node exists;
- a superseding fact does not start before the fact it supersedes, unless the
  write is a correction (:func:`superseded_until`);
- a profile's kind allow-lists admit its nodes' and edges' kinds
  (:func:`kind_refusal`, which the recorder's checks and every importer's
  pre-checks share).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from phase_memory.models import (
    MemoryEdge,
    MemoryNode,
    MemoryPath,
    NodeState,
    PathStatus,
    Profile,
    effective_from,
)
from phase_memory.replay.effects import MalformedEvent, ReplayConflict


def check_owner(what: str, record_id: str, record_profile_id: str, event_profile_id: str) -> None:
    """Refuse a record that belongs to another profile than its event."""
    if record_profile_id != event_profile_id:
        raise MalformedEvent(
            f"{what} {record_id!r} belongs to profile {record_profile_id!r}, not to the "
            f"event's profile {event_profile_id!r}"
        )


def check_node(node: MemoryNode) -> None:
    """Refuse a forgotten node that still holds its label, content or attributes."""
    if node.state is NodeState.FORGOTTEN and (node.label or node.content or node.attributes):
        raise MalformedEvent(
            f"node {node.id!r} is forgotten but still holds its label, content or "
            "attributes; forget it with an approved forget action"
        )


def check_path(path: MemoryPath, node_exists: Callable[[str], bool]) -> None:
    """Refuse a merged path without a merge target, or a summary node that does not exist."""
    if path.status is PathStatus.MERGED and path.merged_into_path_id is None:
        raise MalformedEvent(f"path {path.id!r} is merged but names no merge target")
    summary = path.summary_node_id
    if summary is not None and not node_exists(summary):
        raise ReplayConflict(
            f"path {path.id!r} names summary node {summary!r}, which does not exist"
        )


def superseded_until(
    what: Literal["node", "edge"],
    old: MemoryNode | MemoryEdge,
    new: MemoryNode | MemoryEdge,
    *,
    correction: bool,
) -> datetime:
    """The ``valid_to`` that ``old`` gets when ``new`` supersedes it.

    Normally the new fact's start. A new start before the old fact's would
    make the intervals overlap backwards: refused, unless the write is a
    correction (the old fact never held; its interval becomes empty, ending
    where it starts). Superseding only ever shortens: an old fact that
    already ended earlier keeps its end.
    """
    old_start, new_start = effective_from(old), effective_from(new)
    if new_start >= old_start:
        return new_start if old.valid_to is None else min(old.valid_to, new_start)
    if not correction:
        raise MalformedEvent(
            f"{what} {new.id!r} starts at {new_start.isoformat()}, before {what} {old.id!r} "
            f"it supersedes ({old_start.isoformat()}); if {old.id!r} was wrong from the "
            "start, record the change as a correction (correction=True)"
        )
    return old_start


def kind_refusal(profile: Profile, what: Literal["node", "edge"], kind: str) -> str | None:
    """Why ``profile``'s policy refuses a ``what`` of ``kind`` (None when it allows it)."""
    policy = profile.policy
    allowed = policy.allows_node_kind(kind) if what == "node" else policy.allows_edge_kind(kind)
    return None if allowed else f"profile {profile.id!r} does not allow {what} kind {kind!r}"


__all__ = ["check_node", "check_owner", "check_path", "kind_refusal", "superseded_until"]

"""Small builders for the conformance specs: records with fixed, readable defaults.

Every builder takes explicit ids and uses fixed timestamps (:data:`T0` plus an
offset), so two stores fed the same records hold equal data and a failing
assertion shows ids a person can read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from phase_memory.models import (
    ActivationItem,
    ActivationPlan,
    AuditOutcome,
    AuditRecord,
    GraphSnapshot,
    JsonObject,
    MemoryEdge,
    MemoryEvent,
    MemoryNode,
    MemoryPath,
    Profile,
)
from phase_memory.protocols import MemoryStore

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
"""The fixed time every builder starts from."""

P1 = "p1"
"""The default profile id."""


def at(seconds: float = 0) -> datetime:
    """``T0`` plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


def profile(profile_id: str = P1, **fields: Any) -> Profile:
    """A profile with fixed timestamps."""
    fields.setdefault("name", f"profile {profile_id}")
    return Profile(id=profile_id, created_at=T0, updated_at=T0, **fields)


def node(node_id: str, profile_id: str = P1, **fields: Any) -> MemoryNode:
    """A node of kind ``note`` labelled after its id."""
    fields.setdefault("kind", "note")
    fields.setdefault("label", f"label of {node_id}")
    fields.setdefault("created_at", T0)
    fields.setdefault("updated_at", T0)
    return MemoryNode(id=node_id, profile_id=profile_id, **fields)


def edge(
    edge_id: str, source_id: str, target_id: str, profile_id: str = P1, **fields: Any
) -> MemoryEdge:
    """An edge of kind ``related``."""
    fields.setdefault("kind", "related")
    fields.setdefault("created_at", T0)
    fields.setdefault("updated_at", T0)
    return MemoryEdge(
        id=edge_id, profile_id=profile_id, source_id=source_id, target_id=target_id, **fields
    )


def path(path_id: str, profile_id: str = P1, **fields: Any) -> MemoryPath:
    """A path (a root unless ``parent_path_id`` is given)."""
    fields.setdefault("created_at", T0)
    fields.setdefault("updated_at", T0)
    return MemoryPath(id=path_id, profile_id=profile_id, **fields)


def plan(
    plan_id: str, profile_id: str = P1, node_ids: Sequence[str] = (), **fields: Any
) -> ActivationPlan:
    """A stored activation plan ranking ``node_ids`` in order."""
    items = [
        ActivationItem(node_id=n, rank=rank, score=1.0 / rank, label=f"label of {n}")
        for rank, n in enumerate(node_ids, start=1)
    ]
    fields.setdefault("query", "what do I know")
    fields.setdefault("budget", 10)
    fields.setdefault("created_at", T0)
    return ActivationPlan(id=plan_id, profile_id=profile_id, items=items, **fields)


def audit(
    record_id: str,
    operation: str = "node.save",
    outcome: AuditOutcome = AuditOutcome.APPLIED,
    seconds: float = 0,
    **fields: Any,
) -> AuditRecord:
    """An audit record at ``T0 + seconds``."""
    return AuditRecord(id=record_id, operation=operation, outcome=outcome, at=at(seconds), **fields)


def event(
    kind: str,
    payload: JsonObject | None = None,
    *,
    event_id: str | None = None,
    profile_id: str = P1,
    path_id: str | None = None,
    seconds: float = 0,
    **fields: Any,
) -> MemoryEvent:
    """An event of any kind (a generated id unless ``event_id`` is given)."""
    if event_id is not None:
        fields["event_id"] = event_id
    return MemoryEvent(
        kind=kind,
        payload=payload or {},
        profile_id=profile_id,
        path_id=path_id,
        occurred_at=at(seconds),
        **fields,
    )


def _dump(record: Any) -> JsonObject:
    return record.model_dump(mode="json")  # type: ignore[no-any-return]


def profile_saved(record: Profile, **fields: Any) -> MemoryEvent:
    """A ``profile.saved`` event carrying ``record``."""
    fields.setdefault("profile_id", record.id)
    return event("profile.saved", {"profile": _dump(record)}, **fields)


def node_saved(record: MemoryNode, **fields: Any) -> MemoryEvent:
    """A ``node.saved`` event carrying ``record``."""
    fields.setdefault("profile_id", record.profile_id)
    return event("node.saved", {"node": _dump(record)}, **fields)


def edge_saved(record: MemoryEdge, **fields: Any) -> MemoryEvent:
    """An ``edge.saved`` event carrying ``record``."""
    fields.setdefault("profile_id", record.profile_id)
    return event("edge.saved", {"edge": _dump(record)}, **fields)


def path_opened(record: MemoryPath, **fields: Any) -> MemoryEvent:
    """A ``path.opened`` (root) or ``path.branched`` (child) event, in the new path."""
    kind = "path.opened" if record.parent_path_id is None else "path.branched"
    fields.setdefault("profile_id", record.profile_id)
    fields.setdefault("path_id", record.id)
    return event(kind, {"path": _dump(record)}, **fields)


def seed(store: MemoryStore, *records: Profile | MemoryNode | MemoryEdge | MemoryPath) -> None:
    """Save records through the graph store, in the order given."""
    for record in records:
        if isinstance(record, Profile):
            store.graph.save_profile(record)
        elif isinstance(record, MemoryNode):
            store.graph.save_node(record)
        elif isinstance(record, MemoryEdge):
            store.graph.save_edge(record)
        else:
            store.graph.save_path(record)


def ids(records: Sequence[Any]) -> list[str]:
    """The ids of records (``event_id`` for events), in order."""
    return [r.event_id if isinstance(r, MemoryEvent) else r.id for r in records]


def without_position(snapshot: GraphSnapshot) -> GraphSnapshot:
    """The snapshot with ``position`` zeroed, to compare a replay with stored tables."""
    return snapshot.model_copy(update={"position": 0})

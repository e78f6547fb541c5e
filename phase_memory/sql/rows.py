"""Models to table rows and back.

Reads select exactly the columns of a model (never a surrogate key such as
``nodes.node_seq``) and validate them with the model's own pydantic-core
validator (what ``Model.model_validate`` runs, without its per-call keyword
handling, which cost about as much again on a hot read), so a row edited by
hand into something invalid is reported, not silently accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Column

from phase_memory import json_codec
from phase_memory.errors import IntegrityError
from phase_memory.models import (
    ActivationItem,
    ActivationPlan,
    AuditRecord,
    MemoryEdge,
    MemoryEvent,
    MemoryNode,
    MemoryPath,
    Profile,
)
from phase_memory.models.limits import STORED
from phase_memory.protocols import EventPayload
from phase_memory.sql import tables as t

_M = TypeVar("_M", bound=BaseModel)


def _columns(table: Any, names: Iterable[str]) -> list[Column[Any]]:
    return [table.c[name] for name in names]


PROFILE_COLUMNS = _columns(t.profiles, Profile.model_fields)
NODE_COLUMNS = _columns(t.nodes, MemoryNode.model_fields)
EDGE_COLUMNS = _columns(t.edges, MemoryEdge.model_fields)
PATH_COLUMNS = _columns(t.paths, MemoryPath.model_fields)
EVENT_COLUMNS = _columns(t.events, MemoryEvent.model_fields)
PAYLOAD_COLUMNS = _columns(t.events, EventPayload._fields)
PLAN_COLUMNS = _columns(
    t.activation_plans, (f for f in ActivationPlan.model_fields if f != "items")
)
ITEM_COLUMNS = _columns(t.activation_items, ActivationItem.model_fields)
AUDIT_COLUMNS = _columns(t.audit_records, AuditRecord.model_fields)

PROFILE_FIELDS = tuple(c.name for c in PROFILE_COLUMNS)
NODE_FIELDS = tuple(c.name for c in NODE_COLUMNS)
EDGE_FIELDS = tuple(c.name for c in EDGE_COLUMNS)
PATH_FIELDS = tuple(c.name for c in PATH_COLUMNS)
EVENT_FIELDS = tuple(c.name for c in EVENT_COLUMNS)
PLAN_FIELDS = tuple(c.name for c in PLAN_COLUMNS)
ITEM_FIELDS = tuple(c.name for c in ITEM_COLUMNS)
AUDIT_FIELDS = tuple(c.name for c in AUDIT_COLUMNS)


# --- models to rows -----------------------------------------------------------------


def profile_row(profile: Profile) -> dict[str, Any]:
    """The ``profiles`` row of a profile."""
    return {
        "id": profile.id,
        "name": profile.name,
        "description": profile.description,
        "policy": profile.policy.model_dump(mode="json"),
        "attributes": profile.attributes,
        "created_at": profile.created_at,
        "updated_at": profile.updated_at,
    }


def node_row(node: MemoryNode) -> dict[str, Any]:
    """The ``nodes`` row of a node (``node_seq`` is assigned by the database)."""
    return {
        "id": node.id,
        "profile_id": node.profile_id,
        "kind": node.kind,
        "label": node.label,
        "content": node.content,
        "attributes": node.attributes,
        "salience": node.salience,
        "sensitivity": node.sensitivity.value,
        "state": node.state.value,
        "created_at": node.created_at,
        "updated_at": node.updated_at,
        "version": node.version,
        "valid_from": node.valid_from,
        "valid_to": node.valid_to,
    }


def edge_row(edge: MemoryEdge) -> dict[str, Any]:
    """The ``edges`` row of an edge."""
    return {
        "id": edge.id,
        "profile_id": edge.profile_id,
        "source_id": edge.source_id,
        "target_id": edge.target_id,
        "kind": edge.kind,
        "weight": edge.weight,
        "attributes": edge.attributes,
        "created_at": edge.created_at,
        "updated_at": edge.updated_at,
        "valid_from": edge.valid_from,
        "valid_to": edge.valid_to,
    }


def path_row(path: MemoryPath) -> dict[str, Any]:
    """The ``paths`` row of a path, with its resolved ``tree_id``."""
    return {
        "id": path.id,
        "profile_id": path.profile_id,
        "parent_path_id": path.parent_path_id,
        "fork_event_id": path.fork_event_id,
        "root_path_id": path.root_path_id,
        "tree_id": path.tree_id,
        "status": path.status.value,
        "active": path.active,
        "merged_into_path_id": path.merged_into_path_id,
        "merge_event_id": path.merge_event_id,
        "abandoned_reason": path.abandoned_reason,
        "compaction_status": path.compaction_status.value,
        "summary_node_id": path.summary_node_id,
        "created_at": path.created_at,
        "updated_at": path.updated_at,
    }


def event_row(event: MemoryEvent, position: int | None) -> dict[str, Any]:
    """The ``events`` row of an event appended at ``position`` (None: SQLite assigns it)."""
    return {
        "position": position,
        "event_id": event.event_id,
        "kind": event.kind,
        "profile_id": event.profile_id,
        "path_id": event.path_id,
        "occurred_at": event.occurred_at,
        "payload": event.payload,
        "schema_version": event.schema_version,
        "actor": event.actor,
        "causation_id": event.causation_id,
    }


def event_values(event: MemoryEvent, occurred_at: Any, payload: str) -> tuple[Any, ...]:
    """An ``events`` row without its position, as plain SQL text binds it.

    In the order of :data:`phase_memory.sql.dialect.EVENT_INSERT_COLUMNS` (after
    ``position``); ``occurred_at`` and ``payload`` as the dialect binds them.
    """
    return (
        event.event_id,
        event.kind,
        event.profile_id,
        event.path_id,
        occurred_at,
        payload,
        event.schema_version,
        event.actor,
        event.causation_id,
    )


def plan_row(plan: ActivationPlan) -> dict[str, Any]:
    """The ``activation_plans`` row of a plan (items go to ``activation_items``)."""
    return {
        "id": plan.id,
        "profile_id": plan.profile_id,
        "path_id": plan.path_id,
        "query": plan.query,
        "budget": plan.budget,
        "created_at": plan.created_at,
    }


def item_rows(plan: ActivationPlan) -> list[dict[str, Any]]:
    """The ``activation_items`` rows of a plan, in its order."""
    return [
        {
            "plan_id": plan.id,
            "ordinal": ordinal,
            "node_id": item.node_id,
            "rank": item.rank,
            "score": item.score,
            "reasons": item.reasons,
            "redacted": item.redacted,
            "label": item.label,
            "content": item.content,
        }
        for ordinal, item in enumerate(plan.items)
    ]


def audit_row(record: AuditRecord) -> dict[str, Any]:
    """The ``audit_records`` row of an audit record."""
    return {
        "id": record.id,
        "at": record.at,
        "actor": record.actor,
        "operation": record.operation,
        "subject_ids": record.subject_ids,
        "outcome": record.outcome.value,
        "details": record.details,
    }


# --- rows to models -----------------------------------------------------------------
# Rows are tuples in the order of the ``*_COLUMNS`` lists (SQLAlchemy rows or
# the plain tuples of :mod:`phase_memory.sql.direct`).


def _validated(model: type[_M], values: dict[str, Any]) -> _M:
    """``model.model_validate(values)`` of a stored row (its JSON not walked for limits again)."""
    validated: _M = model.__pydantic_validator__.validate_python(values, context=STORED)
    return validated


def profile_of(row: Sequence[Any]) -> Profile:
    """A profile from a row of :data:`PROFILE_COLUMNS`."""
    return _validated(Profile, dict(zip(PROFILE_FIELDS, row, strict=True)))


def node_of(row: Sequence[Any]) -> MemoryNode:
    """A node from a row of :data:`NODE_COLUMNS`."""
    return _validated(MemoryNode, dict(zip(NODE_FIELDS, row, strict=True)))


def edge_of(row: Sequence[Any]) -> MemoryEdge:
    """An edge from a row of :data:`EDGE_COLUMNS`."""
    return _validated(MemoryEdge, dict(zip(EDGE_FIELDS, row, strict=True)))


def path_of(row: Sequence[Any]) -> MemoryPath:
    """A path from a row of :data:`PATH_COLUMNS`."""
    return _validated(MemoryPath, dict(zip(PATH_FIELDS, row, strict=True)))


def event_of(row: Sequence[Any]) -> MemoryEvent:
    """An event from a row of :data:`EVENT_COLUMNS`.

    The payload comes out of a JSON column, so it is JSON by construction:
    when it is an object, only the other fields are validated (walking a
    payload value by value was most of the cost of reading an event back).
    """
    values = dict(zip(EVENT_FIELDS, row, strict=True))
    payload = values["payload"]
    if type(payload) is not dict:
        return _validated(MemoryEvent, values)  # reported as the model reports it
    values["payload"] = {}
    event = _validated(MemoryEvent, values)
    # Validation built the event its own new (empty) payload dict: fill it in.
    event.payload.update(payload)
    return event


def event_payload_of(row: Sequence[Any]) -> EventPayload:
    """An :class:`EventPayload` from a row of :data:`PAYLOAD_COLUMNS`, the payload as JSON text.

    Only a JSON object is a payload (a row edited by hand may hold something else).
    """
    payload = json_codec.loads(row[4]) if isinstance(row[4], str | bytes) else row[4]
    if type(payload) is not dict:
        raise IntegrityError(f"event {row[1]!r}: its stored payload is not a JSON object")
    return EventPayload(row[0], row[1], row[2], row[3], payload)


def audit_of(row: Sequence[Any]) -> AuditRecord:
    """An audit record from a row of :data:`AUDIT_COLUMNS`."""
    return _validated(AuditRecord, dict(zip(AUDIT_FIELDS, row, strict=True)))


def plans_of(
    plan_rows: Sequence[Sequence[Any]], items: Iterable[Sequence[Any]]
) -> list[ActivationPlan]:
    """Plans from rows of :data:`PLAN_COLUMNS` and their item rows.

    Item rows are ``plan_id`` followed by :data:`ITEM_COLUMNS`, in item order.
    """
    plans = [dict(zip(PLAN_FIELDS, row, strict=True)) for row in plan_rows]
    by_plan: dict[str, list[dict[str, Any]]] = {plan["id"]: [] for plan in plans}
    for item in items:
        found = by_plan.get(item[0])
        if found is not None:
            found.append(dict(zip(ITEM_FIELDS, item[1:], strict=True)))
    return [_validated(ActivationPlan, {**plan, "items": by_plan[plan["id"]]}) for plan in plans]

"""Forgetting that really forgets: erasing a node's content from everything written before.

An approved ``forget`` writes the node's tombstone (``lifecycle.applied``),
and then, in the same transaction, rewrites every earlier event payload that
carried the node's label, content or attribute values, and scrubs every audit
record whose text quotes them (a refusal's reason, a failure's message).

- Payloads of replayable kinds keep what replay needs (the record with its
  content erased), so replay still folds the log into the graph the tables hold.
- Payloads of other (free-form) kinds keep their shape; every string quoting a
  forgotten string has it replaced by ``[forgotten]``. A payload that names the
  node only by its id holds no content and is left alone.
- A rewritten payload gains a redaction marker under
  :data:`~phase_memory.models.events.REDACTION_KEY` naming the forgotten node
  ids. It holds **no hash** of what it replaced: a hash of a short secret (a
  PIN, a phone number) would let anyone confirm a guess, so nothing derived
  from the content is kept (see ``docs/review-gates.md``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from pydantic import Field

from phase_memory.models import (
    REPLAYABLE_KINDS,
    ActivationPlan,
    DomainModel,
    JsonObject,
    LifecycleApplied,
    LifecycleKind,
    MemoryEvent,
    MemoryNode,
)
from phase_memory.models.events import REDACTION_KEY
from phase_memory.protocols import MemoryStore
from phase_memory.replay import redact_plan

MIN_SECRET_LENGTH = 3
"""Shorter attribute strings are not searched for in other payloads (too common)."""

FORGOTTEN_MARK = "[forgotten]"
"""What a forgotten string is replaced by inside free text."""


class ForgetCertificate(DomainModel):
    """What one approved ``forget`` erased, where, without any of the content.

    Kept in :class:`~phase_memory.runtime.lifecycle.ApplyResult` and, as
    ``details["certificate"]``, in the forget's audit record;
    ``phase-memory doctor --forgotten ID`` checks it again later.
    """

    action_id: str
    node_ids: list[str]
    erased: dict[str, int] = Field(default_factory=dict)
    """Rows erased or rewritten per table: nodes, edges, search_index, events,
    activation_plans, audit_records."""
    events_rewritten: list[str] = Field(default_factory=list)
    """Ids of the earlier events whose payloads were rewritten."""
    audit_records_scrubbed: list[str] = Field(default_factory=list)
    """Ids of the earlier audit records whose text was scrubbed."""
    pages_cleared: int = 0
    """Free pages of the database file, all zero-filled, when the forget committed
    (SQLite; 0 elsewhere)."""
    storage: str = ""
    """What the storage below the rows did (or still needs) to drop the content."""
    wal_checkpointed: bool | None = None
    """The write-ahead log was checkpointed and emptied after the commit (SQLite
    in WAL mode); None where there is no such log."""
    vacuum_required: bool = False
    """Dead row versions may still hold the content until ``phase-memory db vacuum``
    (PostgreSQL)."""


def erased(record: dict[str, Any]) -> dict[str, Any]:
    """A node record (JSON) with its label, content and attributes erased."""
    return {**record, "label": "", "content": None, "attributes": {}}


def secrets_of(node: MemoryNode) -> list[str]:
    """The strings forgetting ``node`` erases: label, content, attribute values (longest first)."""
    found = [node.label, node.content or ""]
    found.extend(_values(node.attributes))
    return sorted({s for s in found if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)


def _values(value: Any) -> Iterable[str]:
    # Attribute values, not keys: keys name fields ("hint", "source") and are
    # not what the user asked to forget.
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _values(item)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of a secret replaced by ``[forgotten]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, FORGOTTEN_MARK)
    return text


def scrub_json(value: Any, secrets: list[str]) -> Any:
    """A JSON value with every string (keys included) scrubbed of the secrets."""
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, dict):
        return {scrub(str(k), secrets): scrub_json(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_json(item, secrets) for item in value]
    return value


def _marker(payload: JsonObject, node_id: str) -> dict[str, Any]:
    old: Any = payload.get(REDACTION_KEY)
    ids: list[str] = []
    if isinstance(old, dict) and isinstance(old.get("node_ids"), list):
        ids = [i for i in old["node_ids"] if isinstance(i, str)]
    return {"node_ids": sorted({*ids, node_id})}


def _mentions(value: Any, secrets: list[str]) -> bool:
    text = json.dumps(value, ensure_ascii=False)
    return any(json.dumps(s, ensure_ascii=False)[1:-1] in text for s in secrets)


def _rewrite_records(records: Any, node_id: str) -> tuple[Any, bool]:
    if not isinstance(records, list):
        return records, False
    changed = False
    out = []
    for record in records:
        if isinstance(record, dict) and record.get("id") == node_id:
            out.append(erased(record))
            changed = True
        else:
            out.append(record)
    return out, changed


def redacted_payload(
    event: MemoryEvent, node_id: str, secrets: list[str]
) -> JsonObject | None:
    """The payload of ``event`` with ``node_id``'s content erased, or None to keep it."""
    payload = event.payload
    new: dict[str, Any] = dict(payload)
    changed = False
    kind = event.kind
    if kind == "node.saved":
        record = payload.get("node")
        if isinstance(record, dict) and record.get("id") == node_id:
            new = {"node": erased(record)}
            changed = True
    elif kind in ("graph.imported", "lifecycle.applied"):
        new["nodes"], changed = _rewrite_records(payload.get("nodes"), node_id)
        action = payload.get("action")
        if kind == "lifecycle.applied" and isinstance(action, dict) and changed:
            new["action"] = _scrubbed_action(action, secrets)
    elif kind == "activation.planned":
        plan = payload.get("plan")
        if isinstance(plan, dict):
            parsed = ActivationPlan.model_validate(plan)
            if any(item.node_id == node_id for item in parsed.items):
                new["plan"] = redact_plan(parsed, node_id).model_dump(mode="json")
                changed = True
    elif kind not in REPLAYABLE_KINDS and _mentions(payload, secrets):
        # Free-form payloads keep their shape; only the quoted strings go.
        body = {k: v for k, v in payload.items() if k != REDACTION_KEY}
        new = scrub_json(body, secrets)
        changed = True
    if not changed:
        return None
    new[REDACTION_KEY] = _marker(payload, node_id)
    return new


def _scrubbed_action(action: dict[str, Any], secrets: list[str]) -> dict[str, Any]:
    # A compaction's params carry its summary's label and content: when the
    # summary node is forgotten they go too. Free text is scrubbed of secrets.
    out = dict(action)
    if action.get("kind") == LifecycleKind.COMPACT_PATH.value and isinstance(
        action.get("params"), dict
    ):
        out["params"] = {
            k: v for k, v in action["params"].items() if k not in ("label", "content")
        }
    if isinstance(action.get("reason"), str):
        out["reason"] = scrub(action["reason"], secrets)
    approval = action.get("approval")
    if isinstance(approval, dict) and isinstance(approval.get("note"), str):
        out["approval"] = {**approval, "note": scrub(approval["note"], secrets)}
    return out


def erase_from_events(
    store: MemoryStore, node: MemoryNode, *, skip_event_id: str | None = None
) -> dict[str, str]:
    """Rewrite every stored event payload of the node's profile that carries its content.

    ``node`` is the record *before* forgetting: its id finds the records of
    replayable kinds, its label, content and attribute values find free text
    quoting them (one scan of the log). Returns the rewritten events' kinds by id.
    """
    secrets = secrets_of(node)
    rewrites: dict[str, JsonObject] = {}
    kinds: dict[str, str] = {}
    for event in store.events.find_mentioning(node.id, *secrets):
        event_id = event.event_id
        if event_id == skip_event_id or event.profile_id != node.profile_id:
            continue
        new = redacted_payload(event, node.id, secrets)
        if new is not None:
            rewrites[event_id] = new
            kinds[event_id] = event.kind
    store.events.replace_payloads(rewrites)
    return kinds


def erase_from_audit(store: MemoryStore, secrets: list[str]) -> list[str]:
    """Scrub the forgotten strings from every audit record's details; the ids rewritten.

    The records stay (who did what, when, with which outcome); only the quoted
    text becomes ``[forgotten]``.
    """
    if not secrets:
        return []
    rewrites = {
        record.id: scrub_json(record.details, secrets)
        for record in store.audit.find_mentioning(*secrets)
    }
    store.audit.replace_details(rewrites)
    return sorted(rewrites)


def certify_forget(
    store: MemoryStore, applied: LifecycleApplied, before: dict[str, MemoryNode],
    secrets: list[str], event: MemoryEvent,
) -> ForgetCertificate:
    """Erase forgotten nodes' content from earlier events and audit text; say where.

    ``before`` holds the nodes as they were, ``event`` is the forget's own
    ``lifecycle.applied`` event (left as written).
    """
    rewritten: dict[str, str] = {}
    for node in before.values():
        rewritten.update(erase_from_events(store, node, skip_event_id=event.event_id))
    scrubbed = erase_from_audit(store, secrets)
    plans = sum(1 for kind in rewritten.values() if kind == "activation.planned")
    return ForgetCertificate(
        action_id=applied.action.id,
        node_ids=sorted(before),
        erased={
            "nodes": len(before),
            "edges": len(applied.removed_edge_ids),
            "search_index": len(before),
            "events": len(rewritten),
            "activation_plans": plans,
            "audit_records": len(scrubbed),
        },
        events_rewritten=sorted(rewritten),
        audit_records_scrubbed=scrubbed,
    )


__all__ = [
    "FORGOTTEN_MARK",
    "ForgetCertificate",
    "certify_forget",
    "erase_from_audit",
    "erase_from_events",
    "erased",
    "redacted_payload",
    "scrub",
    "scrub_json",
    "secrets_of",
]

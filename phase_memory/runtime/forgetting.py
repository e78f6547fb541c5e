"""Forgetting that really forgets: erasing a node's content from earlier events.

An approved ``forget`` writes the node's tombstone (``lifecycle.applied``),
and then, in the same transaction, rewrites every earlier event payload that
carried the node's label, content or attributes. Each rewritten payload keeps
what replay needs (the record with its content erased) and gains a redaction
marker under :data:`~phase_memory.models.events.REDACTION_KEY` holding the
sha256 of the payload it replaces, so replay still folds the log into the same
graph the tables hold, and nothing of the content is left.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from phase_memory.models import (
    REPLAYABLE_KINDS,
    ActivationPlan,
    JsonObject,
    LifecycleKind,
    MemoryEvent,
    MemoryNode,
)
from phase_memory.models.events import REDACTION_KEY
from phase_memory.protocols import MemoryStore
from phase_memory.replay import redact_plan

MIN_SECRET_LENGTH = 3
"""Shorter attribute strings are not searched for in other payloads (too common)."""


def erased(record: dict[str, Any]) -> dict[str, Any]:
    """A node record (JSON) with its label, content and attributes erased."""
    return {**record, "label": "", "content": None, "attributes": {}}


def canonical_hash(payload: JsonObject) -> str:
    """sha256 of the canonical JSON of a payload (without an earlier redaction marker)."""
    body = {k: v for k, v in payload.items() if k != REDACTION_KEY}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def secrets_of(node: MemoryNode) -> list[str]:
    """The strings forgetting ``node`` erases: label, content, attribute strings."""
    found = [node.label, node.content or ""]
    found.extend(_strings(node.attributes))
    return sorted({s for s in found if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of a secret replaced by ``[forgotten]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[forgotten]")
    return text


def _marker(payload: JsonObject, node_id: str) -> dict[str, Any]:
    old: Any = payload.get(REDACTION_KEY)
    ids: list[str] = []
    if isinstance(old, dict) and isinstance(old.get("node_ids"), list):
        ids = [i for i in old["node_ids"] if isinstance(i, str)]
    return {
        "sha256": canonical_hash(payload),
        "algorithm": "sha256 of canonical JSON (sorted keys, no spaces, UTF-8)",
        "node_ids": sorted({*ids, node_id}),
    }


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
        # Free-form payloads of other kinds: erase the whole payload.
        new = {}
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
) -> list[str]:
    """Rewrite every stored event payload that carries ``node``'s content.

    ``node`` is the record *before* forgetting (its content tells which free-form
    payloads to erase). Returns the ids of the rewritten events.
    """
    secrets = secrets_of(node)
    candidates: dict[str, MemoryEvent] = {}
    for needle in [node.id, *([node.content] if node.content else [])]:
        for event in store.events.find_mentioning(needle):
            candidates.setdefault(event.event_id, event)
    rewrites: dict[str, JsonObject] = {}
    for event_id, event in candidates.items():
        if event_id == skip_event_id or event.profile_id != node.profile_id:
            continue
        new = redacted_payload(event, node.id, secrets)
        if new is not None:
            rewrites[event_id] = new
    store.events.replace_payloads(rewrites)
    return sorted(rewrites)


__all__ = [
    "canonical_hash",
    "erase_from_events",
    "erased",
    "redacted_payload",
    "scrub",
    "secrets_of",
]

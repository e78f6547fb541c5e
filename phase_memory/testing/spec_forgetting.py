"""Conformance spec of forgetting that leaves nothing: free-form events, refusals, markers,
the forget certificate and its later verification, and (SQL adapters) the raw files.

Every test takes the ``mem`` fixture (a runtime over the adapter under test).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, cast

import pytest

from phase_memory.errors import NotFoundError, ReviewRequiredError
from phase_memory.models import AuditOutcome, NodeState
from phase_memory.models.events import REDACTION_KEY
from phase_memory.protocols import Maintainable
from phase_memory.runtime.runtime import PhaseMemoryRuntime
from phase_memory.testing.builders import P1, event
from phase_memory.testing.raw_files import memory_files, scan, wait_for_older_snapshots
from phase_memory.testing.spec_review import (
    SECRET_ATTRIBUTE,
    SECRET_CONTENT,
    SECRET_LABEL,
    SECRETS,
    action,
    consistent,
    write_secret_history,
)

# Every string of the secret node, whole, as the scans look for them.
WHOLE = (SECRET_LABEL, SECRET_CONTENT, SECRET_ATTRIBUTE)
# Their distinctive words, as a full-text index keeps them (the scans ignore case).
TOKENS = ("zanzibar", "quokka", "marmalade", "ocelot", "umbrella")


def _everything(mem: PhaseMemoryRuntime) -> str:
    """Every event payload, audit record, activation plan and graph record, as JSON text."""
    return json.dumps(
        {
            "events": [e.payload for e in mem.events.list()],
            "audit": [r.model_dump(mode="json") for r in mem.audit.list()],
            "plans": [p.model_dump(mode="json") for p in mem.graph.list_activation_plans()],
            "graph": mem.graph.snapshot().model_dump(mode="json"),
        },
        ensure_ascii=False,
    )


def _traces(mem: PhaseMemoryRuntime) -> list[str]:
    text = _everything(mem)
    return [s for s in (*SECRETS, *WHOLE) if s in text]


# --- finding 3: free-form events quoting the node without its id ------------------------


def test_forget_scrubs_free_form_events_quoting_the_label_and_an_attribute(
    mem: PhaseMemoryRuntime,
) -> None:
    write_secret_history(mem)
    note = mem.record(
        event("note.added", {"text": f"user mentioned {SECRET_LABEL}", "extra": [SECRET_ATTRIBUTE],
                             "keep": "an unrelated remark"}, seconds=7)
    )
    mem.apply([action("forget", "secret", approved=True)])
    assert _traces(mem) == []
    scrubbed = mem.events.get(note.event_id)
    assert scrubbed.kind == "note.added"
    assert REDACTION_KEY in scrubbed.payload
    assert scrubbed.payload["keep"] == "an unrelated remark"
    report = mem.diagnose()
    assert report.ok, report.findings
    consistent(mem)


# --- finding 4: a refusal's audit record quoting the label ---------------------------------


def test_forget_scrubs_the_denied_audit_record_of_an_earlier_refusal(
    mem: PhaseMemoryRuntime,
) -> None:
    write_secret_history(mem)
    with pytest.raises(ReviewRequiredError):
        mem.apply([action("forget", "secret", reason=f"please drop {SECRET_LABEL}")])
    denied = mem.audit.list(operation="lifecycle.forget", outcome=AuditOutcome.DENIED)
    assert len(denied) == 1
    mem.apply([action("forget", "secret", approved=True, reason="approved now")])
    assert _traces(mem) == []
    denied = mem.audit.list(operation="lifecycle.forget", outcome=AuditOutcome.DENIED)
    assert len(denied) == 1, "the refusal is still on record, without the label"
    assert "[forgotten]" in str(denied[0].details["reason"])


# --- finding 5: an id-only mention is not content -------------------------------------------


def test_forget_leaves_an_id_only_event_alone_and_doctor_agrees(
    mem: PhaseMemoryRuntime,
) -> None:
    write_secret_history(mem)
    mention = mem.record(event("note.added", {"node_id": "secret", "seen": 3}, seconds=8))
    mem.apply([action("forget", "secret", approved=True)])
    assert mem.events.get(mention.event_id).payload == {"node_id": "secret", "seen": 3}
    report = mem.diagnose()
    assert "forget.content_in_event" not in report.codes(), report.findings
    assert report.ok, report.findings


# --- finding 7: no hash to test guesses against ---------------------------------------------


def _hashes(value: Any) -> set[str]:
    """sha256 of ``value`` in the canonical and the default JSON forms, and of its strings."""
    forms = {
        json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        json.dumps(value, sort_keys=True, ensure_ascii=False),
        json.dumps(value, ensure_ascii=False),
    }
    if isinstance(value, dict):
        body = {k: v for k, v in value.items() if k != REDACTION_KEY}
        forms.add(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
    return {hashlib.sha256(f.encode()).hexdigest() for f in forms}


def test_redaction_markers_keep_no_hash_of_what_they_replaced(mem: PhaseMemoryRuntime) -> None:
    write_secret_history(mem)
    before = {e.event_id: e.payload for e in mem.events.list()}
    guesses: set[str] = set()
    for payload in before.values():
        guesses |= _hashes(payload)
    for secret in (*SECRETS, *WHOLE):
        guesses.add(hashlib.sha256(secret.encode()).hexdigest())
    result = mem.apply([action("forget", "secret", approved=True)])
    assert result.redacted_event_ids
    text = _everything(mem)
    assert [g for g in guesses if g in text] == []
    for event_id in result.redacted_event_ids:
        marker = mem.events.get(event_id).payload[REDACTION_KEY]
        assert isinstance(marker, dict)
        assert marker == {"node_ids": ["secret"]}
        # No digest of any kind: nothing a guess could be checked against.
        assert not re.search(r"[0-9a-f]{32,}", json.dumps(marker)), marker
    # Replay still recognises the redacted payloads.
    replayed = mem.events.replay()
    assert replayed.report.redacted > 0
    consistent(mem)


# --- the forget certificate -----------------------------------------------------------------


def test_forget_certificate_says_what_was_erased_where(mem: PhaseMemoryRuntime) -> None:
    write_secret_history(mem)
    with pytest.raises(ReviewRequiredError):
        mem.apply([action("forget", "secret", reason=f"drop {SECRET_LABEL}")])
    result = mem.apply([action("forget", "secret", approved=True)])
    assert len(result.forgotten) == 1
    certificate = result.forgotten[0]
    assert certificate.node_ids == ["secret"]
    assert certificate.erased["nodes"] == 1
    assert certificate.erased["edges"] == 2
    assert certificate.erased["events"] == len(result.redacted_event_ids) > 0
    assert certificate.erased["activation_plans"] >= 2
    assert certificate.erased["audit_records"] == 1  # the refusal quoting the label
    assert certificate.events_rewritten == result.redacted_event_ids
    assert certificate.pages_cleared >= 0
    shown = certificate.model_dump_json()
    assert [s for s in (*SECRETS, *WHOLE) if s in shown] == []
    audit = mem.audit.list(operation="lifecycle.forget", outcome=AuditOutcome.APPLIED)
    assert len(audit) == 1
    recorded = cast(dict[str, Any], audit[0].details["certificate"])
    assert recorded["erased"] == certificate.erased
    assert recorded["events_rewritten"] == certificate.events_rewritten
    assert [s for s in (*SECRETS, *WHOLE) if s in json.dumps(recorded)] == []


def test_verify_forgotten_passes_after_forget_and_finds_leftovers(
    mem: PhaseMemoryRuntime,
) -> None:
    write_secret_history(mem)
    with pytest.raises(NotFoundError):
        mem.verify_forgotten("ghost")
    not_yet = mem.verify_forgotten("secret")
    assert not not_yet.ok
    assert "forget.not_forgotten" in not_yet.codes()
    mem.apply([action("forget", "secret", approved=True)])
    report = mem.verify_forgotten("secret")
    assert report.ok, report.findings
    assert "forgotten" in report.checks
    # Something carrying the node's content again (a hand-made rewrite) is found.
    saved = next(e for e in mem.events.list(kinds=["node.saved"]) if "secret" in str(e.payload))
    record = cast(dict[str, Any], saved.payload["node"])
    leftover: dict[str, Any] = {**saved.payload, "node": {**record, "label": "leaked"}}
    mem.store.events.replace_payloads({saved.event_id: leftover})
    again = mem.verify_forgotten("secret")
    assert not again.ok
    assert "forget.content_in_event" in again.codes()
    assert mem.graph.get_node("secret").state is NodeState.FORGOTTEN


# --- the raw files (SQL adapters whose files can be read here) ------------------------------


def test_forget_leaves_no_byte_of_the_secrets_in_any_file(mem: PhaseMemoryRuntime) -> None:
    files = memory_files(mem.store)
    if files is None:
        pytest.skip("this adapter keeps no files that can be read from here")
    write_secret_history(mem)
    mem.record(event("note.added", {"text": f"user mentioned {SECRET_LABEL}"}, seconds=7))
    with pytest.raises(ReviewRequiredError):
        mem.apply([action("forget", "secret", reason=f"please drop {SECRET_LABEL}")])
    assert scan(memory_files(mem.store) or [], (*WHOLE, *TOKENS), words=False), (
        "the scan must see the secrets first"
    )
    result = mem.apply([action("forget", "secret", approved=True)])
    if result.forgotten[0].vacuum_required:
        assert isinstance(mem.store, Maintainable)
        if not wait_for_older_snapshots(mem.store):
            pytest.skip("another session keeps a transaction open: VACUUM FULL must keep "
                        "the row versions it may see")
        mem.store.vacuum()
    traces = scan(memory_files(mem.store) or [], (*WHOLE, *TOKENS), words=False)
    assert traces == [], [str(t) for t in traces]
    assert mem.verify_forgotten("secret").ok
    assert P1  # the profile itself stays

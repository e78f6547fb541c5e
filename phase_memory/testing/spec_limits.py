"""Conformance spec of the input limits (``phase_memory.models.limits``) and of odd inputs.

Whatever a write accepts, every reader reads back (listing, export, replay,
diagnose); whatever it refuses is a PhaseMemoryError naming the limit, with
nothing written. Integers outside 64 bits are refused the same way on every
adapter, and paths an envelope import brought in have a history.

The property test runs derandomized by default; ``pytest --stress`` (which
sets ``PHASE_MEMORY_STRESS=1``) explores at random with many more examples.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydantic
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from phase_memory.errors import (
    ImportValidationError,
    LimitExceededError,
    PhaseMemoryError,
    ValidationError,
)
from phase_memory.models import (
    AuditOutcome,
    LifecycleAction,
    LifecycleKind,
    MemoryEvent,
    MemoryNode,
    ProfilePolicy,
)
from phase_memory.models.limits import (
    MAX_ACTIVATION_BUDGET,
    MAX_INTEGER,
    MAX_JSON_DEPTH,
    MAX_PAYLOAD_BYTES,
    MAX_PAYLOAD_DEPTH,
    MAX_STRING_LENGTH,
    MAX_VERSION,
)
from phase_memory.runtime.runtime import PhaseMemoryRuntime
from phase_memory.testing.builders import P1, at, edge, node, profile
from phase_memory.testing.fixtures import StoreFactory
from phase_memory.testing.spec_interchange import nothing_written, second_memory

_STRESS = os.environ.get("PHASE_MEMORY_STRESS") == "1"
_EXAMPLES = 200 if _STRESS else 12


def nested(depth: int, leaf: Any = 1) -> dict[str, Any]:
    """A JSON object nested ``depth`` levels deep (``{}`` is one level)."""
    value: Any = leaf
    for _ in range(depth - 1):
        value = [value]
    return {"deep": value}


def free_event(event_id: str, payload: dict[str, Any], **fields: Any) -> MemoryEvent:
    """A free-form event made WITHOUT validation (as ``model_construct`` lets a caller do)."""
    values: dict[str, Any] = {
        "event_id": event_id, "kind": "note.taken", "profile_id": P1, "path_id": None,
        "occurred_at": at(), "payload": payload, "schema_version": 1, "actor": "tester",
        "causation_id": None, "position": None,
    }
    values.update(fields)
    return MemoryEvent.model_construct(**values)


def _readable_everywhere(mem: PhaseMemoryRuntime, event_id: str, payload: dict[str, Any],
                         directory: Path) -> None:
    listed = [e for e in mem.events.list() if e.event_id == event_id]
    assert [e.payload for e in listed] == [payload]
    out = directory / "events.jsonl"
    mem.export_events(out)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["payload"] for line in lines if line["event_id"] == event_id] == [payload]
    assert mem.events.replay().report.applied >= 1
    codes = {f.code for f in mem.diagnose().findings}
    assert not any(code.startswith("event.") for code in codes), codes


# --- the property: accepted -> readable everywhere; refused -> named, nothing written ----


@settings(max_examples=_EXAMPLES, derandomize=not _STRESS, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    depth=st.integers(min_value=1, max_value=MAX_PAYLOAD_DEPTH + 3),
    string_length=st.sampled_from([0, 7, MAX_STRING_LENGTH, MAX_STRING_LENGTH + 1]),
)
@example(depth=MAX_PAYLOAD_DEPTH, string_length=MAX_STRING_LENGTH)
@example(depth=MAX_PAYLOAD_DEPTH + 1, string_length=0)
@example(depth=2, string_length=MAX_STRING_LENGTH + 1)
def test_payload_limits_accept_only_what_every_reader_reads(
    mem: PhaseMemoryRuntime, tmp_path_factory: pytest.TempPathFactory,
    depth: int, string_length: int,
) -> None:
    if mem.graph.find_profile(P1) is None:
        mem.save_profile(profile(P1))
    payload = nested(depth, "x" * string_length)
    event_id = f"e-{depth}-{string_length}"
    over = depth > MAX_PAYLOAD_DEPTH or string_length > MAX_STRING_LENGTH
    limit = "MAX_PAYLOAD_DEPTH" if depth > MAX_PAYLOAD_DEPTH else "MAX_STRING_LENGTH"
    if over:
        with pytest.raises(pydantic.ValidationError, match=limit):
            MemoryEvent(event_id=event_id, kind="note.taken", profile_id=P1, payload=payload)
        with nothing_written(mem), pytest.raises(LimitExceededError, match=limit):
            mem.record(free_event(event_id, payload))
        with nothing_written(mem), pytest.raises(LimitExceededError, match=limit):
            mem.events.append([free_event(event_id, payload)])
        return
    recorded = mem.record(
        MemoryEvent(event_id=event_id, kind="note.taken", profile_id=P1, payload=payload)
    )
    assert recorded.position is not None
    _readable_everywhere(mem, event_id, payload, tmp_path_factory.mktemp("export"))


def test_attributes_nest_at_most_the_json_depth(mem: PhaseMemoryRuntime, tmp_path: Path) -> None:
    mem.save_profile(profile(P1))
    deepest = nested(MAX_JSON_DEPTH)
    saved = mem.save_node(node("n1", attributes=deepest))
    assert mem.graph.get_node("n1").attributes == deepest == saved.attributes
    with pytest.raises(pydantic.ValidationError, match="MAX_JSON_DEPTH"):
        node("n2", attributes=nested(MAX_JSON_DEPTH + 1))
    envelope = tmp_path / "graph.json"
    mem.export_envelope(envelope)
    assert mem.import_envelope(envelope, check_only=True) is not None
    node_saved = [e for e in mem.events.list(kinds=["node.saved"])]
    _readable_everywhere(mem, node_saved[0].event_id, node_saved[0].payload, tmp_path)


def test_a_payload_over_the_size_limit_is_refused_naming_it() -> None:
    big = {"parts": ["y" * 900_000] * (MAX_PAYLOAD_BYTES // 900_000 + 1)}
    with pytest.raises(pydantic.ValidationError, match="MAX_PAYLOAD_BYTES"):
        MemoryEvent(kind="note.taken", profile_id=P1, payload=big)
    with pytest.raises(pydantic.ValidationError, match="at most 1000000 characters"):
        MemoryNode(profile_id=P1, kind="note", label="z" * (MAX_STRING_LENGTH + 1))


def test_an_appended_event_over_the_size_limit_is_refused(mem: PhaseMemoryRuntime) -> None:
    # Made without validation: the log checks the size on append, as record does.
    big = {"parts": ["y" * 900_000] * (MAX_PAYLOAD_BYTES // 900_000 + 1)}
    mem.save_profile(profile(P1))
    with nothing_written(mem), pytest.raises(LimitExceededError, match="MAX_PAYLOAD_BYTES"):
        mem.events.append([free_event("big", big)])


LONE_SURROGATE = "\ud800"
"""Text with no UTF-8 form: no UTF-8 driver can send it."""


@pytest.mark.parametrize(
    "payload",
    [{"text": f"a{LONE_SURROGATE}b"}, {f"key{LONE_SURROGATE}": 1},
     {"deep": [[{"text": LONE_SURROGATE}]]}],
    ids=["value", "key", "nested"],
)
def test_an_appended_payload_with_a_lone_surrogate_is_refused_on_every_adapter(
    mem: PhaseMemoryRuntime, payload: dict[str, Any]
) -> None:
    # Made without validation: the log refuses it before any store sees it, so
    # the in-memory adapter refuses what the SQL ones could not send.
    mem.save_profile(profile(P1))
    with nothing_written(mem), pytest.raises(LimitExceededError, match="lone surrogate"):
        mem.events.append([free_event("lone", payload)])
    with pytest.raises(pydantic.ValidationError, match="lone surrogate"):
        MemoryNode(profile_id=P1, kind="note", label="n", attributes=payload)


def test_an_activation_query_with_a_lone_surrogate_is_refused_on_every_adapter(
    mem: PhaseMemoryRuntime,
) -> None:
    mem.save_profile(profile(P1))
    with nothing_written(mem), pytest.raises(ValidationError, match=r"query.*lone surrogate"):
        mem.activate(P1, f"coffee {LONE_SURROGATE}")


def test_an_envelope_over_one_event_s_size_makes_more_events(
    mem: PhaseMemoryRuntime, store_factory: StoreFactory, tmp_path: Path
) -> None:
    # Twenty nodes of 0.9 MB: more than one event's payload may hold, fewer records
    # than one event carries. The import splits them by size instead of refusing.
    mem.save_profile(profile(P1))
    for number in range(20):
        mem.save_node(node(f"n{number}", content=f"{number}" + "x" * 900_000))
    envelope = tmp_path / "graph.json"
    mem.export_envelope(envelope)
    with second_memory(store_factory, tmp_path / "other") as other:
        other.import_envelope(envelope)
        imported = other.events.list(kinds=["graph.imported"])
        sizes = [len(json.dumps(e.payload, separators=(",", ":"))) for e in imported]
        assert len(imported) > 2 and max(sizes) <= MAX_PAYLOAD_BYTES, sizes
        assert other.graph.snapshot().same_records(mem.graph.snapshot())
        assert other.events.replay().snapshot.same_records(mem.graph.snapshot())


def test_imported_events_over_a_limit_are_problems(mem: PhaseMemoryRuntime,
                                                   tmp_path: Path) -> None:
    mem.save_profile(profile(P1))
    good = {"event_id": "ok", "kind": "note.taken", "profile_id": P1,
            "occurred_at": "2024-05-01T12:00:00Z", "payload": {}}
    deep = dict(good, event_id="deep", payload=nested(MAX_PAYLOAD_DEPTH + 1))
    huge = dict(good, event_id="huge", schema_version=2**63)
    src = tmp_path / "events.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in (good, deep, huge)), encoding="utf-8")
    with nothing_written(mem), pytest.raises(ImportValidationError) as refused:
        mem.import_events(src)
    reasons = " ".join(p.reason for p in refused.value.problems)
    assert "MAX_PAYLOAD_DEPTH" in reasons
    assert [p.line for p in refused.value.problems] == [2, 3]


# --- integers outside 64 bits ----------------------------------------------------------------


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 2**64 + 5])
def test_integers_outside_64_bits_are_refused_naming_them(mem: PhaseMemoryRuntime,
                                                         value: int) -> None:
    mem.save_profile(profile(P1))
    calls: list[tuple[str, Callable[[], object]]] = [
        ("after", lambda: mem.events.list(after=value)),
        ("limit", lambda: mem.events.list(limit=value)),
        ("until", lambda: mem.events.replay(until=value)),
        ("until", lambda: list(mem.events.iter(until=value))),
        ("expected_position", lambda: mem.events.append([], expected_position=value)),
    ]
    for name, call in calls:
        with nothing_written(mem), pytest.raises(LimitExceededError, match=name):
            call()
    with nothing_written(mem), pytest.raises(PhaseMemoryError, match="budget"):
        mem.activate(P1, "anything", budget=value)
    with nothing_written(mem), pytest.raises(LimitExceededError, match="schema_version"):
        mem.record(free_event("e1", {}, schema_version=value))
    with pytest.raises(pydantic.ValidationError):
        MemoryEvent(kind="note.taken", profile_id=P1, schema_version=value)
    with pytest.raises(pydantic.ValidationError):
        MemoryNode(profile_id=P1, kind="note", label="x", version=value)


def test_the_largest_64_bit_integers_are_accepted(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile(P1))
    assert mem.events.list(after=MAX_INTEGER) == []
    assert mem.events.list(limit=MAX_INTEGER) != []
    assert P1 in mem.events.replay(until=MAX_INTEGER).snapshot.profiles
    assert mem.activate(P1, "x", budget=MAX_ACTIVATION_BUDGET).budget == MAX_ACTIVATION_BUDGET
    recorded = mem.record(MemoryEvent(kind="note.taken", profile_id=P1,
                                      schema_version=MAX_VERSION))
    assert mem.events.get(recorded.event_id).schema_version == MAX_VERSION
    with pytest.raises(pydantic.ValidationError, match="less than or equal"):
        MemoryEvent(kind="note.taken", profile_id=P1, schema_version=MAX_VERSION + 1)


def test_an_envelope_node_version_outside_64_bits_is_a_problem(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    mem.save_profile(profile(P1))
    mem.save_node(node("n1"))
    envelope = tmp_path / "graph.json"
    mem.export_envelope(envelope)
    doc = json.loads(envelope.read_text(encoding="utf-8"))
    doc["nodes"][0]["version"] = 2**63
    envelope.write_text(json.dumps(doc), encoding="utf-8")
    with nothing_written(mem), pytest.raises(ImportValidationError) as refused:
        mem.import_envelope(envelope)
    assert "version" in [p.field for p in refused.value.problems]


# --- versions stop at MAX_VERSION ---------------------------------------------------------------


def _at_the_last_version(mem: PhaseMemoryRuntime) -> MemoryNode:
    """Nodes n1 (at MAX_VERSION) and n2 (at 1), joined by an edge; n1 returned.

    No action needs review in the profile: only the limit can refuse them.
    """
    mem.save_profile(profile(P1, policy=ProfilePolicy(review_required=set())))
    mem.save_node(node("n1"))
    mem.save_node(node("n2"))
    mem.save_edge(edge("e1", "n1", "n2"))
    last = mem.graph.get_node("n1").model_copy(update={"version": MAX_VERSION})
    mem.record(MemoryEvent(kind="node.saved", profile_id=P1, payload={"node": last.to_json_dict()}))
    stored = mem.graph.get_node("n1")
    assert stored.version == MAX_VERSION
    return stored


_CHANGES: dict[str, Callable[[PhaseMemoryRuntime, MemoryNode], object]] = {
    "save": lambda mem, n1: mem.save_node(n1),
    "archive": lambda mem, n1: mem.apply([LifecycleAction(
        kind=LifecycleKind.ARCHIVE, profile_id=P1, targets=["n1"])]),
    "reweight": lambda mem, n1: mem.apply([LifecycleAction(
        kind=LifecycleKind.REWEIGHT, profile_id=P1, targets=["n1"], params={"salience": 0.9})]),
    "merge": lambda mem, n1: mem.apply([LifecycleAction(
        kind=LifecycleKind.MERGE_NODES, profile_id=P1, targets=["n2", "n1"])]),
    "state event": lambda mem, n1: mem.record(MemoryEvent(
        kind="node.state_changed", profile_id=P1,
        payload={"node_id": "n1", "state": "archived"})),
    "merge event": lambda mem, n1: mem.record(MemoryEvent(
        kind="nodes.merged", profile_id=P1, payload={"survivor_id": "n2", "merged_ids": ["n1"]})),
    "store save": lambda mem, n1: mem.store.graph.save_node(n1),
}


@pytest.mark.parametrize("change", sorted(_CHANGES))
def test_no_change_takes_a_node_past_the_last_version(mem: PhaseMemoryRuntime,
                                                      change: str) -> None:
    n1 = _at_the_last_version(mem)
    position, graph, audit = mem.events.last_position(), mem.graph.snapshot(), mem.audit.list()
    with pytest.raises(LimitExceededError, match="MAX_VERSION"):
        _CHANGES[change](mem, n1)
    assert mem.events.last_position() == position
    assert mem.graph.snapshot() == graph
    assert mem.graph.get_node("n1").version == MAX_VERSION
    # apply() keeps its record of a failed action; nothing else is written.
    failed = [r for r in mem.audit.list() if r not in audit]
    assert all(r.outcome is AuditOutcome.FAILED for r in failed)
    assert len(failed) == (1 if change in ("archive", "merge", "reweight") else 0)


def test_replay_reports_a_change_past_the_last_version(mem: PhaseMemoryRuntime) -> None:
    n1 = _at_the_last_version(mem)
    # Appended to the log directly (no fold): replay meets the change and reports it.
    mem.events.append([MemoryEvent(kind="node.state_changed", profile_id=P1,
                                   payload={"node_id": n1.id, "state": "archived"})])
    result = mem.events.replay()
    assert [p.kind for p in result.report.problems] == ["node.state_changed"]
    assert "MAX_VERSION" in result.report.problems[0].reason
    assert result.snapshot.nodes["n1"].version == MAX_VERSION


# --- paths an envelope brought in ------------------------------------------------------------


def test_imported_paths_have_a_history(mem: PhaseMemoryRuntime, store_factory: StoreFactory,
                                       tmp_path: Path) -> None:
    mem.save_profile(profile(P1))
    root = mem.paths.open(P1, path_id="root")
    mem.save_node(node("n1"), path_id=root.id)
    envelope = tmp_path / "graph.json"
    mem.export_envelope(envelope)
    with second_memory(store_factory, tmp_path / "other") as other:
        other.import_envelope(envelope)
        imported = [e.event_id for e in other.paths.events("root")]
        assert imported, "the import's own events are shared history"
        other.save_node(node("n2"), path_id="root")
        other.save_node(node("shared"))
        kinds = [e.kind for e in other.paths.events("root")]
        assert kinds[-2:] == ["node.saved", "node.saved"]
        assert set(other.events.replay(path_id="root").snapshot.nodes) == {"n1", "n2", "shared"}
        child = other.paths.branch("root")
        assert [e.event_id for e in other.paths.events(child.id)][:-1] == [
            e.event_id for e in other.paths.events("root")
        ]
        other.save_node(node("n3"), path_id=child.id)
        assert "n3" in other.events.replay(path_id=child.id).snapshot.nodes
        assert "n3" not in other.events.replay(path_id="root").snapshot.nodes


# --- workspaces with files nested too deep ---------------------------------------------------


@pytest.mark.parametrize("which", ["metadata.json", "profile"])
def test_a_workspace_file_nested_too_deep_is_a_problem(
    mem: PhaseMemoryRuntime, store_factory: StoreFactory, tmp_path: Path, which: str
) -> None:
    mem.save_profile(profile(P1))
    root = tmp_path / "ws"
    mem.export_workspace(root)
    target = root / "metadata.json" if which == "metadata.json" else root / "profiles" / "p1.json"
    doc = json.loads(target.read_text(encoding="utf-8"))
    depth = 100_000
    text = json.dumps(dict(doc, attributes={"x": 0}))
    target.write_text(text.replace('{"x": 0}', "[" * depth + "]" * depth), encoding="utf-8")
    with second_memory(store_factory, tmp_path / "other") as other, nothing_written(other), \
            pytest.raises(ImportValidationError) as refused:
        other.import_workspace(root)
    assert any("nested too deeply" in p.reason for p in refused.value.problems)

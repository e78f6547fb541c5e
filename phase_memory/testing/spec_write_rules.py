"""Conformance spec of the shared write rules: ``record`` and every importer agree.

Each test names a hole found in an earlier version: an event or a file that a
writer accepted and that ``diagnose()`` then called broken, or that changed a
node's lifecycle state without passing the review gate. Every writer
(``record``, the events importer, the envelope importer) must refuse the same
input, write nothing, and leave a memory that ``diagnose()`` finds clean.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from phase_memory.errors import ImportValidationError, PhaseMemoryError, ReviewRequiredError
from phase_memory.models import (
    AuditOutcome,
    LifecycleKind,
    MemoryEvent,
    NodeState,
    PathStatus,
    ProfilePolicy,
)
from phase_memory.runtime.runtime import PhaseMemoryRuntime
from phase_memory.testing.builders import (
    P1,
    event,
    node,
    node_saved,
    path,
    path_opened,
    profile,
)


def _state(mem: PhaseMemoryRuntime) -> tuple[Any, ...]:
    return (mem.graph.snapshot().model_dump(exclude={"position"}),
            [e.event_id for e in mem.events.list()])


def _events_file(tmp_path: Path, *events: MemoryEvent) -> Path:
    target = tmp_path / "events.jsonl"
    target.write_text(
        "".join(json.dumps(e.model_dump(mode="json")) + "\n" for e in events), encoding="utf-8"
    )
    return target


def _refused_by_record_and_import(
    mem: PhaseMemoryRuntime, tmp_path: Path, bad: MemoryEvent,
    error: type[PhaseMemoryError] = PhaseMemoryError,
) -> None:
    """``record`` refuses ``bad``, the events importer refuses the same line; nothing written."""
    before = _state(mem)
    with pytest.raises(error):
        mem.record(bad)
    assert _state(mem) == before
    with pytest.raises(ImportValidationError) as caught:
        mem.import_events(_events_file(tmp_path, bad))
    assert caught.value.problems
    assert _state(mem) == before
    assert mem.diagnose().ok, mem.diagnose().findings


def _seeded(mem: PhaseMemoryRuntime, **policy: Any) -> None:
    mem.save_profile(profile(P1, policy=ProfilePolicy(**policy)))
    mem.save_node(node("a", content="the secret is 4411", attributes={"hint": "ocelot"}))


# --- events: record and the events importer ---------------------------------------------


def test_profile_saved_must_carry_the_events_own_profile(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    bad = event("profile.saved", {"profile": profile("q").model_dump(mode="json")},
                profile_id="0")
    _refused_by_record_and_import(mem, tmp_path, bad)
    assert mem.graph.find_profile("q") is None


def test_graph_imported_cannot_forget_an_existing_node_without_approval(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    _seeded(mem)
    forgotten = mem.graph.get_node("a").model_copy(update={"state": NodeState.FORGOTTEN})
    bad = event("graph.imported", {"nodes": [forgotten.model_dump(mode="json")]})
    _refused_by_record_and_import(mem, tmp_path, bad, ReviewRequiredError)
    stored = mem.graph.get_node("a")
    assert stored.state is NodeState.ACTIVE
    assert stored.content == "the secret is 4411"
    denied = mem.audit.list(outcome=AuditOutcome.DENIED)
    assert denied, "the refusal of record() leaves a denied audit record"


def test_graph_imported_cannot_archive_when_archive_needs_review(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    _seeded(mem, review_required={LifecycleKind.ARCHIVE})
    archived = mem.graph.get_node("a").model_copy(update={"state": NodeState.ARCHIVED})
    for bad in (event("graph.imported", {"nodes": [archived.model_dump(mode="json")]}),
                node_saved(archived)):
        _refused_by_record_and_import(mem, tmp_path, bad, ReviewRequiredError)
    assert mem.graph.get_node("a").state is NodeState.ACTIVE


def test_a_new_node_cannot_be_saved_forgotten_with_its_content(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    _seeded(mem, review_required=set())
    ghost = node("ghost", state=NodeState.FORGOTTEN, content="still here")
    for bad in (node_saved(ghost),
                event("graph.imported", {"nodes": [ghost.model_dump(mode="json")]})):
        _refused_by_record_and_import(mem, tmp_path, bad)
    assert mem.graph.find_node("ghost") is None


def test_a_new_erased_forgotten_node_is_accepted_and_clean(mem: PhaseMemoryRuntime) -> None:
    _seeded(mem)
    mem.record(node_saved(node("gone", state=NodeState.FORGOTTEN, label="")))
    assert mem.graph.get_node("gone").state is NodeState.FORGOTTEN
    assert mem.diagnose().ok, mem.diagnose().findings


def test_path_opened_cannot_name_a_missing_summary_node(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    _seeded(mem)
    _refused_by_record_and_import(
        mem, tmp_path, path_opened(path("r", summary_node_id="nowhere"))
    )
    assert mem.graph.find_path("r") is None


def test_a_path_cannot_be_opened_merged_without_its_target(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    _seeded(mem)
    _refused_by_record_and_import(
        mem, tmp_path, path_opened(path("r", status=PathStatus.MERGED))
    )


# --- the envelope importer ----------------------------------------------------------------


def _envelope(tmp_path: Path, **arrays: list[Any]) -> Path:
    document = {"envelope": "markitect.graph", "schema_version": 1,
                "profiles": [], "nodes": [], "edges": [], "paths": []}
    for key, records in arrays.items():
        document[key] = [r.model_dump(mode="json") for r in records]
    target = tmp_path / "graph.json"
    target.write_text(json.dumps(document), encoding="utf-8")
    return target


def _envelope_refused(mem: PhaseMemoryRuntime, src: Path) -> None:
    before = _state(mem)
    with pytest.raises(ImportValidationError):
        mem.import_envelope(src)
    assert _state(mem) == before
    assert mem.diagnose().ok, mem.diagnose().findings


@pytest.mark.parametrize("broken", ["missing_summary", "missing_merge_target", "forgotten_content"])
def test_envelope_import_refuses_what_diagnose_calls_broken(
    mem: PhaseMemoryRuntime, tmp_path: Path, broken: str
) -> None:
    _seeded(mem)
    cases: dict[str, dict[str, list[Any]]] = {
        "missing_summary": {"paths": [path("r", summary_node_id="nowhere")]},
        "missing_merge_target": {"paths": [path("r", status=PathStatus.MERGED)]},
        "forgotten_content": {"nodes": [node("f", state=NodeState.FORGOTTEN, content="c")]},
    }
    arrays = cases[broken]
    _envelope_refused(mem, _envelope(tmp_path, **arrays))


def test_envelope_import_cannot_forget_an_existing_node_without_approval(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    _seeded(mem)
    tombstone = mem.graph.get_node("a").model_copy(
        update={"state": NodeState.FORGOTTEN, "label": "", "content": None, "attributes": {}}
    )
    _envelope_refused(mem, _envelope(tmp_path, nodes=[tombstone]))
    assert mem.graph.get_node("a").state is NodeState.ACTIVE


def test_envelope_import_of_a_good_file_is_clean(mem: PhaseMemoryRuntime, tmp_path: Path) -> None:
    _seeded(mem)
    src = _envelope(tmp_path, nodes=[node("b"), node("gone", state=NodeState.FORGOTTEN, label="")],
                    paths=[path("r", summary_node_id="b")])
    mem.import_envelope(src)
    assert mem.graph.get_path("r").summary_node_id == "b"
    assert mem.diagnose().ok, mem.diagnose().findings

"""Conformance spec of repair diagnostics (``mem.diagnose()``).

Each test builds one broken state through the store protocols (``graph.apply``
of inconsistent effects, ``graph.save_*`` behind the runtime's back,
``events.append`` of bad events) and checks that it is reported. An adapter
whose storage refuses to hold a state at all (a foreign key, say) skips that
test: the state cannot arise there, which is better still. SQL-only states
(raw edits of the database file) are tested in ``tests/test_diagnostics_*.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from phase_memory.diagnostics import Finding, RepairReport
from phase_memory.errors import PhaseMemoryError
from phase_memory.models import Approval, LifecycleAction, LifecycleKind, NodeState, PathStatus
from phase_memory.replay import PutEdge, PutNode, PutPath
from phase_memory.runtime.runtime import PhaseMemoryRuntime
from phase_memory.testing.builders import P1, T0, edge, event, node, path, profile
from phase_memory.testing.spec_interchange import build_sample


def _break(action: Callable[[], object]) -> None:
    """Run a protocol call that makes a broken state; skip if the adapter refuses it."""
    try:
        action()
    except PhaseMemoryError as exc:
        pytest.skip(f"the adapter refuses this state: {exc}")


def _found(report: RepairReport, code: str) -> list[Finding]:
    return [f for f in report.findings if f.code == code]


def test_a_memory_written_by_the_runtime_is_clean(mem: PhaseMemoryRuntime) -> None:
    build_sample(mem)
    report = mem.diagnose()
    assert report.ok, report.findings
    assert report.findings == []
    assert {"storage", "references", "events", "replay", "drift", "forgotten"} <= set(
        report.checks
    )


def test_findings_carry_severity_location_and_a_fix(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    _break(lambda: mem.graph.apply([PutEdge(edge("e1", "ghost-a", "ghost-b"))]))
    report = mem.diagnose()
    assert not report.ok
    [finding, *_] = _found(report, "edge.missing_endpoint")
    assert finding.severity == "error"
    assert finding.location == "edge e1"
    assert "ghost-a" in finding.message
    assert finding.suggested_fix
    assert report.errors and report.codes() >= {"edge.missing_endpoint"}


def test_edges_with_missing_endpoints(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    mem.save_node(node("a"))
    _break(lambda: mem.graph.apply([PutEdge(edge("e1", "a", "ghost"))]))
    [finding] = _found(mem.diagnose(), "edge.missing_endpoint")
    assert "ghost" in finding.message


def test_events_in_unknown_paths(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    _break(lambda: mem.events.append([event("chat.turn", {"turn": 1}, path_id="ghost",
                                            event_id="ev-1")]))
    [finding] = _found(mem.diagnose(), "event.unknown_path")
    assert "ev-1" in finding.location and "ghost" in finding.message


def test_events_referring_to_missing_nodes(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    _break(lambda: mem.events.append([event("node.deleted", {"node_id": "ghost"},
                                            event_id="ev-1")]))
    [finding] = _found(mem.diagnose(), "event.orphaned")
    assert "ev-1" in finding.location and "ghost" in finding.message


def test_paths_with_missing_parent(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    _break(lambda: mem.graph.apply([PutPath(path("child", parent_path_id="ghost",
                                                 root_path_id="ghost"))]))
    [finding] = _found(mem.diagnose(), "path.missing_parent")
    assert finding.location == "path child"


def test_paths_with_missing_merge_target(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    _break(lambda: mem.graph.apply([PutPath(path("p", status=PathStatus.MERGED,
                                                 merged_into_path_id="ghost"))]))
    [finding] = _found(mem.diagnose(), "path.missing_merge_target")
    assert "ghost" in finding.message


def test_unknown_payload_schema_versions(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    _break(lambda: mem.events.append([event("node.saved", {"node": {}}, schema_version=9,
                                            event_id="ev-9")]))
    [finding] = _found(mem.diagnose(), "event.unknown_schema_version")
    assert finding.severity == "warning" and "ev-9" in finding.location


def test_malformed_stored_payloads(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    _break(lambda: mem.events.append([event("edge.saved", {"edge": {"id": 5}},
                                            event_id="ev-bad")]))
    [finding] = _found(mem.diagnose(), "event.malformed_payload")
    assert "ev-bad" in finding.location


def test_graph_drift_names_the_records_that_differ(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    mem.save_node(node("kept"))
    mem.save_node(node("changed"))
    mem.save_node(node("dropped"))
    graph = mem.graph
    _break(lambda: graph.save_node(node("extra")))  # behind the runtime's back
    _break(lambda: graph.apply([PutNode(graph.get_node("changed").model_copy(
        update={"label": "edited in place"}))]))
    _break(lambda: graph.delete_node("dropped"))
    drift = {f.location: f.message for f in _found(mem.diagnose(), "graph.drift")}
    assert set(drift) == {"node extra", "node changed", "node dropped"}
    assert "label" in drift["node changed"]
    assert "does not produce" in drift["node extra"]
    assert "not stored" in drift["node dropped"]


def test_forgotten_content_still_present(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    mem.save_node(node("n1", label="my secret", content="the details"))
    forgotten = mem.graph.get_node("n1").model_copy(update={"state": NodeState.FORGOTTEN})
    _break(lambda: mem.graph.apply([PutNode(forgotten)]))
    report = mem.diagnose()
    assert _found(report, "forget.content_in_node")[0].location == "node n1"
    # The node.saved event of n1 still carries its label and content.
    assert _found(report, "forget.content_in_event")


def test_erased_node_with_its_content_left_in_an_event(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    mem.save_node(node("n1", label="my secret"))
    tombstone = mem.graph.get_node("n1").model_copy(
        update={"state": NodeState.FORGOTTEN, "label": "", "content": None, "attributes": {}}
    )
    _break(lambda: mem.graph.apply([PutNode(tombstone)]))
    report = mem.diagnose()
    assert not _found(report, "forget.content_in_node")
    [finding] = _found(report, "forget.content_in_event")
    assert finding.severity == "error"


def test_diagnose_writes_nothing(mem: PhaseMemoryRuntime) -> None:
    build_sample(mem)
    position, audit = mem.events.last_position(), len(mem.audit.list())
    snapshot = mem.graph.snapshot()
    mem.diagnose()
    assert (mem.events.last_position(), len(mem.audit.list())) == (position, audit)
    assert mem.graph.snapshot() == snapshot


def test_several_active_paths_in_one_tree(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile(P1))
    root = mem.paths.open(P1, path_id="root")
    _break(lambda: mem.graph.apply([PutPath(path("other", root_path_id=root.id,
                                                 parent_path_id=root.id, active=True))]))
    assert _found(mem.diagnose(), "path.several_active")


def test_a_memory_after_an_approved_forget_is_clean(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    mem.save_node(node("secret", label="vault phrase", content="ocelot zanzibar"))
    mem.save_node(node("friend", label="a friend"))
    mem.save_edge(edge("e1", "secret", "friend"))
    mem.record(event("chat.note", {"text": "the vault phrase is ocelot zanzibar",
                                   "node_id": "secret"}))
    mem.activate(P1, "vault phrase")
    mem.apply([
        LifecycleAction(
            id="forget-1", kind=LifecycleKind.FORGET, profile_id=P1, targets=["secret"],
            reason="asked to", approval=Approval(approved_by="reviewer", approved_at=T0),
        )
    ])
    report = mem.diagnose()
    assert report.ok, report.findings


def test_a_free_form_event_naming_a_forgotten_node_by_id_is_not_content(
    mem: PhaseMemoryRuntime,
) -> None:
    """An id is not content (issue 22, finding 5): forget leaves such payloads alone."""
    mem.save_profile(profile())
    mem.save_node(node("n1", label=""))
    tombstone = mem.graph.get_node("n1").model_copy(update={"state": NodeState.FORGOTTEN})
    _break(lambda: mem.graph.apply([PutNode(tombstone)]))
    _break(lambda: mem.events.append([event("chat.note", {"about": "n1", "text": "kept"},
                                            event_id="note-1")]))
    assert "forget.content_in_event" not in mem.diagnose().codes()
    assert "forget.content_in_event" not in mem.verify_forgotten("n1").codes()

"""Conformance spec of the review queue (``mem.review``) and of substring search.

Every test takes the ``mem`` fixture (a runtime over the adapter under test).
"""

from __future__ import annotations

import pytest

from phase_memory.errors import ConflictError, NotFoundError
from phase_memory.models import (
    Approval,
    AuditOutcome,
    LifecycleAction,
    LifecycleKind,
    NodeState,
    Profile,
    ProfilePolicy,
)
from phase_memory.runtime.runtime import PhaseMemoryRuntime
from phase_memory.testing.builders import P1, edge, node, profile


def _seeded(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    mem.save_node(node("ada", label="Ada", kind="person", content="lives in Lisbon"))
    mem.save_node(node("bob", label="Bob", kind="person", content="🚀 launches rockets"))
    mem.save_edge(edge("knows", "ada", "bob"))


def _forget(*targets: str) -> LifecycleAction:
    return LifecycleAction(kind=LifecycleKind.FORGET, profile_id=P1, targets=list(targets),
                           reason="the agent wants it gone")


def test_a_review_required_action_becomes_a_proposal_with_its_targets_archived(
    mem: PhaseMemoryRuntime,
) -> None:
    _seeded(mem)
    action = _forget("bob")
    result = mem.review.propose([action])
    assert result.proposed == [action.id] and result.applied == []
    bob = mem.graph.get_node("bob")
    assert bob.state is NodeState.ARCHIVED and bob.label == "Bob"  # reversible: all kept
    [proposal] = mem.review.list()
    assert proposal.id == action.id and proposal.status == "pending"
    assert proposal.action.kind is LifecycleKind.FORGET and proposal.archived == {
        "bob": bob.version}
    assert [e.kind for e in mem.events.list(kinds=["lifecycle.proposed"])] == [
        "lifecycle.proposed"]
    assert mem.audit.list(operation="review.propose")[0].outcome is AuditOutcome.APPLIED


def test_an_action_the_policy_lets_through_is_applied_at_once(mem: PhaseMemoryRuntime) -> None:
    _seeded(mem)
    archive = LifecycleAction(kind=LifecycleKind.ARCHIVE, profile_id=P1, targets=["ada"])
    result = mem.review.propose([archive])
    assert result.applied == [archive.id] and mem.review.list() == []
    assert mem.graph.get_node("ada").state is NodeState.ARCHIVED


def test_an_approval_carried_by_a_proposal_is_ignored(mem: PhaseMemoryRuntime) -> None:
    _seeded(mem)
    action = _forget("bob").model_copy(update={"approval": Approval(approved_by="agent")})
    assert mem.review.propose([action]).proposed
    assert mem.graph.get_node("bob").state is NodeState.ARCHIVED


def test_approve_applies_through_the_gate_with_the_approval_and_audit(
    mem: PhaseMemoryRuntime,
) -> None:
    _seeded(mem)
    action = _forget("bob")
    mem.review.propose([action])
    result = mem.review.approve(action.id, by="ann", note="agreed")
    assert result.applied == [action.id]
    bob = mem.graph.get_node("bob")
    assert bob.state is NodeState.FORGOTTEN and "Bob" not in bob.label
    assert mem.graph.list_edges(P1) == []
    [applied] = mem.audit.list(operation="lifecycle.forget", outcome=AuditOutcome.APPLIED)
    assert applied.details["approved_by"] == "ann" and applied.details["approval_note"] == "agreed"
    assert mem.review.list() == []
    [decided] = mem.review.list(status="approved")
    assert decided.decided_by == "ann" and decided.decision_note == "agreed"
    with pytest.raises(ConflictError, match="already approved by ann"):
        mem.review.approve(action.id, by="ann")


def test_reject_restores_what_was_archived(mem: PhaseMemoryRuntime) -> None:
    _seeded(mem)
    action = _forget("ada", "bob")
    mem.review.propose([action])
    proposal = mem.review.reject(action.id, by="ann", reason="still true")
    assert proposal.status == "rejected" and proposal.decision_note == "still true"
    assert {n.id: n.state for n in mem.graph.list_nodes(P1)} == {
        "ada": NodeState.ACTIVE, "bob": NodeState.ACTIVE}
    assert [e.id for e in mem.graph.list_edges(P1)] == ["knows"]
    with pytest.raises(ConflictError, match="already rejected"):
        mem.review.reject(action.id, by="ann", reason="again")
    with pytest.raises(ConflictError):
        mem.review.approve(action.id, by="ann")


def test_approval_is_rechecked_against_the_memory_as_it_is_then(
    mem: PhaseMemoryRuntime,
) -> None:
    _seeded(mem)
    action = _forget("bob")
    mem.review.propose([action])
    mem.apply([LifecycleAction(kind=LifecycleKind.RESTORE, profile_id=P1, targets=["bob"])])
    with pytest.raises(ConflictError, match=r"changed since they were archived"):
        mem.review.approve(action.id, by="ann")
    bob = mem.graph.get_node("bob")
    assert bob.state is NodeState.ACTIVE and bob.label == "Bob"
    assert mem.review.list()[0].id == action.id  # still waiting


def test_proposing_an_unknown_target_writes_nothing(mem: PhaseMemoryRuntime) -> None:
    _seeded(mem)
    before = mem.events.last_position()
    with pytest.raises(NotFoundError, match="nobody"):
        mem.review.propose([_forget("bob"), _forget("nobody")])
    assert mem.events.last_position() == before
    assert mem.graph.get_node("bob").state is NodeState.ACTIVE
    with pytest.raises(NotFoundError, match="no proposal 'nope'"):
        mem.review.approve("nope", by="ann")


def test_a_profile_without_review_for_forget_forgets_at_once(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(Profile(id=P1, policy=ProfilePolicy(review_required=set())))
    mem.save_node(node("bob", label="Bob"))
    assert mem.review.propose([_forget("bob")]).applied
    assert mem.graph.get_node("bob").state is NodeState.FORGOTTEN


def test_proposals_are_read_from_the_log(mem: PhaseMemoryRuntime) -> None:
    _seeded(mem)
    action = _forget("bob")
    mem.review.propose([action])
    # A second runtime over the same store (as after a restart) sees the same queue.
    again = PhaseMemoryRuntime(mem.store)
    assert [p.id for p in again.review.list()] == [action.id]
    assert again.review.get(action.id).action == mem.review.get(action.id).action


# --- substring search ------------------------------------------------------------


def _names(mem: PhaseMemoryRuntime, text: str) -> set[str]:
    return {m.node_id for m in mem.graph.search_substring(P1, text, 10)}


def test_substring_search_finds_parts_of_words_cjk_symbols_and_kinds(
    mem: PhaseMemoryRuntime,
) -> None:
    _seeded(mem)
    mem.save_node(node("eve", label="Eve", kind="company", content="ラーメンが好き"))
    assert _names(mem, "Lisb") == {"ada"}
    assert _names(mem, "lisBON") == {"ada"}
    assert _names(mem, "ラーメン") == {"eve"}
    assert _names(mem, "person") == {"ada", "bob"}
    assert _names(mem, "🚀") == {"bob"}
    assert _names(mem, "b") == {"ada", "bob"}
    assert _names(mem, "zebra") == set() and _names(mem, "  ") == set()
    assert len(mem.graph.search_substring(P1, "e", 1)) == 1


def test_substring_search_text_is_never_syntax(mem: PhaseMemoryRuntime) -> None:
    mem.save_profile(profile())
    mem.save_node(node("odd", label='50% off "sale" a_b NEAR(x) * \\'))
    mem.save_node(node("plain", label="500 off sale ab"))
    for text in ['50% off', '"sale"', "a_b", "NEAR(x)", "*", "\\", "%", "_"]:
        assert _names(mem, text) == {"odd"}, text
    assert _names(mem, "sale\x00") == set()


def test_substring_search_leaves_out_archived_nodes_and_other_profiles(
    mem: PhaseMemoryRuntime,
) -> None:
    _seeded(mem)
    mem.save_profile(profile("p2"))
    mem.save_node(node("other", profile_id="p2", label="Ada elsewhere"))
    mem.review.propose([_forget("ada")])
    assert _names(mem, "Ada") == set()
    assert _names(mem, "Bob") == {"bob"}


def test_activation_finds_what_substring_search_finds(mem: PhaseMemoryRuntime) -> None:
    _seeded(mem)
    mem.save_node(node("eve", label="Eve", kind="company", content="ラーメンが好き"))
    for query, expected in [("Lisb", "ada"), ("ラーメン", "eve"), ("🚀", "bob"),
                            ("company", "eve")]:
        items = mem.activate(P1, query).items
        assert items and items[0].node_id == expected, query
        assert any(r.startswith(("substring match", "text match")) for r in items[0].reasons)
    people = {i.node_id for i in mem.activate(P1, "person").items}
    assert {"ada", "bob"} <= people


def test_a_proposal_quoting_forgotten_text_is_scrubbed_by_the_forget(
    mem: PhaseMemoryRuntime,
) -> None:
    _seeded(mem)
    action = LifecycleAction(kind=LifecycleKind.FORGET, profile_id=P1, targets=["bob"],
                             reason="forget Bob, who launches rockets")
    mem.review.propose([action])
    mem.review.approve(action.id, by="ann")
    # The forget scrubs the proposal's quote of the node; the decided proposal stays readable.
    assert [p.status for p in mem.review.list(status=None)] == ["approved"]
    assert mem.events.find_mentioning("Bob") == []

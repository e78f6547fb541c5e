"""Conformance spec of lifecycle actions: review plans, the review gate, audit, forget.

Every test takes the ``mem`` fixture (a runtime over the adapter under test).
"""

from __future__ import annotations

import json
from typing import Any, cast

import pydantic
import pytest

from phase_memory.errors import (
    IntegrityError,
    NotFoundError,
    PhaseMemoryError,
    PolicyViolationError,
    ReviewRequiredError,
    ValidationError,
)
from phase_memory.models import (
    Approval,
    AuditOutcome,
    CompactionStatus,
    LifecycleAction,
    LifecycleKind,
    MemoryNode,
    NodeState,
    Profile,
    ProfilePolicy,
)
from phase_memory.models.events import REDACTION_KEY
from phase_memory.runtime.lifecycle import apply_actions
from phase_memory.runtime.runtime import PhaseMemoryRuntime
from phase_memory.testing.builders import P1, at, edge, event, node, profile

SECRET_LABEL = "Zanzibar-7731 vault phrase"
SECRET_CONTENT = "the phrase is quokka-marmalade-4411"
SECRET_ATTRIBUTE = "hint: ocelot-umbrella-9090"
SECRETS = ("Zanzibar-7731", "quokka-marmalade-4411", "ocelot-umbrella-9090")


def approval(by: str = "reviewer:ana") -> Approval:
    """An explicit approval marker."""
    return Approval(approved_by=by, approved_at=at(3600), note="checked with the user")


def action(kind: str, *targets: str, approved: bool = False, **fields: Any) -> LifecycleAction:
    """A lifecycle action on profile ``p1`` (approved when ``approved``)."""
    if approved:
        fields["approval"] = approval()
    return LifecycleAction.model_validate(
        {"kind": kind, "profile_id": P1, "targets": list(targets), **fields}
    )


def seeded(mem: PhaseMemoryRuntime, **policy: Any) -> PhaseMemoryRuntime:
    """Profile ``p1`` with nodes a, b, c, d and edges a->b, b->c, c->d, a->c."""
    mem.save_profile(profile(P1, policy=ProfilePolicy(**policy)))
    for node_id in "abcd":
        mem.save_node(node(node_id, content=f"content of {node_id}", attributes={"n": node_id}))
    for edge_id, source, target in [
        ("ab", "a", "b"), ("bc", "b", "c"), ("cd", "c", "d"), ("ac", "a", "c"),
    ]:
        mem.save_edge(edge(edge_id, source, target))
    return mem


def consistent(mem: PhaseMemoryRuntime) -> None:
    """The tables equal a replay of the log, and the replay found no problem."""
    result = mem.events.replay()
    assert result.report.problems == []
    assert result.snapshot.same_records(mem.graph.snapshot())


def _state(mem: PhaseMemoryRuntime) -> tuple[int, Any, int]:
    return mem.events.last_position(), mem.graph.snapshot(), len(mem.audit.list())


# --- plan ------------------------------------------------------------------------------


def test_plan_reports_review_from_the_policy_and_writes_nothing(mem: PhaseMemoryRuntime) -> None:
    seeded(mem)
    path = mem.paths.open(P1)
    actions = [
        action("archive", "a"),
        action("restore", "a"),
        action("forget", "b"),
        action("merge_nodes", "c", "d"),
        action("reweight", "a", params={"salience": 0.9}),
        action("compact_path", path.id, params={"label": "summary"}),
    ]
    before = _state(mem)
    review = mem.plan(actions)
    assert _state(mem) == before
    assert review.review_required == [actions[2].id, actions[3].id, actions[5].id]
    assert review.denied == review.review_required
    assert not review.applicable
    assert [a.review_required for a in review.actions] == [False, False, True, True, False, True]


def test_plan_lists_what_each_action_would_touch(mem: PhaseMemoryRuntime) -> None:
    seeded(mem)
    path = mem.paths.open(P1)
    forget = action("forget", "b", approved=True)
    merge = action("merge_nodes", "a", "c", approved=True)
    reweight = action("reweight", "cd", params={"weight": 0.2})
    compact = action("compact_path", path.id, params={"label": "s", "node_id": "summary-1"})
    review = mem.plan([forget, merge, reweight, compact])
    by_id = {a.action_id: a for a in review.actions}
    assert by_id[forget.id].node_ids == ["b"]
    assert by_id[forget.id].edge_ids == ["ab", "bc"]
    assert by_id[merge.id].node_ids == ["a", "c"]
    assert by_id[merge.id].edge_ids == ["ac", "bc", "cd"]  # ac becomes a self-loop: removed
    assert by_id[reweight.id].edge_ids == ["cd"] and by_id[reweight.id].node_ids == []
    assert by_id[compact.id].path_ids == [path.id]
    assert by_id[compact.id].node_ids == ["summary-1"]
    assert review.denied == [compact.id]


def test_plan_reports_unknown_targets_and_profiles(mem: PhaseMemoryRuntime) -> None:
    seeded(mem)
    missing = action("archive", "a", "ghost")
    no_profile = LifecycleAction.model_validate(
        {"kind": "archive", "profile_id": "nobody", "targets": ["a"]}
    )
    review = mem.plan([missing, no_profile])
    assert review.actions[0].unknown_targets == ["ghost"]
    assert set(review.actions[1].unknown_targets) == {"nobody", "a"}
    assert review.actions[1].review_required  # no policy to relax anything: fail closed
    assert review.unknown_targets == ["a", "ghost", "nobody"]


def test_review_need_follows_the_profile_policy(mem: PhaseMemoryRuntime) -> None:
    seeded(mem, review_required=frozenset({LifecycleKind.ARCHIVE}))
    review = mem.plan([action("archive", "a"), action("forget", "b")])
    assert [a.review_required for a in review.actions] == [True, False]
    with pytest.raises(ReviewRequiredError):
        mem.apply([action("archive", "a")])
    mem.apply([action("forget", "b")])  # this profile does not send forget to review
    assert mem.graph.get_node("b").state is NodeState.FORGOTTEN


# --- the gate ---------------------------------------------------------------------------


def test_unapproved_action_denies_the_whole_call(mem: PhaseMemoryRuntime) -> None:
    seeded(mem)
    free = action("archive", "a")
    approved = action("forget", "d", approved=True)
    forget = action("forget", "b", reason="user asked")
    merge = action("merge_nodes", "c", "d")
    position, snapshot, _ = _state(mem)
    with pytest.raises(ReviewRequiredError) as caught:
        mem.apply([free, approved, forget, merge])
    assert caught.value.denied == (forget.id, merge.id)
    assert forget.id in str(caught.value) and "merge_nodes" in str(caught.value)
    assert mem.events.last_position() == position
    assert mem.graph.snapshot() == snapshot
    denied = mem.audit.list(outcome=AuditOutcome.DENIED)
    assert [(r.operation, r.subject_ids) for r in denied] == [
        ("lifecycle.forget", ["b"]),
        ("lifecycle.merge_nodes", ["c", "d"]),
    ]
    assert denied[0].details["action_id"] == forget.id
    assert denied[0].actor == mem.actor
    assert mem.audit.list(outcome=AuditOutcome.APPLIED) == []


def test_denial_is_audited_each_time(mem: PhaseMemoryRuntime) -> None:
    seeded(mem)
    for _ in range(2):
        with pytest.raises(ReviewRequiredError):
            mem.apply([action("compact_path", mem.paths.open(P1).id)])
    assert len(mem.audit.list(operation="lifecycle.compact_path", outcome=AuditOutcome.DENIED)) == 2


def test_approved_and_review_free_actions_apply_with_audit(mem: PhaseMemoryRuntime) -> None:
    seeded(mem)
    free = action("archive", "a", reason="stale")
    forget = action("forget", "b", approved=True, reason="user asked to forget")
    result = mem.apply([free, forget])
    assert result.applied == [free.id, forget.id]
    assert [e.kind for e in result.events] == ["lifecycle.applied", "lifecycle.applied"]
    actions = [cast(dict[str, Any], e.payload["action"]) for e in result.events]
    assert [a["id"] for a in actions] == [free.id, forget.id]
    positions = [e.position or 0 for e in result.events]
    assert positions == sorted(positions) and positions[-1] == mem.events.last_position()
    applied = mem.audit.list(outcome=AuditOutcome.APPLIED)
    assert [r.operation for r in applied] == ["lifecycle.archive", "lifecycle.forget"]
    assert [r.id for r in applied] == result.audit_ids
    assert applied[0].subject_ids == ["a"]
    assert applied[1].details["approved_by"] == "reviewer:ana"
    assert applied[1].details["reason"] == "user asked to forget"
    assert applied[1].actor == mem.actor
    consistent(mem)


def test_apply_is_atomic_when_an_action_fails(mem: PhaseMemoryRuntime) -> None:
    seeded(mem)
    position, snapshot, _ = _state(mem)
    with pytest.raises(NotFoundError):
        mem.apply([action("archive", "a"), action("archive", "ghost")])
    assert mem.events.last_position() == position
    assert mem.graph.snapshot() == snapshot
    failed = mem.audit.list(outcome=AuditOutcome.FAILED)
    assert len(failed) == 1 and failed[0].operation == "lifecycle.apply"
    assert mem.audit.list(outcome=AuditOutcome.APPLIED) == []


def test_empty_call_writes_nothing(mem: PhaseMemoryRuntime) -> None:
    seeded(mem)
    before = _state(mem)
    assert mem.apply([]).applied == []
    assert _state(mem) == before


# --- no way around the gate -------------------------------------------------------------


def _assert_refused(mem: PhaseMemoryRuntime, position: int, node_id: str = "b") -> None:
    assert mem.events.last_position() == position
    stored = mem.graph.get_node(node_id)
    assert stored.state is NodeState.ACTIVE and stored.content == f"content of {node_id}"


def test_no_bypass_of_the_review_gate(
    mem: PhaseMemoryRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded(mem)
    position = mem.events.last_position()

    # 1. approval=None, spelled out
    with pytest.raises(ReviewRequiredError):
        mem.apply([action("forget", "b", approval=None)])

    # 2. forged kind strings: rejected at construction, or re-validated by apply
    with pytest.raises(pydantic.ValidationError):
        LifecycleAction.model_validate({"kind": "Forget", "profile_id": P1, "targets": ["b"]})
    forged = LifecycleAction.model_construct(
        id="forged-1", kind=cast(Any, "forget-now"), profile_id=P1, targets=["b"], params={},
        reason="", approval=None,
    )
    with pytest.raises(ValidationError):
        mem.apply([forged])
    plain = LifecycleAction.model_construct(
        id="forged-2", kind=cast(Any, "forget"), profile_id=P1, targets=["b"], params={}, reason="",
        approval=None,
    )
    with pytest.raises(ReviewRequiredError):
        mem.apply([plain])
    fake_approval = LifecycleAction.model_construct(
        id="forged-3", kind=cast(Any, "forget"), profile_id=P1, targets=["b"], params={}, reason="",
        approval=cast(Any, {"approved_by": ""}),
    )
    with pytest.raises(ValidationError):
        mem.apply([fake_approval])

    # 3. mutating the policy on the profile object the store returned
    stored = mem.graph.get_profile(P1)
    with pytest.raises(pydantic.ValidationError):
        stored.policy.review_required = frozenset()  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        stored.policy = ProfilePolicy(review_required=frozenset())  # type: ignore[misc]
    with pytest.raises(AttributeError):
        stored.policy.review_required.discard(LifecycleKind.FORGET)  # type: ignore[attr-defined]
    relaxed = stored.model_copy(update={"policy": ProfilePolicy(review_required=frozenset())})
    assert relaxed.policy.review_required == frozenset()  # a copy, never stored
    with pytest.raises(ReviewRequiredError):
        mem.apply([action("forget", "b")])

    # 4. a policy override, or any other switch, passed to apply
    for kwargs in (
        {"policy": ProfilePolicy(review_required=frozenset())},
        {"review": False},
        {"skip_review": True},
        {"force": True},
    ):
        with pytest.raises(TypeError):
            cast(Any, mem.apply)([action("forget", "b")], **kwargs)
        with pytest.raises(TypeError):
            cast(Any, apply_actions)(mem, [action("forget", "b")], **kwargs)

    # 5. environment variables
    for name in ("PHASE_MEMORY_SKIP_REVIEW", "PHASE_MEMORY_NO_REVIEW", "PHASE_MEMORY_APPROVE"):
        monkeypatch.setenv(name, "1")
    with pytest.raises(ReviewRequiredError):
        mem.apply([action("forget", "b")])

    # 6. a hand-built lifecycle.applied event, recorded below the convenience API
    tombstone = mem.graph.get_node("b").model_copy(
        update={"label": "", "content": None, "attributes": {}, "state": NodeState.FORGOTTEN}
    )
    payload: dict[str, Any] = {
        "action": action("forget", "b").model_dump(mode="json"),
        "nodes": [tombstone.model_dump(mode="json")],
        "removed_edge_ids": ["ab", "bc"],
    }
    with pytest.raises(ReviewRequiredError):
        mem.record(event("lifecycle.applied", payload))
    with pytest.raises(ReviewRequiredError):
        mem.record_many([event("note.taken", {"text": "hi"}), event("lifecycle.applied", payload)])

    # 7. the same effect disguised as a review-free kind
    disguised = {**payload, "action": action("archive", "b").model_dump(mode="json")}
    with pytest.raises(ValidationError):
        mem.record(event("lifecycle.applied", disguised))

    # 8. raw events that do part of a review-required action and cannot carry an approval
    raw = [
        event("nodes.merged", {"survivor_id": "a", "merged_ids": ["b"]}),
        event("node.state_changed", {"node_id": "b", "state": "forgotten"}),
        event("node.saved", {"node": tombstone.model_dump(mode="json")}),
        event("path.compacted", {"path_id": mem.paths.open(P1).id, "summary_node_id": "a"}),
    ]
    position = mem.events.last_position()
    for refused in raw:
        with pytest.raises(ReviewRequiredError):
            mem.record(refused)

    _assert_refused(mem, position)
    assert mem.graph.get_node("a").state is NodeState.ACTIVE
    assert len(mem.audit.list(outcome=AuditOutcome.DENIED)) >= 8
    assert mem.audit.list(outcome=AuditOutcome.APPLIED) == []
    consistent(mem)


def test_approved_hand_built_event_must_still_match_its_action(mem: PhaseMemoryRuntime) -> None:
    seeded(mem)
    keep = mem.graph.get_node("b").model_copy(update={"state": NodeState.FORGOTTEN})
    payload: dict[str, Any] = {
        "action": action("forget", "b", approved=True).model_dump(mode="json"),
        "nodes": [keep.model_dump(mode="json")],  # content not erased
        "removed_edge_ids": ["ab", "bc"],
    }
    with pytest.raises(ValidationError):
        mem.record(event("lifecycle.applied", payload))
    assert mem.graph.get_node("b").state is NodeState.ACTIVE


# --- the kinds ---------------------------------------------------------------------------


def test_archive_and_restore_change_only_the_state(mem: PhaseMemoryRuntime) -> None:
    seeded(mem)
    original = mem.graph.get_node("a")
    mem.apply([action("archive", "a")])
    archived = mem.graph.get_node("a")
    assert archived.state is NodeState.ARCHIVED and archived.version == original.version + 1
    assert (archived.label, archived.content, archived.attributes) == (
        original.label, original.content, original.attributes,
    )
    assert len(mem.graph.edges_touching("a")) == 2
    mem.apply([action("restore", "a")])
    restored = mem.graph.get_node("a")
    assert restored.state is NodeState.ACTIVE and restored.version == original.version + 2
    assert restored.model_dump(exclude={"version", "updated_at"}) == original.model_dump(
        exclude={"version", "updated_at"}
    )
    consistent(mem)


def test_actions_of_one_call_apply_in_order(mem: PhaseMemoryRuntime) -> None:
    seeded(mem)
    mem.apply([action("archive", "a"), action("restore", "a"), action("archive", "a")])
    assert mem.graph.get_node("a").state is NodeState.ARCHIVED
    consistent(mem)


def test_merge_nodes_repoints_edges_and_leaves_a_tombstone(mem: PhaseMemoryRuntime) -> None:
    seeded(mem)
    mem.apply([action("merge_nodes", "a", "c", approved=True)])
    tomb = mem.graph.get_node("c")
    assert tomb.state is NodeState.ARCHIVED
    assert tomb.attributes["merged_into"] == "a"
    assert mem.graph.find_edge("ac") is None  # would have become a self-loop
    bc = mem.graph.get_edge("bc")
    cd = mem.graph.get_edge("cd")
    assert (bc.source_id, bc.target_id) == ("b", "a")
    assert (cd.source_id, cd.target_id) == ("a", "d")
    assert mem.graph.edges_touching("c") == []
    consistent(mem)


def test_merge_nodes_needs_two_distinct_nodes(mem: PhaseMemoryRuntime) -> None:
    seeded(mem)
    for targets in (("a",), ("a", "a")):
        with pytest.raises(ValidationError):
            mem.apply([action("merge_nodes", *targets, approved=True)])


def test_reweight_sets_salience_and_weight(mem: PhaseMemoryRuntime) -> None:
    seeded(mem)
    mem.apply([
        action("reweight", "a", "b", params={"salience": 0.9}),
        action("reweight", "ab", params={"weight": 0.25}),
    ])
    assert mem.graph.get_node("a").salience == 0.9
    assert mem.graph.get_node("b").salience == 0.9
    assert mem.graph.get_edge("ab").weight == 0.25
    consistent(mem)
    position = mem.events.last_position()
    for params in ({"salience": 1.5}, {"salience": "high"}, {}):
        with pytest.raises(ValidationError):
            mem.apply([action("reweight", "a", params=params)])
    assert mem.events.last_position() == position


def test_compact_path_creates_a_summary_and_keeps_the_events(mem: PhaseMemoryRuntime) -> None:
    seeded(mem)
    path = mem.paths.open(P1)
    mem.save_node(node("turn-1", label="asked about trains"), path_id=path.id)
    mem.save_node(node("turn-2", label="booked the 9:15"), path_id=path.id)
    before = [e.event_id for e in mem.events.list(path_id=path.id)]
    compact = action(
        "compact_path", path.id, approved=True,
        params={
            "label": "Train booking", "content": "Booked the 9:15 to Leeds.", "kind": "summary",
        },
    )
    result = mem.apply([compact])
    compacted = mem.paths.get(path.id)
    assert compacted.compaction_status is CompactionStatus.COMPACTED
    summary = mem.graph.get_node(compacted.summary_node_id or "")
    assert (summary.kind, summary.label, summary.content) == (
        "summary", "Train booking", "Booked the 9:15 to Leeds.",
    )
    assert [e.event_id for e in mem.events.list(path_id=path.id)] == before
    assert result.events[0].kind == "lifecycle.applied"
    with pytest.raises(PhaseMemoryError):
        mem.apply([compact.model_copy(update={"id": "again"})])
    consistent(mem)


def test_compact_path_summary_kind_follows_the_policy(mem: PhaseMemoryRuntime) -> None:
    seeded(mem, node_kinds=frozenset({"note"}))
    path = mem.paths.open(P1)
    with pytest.raises(ValidationError):
        mem.apply([action("compact_path", path.id, approved=True, params={"kind": "summary"})])
    assert mem.paths.get(path.id).compaction_status is CompactionStatus.NONE


def test_forgotten_nodes_cannot_be_changed_again(mem: PhaseMemoryRuntime) -> None:
    seeded(mem)
    mem.apply([action("forget", "a", approved=True)])
    for kind in ("restore", "archive", "forget"):
        with pytest.raises(ValidationError):
            mem.apply([action(kind, "a", approved=True)])
    with pytest.raises(ValidationError):
        mem.apply([action("reweight", "a", params={"salience": 1.0})])


# --- forget -------------------------------------------------------------------------------


def _trace(value: Any) -> list[str]:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return [s for s in SECRETS if s in text]


def write_secret_history(mem: PhaseMemoryRuntime) -> str:
    """A node holding the secrets, written and echoed in every way the log allows."""
    mem.save_profile(profile(P1))
    mem.save_node(node("friend", label="Friend Kim", content="met at the climbing gym"))
    path = mem.paths.open(P1)
    secret = node(
        "secret", label=SECRET_LABEL, content=SECRET_CONTENT,
        attributes={"hint": SECRET_ATTRIBUTE, "nested": [SECRET_ATTRIBUTE]},
    )
    imported = node("imported", label="imported neighbour")
    mem.record(
        event(
            "graph.imported",
            {"nodes": [secret.model_dump(mode="json"), imported.model_dump(mode="json")]},
        )
    )
    mem.save_node(secret.model_copy(update={"salience": 0.9}), path_id=path.id)
    mem.save_edge(edge("e-friend", "friend", "secret"))
    mem.save_edge(edge("e-imported", "secret", "imported"))
    mem.apply([action("archive", "secret"), action("restore", "secret")])
    mem.activate(P1, "vault phrase", path_id=path.id)
    mem.activate(P1, "what was the vault phrase?")
    mem.record(
        event("chat.note", {"about": "secret", "text": f"user said {SECRET_CONTENT}"}, seconds=5)
    )
    mem.record(event("chat.note", {"text": f"again: {SECRET_CONTENT}"}, seconds=6))
    return path.id


def test_forget_erases_the_node_from_graph_events_and_plans(mem: PhaseMemoryRuntime) -> None:
    path_id = write_secret_history(mem)
    assert _trace([e.payload for e in mem.events.list()]) == list(SECRETS)
    plans = mem.graph.list_activation_plans()
    planned = [i for p in plans for i in p.items if i.node_id == "secret"]
    assert planned and all(i.label == SECRET_LABEL for i in planned)
    before = mem.events.last_position()
    result = mem.apply([
        action("forget", "secret", approved=True, reason="user asked us to forget it"),
    ])
    tomb = mem.graph.get_node("secret")
    assert tomb.state is NodeState.FORGOTTEN
    assert (tomb.label, tomb.content, tomb.attributes) == ("", None, {})
    assert mem.graph.edges_touching("secret") == []
    assert mem.graph.get_node("friend").content == "met at the climbing gym"

    events = mem.events.list()
    assert len(events) == before + 1  # nothing deleted, one event added
    assert _trace([e.payload for e in events]) == []
    assert _trace([p.model_dump(mode="json") for p in mem.graph.list_activation_plans()]) == []
    assert _trace(mem.graph.snapshot().model_dump(mode="json")) == []
    assert _trace([r.model_dump(mode="json") for r in mem.audit.list()]) == []
    redacted = [e for e in events if REDACTION_KEY in e.payload]
    assert {e.event_id for e in redacted} == set(result.redacted_event_ids)
    assert {e.kind for e in redacted} >= {
        "graph.imported", "node.saved", "lifecycle.applied", "activation.planned", "chat.note",
    }
    for e in redacted:
        marker = e.payload[REDACTION_KEY]
        assert isinstance(marker, dict) and marker["node_ids"] == ["secret"]
    imported = next(e for e in events if e.kind == "graph.imported")
    records = cast(list[dict[str, Any]], imported.payload["nodes"])
    kept = [n for n in records if n["id"] == "imported"]
    assert kept[0]["label"] == "imported neighbour"

    for plan in mem.graph.list_activation_plans():
        for item in plan.items:
            if item.node_id == "secret":
                assert item.redacted and item.label is None and item.content is None

    assert mem.graph.search_text(P1, ["quokka", "zanzibar", "vault", "ocelot"], 10) == []
    assert all(i.node_id != "secret" for i in mem.activate(P1, "vault phrase").items)

    report = mem.events.replay()
    assert report.report.problems == []
    assert report.report.redacted == len([e for e in redacted if e.kind != "chat.note"])
    assert report.snapshot.same_records(mem.graph.snapshot())
    for until in range(1, before + 1):
        assert _trace(mem.events.replay(until=until).snapshot.model_dump(mode="json")) == []
    path_replay = mem.events.replay(path_id=path_id)
    assert path_replay.report.problems == []
    assert _trace(path_replay.snapshot.model_dump(mode="json")) == []

    audit = mem.audit.list(operation="lifecycle.forget", outcome=AuditOutcome.APPLIED)
    assert len(audit) == 1
    assert "secret" in audit[0].subject_ids
    assert audit[0].details["reason"] == "user asked us to forget it"
    assert audit[0].details["approved_by"] == "reviewer:ana"
    assert audit[0].actor == mem.actor


def test_forget_scrubs_its_own_reason_and_note(mem: PhaseMemoryRuntime) -> None:
    write_secret_history(mem)
    forget = action(
        "forget", "secret", reason=f"remove {SECRET_CONTENT}",
        approval=Approval(approved_by="ana", approved_at=at(1), note=f"ok: {SECRET_LABEL}"),
    )
    mem.apply([forget])
    assert _trace([e.payload for e in mem.events.list()]) == []
    assert _trace([r.model_dump(mode="json") for r in mem.audit.list()]) == []
    consistent(mem)


def test_forget_of_a_compaction_summary_erases_the_compaction_params(
    mem: PhaseMemoryRuntime,
) -> None:
    mem.save_profile(profile(P1))
    path = mem.paths.open(P1)
    mem.apply([
        action(
            "compact_path", path.id, approved=True,
            params={"label": SECRET_LABEL, "content": SECRET_CONTENT, "node_id": "sum"},
        )
    ])
    mem.apply([action("forget", "sum", approved=True)])
    assert _trace([e.payload for e in mem.events.list()]) == []
    assert mem.paths.get(path.id).summary_node_id == "sum"
    consistent(mem)


def test_denied_forget_erases_nothing(mem: PhaseMemoryRuntime) -> None:
    write_secret_history(mem)
    payloads = [e.payload for e in mem.events.list()]
    with pytest.raises(ReviewRequiredError):
        mem.apply([action("forget", "secret")])
    assert [e.payload for e in mem.events.list()] == payloads
    assert mem.graph.get_node("secret").content == SECRET_CONTENT
    denied = mem.audit.list(operation="lifecycle.forget", outcome=AuditOutcome.DENIED)
    assert len(denied) == 1 and _trace(denied[0].model_dump(mode="json")) == []


def test_forget_then_failure_rolls_the_erasure_back(mem: PhaseMemoryRuntime) -> None:
    write_secret_history(mem)
    payloads = [e.payload for e in mem.events.list()]
    with pytest.raises(NotFoundError):
        mem.apply([action("forget", "secret", approved=True), action("archive", "ghost")])
    assert [e.payload for e in mem.events.list()] == payloads
    assert mem.graph.get_node("secret").content == SECRET_CONTENT
    consistent(mem)


def test_merged_event_in_the_log_cannot_name_unknown_nodes(mem: PhaseMemoryRuntime) -> None:
    seeded(mem, review_required=frozenset())
    with pytest.raises((IntegrityError, ValidationError)):
        mem.record(event("nodes.merged", {"survivor_id": "a", "merged_ids": ["ghost"]}))


def test_lifecycle_actions_still_apply_to_nodes_of_a_kind_the_policy_has_since_dropped(
    mem: PhaseMemoryRuntime,
) -> None:
    """Tightening a node-kind allow-list must not make existing nodes unmanageable."""
    mem.save_profile(Profile(id="tight"))
    node = mem.save_node(MemoryNode(profile_id="tight", kind="legacy", label="old habit"))
    profile = mem.graph.get_profile("tight")
    tightened = profile.policy.model_copy(update={"node_kinds": frozenset({"fact"})})
    mem.save_profile(profile.model_copy(update={"policy": tightened}))
    with pytest.raises(PolicyViolationError):
        mem.save_node(MemoryNode(profile_id="tight", kind="legacy", label="new one"))
    mem.apply([LifecycleAction(kind=LifecycleKind.ARCHIVE, profile_id="tight", targets=[node.id])])
    assert mem.graph.get_node(node.id).state is NodeState.ARCHIVED

"""Unit tests of the domain models: identifiers, timestamps, defaults, immutability."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pydantic
import pytest

import phase_memory as pm
from phase_memory.errors import (
    DuplicateEventError,
    ImportProblem,
    ImportValidationError,
    PhaseMemoryError,
    ReviewRequiredError,
)
from phase_memory.models import (
    ActivationItem,
    ActivationPlan,
    Approval,
    AuditOutcome,
    AuditRecord,
    LifecycleAction,
    LifecycleKind,
    MemoryEdge,
    MemoryEvent,
    MemoryNode,
    MemoryPath,
    NodeState,
    PathStatus,
    Profile,
    ProfilePolicy,
    Sensitivity,
    new_id,
)
from phase_memory.models.ids import check_identifier

NAIVE = datetime(2024, 1, 1, 12, 0, 0)


def _node(**fields: object) -> MemoryNode:
    base: dict[str, object] = {"profile_id": "p1", "kind": "note", "label": "x"}
    base.update(fields)
    return MemoryNode.model_validate(base)


# --- timestamps -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (MemoryNode, {"profile_id": "p", "kind": "k", "label": "l", "created_at": NAIVE}),
        (MemoryNode, {"profile_id": "p", "kind": "k", "label": "l", "updated_at": NAIVE}),
        (MemoryEvent, {"kind": "chat.turn", "profile_id": "p", "occurred_at": NAIVE}),
        (Profile, {"created_at": NAIVE}),
        (MemoryPath, {"profile_id": "p", "updated_at": NAIVE}),
        (Approval, {"approved_by": "ana", "approved_at": NAIVE}),
        (AuditRecord, {"operation": "x", "outcome": "applied", "at": NAIVE}),
    ],
)
def test_naive_datetimes_are_rejected(
    model: type[pydantic.BaseModel], fields: dict[str, object]
) -> None:
    with pytest.raises(pydantic.ValidationError) as raised:
        model.model_validate(fields)
    assert "timezone" in str(raised.value).lower()


def test_aware_datetimes_are_normalised_to_utc() -> None:
    local = datetime(2024, 1, 1, 14, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    made = _node(created_at=local)
    assert made.created_at == local
    assert made.created_at.utcoffset() == timedelta(0)
    assert made.created_at.hour == 12
    assert made.created_at.microsecond == 123456


def test_iso_strings_with_offsets_are_accepted() -> None:
    made = _node(created_at="2024-01-01T12:00:00.5+01:00")
    assert made.created_at == datetime(2024, 1, 1, 11, 0, 0, 500000, tzinfo=UTC)
    with pytest.raises(pydantic.ValidationError):
        _node(created_at="2024-01-01T12:00:00")


def test_omitted_timestamps_default_to_now_in_utc() -> None:
    before = datetime.now(UTC)
    made = _node()
    after = datetime.now(UTC)
    assert before <= made.created_at <= after
    assert before <= made.updated_at <= after
    assert made.created_at.utcoffset() == timedelta(0)
    occurred = MemoryEvent(kind="chat.turn", profile_id="p").occurred_at
    assert before <= occurred <= datetime.now(UTC)


# --- identifiers ------------------------------------------------------------------


BAD_IDS = [
    "",
    "x" * 201,
    " leading",
    "trailing ",
    "\tTab",
    "new\nline",
    "nul\x00byte",
    "bell\x07",
    "del\x7f",
    "escape\x1b[0m",
]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_identifiers_are_rejected_everywhere(bad: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        _node(id=bad)
    with pytest.raises(pydantic.ValidationError):
        _node(profile_id=bad)
    with pytest.raises(pydantic.ValidationError):
        MemoryEvent(event_id=bad, kind="chat.turn", profile_id="p")
    with pytest.raises(pydantic.ValidationError):
        MemoryEdge(profile_id="p", source_id=bad, target_id="b", kind="k")
    with pytest.raises(ValueError):
        check_identifier(bad)


@pytest.mark.parametrize("good", ["x", "x" * 200, "a b", "nœud-🙂", "user:42/notes", "日本"])
def test_good_identifiers_are_accepted(good: str) -> None:
    assert _node(id=good).id == good
    assert check_identifier(good) == good


@pytest.mark.parametrize("bad", ["", "two words", "tab\tkind", "x" * 201, " pad"])
def test_kinds_are_identifiers_without_whitespace(bad: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        _node(kind=bad)


@pytest.mark.parametrize("bad", ["chat turn", "chat..turn", ".chat", "chat.", "chat/turn"])
def test_event_kinds_must_be_dotted_names(bad: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        MemoryEvent(kind=bad, profile_id="p")


def test_event_kinds_accept_dotted_names() -> None:
    for kind in ["chat", "chat.turn", "tool.call-made.v2", "node_saved"]:
        assert MemoryEvent(kind=kind, profile_id="p").kind == kind


def test_generated_ids_are_unique_and_sort_in_creation_order() -> None:
    made = [new_id() for _ in range(5000)]
    assert len(set(made)) == len(made)
    assert made == sorted(made)
    for value in made[:10]:
        assert len(value) == 36
        assert value[14] == "7"  # UUID version 7
        assert value[19] in "89ab"  # RFC 4122 variant
        check_identifier(value)


def test_generated_ids_are_unique_across_threads() -> None:
    results: list[list[str]] = [[] for _ in range(8)]

    def work(bucket: list[str]) -> None:
        bucket.extend(new_id() for _ in range(1000))

    threads = [threading.Thread(target=work, args=(bucket,)) for bucket in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [value for bucket in results for value in bucket]
    assert len(set(everything)) == len(everything)
    for bucket in results:
        assert bucket == sorted(bucket)


def test_models_generate_their_ids_when_omitted() -> None:
    first, second = _node(), _node()
    assert first.id != second.id
    assert first.id < second.id
    assert MemoryEvent(kind="x", profile_id="p").event_id
    assert Profile().id
    assert MemoryPath(profile_id="p").id
    assert AuditRecord(operation="x", outcome=AuditOutcome.APPLIED).id


# --- shape ------------------------------------------------------------------------


def test_models_are_frozen() -> None:
    made = _node()
    with pytest.raises(pydantic.ValidationError):
        made.label = "changed"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        Profile().name = "x"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        ProfilePolicy().activation_budget = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (MemoryNode, {"profile_id": "p", "kind": "k", "label": "l", "colour": "red"}),
        (MemoryEdge, {"profile_id": "p", "source_id": "a", "target_id": "b", "kind": "k",
                      "extra": 1}),
        (MemoryEvent, {"kind": "x", "profile_id": "p", "unknown": None}),
        (Profile, {"owner": "me"}),
        (ProfilePolicy, {"strict": True}),
        (MemoryPath, {"profile_id": "p", "branch": "x"}),
        (AuditRecord, {"operation": "x", "outcome": "applied", "who": "me"}),
    ],
)
def test_extra_fields_are_forbidden(
    model: type[pydantic.BaseModel], fields: dict[str, object]
) -> None:
    with pytest.raises(pydantic.ValidationError) as raised:
        model.model_validate(fields)
    assert "extra" in str(raised.value).lower()


def test_only_identity_and_meaning_are_required_for_a_node() -> None:
    made = MemoryNode(profile_id="p", kind="fact", label="The sky is blue")
    assert made.content is None
    assert made.attributes == {}
    assert made.salience == 0.5
    assert made.sensitivity is Sensitivity.INTERNAL
    assert made.state is NodeState.ACTIVE
    assert made.version == 0
    with pytest.raises(pydantic.ValidationError):
        MemoryNode.model_validate({"profile_id": "p", "kind": "fact"})


@pytest.mark.parametrize("salience", [-0.01, 1.01])
def test_salience_is_between_zero_and_one(salience: float) -> None:
    with pytest.raises(pydantic.ValidationError):
        _node(salience=salience)


def test_path_defaults_and_tree_id() -> None:
    root = MemoryPath(id="root", profile_id="p")
    assert root.status is PathStatus.OPEN
    assert root.active is False
    assert root.tree_id == "root"
    child = MemoryPath(id="child", profile_id="p", parent_path_id="root", root_path_id="root")
    assert child.tree_id == "root"


def test_lifecycle_action_needs_targets_and_a_known_kind() -> None:
    with pytest.raises(pydantic.ValidationError):
        LifecycleAction(kind=LifecycleKind.ARCHIVE, profile_id="p", targets=[])
    with pytest.raises(pydantic.ValidationError):
        LifecycleAction.model_validate({"kind": "shred", "profile_id": "p", "targets": ["n"]})
    action = LifecycleAction(kind=LifecycleKind.FORGET, profile_id="p", targets=["n"])
    assert action.approval is None


def test_event_schema_version_defaults_to_one_and_is_positive() -> None:
    assert MemoryEvent(kind="x", profile_id="p").schema_version == 1
    with pytest.raises(pydantic.ValidationError):
        MemoryEvent(kind="x", profile_id="p", schema_version=0)


def test_sensitivity_levels_are_ordered() -> None:
    levels = [s.level for s in (Sensitivity.PUBLIC, Sensitivity.INTERNAL, Sensitivity.PRIVATE,
                                Sensitivity.SECRET)]
    assert levels == [0, 1, 2, 3]


# --- policy -----------------------------------------------------------------------


def test_policy_defaults() -> None:
    policy = ProfilePolicy()
    assert policy.review_required == {
        LifecycleKind.FORGET, LifecycleKind.MERGE_NODES, LifecycleKind.COMPACT_PATH,
    }
    assert policy.node_kinds is None
    assert policy.edge_kinds is None
    assert policy.redact_at is Sensitivity.SECRET
    assert policy.activation_budget == 20
    assert Profile().policy == policy
    assert policy.allows_node_kind("anything")


def test_policy_allow_lists() -> None:
    policy = ProfilePolicy(node_kinds=frozenset({"fact"}), edge_kinds=frozenset({"about"}))
    assert policy.allows_node_kind("fact")
    assert not policy.allows_node_kind("episode")
    assert policy.allows_edge_kind("about")
    assert not policy.allows_edge_kind("likes")


@pytest.mark.parametrize("budget", [0, 10_001])
def test_policy_budget_bounds(budget: int) -> None:
    with pytest.raises(pydantic.ValidationError):
        ProfilePolicy(activation_budget=budget)


def test_set_fields_serialise_sorted() -> None:
    policy = ProfilePolicy(
        review_required=frozenset({LifecycleKind.REWEIGHT, LifecycleKind.ARCHIVE,
                                   LifecycleKind.FORGET}),
        node_kinds=frozenset({"zeta", "alpha", "mid"}),
    )
    dumped = policy.model_dump(mode="json")
    assert dumped["review_required"] == ["archive", "forget", "reweight"]
    assert dumped["node_kinds"] == ["alpha", "mid", "zeta"]
    assert dumped["edge_kinds"] is None
    assert '"node_kinds":["alpha","mid","zeta"]' in policy.model_dump_json()
    assert ProfilePolicy.model_validate_json(policy.model_dump_json()) == policy


# --- JSON round trips -------------------------------------------------------------


def test_every_model_round_trips_through_json() -> None:
    approval = Approval(approved_by="ana", note="ok")
    records: list[pydantic.BaseModel] = [
        Profile(name="ü", policy=ProfilePolicy(node_kinds=frozenset({"a"}))),
        _node(attributes={"nested": {"list": [1, 2.5, None]}}, content="🙂"),
        MemoryEdge(profile_id="p", source_id="a", target_id="b", kind="k", weight=0.5),
        MemoryEvent(kind="chat.turn", profile_id="p", payload={"x": [1]}, position=3),
        MemoryPath(profile_id="p", status=PathStatus.ABANDONED, abandoned_reason="why"),
        LifecycleAction(kind=LifecycleKind.FORGET, profile_id="p", targets=["n"],
                        approval=approval),
        ActivationPlan(profile_id="p", query="q", budget=3,
                       items=[ActivationItem(node_id="n", rank=1, score=0.5, redacted=True)]),
        AuditRecord(operation="x", outcome=AuditOutcome.DENIED, subject_ids=["n"]),
    ]
    for record in records:
        assert type(record).model_validate_json(record.model_dump_json()) == record
        assert type(record).model_validate(record.model_dump(mode="json")) == record


def test_public_names_are_importable_from_the_package() -> None:
    for name in ["MemoryNode", "MemoryEdge", "MemoryEvent", "MemoryPath", "Profile",
                 "ProfilePolicy", "LifecycleAction", "Approval", "ActivationPlan", "AuditRecord",
                 "MemoryGraphStore", "MemoryEventLog", "AuditSink", "PhaseMemoryError",
                 "DuplicateEventError", "ConflictError", "IntegrityError", "NotFoundError"]:
        assert hasattr(pm, name), name


# --- errors -----------------------------------------------------------------------


def test_errors_name_what_went_wrong() -> None:
    duplicate = DuplicateEventError("evt-1")
    assert duplicate.event_id == "evt-1"
    assert "evt-1" in str(duplicate)
    review = ReviewRequiredError(["a1", "a2"], ["forget", "merge_nodes"])
    assert review.denied == ("a1", "a2")
    assert "a1 (forget)" in str(review)
    problems = [ImportProblem(file="events.jsonl", field="kind", reason="missing", line=i)
                for i in range(1, 8)]
    refused = ImportValidationError(problems)
    assert refused.problems == tuple(problems)
    assert "events.jsonl:1: kind: missing" in str(refused)
    assert "and 2 more" in str(refused)
    for error in (duplicate, review, refused):
        assert isinstance(error, PhaseMemoryError)

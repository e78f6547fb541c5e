"""Lifecycle actions: review plans, the review gate, and applying actions as events.

``plan_actions`` tells, without writing anything, which actions the profile
policy sends to review and what each would touch. ``apply_actions`` applies a
call's actions in one transaction, each as one ``lifecycle.applied`` event
carrying the full records it writes, with one audit record per action. If any
action of the call needs review and carries no approval, nothing is written,
one ``denied`` audit record per refused action is kept, and
:class:`~phase_memory.errors.ReviewRequiredError` names every refused action.

Whether an action needs review is read from the stored profile's policy only;
no argument, flag or environment variable changes it, and ``record`` refuses
hand-built events that would get around it (see :mod:`.review_gate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from pydantic import Field
from pydantic import ValidationError as PydanticValidationError

from phase_memory.errors import (
    NotFoundError,
    PhaseMemoryError,
    ReviewRequiredError,
    ValidationError,
)
from phase_memory.models import (
    AuditOutcome,
    AuditRecord,
    DomainModel,
    LifecycleAction,
    LifecycleApplied,
    LifecycleKind,
    MemoryEvent,
    Profile,
    new_id,
    utc_now,
)
from phase_memory.protocols import IN_MEMORY_ERASURE, Maintainable, StorageErasure
from phase_memory.runtime.forgetting import ForgetCertificate, certify_forget, scrub, secrets_of
from phase_memory.runtime.lifecycle_records import UnknownTargets, build
from phase_memory.runtime.review_gate import needs_review

if TYPE_CHECKING:
    from phase_memory.runtime.runtime import PhaseMemoryRuntime


class ActionReview(DomainModel):
    """What the gate decides for one action, and what the action would touch."""

    action_id: str
    kind: LifecycleKind
    profile_id: str
    review_required: bool
    """The profile's policy requires an approval for this kind."""
    approved: bool
    """The action carries an approval."""
    node_ids: list[str] = Field(default_factory=list)
    edge_ids: list[str] = Field(default_factory=list)
    path_ids: list[str] = Field(default_factory=list)
    unknown_targets: list[str] = Field(default_factory=list)
    """Targets (or the profile) that do not exist."""
    problems: list[str] = Field(default_factory=list)
    """Why the action could not be applied as it stands (besides the gate)."""

    @property
    def denied(self) -> bool:
        """The gate would refuse this action (review required, no approval)."""
        return self.review_required and not self.approved

    @property
    def applicable(self) -> bool:
        """The action would be applied if submitted on its own now."""
        return not self.denied and not self.unknown_targets and not self.problems


class ReviewPlan(DomainModel):
    """The review of a batch of actions; nothing was written to make it."""

    actions: list[ActionReview] = Field(default_factory=list)

    @property
    def review_required(self) -> list[str]:
        """Ids of the actions the policy sends to review."""
        return [a.action_id for a in self.actions if a.review_required]

    @property
    def denied(self) -> list[str]:
        """Ids of the actions ``apply`` would refuse (review required, no approval)."""
        return [a.action_id for a in self.actions if a.denied]

    @property
    def unknown_targets(self) -> list[str]:
        """Every unknown target (or profile) named by the actions."""
        return sorted({t for a in self.actions for t in a.unknown_targets})

    @property
    def applicable(self) -> bool:
        """``apply`` would apply the whole batch as it stands now."""
        return all(a.applicable for a in self.actions)


class ApplyResult(DomainModel):
    """What ``apply`` wrote: one event and one audit record per action."""

    applied: list[str] = Field(default_factory=list)
    """Ids of the applied actions, in order."""
    events: list[MemoryEvent] = Field(default_factory=list)
    """The ``lifecycle.applied`` events, with positions."""
    audit_ids: list[str] = Field(default_factory=list)
    redacted_event_ids: list[str] = Field(default_factory=list)
    """Earlier events whose payloads ``forget`` rewrote."""
    forgotten: list[ForgetCertificate] = Field(default_factory=list)
    """One certificate per applied ``forget``: what was erased where, no content."""


# --- validation of the input -------------------------------------------------


def _validated(actions: Sequence[LifecycleAction]) -> list[LifecycleAction]:
    """Re-validate every action: a ``model_construct``-ed one gets no free pass."""
    out: list[LifecycleAction] = []
    for action in actions:
        if not isinstance(action, LifecycleAction):
            raise ValidationError(f"expected a LifecycleAction, got {type(action).__name__}")
        try:
            out.append(LifecycleAction.model_validate(action.model_dump(warnings=False)))
        except PydanticValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ValidationError(f"invalid lifecycle action: {where}: {err['msg']}") from None
    ids = [a.id for a in out]
    if len(set(ids)) != len(ids):
        raise ValidationError("action ids must be unique within one call")
    return out


# --- plan ------------------------------------------------------------------------


def plan_actions(runtime: PhaseMemoryRuntime, actions: Sequence[LifecycleAction]) -> ReviewPlan:
    """Review actions against their profiles' policies; nothing is written.

    Each action is looked at on its own against the current graph.
    """
    graph = runtime.store.graph
    now = utc_now()
    reviews: list[ActionReview] = []
    for action in _validated(actions):
        profile = graph.find_profile(action.profile_id)
        # An unknown profile has no policy to relax anything: fail closed.
        review_required = profile is None or needs_review(profile, action.kind)
        fields: dict[str, Any] = {}
        try:
            fields = _touched(build(graph, action, now))
        except UnknownTargets as exc:
            fields = {"unknown_targets": exc.targets}
        except PhaseMemoryError as exc:
            fields = {"problems": [str(exc)]}
        reviews.append(
            ActionReview(
                action_id=action.id, kind=action.kind, profile_id=action.profile_id,
                review_required=review_required, approved=action.approval is not None, **fields,
            )
        )
    return ReviewPlan(actions=reviews)


def _touched(applied: LifecycleApplied) -> dict[str, list[str]]:
    action = applied.action
    node_ids = {n.id for n in applied.nodes}
    if action.kind not in (LifecycleKind.REWEIGHT, LifecycleKind.COMPACT_PATH):
        node_ids.update(action.targets)
    edge_ids = {e.id for e in applied.edges} | set(applied.removed_edge_ids)
    return {
        "node_ids": sorted(node_ids),
        "edge_ids": sorted(edge_ids),
        "path_ids": [applied.path.id] if applied.path is not None else [],
    }


# --- apply -----------------------------------------------------------------------


class _Denied(Exception):
    def __init__(self, denied: list[tuple[LifecycleAction, Profile | None]]) -> None:
        super().__init__("review required")
        self.denied = denied


def apply_actions(runtime: PhaseMemoryRuntime, actions: Sequence[LifecycleAction]) -> ApplyResult:
    """Apply actions in order, atomically; refuse the call if any needs review unapproved."""
    checked = _validated(actions)
    if not checked:
        return ApplyResult()
    store = runtime.store
    try:
        with store.transaction():
            graph = store.graph
            profiles = {a.profile_id: graph.find_profile(a.profile_id) for a in checked}
            denied = [
                (a, profiles[a.profile_id])
                for a in checked
                if a.approval is None
                and (profiles[a.profile_id] is None or needs_review(profiles[a.profile_id], a.kind))  # type: ignore[arg-type]
            ]
            if denied:
                raise _Denied(denied)
            result, forget_audits = _apply_all(runtime, checked)
    except _Denied as refusal:
        # The call's transaction is rolled back; the refusal is kept on its own.
        with store.transaction():
            for action, profile in refusal.denied:
                store.audit.record(_denial_audit(runtime, action, profile))
        ids = [a.id for a, _ in refusal.denied]
        kinds = [a.kind.value for a, _ in refusal.denied]
        raise ReviewRequiredError(ids, kinds) from None
    except PhaseMemoryError as exc:
        with store.transaction():
            store.audit.record(_failure_audit(runtime, checked, exc))
        raise
    # Committed: what follows completes the erasure below the rows, and never
    # turns an applied forget into a reported failure.
    return _settle_erasure(runtime, result, forget_audits) if forget_audits else result


def _apply_all(
    runtime: PhaseMemoryRuntime, actions: list[LifecycleAction]
) -> tuple[ApplyResult, list[AuditRecord]]:
    """Apply every action; the result, and the audit records of the forgets."""
    store = runtime.store
    events: list[MemoryEvent] = []
    audit_ids: list[str] = []
    redacted: list[str] = []
    certificates: list[ForgetCertificate] = []
    forget_audits: list[AuditRecord] = []
    for action in actions:
        now = utc_now()
        try:
            applied = build(store.graph, action, now)
        except UnknownTargets as exc:
            raise NotFoundError(
                f"{action.kind.value} action {action.id}: unknown target(s) {exc.targets}; "
                "nothing was applied"
            ) from None
        before = {n.id: store.graph.get_node(n.id) for n in applied.nodes
                  if action.kind is LifecycleKind.FORGET}
        secrets = sorted({s for node in before.values() for s in secrets_of(node)}, key=len,
                         reverse=True)
        if secrets:
            applied = _scrub_action(applied, secrets)
        built = runtime._event("lifecycle.applied", action.profile_id, applied)
        event = runtime.record_trusted([built])[0]
        events.append(event)
        certificate = None
        if action.kind is LifecycleKind.FORGET:
            certificate = certify_forget(store, applied, before, secrets, event)
            certificates.append(certificate)
            redacted.extend(certificate.events_rewritten)
        record = _applied_audit(runtime, applied, event, certificate)
        store.audit.record(record)
        audit_ids.append(record.id)
        if certificate is not None:
            forget_audits.append(record)
    result = ApplyResult(
        applied=[a.id for a in actions], events=events, audit_ids=audit_ids,
        redacted_event_ids=sorted(set(redacted)), forgotten=certificates,
    )
    return result, forget_audits


def _settle_erasure(
    runtime: PhaseMemoryRuntime, result: ApplyResult, forget_audits: list[AuditRecord]
) -> ApplyResult:
    """After the commit: the storage drops what it keeps below the rows (see protocols).

    The forget audit records then get the storage's part of their certificates.
    """
    store = runtime.store
    try:
        settled = store.settle_erasure() if isinstance(store, Maintainable) else IN_MEMORY_ERASURE
    except PhaseMemoryError as exc:
        settled = StorageErasure(
            storage=f"the write-ahead log could not be emptied ({exc}); "
            "run `phase-memory db checkpoint`",
            wal_checkpointed=False,
        )
    certificates = [c.model_copy(update=asdict(settled)) for c in result.forgotten]
    by_action = {c.action_id: c for c in certificates}
    details = {
        record.id: {
            **record.details,
            "certificate": by_action[str(record.details["action_id"])].model_dump(mode="json"),
        }
        for record in forget_audits
    }
    try:
        with store.transaction():
            store.audit.replace_details(details)
        if isinstance(store, Maintainable) and settled.wal_checkpointed:
            store.checkpoint()  # the certificate's own write leaves the log empty too
    except PhaseMemoryError:
        pass  # the audit keeps the certificate written with the forget, minus the storage part
    return result.model_copy(update={"forgotten": certificates})


def _scrub_action(applied: LifecycleApplied, secrets: list[str]) -> LifecycleApplied:
    """Keep a forgotten node's content out of the forget's own reason and note."""
    action = applied.action
    approval = action.approval
    update: dict[str, Any] = {"reason": scrub(action.reason, secrets)}
    if approval is not None:
        update["approval"] = approval.model_copy(update={"note": scrub(approval.note, secrets)})
    return applied.model_copy(update={"action": action.model_copy(update=update)})


# --- audit -----------------------------------------------------------------------


def _safe_params(action: LifecycleAction) -> dict[str, Any]:
    # Numbers and kinds only: a compaction's label and content stay out of audit.
    return {
        k: v for k, v in sorted(action.params.items())
        if k not in ("label", "content") and (isinstance(v, int | float | bool) or k == "kind")
    }


def _approval_details(action: LifecycleAction) -> dict[str, Any]:
    if action.approval is None:
        return {"approved_by": None}
    return {
        "approved_by": action.approval.approved_by,
        "approved_at": action.approval.approved_at.isoformat(),
        "approval_note": action.approval.note,
    }


def _applied_audit(
    runtime: PhaseMemoryRuntime, applied: LifecycleApplied, event: MemoryEvent,
    certificate: ForgetCertificate | None,
) -> AuditRecord:
    action = applied.action
    subjects = dict.fromkeys(
        [*action.targets, *(n.id for n in applied.nodes), *(e.id for e in applied.edges),
         *applied.removed_edge_ids]
    )
    details: dict[str, Any] = {
        "action_id": action.id,
        "kind": action.kind.value,
        "profile_id": action.profile_id,
        "reason": action.reason,
        "event_id": event.event_id,
        "position": event.position,
        "params": _safe_params(action),
        "removed_edge_ids": list(applied.removed_edge_ids),
        **_approval_details(action),
    }
    if certificate is not None:
        details["erased"] = ["label", "content", "attributes"]
        details["redacted_events"] = len(certificate.events_rewritten)
        details["certificate"] = certificate.model_dump(mode="json")
    return AuditRecord(
        id=new_id(), at=utc_now(), actor=runtime.actor, operation=f"lifecycle.{action.kind.value}",
        subject_ids=list(subjects), outcome=AuditOutcome.APPLIED, details=details,
    )


def _denial_audit(
    runtime: PhaseMemoryRuntime, action: LifecycleAction, profile: Profile | None
) -> AuditRecord:
    why = (
        f"profile {action.profile_id!r} does not exist"
        if profile is None
        else f"profile {action.profile_id!r} requires review for {action.kind.value!r}"
    )
    return AuditRecord(
        id=new_id(), at=utc_now(), actor=runtime.actor, operation=f"lifecycle.{action.kind.value}",
        subject_ids=list(dict.fromkeys(action.targets)), outcome=AuditOutcome.DENIED,
        details={
            "action_id": action.id, "kind": action.kind.value, "profile_id": action.profile_id,
            "reason": action.reason, "denied_because": f"{why} and the action carries no approval",
        },
    )


def audit_refused_events(
    runtime: PhaseMemoryRuntime, events: Sequence[MemoryEvent], error: ReviewRequiredError
) -> None:
    """Keep a ``denied`` audit record for events ``record`` refused at the review gate.

    Written in a transaction of its own, after the refused write was rolled back.
    """
    kinds = sorted({e.kind for e in events})
    record = AuditRecord(
        id=new_id(), at=utc_now(), actor=runtime.actor, operation="lifecycle.record",
        subject_ids=list(error.denied), outcome=AuditOutcome.DENIED,
        details={
            "event_ids": [e.event_id for e in events][:100], "event_kinds": kinds,
            "profile_ids": sorted({e.profile_id for e in events}),
            "denied_because": str(error),
        },
    )
    with runtime.store.transaction():
        runtime.store.audit.record(record)


def _failure_audit(
    runtime: PhaseMemoryRuntime, actions: list[LifecycleAction], error: PhaseMemoryError
) -> AuditRecord:
    return AuditRecord(
        id=new_id(), at=utc_now(), actor=runtime.actor, operation="lifecycle.apply",
        subject_ids=list(dict.fromkeys(t for a in actions for t in a.targets)),
        outcome=AuditOutcome.FAILED,
        details={"action_ids": [a.id for a in actions], "error": type(error).__name__,
                 "message": str(error)},
    )


__all__ = [
    "ActionReview",
    "ApplyResult",
    "ReviewPlan",
    "apply_actions",
    "audit_refused_events",
    "plan_actions",
]

"""The review queue: lifecycle actions an agent proposed, waiting for a person to decide.

An agent (an MCP tool, say) never erases memory on its own. ``propose`` takes
lifecycle actions; those the profile's policy marks review-required (and that
carry no approval) are not applied but stored as proposals: one
``lifecycle.proposed`` event each, in the same transaction as the archiving of
the action's node targets, so what the agent wanted gone is out of sight at
once and still fully restorable. Actions the policy does not gate are applied
as ``apply`` would.

A person then decides, by id:

- ``approve(id, by=..., note=...)`` applies the action with an
  :class:`~phase_memory.models.Approval` through :func:`apply_actions`, the
  same gate and audit as ``mem.apply``, against the memory as it is at that
  moment: if a target changed since it was archived for the proposal (an agent
  restored or rewrote it), the approval is refused with
  :class:`~phase_memory.errors.ConflictError` and nothing is written;
- ``reject(id, by=..., reason=...)`` restores the archived targets.

Each decision is a ``lifecycle.approved`` / ``lifecycle.rejected`` event with
an audit record. A forget erases its node's text from every event, a
proposal's too: a proposal whose reason quoted that text leaves the queue
with it (its decision events and audit records stay). The queue keeps no
state of its own: proposals and decisions are read back from the event log,
so they survive restarts and travel with an events export.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from phase_memory.errors import ConflictError, NotFoundError
from phase_memory.models import (
    Approval,
    AuditOutcome,
    AuditRecord,
    DomainModel,
    LifecycleAction,
    LifecycleKind,
    MemoryEvent,
    NodeState,
    new_id,
    utc_now,
)
from phase_memory.protocols import Maintainable
from phase_memory.recorder import Recorder
from phase_memory.runtime.lifecycle import ApplyResult, apply_actions, plan_actions

PROPOSED = "lifecycle.proposed"
APPROVED = "lifecycle.approved"
REJECTED = "lifecycle.rejected"
REVIEW_EVENT_KINDS = (PROPOSED, APPROVED, REJECTED)
"""The event kinds the queue is read from."""

ProposalStatus = Literal["pending", "approved", "rejected"]

# Kinds whose targets are nodes, archived while the proposal waits.
_NODE_TARGET_KINDS = frozenset({LifecycleKind.FORGET, LifecycleKind.MERGE_NODES})


class Proposal(DomainModel):
    """A review-required lifecycle action, as proposed and (once decided) as decided."""

    id: str
    """The proposed action's id."""
    action: LifecycleAction
    proposed_by: str
    proposed_at: datetime
    event_id: str
    """The ``lifecycle.proposed`` event."""
    archived: dict[str, int] = Field(default_factory=dict)
    """Nodes archived for the proposal, with the version the archiving gave them."""
    status: ProposalStatus = "pending"
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str = ""
    """The approval's note, or the rejection's reason."""


class ProposeResult(DomainModel):
    """What ``propose`` did with each action."""

    proposed: list[str] = Field(default_factory=list)
    """Ids of the actions stored as proposals (their node targets archived meanwhile)."""
    applied: list[str] = Field(default_factory=list)
    """Ids of the actions the policy let through, applied at once."""


class ReviewQueue:
    """``mem.review``: propose lifecycle actions, list the proposals, approve or reject them."""

    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def propose(self, actions: Sequence[LifecycleAction]) -> ProposeResult:
        """Store review-required actions as proposals (targets archived), apply the others.

        All or nothing: an unknown target or a problem with any action fails the
        call and writes nothing. An approval the action carries is ignored here:
        only ``approve`` (a person) or ``mem.apply`` decides one.
        """
        recorder = self._recorder
        unapproved = [a.model_copy(update={"approval": None}) for a in actions]
        with recorder.store.transaction():
            plan = plan_actions(recorder, unapproved)
            for review in plan.actions:
                if review.unknown_targets:
                    raise NotFoundError(
                        f"{review.kind.value} action {review.action_id}: unknown target(s) "
                        f"{review.unknown_targets}; nothing was proposed"
                    )
            result = ProposeResult()
            forgot = False
            for action, review in zip(unapproved, plan.actions, strict=True):
                if review.review_required:
                    self._store_proposal(action)
                    result.proposed.append(action.id)
                else:
                    applied = apply_actions(recorder, [action])
                    result.applied.append(action.id)
                    forgot = forgot or bool(applied.forgotten)
        if forgot:
            _settle(recorder)
        return result

    def _store_proposal(self, action: LifecycleAction) -> None:
        recorder = self._recorder
        targets = recorder.store.graph.find_nodes(action.targets) \
            if action.kind in _NODE_TARGET_KINDS else {}
        to_archive = sorted(i for i, n in targets.items() if n.state is NodeState.ACTIVE)
        if to_archive:
            archive = LifecycleAction(
                kind=LifecycleKind.ARCHIVE, profile_id=action.profile_id, targets=to_archive,
                reason=f"pending review of proposal {action.id}",
            )
            # Archiving is reversible; if a profile gates even that, the proposal waits unarchived.
            if not plan_actions(recorder, [archive]).actions[0].review_required:
                apply_actions(recorder, [archive])
            else:
                to_archive = []
        archived = recorder.store.graph.find_nodes(to_archive)
        recorder.record_many([MemoryEvent(
            kind=PROPOSED, profile_id=action.profile_id, actor=recorder.actor,
            payload={"action": action.model_dump(mode="json"),
                     "archived": {i: n.version for i, n in sorted(archived.items())}},
        )])
        recorder.store.audit.record(_audit(recorder.actor, "review.propose", action,
                                          AuditOutcome.APPLIED, {"archived": to_archive}))

    def list(self, status: ProposalStatus | None = "pending",
             profile_id: str | None = None) -> list[Proposal]:
        """Proposals in the order they were made; by default the pending ones only."""
        proposals = self._all(profile_id)
        return [p for p in proposals.values() if status is None or p.status == status]

    def get(self, proposal_id: str) -> Proposal:
        """One proposal by id (any status); :class:`NotFoundError` if there is none."""
        proposal = self._all(None).get(proposal_id)
        if proposal is None:
            raise NotFoundError(f"no proposal {proposal_id!r} in the review queue")
        return proposal

    def approve(self, proposal_id: str, *, by: str, note: str = "") -> ApplyResult:
        """Apply a pending proposal with an approval by ``by`` (same gate and audit as apply)."""
        recorder = self._recorder
        with recorder.store.transaction():
            proposal = self._pending(proposal_id)
            self._check_unchanged(proposal)
            approved = proposal.action.model_copy(
                update={"approval": Approval(approved_by=by, note=note)})
            result = apply_actions(recorder, [approved])
            recorder.record_many([MemoryEvent(
                kind=APPROVED, profile_id=proposal.action.profile_id, actor=recorder.actor,
                causation_id=proposal.event_id,
                payload={"proposal_id": proposal.id, "by": by, "note": note,
                         "applied_event_ids": [e.event_id for e in result.events]},
            )])
        if result.forgotten:
            _settle(recorder)
        return result

    def reject(self, proposal_id: str, *, by: str, reason: str) -> Proposal:
        """Refuse a pending proposal: restore what was archived for it, keep the decision."""
        recorder = self._recorder
        with recorder.store.transaction():
            proposal = self._pending(proposal_id)
            current = recorder.store.graph.find_nodes(list(proposal.archived))
            to_restore = sorted(i for i, n in current.items() if n.state is NodeState.ARCHIVED)
            if to_restore:
                # A person decided: their rejection is the approval a gated restore needs.
                apply_actions(recorder, [LifecycleAction(
                    kind=LifecycleKind.RESTORE, profile_id=proposal.action.profile_id,
                    targets=to_restore, reason=f"proposal {proposal.id} rejected: {reason}",
                    approval=Approval(approved_by=by, note=reason),
                )])
            recorder.record_many([MemoryEvent(
                kind=REJECTED, profile_id=proposal.action.profile_id, actor=recorder.actor,
                causation_id=proposal.event_id,
                payload={"proposal_id": proposal.id, "by": by, "reason": reason},
            )])
            recorder.store.audit.record(_audit(recorder.actor, "review.reject", proposal.action,
                                              AuditOutcome.APPLIED,
                                              {"rejected_by": by, "reason": reason,
                                               "restored": to_restore}))
        return self.get(proposal_id)

    # --- reading the queue from the log -------------------------------------------

    def _pending(self, proposal_id: str) -> Proposal:
        proposal = self.get(proposal_id)
        if proposal.status != "pending":
            raise ConflictError(
                f"proposal {proposal_id!r} was already {proposal.status} by {proposal.decided_by}"
            )
        return proposal

    def _check_unchanged(self, proposal: Proposal) -> None:
        current = self._recorder.store.graph.find_nodes(list(proposal.archived))
        changed = sorted(
            i for i, version in proposal.archived.items()
            if i in current and (current[i].version != version
                                 or current[i].state is not NodeState.ARCHIVED)
        )
        if changed:
            raise ConflictError(
                f"proposal {proposal.id!r}: node(s) {changed} changed since they were archived "
                "for it (restored or rewritten); reject it and propose again. Nothing was applied"
            )

    def _all(self, profile_id: str | None) -> dict[str, Proposal]:
        proposals: dict[str, Proposal] = {}
        for event in self._recorder.store.events.list(profile_id=profile_id,
                                               kinds=list(REVIEW_EVENT_KINDS)):
            payload = event.payload
            if event.kind == PROPOSED and "action" not in payload:
                # Erased by an approved forget whose content the proposal quoted
                # (its reason, say): nothing of it is left to show.
                continue
            if event.kind == PROPOSED:
                action = LifecycleAction.model_validate(payload["action"])
                proposals[action.id] = Proposal(
                    id=action.id, action=action, proposed_by=event.actor,
                    proposed_at=event.occurred_at, event_id=event.event_id,
                    archived=_versions(payload.get("archived")),
                )
                continue
            proposal = proposals.get(str(payload.get("proposal_id")))
            if proposal is None:
                continue
            status: ProposalStatus = "approved" if event.kind == APPROVED else "rejected"
            proposals[proposal.id] = proposal.model_copy(update={
                "status": status, "decided_by": payload.get("by"),
                "decided_at": event.occurred_at,
                "decision_note": str(payload.get("note", payload.get("reason", ""))),
            })
        return proposals


def _versions(value: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _audit(actor: str, operation: str, action: LifecycleAction, outcome: AuditOutcome,
           details: dict[str, Any]) -> AuditRecord:
    return AuditRecord(
        id=new_id(), at=utc_now(), actor=actor, operation=operation,
        subject_ids=list(dict.fromkeys(action.targets)), outcome=outcome,
        details={"action_id": action.id, "kind": action.kind.value,
                 "profile_id": action.profile_id, "reason": action.reason, **details},
    )


__all__ = ["REVIEW_EVENT_KINDS", "Proposal", "ProposeResult", "ReviewQueue"]


def _settle(recorder: Recorder) -> None:
    """After a forget committed inside this queue's transaction: empty the write-ahead log.

    ``apply`` does it itself when it owns the transaction; here the queue's own
    transaction held it, so the store could not checkpoint until now.
    """
    store = recorder.store
    if isinstance(store, Maintainable):
        store.settle_erasure()

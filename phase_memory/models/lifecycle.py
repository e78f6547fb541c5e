"""Lifecycle actions and the approval marker that review-required ones need."""

from __future__ import annotations

from pydantic import Field

from phase_memory.models.base import DomainModel, JsonObject, LifecycleKind
from phase_memory.models.ids import Identifier, UtcDatetime, new_id, utc_now
from phase_memory.models.limits import Text


class Approval(DomainModel):
    """An explicit approval: who approved, when, and why."""

    approved_by: Identifier
    approved_at: UtcDatetime = Field(default_factory=utc_now)
    note: Text = ""


class LifecycleAction(DomainModel):
    """A request to change the lifecycle of nodes or a path.

    ``targets`` are node ids (path id for ``compact_path``; survivor first for
    ``merge_nodes``). ``params`` depend on the kind: ``salience`` / ``weight``
    for ``reweight``, ``label`` / ``content`` / ``kind`` of the summary for
    ``compact_path``. Whether review is needed is decided by the profile policy.
    """

    id: Identifier = Field(default_factory=new_id)
    kind: LifecycleKind
    profile_id: Identifier
    targets: list[Identifier] = Field(min_length=1)
    params: JsonObject = Field(default_factory=dict)
    reason: Text = ""
    approval: Approval | None = None

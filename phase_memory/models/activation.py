"""Activation plans: which memories to bring into the next turn, and why."""

from __future__ import annotations

from pydantic import Field

from phase_memory.models.base import DomainModel
from phase_memory.models.ids import Identifier, UtcDatetime, new_id, utc_now
from phase_memory.models.limits import MAX_ACTIVATION_BUDGET, Text


class ActivationItem(DomainModel):
    """One ranked memory of a plan. ``content`` is None when redacted."""

    node_id: Identifier
    rank: int = Field(ge=1, le=MAX_ACTIVATION_BUDGET)
    score: float
    reasons: list[str] = Field(default_factory=list)
    redacted: bool = False
    label: Text | None = None
    content: Text | None = None


class ActivationPlan(DomainModel):
    """A stored activation: the query, the budget and the ranked items."""

    id: Identifier = Field(default_factory=new_id)
    profile_id: Identifier
    path_id: Identifier | None = None
    query: Text
    budget: int = Field(ge=1, le=MAX_ACTIVATION_BUDGET)
    created_at: UtcDatetime = Field(default_factory=utc_now)
    items: list[ActivationItem] = Field(default_factory=list)

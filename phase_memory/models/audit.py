"""Audit records: one for every durable change and every refusal."""

from __future__ import annotations

from pydantic import Field

from phase_memory.models.base import AuditOutcome, DomainModel, JsonObject
from phase_memory.models.ids import Identifier, UtcDatetime, new_id, utc_now
from phase_memory.models.limits import Text


class AuditRecord(DomainModel):
    """Who did what to which records, when, and how it ended."""

    id: Identifier = Field(default_factory=new_id)
    at: UtcDatetime = Field(default_factory=utc_now)
    actor: Text = "system"
    operation: Text
    subject_ids: list[Identifier] = Field(default_factory=list)
    outcome: AuditOutcome
    details: JsonObject = Field(default_factory=dict)

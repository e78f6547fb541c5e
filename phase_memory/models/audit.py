"""Audit records: one for every durable change and every refusal."""

from __future__ import annotations

from pydantic import Field

from phase_memory.models.base import AuditOutcome, DomainModel, JsonObject
from phase_memory.models.ids import GeneratedId, Identifier, Timestamp


class AuditRecord(DomainModel):
    """Who did what to which records, when, and how it ended."""

    id: GeneratedId
    at: Timestamp
    actor: str = "system"
    operation: str
    subject_ids: list[Identifier] = Field(default_factory=list)
    outcome: AuditOutcome
    details: JsonObject = Field(default_factory=dict)

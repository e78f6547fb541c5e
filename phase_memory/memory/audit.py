"""In-memory audit sink."""

from __future__ import annotations

import builtins
from datetime import datetime

from phase_memory.errors import IntegrityError
from phase_memory.memory.state import SharedState
from phase_memory.models import AuditOutcome, AuditRecord


class InMemoryAuditSink:
    """:class:`~phase_memory.protocols.AuditSink` kept in a Python list."""

    def __init__(self, shared: SharedState) -> None:
        self._shared = shared

    def record(self, record: AuditRecord) -> None:
        """Store one audit record (rolled back with its transaction)."""
        with self._shared.transaction():
            if any(r.id == record.id for r in self._shared.audit):
                raise IntegrityError(f"audit record {record.id!r} already exists")
            self._shared.audit.append(record)

    def list(
        self,
        operation: str | None = None,
        outcome: AuditOutcome | None = None,
        after: datetime | None = None,
        limit: int | None = None,
    ) -> builtins.list[AuditRecord]:
        """Audit records in write order, filtered."""
        with self._shared.lock:
            records = list(self._shared.audit)
        found = [
            r
            for r in records
            if (operation is None or r.operation == operation)
            and (outcome is None or r.outcome == outcome)
            and (after is None or r.at > after)
        ]
        return found if limit is None else found[:limit]

"""In-memory audit sink."""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from datetime import datetime

from phase_memory.errors import IntegrityError, NotFoundError
from phase_memory.memory.state import SharedState
from phase_memory.models import AuditOutcome, AuditRecord, JsonObject


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

    def find_mentioning(self, text: str, *others: str) -> builtins.list[AuditRecord]:
        """Audit records whose details contain ``text`` (or any of ``others``), in write order."""
        needles = [json.dumps(t, ensure_ascii=False)[1:-1] for t in (text, *others)]
        with self._shared.lock:
            records = list(self._shared.audit)
        return [
            r for r in records
            if any(n in json.dumps(r.details, ensure_ascii=False) for n in needles)
        ]

    def replace_details(self, details: Mapping[str, JsonObject]) -> None:
        """Rewrite the details of audit records by id (only ``forget`` does this)."""
        shared = self._shared
        with shared.transaction():
            for record_id, new in details.items():
                index = next((i for i, r in enumerate(shared.audit) if r.id == record_id), None)
                if index is None:
                    raise NotFoundError(f"audit record {record_id!r} does not exist")
                shared.replace_audit(
                    index, shared.audit[index].model_copy(update={"details": dict(new)})
                )

"""The audit sink on SQL: records in write order (``audit_records.seq``)."""

from __future__ import annotations

import builtins
from datetime import datetime

from sqlalchemy import select

from phase_memory.models import AuditOutcome, AuditRecord
from phase_memory.sql import rows
from phase_memory.sql import tables as t
from phase_memory.sql.connections import Connections


class SqlAuditSink:
    """:class:`~phase_memory.protocols.AuditSink` in the ``audit_records`` table."""

    def __init__(self, connections: Connections) -> None:
        self._db = connections

    def record(self, record: AuditRecord) -> None:
        """Store one audit record (in the current transaction, if any)."""
        with self._db.write("audit.record") as conn:
            conn.execute(t.audit_records.insert(), rows.audit_row(record))

    def list(
        self,
        operation: str | None = None,
        outcome: AuditOutcome | None = None,
        after: datetime | None = None,
        limit: int | None = None,
    ) -> builtins.list[AuditRecord]:
        """Audit records in the order they were written, optionally filtered."""
        if limit is not None and limit <= 0:
            return []
        audit = t.audit_records
        stmt = select(*rows.AUDIT_COLUMNS).order_by(audit.c.seq)
        if operation is not None:
            stmt = stmt.where(audit.c.operation == operation)
        if outcome is not None:
            stmt = stmt.where(audit.c.outcome == AuditOutcome(outcome).value)
        if after is not None:
            stmt = stmt.where(audit.c.at > after)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._db.read("audit.list") as conn:
            return [rows.audit_of(row) for row in conn.execute(stmt)]

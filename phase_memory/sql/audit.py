"""The audit sink on SQL: records in write order (``audit_records.seq``)."""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import bindparam, or_, select, update

from phase_memory.errors import NotFoundError
from phase_memory.models import AuditOutcome, AuditRecord, JsonObject
from phase_memory.sql import dialect, rows
from phase_memory.sql import tables as t
from phase_memory.sql.connections import Connections

_REPLACE_DETAILS = (
    update(t.audit_records)
    .where(t.audit_records.c.id == bindparam("id_"))
    .values(details=bindparam("details_"))
)


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

    def find_mentioning(self, text: str, *others: str) -> builtins.list[AuditRecord]:
        """Audit records whose details contain ``text`` (or any of ``others``), in write order."""
        audit = t.audit_records
        haystack = dialect.json_text(self._db.dialect, audit.c.details)
        needles = [json.dumps(s, ensure_ascii=False)[1:-1] for s in (text, *others)]
        stmt = (
            select(*rows.AUDIT_COLUMNS)
            .where(or_(*(dialect.contains(self._db.dialect, haystack, n) for n in needles)))
            .order_by(audit.c.seq)
        )
        with self._db.read("audit.find_mentioning") as conn:
            return [rows.audit_of(row) for row in conn.execute(stmt)]

    def replace_details(self, details: Mapping[str, JsonObject]) -> None:
        """Rewrite the details of audit records by id (only ``forget`` does this)."""
        if not details:
            return
        with self._db.write("audit.replace_details") as conn:
            for record_id, new in details.items():
                result = conn.execute(_REPLACE_DETAILS, {"id_": record_id, "details_": dict(new)})
                if result.rowcount == 0:
                    raise NotFoundError(f"audit record {record_id!r} does not exist")

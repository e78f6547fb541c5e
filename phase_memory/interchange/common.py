"""Pieces shared by the importers and exporters: audit records, event batches."""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from phase_memory.errors import (
    ImportProblem,
    ImportValidationError,
    PhaseMemoryError,
    StoreBusyError,
    StoreUnavailableError,
)
from phase_memory.interchange.progress import Progress
from phase_memory.models import AuditOutcome, AuditRecord, MemoryEvent, new_id, utc_now
from phase_memory.models.base import DomainModel
from phase_memory.recorder import EffectsOf, Recorder
from phase_memory.replay import GraphView

IMPORT_OPERATION = "interchange.import"
EXPORT_OPERATION = "interchange.export"

EVENTS_PER_BATCH = 1000
"""Events handed to ``record_many`` at once by the events importer."""


def display_name(path: str | os.PathLike[str]) -> str:
    """How problems name a file: the path as the caller gave it."""
    return os.fspath(path)


def resolved(path: str | os.PathLike[str]) -> str:
    """An absolute path, for results and audit records."""
    return str(Path(path).resolve())


def audit_export(
    recorder: Recorder,
    fmt: str,
    target: str,
    counts: dict[str, int],
    subject_ids: Sequence[str] = (),
) -> None:
    """Record that an export was written (outcome ``exported``).

    A memory opened read-only cannot keep the record; the export still counts.
    """
    record = AuditRecord(
        id=new_id(),
        at=utc_now(),
        operation=EXPORT_OPERATION,
        outcome=AuditOutcome.EXPORTED,
        actor=recorder.actor,
        subject_ids=list(subject_ids),
        details={"format": fmt, "target": target, "counts": dict(counts)},
    )
    with suppress(StoreUnavailableError):
        recorder.audit.record(record)


def audit_import(
    recorder: Recorder,
    fmt: str,
    source: str,
    counts: dict[str, int],
    subject_ids: Sequence[str] = (),
    *,
    details: dict[str, Any] | None = None,
) -> None:
    """Record that an import was written (outcome ``imported``).

    ``details``: what else the importer reports (merged into the record's details).
    """
    recorder.audit.record(
        AuditRecord(
            id=new_id(),
            at=utc_now(),
            operation=IMPORT_OPERATION,
            outcome=AuditOutcome.IMPORTED,
            actor=recorder.actor,
            subject_ids=list(subject_ids),
            details={"format": fmt, "source": source, "counts": dict(counts), **(details or {})},
        )
    )


def graph_imported_event(
    recorder: Recorder, profile_id: str, source: str, **records: list[Any]
) -> MemoryEvent:
    """A ``graph.imported`` event carrying already validated records (as JSON dicts)."""
    payload: dict[str, Any] = {
        "profiles": records.get("profiles", []),
        "nodes": records.get("nodes", []),
        "edges": records.get("edges", []),
        "paths": records.get("paths", []),
        "source": source,
    }
    return MemoryEvent.model_construct(
        event_id=new_id(),
        kind="graph.imported",
        profile_id=profile_id,
        path_id=None,
        occurred_at=utc_now(),
        payload=payload,
        schema_version=1,
        actor=recorder.actor,
        causation_id=None,
        position=None,
    )


class EventWriter:
    """Hands events to ``recorder.record_many`` in batches.

    A failure while recording (a reference the validation could not see, a
    policy refusal) becomes an :class:`ImportValidationError` naming the line
    of the event that failed, when it is known. Failures of the storage itself
    (:class:`StoreUnavailableError`: a read-only or full disk; :class:`StoreBusyError`)
    pass through unchanged: they say nothing about the input.

    With ``folded`` (a fold entry point) and ``view``, each event comes with its
    payload model and a flush goes through
    :meth:`~phase_memory.recorder.Recorder.record_folded`: the same checks and
    gate as any event, the effects the fold decides, one write of a whole
    batch's effects (``graph.imported`` of the envelope importer).
    """

    def __init__(
        self,
        recorder: Recorder,
        file: str,
        progress: Progress,
        *,
        max_events: int = EVENTS_PER_BATCH,
        max_records: int = 5000,
        folded: EffectsOf | None = None,
        view: GraphView | None = None,
    ) -> None:
        self._recorder = recorder
        self._file = file
        self._progress = progress
        self._max_events = max_events
        self._max_records = max_records
        self._events: list[MemoryEvent] = []
        self._lines: list[int | None] = []
        self._records = 0
        """Records carried by the queued events (what the progress bar counts)."""
        self._folded = folded
        self._view = view
        self._payloads: list[DomainModel | None] = []
        self.written = 0

    @property
    def pending(self) -> int:
        """Events queued and not yet recorded."""
        return len(self._events)

    def add(
        self,
        event: MemoryEvent,
        *,
        line: int | None = None,
        records: int = 1,
        payload: DomainModel | None = None,
    ) -> None:
        """Queue an event (``records``: how many records it carries, for batch sizing).

        ``payload``: the model its payload was dumped from (``folded`` writers only).
        """
        self._events.append(event)
        self._payloads.append(payload)
        self._lines.append(line)
        self._records += records
        if len(self._events) >= self._max_events or self._records >= self._max_records:
            self.flush()

    def discard(self) -> None:
        """Drop the queued events unwritten."""
        self._events, self._lines, self._records, self._payloads = [], [], 0, []

    def flush(self) -> None:
        """Record every queued event."""
        if not self._events:
            return
        events, lines, records, payloads = (
            self._events, self._lines, self._records, self._payloads)
        self._events, self._lines, self._records, self._payloads = [], [], 0, []
        recorder = self._recorder
        try:
            if self._folded is not None and self._view is not None:
                with recorder.transaction():
                    batch = [(e, p) for e, p in zip(events, payloads, strict=True)
                             if p is not None]
                    recorder.record_folded(batch, self._view, self._folded)
            else:
                # Payloads were validated and completed by the importer's own checks.
                recorder.record_trusted(events)
        except (StoreUnavailableError, StoreBusyError):
            raise  # the storage failed, not the input: say so, not "import refused"
        except PhaseMemoryError as exc:
            text = str(exc)
            line = next(
                (ln for ev, ln in zip(events, lines, strict=True) if ev.event_id in text),
                lines[0],
            )
            raise ImportValidationError(
                [ImportProblem(file=self._file, field="", reason=text, line=line)]
            ) from exc
        self.written += len(events)
        self._progress.advance(records)

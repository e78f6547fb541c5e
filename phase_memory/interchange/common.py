"""Pieces shared by the importers and exporters: audit records, event batches."""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phase_memory.errors import (
    ImportProblem,
    ImportValidationError,
    PhaseMemoryError,
    StoreBusyError,
    StoreUnavailableError,
)
from phase_memory.models import AuditOutcome, AuditRecord, MemoryEvent, new_id, utc_now

if TYPE_CHECKING:
    from phase_memory.interchange.progress import Progress
    from phase_memory.replay import Effect
    from phase_memory.runtime.runtime import PhaseMemoryRuntime

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
    runtime: PhaseMemoryRuntime,
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
        actor=runtime.actor,
        subject_ids=list(subject_ids),
        details={"format": fmt, "target": target, "counts": dict(counts)},
    )
    with suppress(StoreUnavailableError):
        runtime.audit.record(record)


@contextmanager
def consistent_reads(runtime: PhaseMemoryRuntime) -> Iterator[None]:
    """Hold a store transaction so several reads see one state of the memory.

    On SQLite this is a write lock (other writers wait); a memory opened
    read-only cannot take it and is read without one.
    """
    with ExitStack() as stack:
        with suppress(StoreUnavailableError):
            stack.enter_context(runtime.store.transaction())
        yield


_BULK_GC_THRESHOLD = 50_000
_bulk_lock = threading.Lock()
_bulk_depth = 0
_saved_threshold: tuple[int, int, int] | None = None


@contextmanager
def bulk_collections() -> Iterator[None]:
    """Let the cyclic garbage collector run less often while a bulk import runs.

    An import keeps thousands of records alive between writes; with the
    default threshold (700 allocations) the collector keeps walking them
    (about a tenth of an envelope import's time). Raising the first
    generation's threshold makes young collections rarer, not absent, so
    memory stays bounded. The threshold is the process's: nested or
    concurrent imports share one raise, and the last to finish restores it.
    """
    global _bulk_depth, _saved_threshold
    with _bulk_lock:
        if _bulk_depth == 0:
            _saved_threshold = gc.get_threshold()
            first, second, third = _saved_threshold
            gc.set_threshold(max(first, _BULK_GC_THRESHOLD), second, third)
        _bulk_depth += 1
    try:
        yield
    finally:
        with _bulk_lock:
            _bulk_depth -= 1
            if _bulk_depth == 0 and _saved_threshold is not None:
                gc.set_threshold(*_saved_threshold)
                _saved_threshold = None


def audit_import(
    runtime: PhaseMemoryRuntime,
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
    runtime.audit.record(
        AuditRecord(
            id=new_id(),
            at=utc_now(),
            operation=IMPORT_OPERATION,
            outcome=AuditOutcome.IMPORTED,
            actor=runtime.actor,
            subject_ids=list(subject_ids),
            details={"format": fmt, "source": source, "counts": dict(counts), **(details or {})},
        )
    )


def graph_imported_event(
    runtime: PhaseMemoryRuntime, profile_id: str, source: str, **records: list[Any]
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
        actor=runtime.actor,
        causation_id=None,
        position=None,
    )


class EventWriter:
    """Hands events to ``runtime.record_many`` in batches.

    A failure while recording (a reference the validation could not see, a
    policy refusal) becomes an :class:`ImportValidationError` naming the line
    of the event that failed, when it is known. Failures of the storage itself
    (:class:`StoreUnavailableError`: a read-only or full disk; :class:`StoreBusyError`)
    pass through unchanged: they say nothing about the input.

    With ``checked=True`` the caller has already checked every event against
    the graph (inside the same transaction) and hands each event's effects
    along with it: a flush appends the events and applies those effects as
    they are, one executemany per kind, skipping the runtime's per-event checks
    and fold (``graph.imported`` of the envelope importer).
    """

    def __init__(
        self,
        runtime: PhaseMemoryRuntime,
        file: str,
        progress: Progress,
        *,
        max_events: int = EVENTS_PER_BATCH,
        max_records: int = 5000,
        checked: bool = False,
    ) -> None:
        self._runtime = runtime
        self._file = file
        self._progress = progress
        self._max_events = max_events
        self._max_records = max_records
        self._events: list[MemoryEvent] = []
        self._lines: list[int | None] = []
        self._records = 0
        """Records carried by the queued events (what the progress bar counts)."""
        self._checked = checked
        self._effects: list[Effect] = []
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
        effects: Sequence[Effect] = (),
    ) -> None:
        """Queue an event (``records``: how many records it carries, for batch sizing).

        ``effects``: what the event does to the graph (``checked`` writers only).
        """
        self._events.append(event)
        self._effects.extend(effects)
        self._lines.append(line)
        self._records += records
        if len(self._events) >= self._max_events or self._records >= self._max_records:
            self.flush()

    def discard(self) -> None:
        """Drop the queued events unwritten."""
        self._events, self._lines, self._records, self._effects = [], [], 0, []

    def flush(self) -> None:
        """Record every queued event."""
        if not self._events:
            return
        events, lines, records, effects = self._events, self._lines, self._records, self._effects
        self._events, self._lines, self._records, self._effects = [], [], 0, []
        try:
            if self._checked:
                store = self._runtime.store
                with store.transaction():
                    store.events.append(events)
                    store.graph.apply(effects)
            else:
                # Payloads were validated and completed by the importer's own checks.
                self._runtime.record_trusted(events)
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

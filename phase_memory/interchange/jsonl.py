"""Events and audit records as JSONL: one canonical JSON object per line.

Exports stream in position order (events) or write order (audit records).
An event line is the event without its ``position``: positions belong to the
log that holds the event, and an importing log assigns its own (in file
order). Imports read line by line, twice: the first pass checks every line
(see :mod:`phase_memory.interchange.event_checks`), the second writes, inside
one store transaction, through ``recorder.record_many`` in batches, so each
event's graph effect is projected exactly as when it was first recorded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

from pydantic import ValidationError as PydanticValidationError

from phase_memory import json_codec
from phase_memory.interchange.atomic_write import atomic_text_file
from phase_memory.interchange.common import (
    EventWriter,
    audit_export,
    audit_import,
    display_name,
    resolved,
)
from phase_memory.interchange.event_checks import EventChecker, touched_by
from phase_memory.interchange.formats import canonical_line, reject_constant
from phase_memory.interchange.problems import Problems
from phase_memory.interchange.progress import Progress, ProgressCallback
from phase_memory.interchange.results import ExportResult, ImportResult
from phase_memory.models import AuditRecord, MemoryEvent
from phase_memory.models.events import PAYLOAD_MODELS, REDACTION_KEY, SUPPORTED_SCHEMA_VERSIONS
from phase_memory.models.limits import MAX_LINE_BYTES
from phase_memory.recorder import Recorder

_DECODER = json.JSONDecoder(parse_constant=reject_constant)


def event_line(event: MemoryEvent) -> str:
    """The canonical JSONL line of an event (without its position)."""
    return canonical_line(event.model_dump(mode="json", exclude={"position"}))


def audit_line(record: AuditRecord) -> str:
    """The canonical JSONL line of an audit record."""
    return canonical_line(record.model_dump(mode="json"))


# --- export -------------------------------------------------------------------------------


def export_events(
    recorder: Recorder,
    out: str | os.PathLike[str],
    *,
    profile_id: str | None = None,
    progress: ProgressCallback | None = None,
) -> ExportResult:
    """Write the event log (or one profile's events) as JSONL in position order."""
    with Progress(progress) as bar:
        total = recorder.events.last_position() if profile_id is None else 0
        bar.stage("Writing events", total=total or None)
        count = write_lines(out, (event_line(e) for e in recorder.events.iter(profile_id)), bar)
    target = resolved(out)
    counts = {"events": count}
    audit_export(recorder, "events", target, counts, [profile_id] if profile_id else [])
    return ExportResult(format="events", target=target, counts=counts, files=[target])


def export_audit(
    recorder: Recorder,
    out: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None = None,
) -> ExportResult:
    """Write every audit record as JSONL in write order.

    The ``exported`` record of this export is written after the file, so it is
    not in it.
    """
    with Progress(progress) as bar:
        bar.stage("Writing audit records")
        count = write_lines(out, (audit_line(r) for r in recorder.audit.list()), bar)
    target = resolved(out)
    counts = {"audit_records": count}
    audit_export(recorder, "audit", target, counts)
    return ExportResult(format="audit", target=target, counts=counts, files=[target])


def write_lines(out: str | os.PathLike[str], lines: Iterable[str], bar: Progress) -> int:
    """Write lines to a file atomically; return how many."""
    count = 0
    with atomic_text_file(out) as handle:
        for line in lines:
            handle.write(line)
            count += 1
            bar.advance()
    return count


# --- reading -------------------------------------------------------------------------------


def read_json_lines(
    src: str | os.PathLike[str], file: str, problems: Problems
) -> Iterator[tuple[int, Any]]:
    """Parsed JSON values of a JSONL file with their line numbers.

    Blank lines are skipped; malformed lines, and lines longer than
    :data:`~phase_memory.models.limits.MAX_LINE_BYTES` (never read into memory
    whole), are reported to ``problems`` and skipped. A file that cannot be
    read or is not UTF-8 is one problem.
    """
    try:
        with open(src, "rb") as handle:
            for number, raw in enumerate(_bounded_lines(handle), start=1):
                if raw is None:
                    problems.add(file, "", f"the line is longer than the limit of "
                                           f"{MAX_LINE_BYTES} bytes (MAX_LINE_BYTES)",
                                 line=number)
                    continue
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    problems.add(file, "", f"not UTF-8 text ({exc.reason})", line=number)
                    continue
                if number == 1 and text.startswith("\ufeff"):
                    text = text[1:]
                if not text.strip():
                    continue
                try:
                    value = _parse(text)
                except json.JSONDecodeError as exc:
                    problems.add(file, "", f"malformed JSON: {exc.msg} (column {exc.colno})",
                                 line=number)
                    continue
                except ValueError as exc:
                    problems.add(file, "", f"malformed JSON: {exc}", line=number)
                    continue
                except RecursionError:
                    problems.add(file, "", "malformed JSON: nested too deeply", line=number)
                    continue
                yield number, value
    except OSError as exc:
        problems.add(file, "", f"cannot read the file: {exc.strerror or exc}")


def _parse(text: str) -> Any:
    """The JSON value of one line; the standard parser gives the message of a malformed one."""
    try:
        return json_codec.loads(text, strict=True)
    except (ValueError, RecursionError):
        pass
    value, end = _DECODER.raw_decode(text, len(text) - len(text.lstrip()))
    if text[end:].strip():
        raise json.JSONDecodeError("extra data after the JSON value", text, end)
    return value  # pragma: no cover - orjson and json agree on what is JSON


def _bounded_lines(handle: BinaryIO) -> Iterator[bytes | None]:
    """The lines of a binary file; ``None`` for a line over the limit (skipped, not kept)."""
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        # A line may hold MAX_LINE_BYTES bytes besides its newline.
        if len(raw) <= MAX_LINE_BYTES or (raw.endswith(b"\n") and len(raw) == MAX_LINE_BYTES + 1):
            yield raw
            continue
        while not raw.endswith(b"\n"):  # the rest of the long line, a bounded piece at a time
            raw = handle.readline(MAX_LINE_BYTES)
            if not raw:
                break
        yield None


# --- import: events -------------------------------------------------------------------------


def import_events(
    recorder: Recorder,
    src: str | os.PathLike[str],
    *,
    check_only: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Validate then append (keeping ids) and project the events of a JSONL file.

    All or nothing: any problem raises
    :class:`~phase_memory.errors.ImportValidationError` listing every problem,
    and nothing is written. ``check_only=True`` returns the problems instead.
    """
    return _checked_import(
        recorder, src, "events", check_events,
        lambda file, bar, count: write_events(recorder, src, file, bar, total=count),
        check_only=check_only, progress=progress,
    )


def check_events(
    recorder: Recorder,
    src: str | os.PathLike[str],
    file: str,
    problems: Problems,
    bar: Progress,
) -> int:
    """Check every line of an events file; return the number of events."""
    bar.stage(f"Checking {file}")
    checker = EventChecker(recorder.store, file, problems)
    for number, value in read_json_lines(src, file, problems):
        checker.check(value, number)
        bar.advance()
    return checker.count


def write_events(
    recorder: Recorder,
    src: str | os.PathLike[str],
    file: str,
    bar: Progress,
    *,
    total: int | None = None,
) -> int:
    """Record the (checked) events of a file in batches; call inside a transaction.

    A batch ends before an event that depends on a profile or path created or
    changed earlier in the same batch, because the recorder checks every event
    of a batch before projecting any of them.
    """
    bar.stage(f"Importing {file}", total=total)
    writer = EventWriter(recorder, file, bar)
    profiles: set[str] = set()
    paths: set[str] = set()
    ignored = Problems()
    for number, value in read_json_lines(src, file, ignored):
        event = completed(MemoryEvent.model_validate(value))
        if writer.pending == 0:
            profiles.clear()
            paths.clear()
        if event.profile_id in profiles or (event.path_id is not None and event.path_id in paths):
            writer.flush()
            profiles.clear()
            paths.clear()
        writer.add(event, line=number)
        new_profiles, new_paths = touched_by(event)
        profiles |= new_profiles
        paths |= new_paths
    writer.flush()
    return writer.written


def completed(event: MemoryEvent) -> MemoryEvent:
    """The event with its payload as its payload model writes it (defaults filled in).

    A file may leave out payload fields that have defaults (a profile's
    ``created_at``, a node's ``salience``). Recording the payload as written
    would make every replay fill them in anew (``created_at`` = the time of
    the replay), so the graph tables and a replay of the log would disagree.
    Stored payloads are therefore complete; an exported log is already complete
    and imports unchanged.
    """
    model = PAYLOAD_MODELS.get(event.kind)
    payload = event.payload
    if model is None or event.schema_version not in SUPPORTED_SCHEMA_VERSIONS:
        return event
    if REDACTION_KEY in payload:
        return event  # erased by forget: kept as it is
    full = model.model_validate(payload).model_dump(mode="json")
    return event if full == payload else event.model_copy(update={"payload": full})


# --- import: audit records ------------------------------------------------------------------


def import_audit(
    recorder: Recorder,
    src: str | os.PathLike[str],
    *,
    check_only: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Validate then add the audit records of a JSONL file (keeping their ids), all or nothing."""
    return _checked_import(
        recorder, src, "audit", check_audit,
        lambda file, bar, count: write_audit(recorder, src, file, bar),
        check_only=check_only, progress=progress,
    )


def check_audit(
    recorder: Recorder,
    src: str | os.PathLike[str],
    file: str,
    problems: Problems,
    bar: Progress,
) -> int:
    """Check every line of an audit file; return the number of records."""
    bar.stage(f"Checking {file}")
    existing = {r.id for r in recorder.audit.list()}
    seen: set[str] = set()
    count = 0
    for number, value in read_json_lines(src, file, problems):
        count += 1
        bar.advance()
        try:
            record = AuditRecord.model_validate(value)
        except PydanticValidationError as exc:
            problems.add_validation(file, exc, line=number)
            continue
        if record.id in seen:
            problems.add(file, "id", f"duplicate audit record id {record.id!r} in this file",
                         line=number)
        elif record.id in existing:
            problems.add(file, "id", f"audit record {record.id!r} already exists in the database",
                         line=number)
        seen.add(record.id)
    return count


def write_audit(
    recorder: Recorder, src: str | os.PathLike[str], file: str, bar: Progress
) -> int:
    """Store the (checked) audit records of a file in order; call inside a transaction."""
    bar.stage(f"Importing {file}")
    count = 0
    for _, value in read_json_lines(src, file, Problems()):
        recorder.audit.record(AuditRecord.model_validate(value))
        count += 1
        bar.advance()
    return count


_COUNT_KEYS = {"events": "events", "audit": "audit_records"}


def _checked_import(
    recorder: Recorder,
    src: str | os.PathLike[str],
    fmt: str,
    check: Callable[[Recorder, str | os.PathLike[str], str, Problems, Progress], int],
    write: Callable[[str, Progress, int], object],
    *,
    check_only: bool,
    progress: ProgressCallback | None,
) -> ImportResult:
    """Check every line, then write them all in the same transaction, or nothing.

    ``check_only`` reads one consistent snapshot and returns the problems.
    """
    file = display_name(src)
    problems = Problems()
    key = _COUNT_KEYS[fmt]
    with Progress(progress) as bar:
        if check_only:
            with recorder.store.read_transaction():
                count = check(recorder, src, file, problems, bar)
            return ImportResult(format=fmt, source=file, check_only=True,
                                counts={key: count}, problems=problems.items())
        with recorder.store.transaction():
            count = check(recorder, src, file, problems, bar)
            problems.raise_if_any()
            write(file, bar, count)
            audit_import(recorder, fmt, resolved(src), {key: count})
    return ImportResult(format=fmt, source=file, counts={key: count})

"""The Markitect graph envelope: deterministic export, strict streaming import.

Export streams records straight from the graph store into a temporary file,
in the exact bytes ``json.dumps(envelope, sort_keys=True, indent=2,
ensure_ascii=False)`` would give, then renames it into place.

Import (:mod:`~phase_memory.interchange.envelope_scan`, then
:mod:`~phase_memory.interchange.envelope_import`) reads the file
twice: once to check every record, once to check references and, in the same
store transaction, write ``graph.imported`` events and their rows; any
problem undoes everything written. One audit record is kept.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from phase_memory.interchange.atomic_write import atomic_text_file
from phase_memory.interchange.common import (
    audit_export,
    audit_import,
    display_name,
    resolved,
)
from phase_memory.interchange.envelope_import import check_and_write
from phase_memory.interchange.envelope_scan import ARRAY_MODELS, EnvelopeScan, scan_envelope
from phase_memory.interchange.formats import (
    ENVELOPE_ARRAYS,
    ENVELOPE_NAME,
    ENVELOPE_SCHEMA_VERSION,
    canonical_line,
    canonical_nested,
    generator,
)
from phase_memory.interchange.problems import Problems
from phase_memory.interchange.progress import Progress, ProgressCallback
from phase_memory.interchange.results import ExportResult, ImportResult
from phase_memory.models.base import DomainModel
from phase_memory.protocols import MemoryGraphStore
from phase_memory.recorder import Recorder

__all__ = ["ARRAY_MODELS", "EnvelopeScan", "check_envelope", "export_envelope",
           "import_envelope", "write_envelope_file"]


# --- export ---------------------------------------------------------------------------


def export_envelope(
    recorder: Recorder,
    out: str | os.PathLike[str],
    *,
    profile_id: str | None = None,
    progress: ProgressCallback | None = None,
) -> ExportResult:
    """Write the graph (or one profile of it) as a deterministic graph envelope.

    The file is replaced atomically; an ``exported`` audit record is kept.
    Raises :class:`~phase_memory.errors.NotFoundError` for an unknown profile.
    """
    # One read transaction: the file's nodes, edges and paths agree with each other.
    with Progress(progress) as bar, recorder.store.read_transaction():
        counts = write_envelope_file(recorder.graph, out, profile_id=profile_id, progress=bar)
    target = resolved(out)
    audit_export(recorder, "envelope", target, counts, [profile_id] if profile_id else [])
    return ExportResult(format="envelope", target=target, counts=counts, files=[target])


def write_envelope_file(
    graph: MemoryGraphStore,
    out: str | os.PathLike[str],
    *,
    profile_id: str | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write the envelope file atomically; return the records written by array."""
    bar = progress or Progress()
    if profile_id is not None:
        graph.get_profile(profile_id)
    profiles = [p for p in graph.list_profiles() if profile_id is None or p.id == profile_id]
    arrays: dict[str, Iterable[DomainModel]] = {
        "profiles": profiles,
        "nodes": graph.iter_nodes(profile_id),
        "edges": graph.iter_edges(profile_id),
        "paths": graph.list_paths(profile_id),
    }
    scalars: dict[str, Any] = {
        "envelope": ENVELOPE_NAME,
        "schema_version": ENVELOPE_SCHEMA_VERSION,
        "generator": generator(),
    }
    counts: dict[str, int] = {}
    with atomic_text_file(out) as handle:
        handle.write("{")
        keys = sorted([*arrays, *scalars])
        for n, key in enumerate(keys):
            handle.write("\n  " + canonical_line(key).rstrip("\n") + ": ")
            if key in arrays:
                bar.stage(f"Writing {key}")
                counts[key] = _write_array(handle, arrays[key], bar)
            else:
                handle.write(canonical_nested(scalars[key], 1))
            if n < len(keys) - 1:
                handle.write(",")
        handle.write("\n}\n")
    return counts


def _write_array(handle: TextIO, records: Iterable[DomainModel], bar: Progress) -> int:
    count = 0
    write, advance = handle.write, bar.advance
    for record in records:
        write((",\n    " if count else "[\n    ") + canonical_nested(record.to_json_dict(), 2))
        count += 1
        advance()
    handle.write("\n  ]" if count else "[]")
    return count


# --- import ---------------------------------------------------------------------------


def check_envelope(
    recorder: Recorder,
    src: str | os.PathLike[str],
    problems: Problems,
    progress: Progress,
    *,
    file: str | None = None,
    write: bool = False,
) -> EnvelopeScan:
    """Check an envelope file (both passes); problems go to ``problems``.

    With ``write`` (inside a store transaction) the records are written as
    they are checked, until a problem turns up: the caller must then raise so
    the transaction undoes what was written.
    """
    scan = EnvelopeScan(path=Path(src), file=file or display_name(src), problems=problems)
    scan_envelope(recorder.graph, scan, progress)
    if scan.readable:
        stage = "Importing" if write and not problems else "Checking references in"
        progress.stage(f"{stage} {scan.file}", total=sum(scan.counts.values()) or None)
        check_and_write(recorder, scan, progress, write=write)
    return scan


def import_envelope(
    recorder: Recorder,
    src: str | os.PathLike[str],
    *,
    check_only: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Validate then import a graph envelope, all or nothing.

    Raises :class:`~phase_memory.errors.ImportValidationError` listing every
    problem found, with nothing written. With ``check_only=True`` nothing is
    written either way and the problems are returned in the result.
    """
    problems = Problems()
    file = display_name(src)
    with Progress(progress) as bar:
        if check_only:
            with recorder.store.read_transaction():
                scan = check_envelope(recorder, src, problems, bar, file=file)
            return ImportResult(format="envelope", source=file, check_only=True,
                                counts=_counts(scan), problems=problems.items())
        # Checks and writes share one transaction: nothing can change in between,
        # and a problem found after some records were written undoes them.
        with recorder.store.transaction():
            scan = check_envelope(recorder, src, problems, bar, file=file, write=True)
            problems.raise_if_any()
            audit_import(recorder, "envelope", resolved(src), _counts(scan),
                         sorted(scan.touched()))
    return ImportResult(format="envelope", source=file, counts=_counts(scan))


def _counts(scan: EnvelopeScan) -> dict[str, int]:
    return {key: scan.counts.get(key, 0) for key in ENVELOPE_ARRAYS}

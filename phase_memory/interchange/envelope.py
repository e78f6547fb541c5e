"""The Markitect graph envelope: deterministic export, strict streaming import.

Export streams records straight from the graph store into a temporary file,
in the exact bytes ``json.dumps(envelope, sort_keys=True, indent=2,
ensure_ascii=False)`` would give, then renames it into place.

Import reads the file three times, never holding more than one record (plus
sets of ids) in memory:

1. check every record against its model, collect ids, find duplicates (in the
   file and against the database) and note where each array starts;
2. check references: every node's profile, every edge's endpoints, every
   path's parent and merge target, the profiles' node and edge kind policies;
3. only if nothing was found, write, inside one store transaction:
   ``graph.imported`` events of at most
   :data:`~phase_memory.interchange.formats.RECORDS_PER_IMPORT_EVENT` records
   each (so a replay of the log reproduces the imported graph), and one audit
   record.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import ValidationError as PydanticValidationError

from phase_memory.interchange.atomic_write import atomic_text_file
from phase_memory.interchange.common import (
    EventWriter,
    audit_export,
    audit_import,
    consistent_reads,
    display_name,
    graph_imported_event,
    resolved,
)
from phase_memory.interchange.formats import (
    ENVELOPE_ARRAYS,
    ENVELOPE_NAME,
    ENVELOPE_SCHEMA_VERSION,
    RECORDS_PER_IMPORT_EVENT,
    EnvelopeHeader,
    canonical_line,
    canonical_nested,
    generator,
)
from phase_memory.interchange.json_stream import (
    ArrayStart,
    Item,
    JsonObjectStream,
    JsonSyntaxError,
    Member,
)
from phase_memory.interchange.problems import Problems, pointer_of
from phase_memory.interchange.progress import Progress
from phase_memory.interchange.results import ExportResult, ImportResult
from phase_memory.models import MemoryEdge, MemoryNode, MemoryPath, Profile
from phase_memory.models.base import DomainModel

if TYPE_CHECKING:
    from phase_memory.protocols import MemoryGraphStore
    from phase_memory.runtime.runtime import PhaseMemoryRuntime

ARRAY_MODELS: dict[str, type[DomainModel]] = {
    "profiles": Profile,
    "nodes": MemoryNode,
    "edges": MemoryEdge,
    "paths": MemoryPath,
}
_HEADER_KEYS = frozenset(EnvelopeHeader.model_fields)
_SINGULAR = {"profiles": "profile", "nodes": "node", "edges": "edge", "paths": "path"}


# --- export ---------------------------------------------------------------------------


def export_envelope(
    runtime: PhaseMemoryRuntime,
    out: str | os.PathLike[str],
    *,
    profile_id: str | None = None,
    progress: bool | None = None,
) -> ExportResult:
    """Write the graph (or one profile of it) as a deterministic graph envelope.

    The file is replaced atomically; an ``exported`` audit record is kept.
    Raises :class:`~phase_memory.errors.NotFoundError` for an unknown profile.
    """
    with Progress(progress) as bar:
        counts = write_envelope_file(runtime.graph, out, profile_id=profile_id, progress=bar)
    target = resolved(out)
    audit_export(runtime, "envelope", target, counts, [profile_id] if profile_id else [])
    return ExportResult(format="envelope", target=target, counts=counts, files=[target])


def write_envelope_file(
    graph: MemoryGraphStore,
    out: str | os.PathLike[str],
    *,
    profile_id: str | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write the envelope file atomically; return the records written by array."""
    bar = progress or Progress(False)
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
    for record in records:
        handle.write(",\n    " if count else "[\n    ")
        handle.write(canonical_nested(record.model_dump(mode="json"), 2))
        count += 1
        bar.advance()
    handle.write("\n  ]" if count else "[]")
    return count


# --- import: checking -------------------------------------------------------------------


@dataclass
class EnvelopeScan:
    """What the checking passes learnt about an envelope file."""

    path: Path
    file: str
    problems: Problems
    readable: bool = True
    """False when the file is not valid JSON (nothing after the error was checked)."""
    header: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Byte offset and line of each record array."""
    counts: dict[str, int] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)
    node_profiles: dict[str, str] = field(default_factory=dict)
    edge_ids: set[str] = field(default_factory=set)
    path_ids: set[str] = field(default_factory=set)
    invalid: dict[str, set[int]] = field(default_factory=dict)
    """Indexes of records that failed their model (skipped by the reference checks)."""
    stored: dict[str, int] = field(default_factory=dict)
    """How many records of each kind the database held (no lookups for kinds it has none of)."""

    def items(self, key: str) -> Iterator[Item]:
        """Read one record array again (a later pass)."""
        if key not in self.arrays:
            return
        offset, line = self.arrays[key]
        with open(self.path, "rb") as raw:
            yield from JsonObjectStream(raw, offset=offset, line=line).open_array(key)


def check_envelope(
    runtime: PhaseMemoryRuntime,
    src: str | os.PathLike[str],
    problems: Problems,
    progress: Progress,
    *,
    file: str | None = None,
) -> EnvelopeScan:
    """Run both checking passes over an envelope file; problems go to ``problems``."""
    scan = EnvelopeScan(path=Path(src), file=file or display_name(src), problems=problems)
    scan.stored = runtime.graph.counts()
    progress.stage(f"Checking {scan.file}")
    _check_records(runtime.graph, scan, progress)
    if scan.readable:
        _check_header(scan)
        progress.stage(f"Checking references in {scan.file}")
        _check_references(runtime.graph, scan, progress)
    return scan


def _check_records(graph: MemoryGraphStore, scan: EnvelopeScan, progress: Progress) -> None:
    problems, file = scan.problems, scan.file
    seen: set[str] = set()
    try:
        with open(scan.path, "rb") as raw:
            for token in JsonObjectStream(raw, set(ENVELOPE_ARRAYS)).tokens():
                if isinstance(token, Item):
                    _check_record(graph, scan, token)
                    progress.advance()
                    continue
                if not isinstance(token, Member | ArrayStart):
                    continue
                key = token.key
                if key in seen:
                    problems.add(file, key, "member appears twice", line=token.line,
                                 pointer=pointer_of(key))
                seen.add(key)
                if isinstance(token, ArrayStart):
                    scan.arrays[key] = (token.offset, token.line)
                    scan.counts.setdefault(key, 0)
                elif key in ENVELOPE_ARRAYS:
                    problems.add(file, key, "must be an array of records", line=token.line,
                                 pointer=pointer_of(key))
                elif key in _HEADER_KEYS:
                    scan.header[key] = token.value
                else:
                    problems.add(file, key, "unknown member of a graph envelope",
                                 line=token.line, pointer=pointer_of(key))
    except JsonSyntaxError as exc:
        scan.readable = False
        problems.add(file, "", f"malformed JSON: {exc.reason} (column {exc.column})",
                     line=exc.line, pointer=exc.pointer or None)
    except OSError as exc:
        scan.readable = False
        problems.add(file, "", f"cannot read the file: {exc.strerror or exc}")


def _check_record(graph: MemoryGraphStore, scan: EnvelopeScan, token: Item) -> None:
    key, index = token.key, token.index
    scan.counts[key] = scan.counts.get(key, 0) + 1
    try:
        record: Any = ARRAY_MODELS[key].model_validate(token.value)
    except PydanticValidationError as exc:
        scan.problems.add_validation(scan.file, exc, line=token.line, base=(key, index))
        scan.invalid.setdefault(key, set()).add(index)
        return
    record_id: str = record.id
    what = _SINGULAR[key]
    duplicate = False
    look = scan.stored.get(key, 1) > 0
    if key == "profiles":
        duplicate = record_id in scan.profiles
        in_db = look and not duplicate and graph.find_profile(record_id) is not None
        scan.profiles.setdefault(record_id, record)
    elif key == "nodes":
        duplicate = record_id in scan.node_profiles
        in_db = look and not duplicate and graph.find_node(record_id) is not None
        profile = scan.profiles.get(record.profile_id)
        # Share one string object per profile id across every node.
        scan.node_profiles.setdefault(
            record_id, profile.id if profile is not None else record.profile_id
        )
    elif key == "edges":
        duplicate = record_id in scan.edge_ids
        in_db = look and not duplicate and graph.find_edge(record_id) is not None
        scan.edge_ids.add(record_id)
    else:
        duplicate = record_id in scan.path_ids
        in_db = look and not duplicate and graph.find_path(record_id) is not None
        scan.path_ids.add(record_id)
    where = {"line": token.line, "pointer": pointer_of(key, index, "id")}
    if duplicate:
        scan.problems.add(scan.file, "id", f"duplicate {what} id {record_id!r} in this file",
                          **where)  # type: ignore[arg-type]
    elif in_db:
        scan.problems.add(scan.file, "id", f"{what} {record_id!r} already exists in the database",
                          **where)  # type: ignore[arg-type]


def _check_header(scan: EnvelopeScan) -> None:
    header, problems, file = scan.header, scan.problems, scan.file
    try:
        EnvelopeHeader.model_validate(header)
    except PydanticValidationError as exc:
        problems.add_validation(file, exc)
        return
    if header["envelope"] != ENVELOPE_NAME:
        problems.add(file, "envelope",
                     f"unknown envelope {header['envelope']!r}; expected {ENVELOPE_NAME!r}",
                     pointer="/envelope")
    if header["schema_version"] != ENVELOPE_SCHEMA_VERSION:
        problems.add(
            file, "schema_version",
            f"unknown envelope schema_version {header['schema_version']!r}; "
            f"this version of phase-memory reads {ENVELOPE_SCHEMA_VERSION}",
            pointer="/schema_version",
        )


class _Profiles:
    """Profiles by id: those of the file first, then the database's (looked up once)."""

    def __init__(self, graph: MemoryGraphStore, in_file: dict[str, Profile]) -> None:
        self._graph = graph
        self._known: dict[str, Profile | None] = dict(in_file)

    def get(self, profile_id: str) -> Profile | None:
        if profile_id not in self._known:
            self._known[profile_id] = self._graph.find_profile(profile_id)
        return self._known[profile_id]


def _check_references(graph: MemoryGraphStore, scan: EnvelopeScan, progress: Progress) -> None:
    profiles = _Profiles(graph, scan.profiles)
    problems, file = scan.problems, scan.file
    active_trees: dict[str, str] = {}
    for key in ("nodes", "edges", "paths"):
        skip = scan.invalid.get(key, set())
        for item in scan.items(key):
            progress.advance()
            if item.index in skip:
                continue
            record: dict[str, Any] = item.value

            def problem(name: str, reason: str, item: Item = item, key: str = key) -> None:
                problems.add(file, name, reason, line=item.line,
                             pointer=pointer_of(key, item.index, name))

            profile_id = record["profile_id"]
            profile = profiles.get(profile_id)
            if profile is None:
                problem("profile_id", f"profile {profile_id!r} is neither in this file "
                                      "nor in the database")
            if key == "nodes":
                if profile is not None and not profile.policy.allows_node_kind(record["kind"]):
                    problem("kind", f"profile {profile_id!r} does not allow node kind "
                                    f"{record['kind']!r}")
            elif key == "edges":
                if profile is not None and not profile.policy.allows_edge_kind(record["kind"]):
                    problem("kind", f"profile {profile_id!r} does not allow edge kind "
                                    f"{record['kind']!r}")
                for end in ("source_id", "target_id"):
                    owner = _node_owner(graph, scan, record[end])
                    if owner is None:
                        problem(end, f"node {record[end]!r} is neither in this file "
                                     "nor in the database")
                    elif owner != profile_id:
                        problem(end, f"node {record[end]!r} belongs to profile {owner!r}, "
                                     f"not {profile_id!r}")
            else:
                _check_path_references(graph, scan, record, active_trees, problem)


def _node_owner(graph: MemoryGraphStore, scan: EnvelopeScan, node_id: str) -> str | None:
    owner = scan.node_profiles.get(node_id)
    if owner is None and scan.stored.get("nodes", 1):
        stored = graph.find_node(node_id)
        owner = stored.profile_id if stored is not None else None
    return owner


def _check_path_references(
    graph: MemoryGraphStore,
    scan: EnvelopeScan,
    record: dict[str, Any],
    active_trees: dict[str, str],
    problem: Any,
) -> None:
    for name, what in (("parent_path_id", "parent path"), ("merged_into_path_id", "merge target")):
        ref = record.get(name)
        if ref is not None and ref not in scan.path_ids and graph.find_path(ref) is None:
            problem(name, f"{what} {ref!r} is neither in this file nor in the database")
    if record.get("active"):
        tree = record.get("root_path_id") or record["id"]
        other = active_trees.setdefault(tree, record["id"])
        if other != record["id"]:
            problem("active", f"paths {other!r} and {record['id']!r} are both active in "
                              f"conversation tree {tree!r}")
        else:
            stored = [
                p.id for p in graph.paths_in_tree(tree) if p.active and p.id not in scan.path_ids
            ]
            if stored:
                problem("active", f"path {stored[0]!r} of the database is already active in "
                                  f"conversation tree {tree!r}")


# --- import: writing ------------------------------------------------------------------------


def import_envelope(
    runtime: PhaseMemoryRuntime,
    src: str | os.PathLike[str],
    *,
    check_only: bool = False,
    progress: bool | None = None,
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
            with consistent_reads(runtime):
                scan = check_envelope(runtime, src, problems, bar, file=file)
            return ImportResult(format="envelope", source=file, check_only=True,
                                counts=_counts(scan), problems=problems.items())
        # Checks and writes share one transaction: nothing can change in between.
        with runtime.store.transaction():
            scan = check_envelope(runtime, src, problems, bar, file=file)
            problems.raise_if_any()
            write_envelope_records(runtime, scan, bar)
            audit_import(runtime, "envelope", resolved(src), _counts(scan),
                         sorted(_touched(scan)))
    return ImportResult(format="envelope", source=file, counts=_counts(scan))


def _counts(scan: EnvelopeScan) -> dict[str, int]:
    return {key: scan.counts.get(key, 0) for key in ENVELOPE_ARRAYS}


def _touched(scan: EnvelopeScan) -> set[str]:
    return set(scan.profiles) | set(scan.node_profiles.values())


def write_envelope_records(runtime: PhaseMemoryRuntime, scan: EnvelopeScan, bar: Progress) -> None:
    """Record the checked records as ``graph.imported`` events (call inside a transaction)."""
    source = scan.path.name
    bar.stage(f"Importing {scan.file}", total=sum(scan.counts.values()) or None)
    writer = EventWriter(runtime, scan.file, bar, max_records=5 * RECORDS_PER_IMPORT_EVENT)
    for profile in scan.profiles.values():
        writer.add(
            graph_imported_event(runtime, profile.id, source,
                                 profiles=[profile.model_dump(mode="json")])
        )
    writer.flush()
    for key in ("nodes", "edges", "paths"):
        model = ARRAY_MODELS[key]
        chunks: dict[str, list[Any]] = {}
        for item in scan.items(key):
            record = model.model_validate(item.value).model_dump(mode="json")
            profile_id = record["profile_id"]
            chunk = chunks.setdefault(profile_id, [])
            chunk.append(record)
            if len(chunk) >= RECORDS_PER_IMPORT_EVENT:
                writer.add(graph_imported_event(runtime, profile_id, source, **{key: chunk}),
                           records=len(chunk), line=item.line)
                chunks[profile_id] = []
        for profile_id, chunk in sorted(chunks.items()):
            if chunk:
                writer.add(graph_imported_event(runtime, profile_id, source, **{key: chunk}),
                           records=len(chunk))
        writer.flush()

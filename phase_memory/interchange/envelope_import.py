"""Strict streaming import of a graph envelope: check, then check references and write.

The file is read twice, never holding more than one record (plus compact id
keys) in memory:

1. :func:`scan_envelope` checks every record against its model, notes where
   each array starts and keeps every node and edge id as a 64-bit key (8 bytes
   an id, not a Python string: a million ids take 8 MB, not 150);
2. :func:`check_and_write` reads nodes, edges and paths again, checks their
   references (profiles, edge endpoints, paths, kind policies) and, when
   asked and while no problem has been found, writes them inside the
   caller's store transaction: ``graph.imported`` events of at most
   :data:`~phase_memory.interchange.formats.RECORDS_PER_IMPORT_EVENT` records
   (so a replay of the log reproduces the graph) and their effects, a whole
   batch of rows at a time. A problem found after some rows were written
   raises inside that transaction, which undoes them: nothing is kept.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError as PydanticValidationError

from phase_memory.interchange.common import EventWriter, graph_imported_event
from phase_memory.interchange.formats import (
    ENVELOPE_ARRAYS,
    ENVELOPE_NAME,
    ENVELOPE_SCHEMA_VERSION,
    RECORDS_PER_IMPORT_EVENT,
    EnvelopeHeader,
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
from phase_memory.models import MemoryEdge, MemoryNode, MemoryPath, Profile
from phase_memory.models.base import DomainModel
from phase_memory.replay import PutEdge, PutNode, PutPath, PutProfile

if TYPE_CHECKING:
    from phase_memory.protocols import MemoryGraphStore
    from phase_memory.replay import Effect
    from phase_memory.runtime.runtime import PhaseMemoryRuntime

ARRAY_MODELS: dict[str, type[DomainModel]] = {
    "profiles": Profile,
    "nodes": MemoryNode,
    "edges": MemoryEdge,
    "paths": MemoryPath,
}
_HEADER_KEYS = frozenset(EnvelopeHeader.model_fields)
_SINGULAR = {"profiles": "profile", "nodes": "node", "edges": "edge", "paths": "path"}
_EFFECTS = {"nodes": PutNode, "edges": PutEdge, "paths": PutPath}
_RECORDS_PER_WRITE = 5 * RECORDS_PER_IMPORT_EVENT


def id_key(record_id: str) -> int:
    """The 64-bit key an id is kept as (``hash``: fast, and stable within one process).

    Two different ids sharing a key is a 1 in 2**64 event per pair; the checks
    that rely on keys say so where it matters.
    """
    return hash(record_id)


@dataclass
class EnvelopeScan:
    """What the first pass learnt about an envelope file."""

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
    node_keys: array[int] = field(default_factory=lambda: array("q"))
    """Keys of the file's node ids (file order, then sorted by :meth:`seal`)."""
    node_owners: array[int] = field(default_factory=lambda: array("l"))
    """Index in :attr:`owner_names` of each node's profile (aligned with node_keys)."""
    owner_names: list[str] = field(default_factory=list)
    edge_keys: array[int] = field(default_factory=lambda: array("q"))
    path_ids: set[str] = field(default_factory=set)
    invalid: dict[str, set[int]] = field(default_factory=dict)
    """Indexes of records that failed their model (skipped by the later checks)."""
    stored: dict[str, int] = field(default_factory=dict)
    """How many records of each kind the database held (no lookups for kinds it has none of)."""
    _owner_index: dict[str, int] = field(default_factory=dict)

    def items(self, key: str) -> Iterator[Item]:
        """Read one record array again (a later pass)."""
        if key not in self.arrays:
            return
        offset, line = self.arrays[key]
        with open(self.path, "rb") as raw:
            stream = JsonObjectStream(raw, offset=offset, line=line, models=ARRAY_MODELS)
            yield from stream.open_array(key)

    def note_node(self, node_id: str, profile_id: str) -> None:
        """Keep a node id of the file (and its profile)."""
        owner = self._owner_index.get(profile_id)
        if owner is None:
            owner = self._owner_index[profile_id] = len(self.owner_names)
            self.owner_names.append(profile_id)
        self.node_keys.append(id_key(node_id))
        self.node_owners.append(owner)

    def seal(self) -> dict[str, set[int]]:
        """Sort the node keys for lookups; the keys seen twice in each array."""
        keys, owners = self.node_keys, self.node_owners
        if len(self.owner_names) <= 1:
            # One profile (the usual file): the owners need no reordering.
            self.node_keys = array("q", sorted(keys))
        else:
            order = sorted(range(len(keys)), key=keys.__getitem__)
            self.node_keys = array("q", [keys[i] for i in order])
            self.node_owners = array("l", [owners[i] for i in order])
            del order
        edges = array("q", sorted(self.edge_keys))
        self.edge_keys = array("q")
        return {"nodes": _repeated(self.node_keys), "edges": _repeated(edges)}

    def node_owner(self, node_id: str) -> str | None:
        """The profile of a node of the file, or None (after :meth:`seal`)."""
        keys, key = self.node_keys, hash(node_id)  # id_key, inlined (twice per edge)
        at = bisect_left(keys, key)
        if at < len(keys) and keys[at] == key:
            owners = self.owner_names
            return owners[0] if len(owners) == 1 else owners[self.node_owners[at]]
        return None

    def touched(self) -> set[str]:
        """The profiles the file's records belong to."""
        return set(self.profiles) | set(self.owner_names)


def _repeated(keys: array[int]) -> set[int]:
    """Keys occurring more than once in a sorted array."""
    return {a for a, b in pairwise(keys) if a == b}


def scan_envelope(
    graph: MemoryGraphStore, scan: EnvelopeScan, progress: Progress
) -> None:
    """The first pass: records against their models, ids, duplicates, the header."""
    scan.stored = graph.counts()
    progress.stage(f"Checking {scan.file}")
    _check_records(graph, scan, progress)
    if not scan.readable:
        return
    _check_header(scan)
    repeated = scan.seal()
    for key in ("nodes", "edges"):
        if repeated[key]:
            _report_duplicates(scan, key, repeated[key])


def _check_records(graph: MemoryGraphStore, scan: EnvelopeScan, progress: Progress) -> None:
    problems, file = scan.problems, scan.file
    seen: set[str] = set()
    try:
        with open(scan.path, "rb") as raw:
            stream = JsonObjectStream(raw, set(ENVELOPE_ARRAYS), models=ARRAY_MODELS)
            for token in stream.tokens():
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
    record: Any = token.record
    if token.error is not None:
        scan.problems.add_validation(scan.file, token.error, line=token.line, base=(key, index))
        scan.invalid.setdefault(key, set()).add(index)
        return
    record_id: str = record.id
    # Duplicates of nodes and edges within the file are found from their keys
    # once the pass is over (see scan_envelope); the database is asked here.
    duplicate = in_db = False
    look = scan.stored.get(key, 1) > 0
    if key == "nodes":
        scan.note_node(record_id, record.profile_id)
        in_db = look and graph.find_node(record_id) is not None
    elif key == "edges":
        scan.edge_keys.append(id_key(record_id))
        in_db = look and graph.find_edge(record_id) is not None
    elif key == "profiles":
        duplicate = record_id in scan.profiles
        in_db = look and not duplicate and graph.find_profile(record_id) is not None
        scan.profiles.setdefault(record_id, record)
    else:
        duplicate = record_id in scan.path_ids
        in_db = look and not duplicate and graph.find_path(record_id) is not None
        scan.path_ids.add(record_id)
    if not (duplicate or in_db):
        return
    what = _SINGULAR[key]
    where = {"line": token.line, "pointer": pointer_of(key, index, "id")}
    if duplicate:
        scan.problems.add(scan.file, "id", f"duplicate {what} id {record_id!r} in this file",
                          **where)  # type: ignore[arg-type]
    elif in_db:
        scan.problems.add(scan.file, "id", f"{what} {record_id!r} already exists in the database",
                          **where)  # type: ignore[arg-type]


def _report_duplicates(scan: EnvelopeScan, key: str, repeated: set[int]) -> None:
    """Name the records whose ids appeared earlier in the array (a rare, bad file)."""
    skip = scan.invalid.get(key, set())
    first_seen: set[str] = set()
    for item in scan.items(key):
        if item.index in skip:
            continue
        record_id: str = item.record.id
        if id_key(record_id) not in repeated:
            continue
        if record_id in first_seen:  # the exact id, not just its key, came before
            scan.problems.add(scan.file, "id",
                              f"duplicate {_SINGULAR[key]} id {record_id!r} in this file",
                              line=item.line, pointer=pointer_of(key, item.index, "id"))
        first_seen.add(record_id)


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


# --- the second pass: references, then writing ------------------------------------------


class _Profiles:
    """Profiles by id: those of the file first, then the database's (looked up once)."""

    def __init__(self, graph: MemoryGraphStore, in_file: dict[str, Profile]) -> None:
        self._graph = graph
        self._known: dict[str, Profile | None] = dict(in_file)

    def get(self, profile_id: str) -> Profile | None:
        if profile_id not in self._known:
            self._known[profile_id] = self._graph.find_profile(profile_id)
        return self._known[profile_id]


class _Writer:
    """Queues checked records as ``graph.imported`` events, written in batches.

    The importer has checked every record, reference and policy against the
    file and the database inside the same transaction, so batches go through
    a ``checked`` :class:`EventWriter`: the events are appended and their
    effects (exactly what the replay fold makes of them) applied as one
    executemany per kind.
    """

    def __init__(self, runtime: PhaseMemoryRuntime, scan: EnvelopeScan, progress: Progress) -> None:
        self._runtime = runtime
        self._source = scan.path.name
        self._events = EventWriter(runtime, scan.file, progress, checked=True,
                                   max_records=_RECORDS_PER_WRITE)
        self._chunks: dict[str, tuple[list[Any], list[Effect]]] = {}
        # What model_dump(mode="json") calls, without its wrapper (once per record).
        self._dump = {key: model.__pydantic_serializer__.to_python
                      for key, model in ARRAY_MODELS.items()}
        self.enabled = True

    def add(self, key: str, record: Any, line: int) -> None:
        """Queue one checked record of array ``key`` (found at ``line``)."""
        profile_id: str = record.profile_id
        chunk = self._chunks.get(profile_id)
        if chunk is None:
            chunk = self._chunks[profile_id] = ([], [])
        chunk[0].append(self._dump[key](record, mode="json"))
        chunk[1].append(_EFFECTS[key](record))
        if len(chunk[0]) >= RECORDS_PER_IMPORT_EVENT:
            del self._chunks[profile_id]
            self._event(profile_id, key, chunk, line)

    def end_array(self, key: str) -> None:
        """Close the events of an array (each event carries one kind of record)."""
        chunks, self._chunks = self._chunks, {}
        for profile_id, chunk in sorted(chunks.items()):
            self._event(profile_id, key, chunk, None)
        self._flush()

    def profiles(self, profiles: list[Profile]) -> None:
        """Write the file's profiles, one event each."""
        for profile in profiles:
            self._event(profile.id, "profiles",
                        ([profile.model_dump(mode="json")], [PutProfile(profile)]), None)
        self._flush()

    def _event(self, profile_id: str, key: str, chunk: tuple[list[Any], list[Effect]],
               line: int | None) -> None:
        if not self.enabled:
            return
        records, effects = chunk
        event = graph_imported_event(self._runtime, profile_id, self._source, **{key: records})
        self._events.add(event, line=line, records=len(records), effects=effects)

    def _flush(self) -> None:
        if self.enabled:
            self._events.flush()

    def stop(self) -> None:
        """A problem was found: write nothing more (the transaction undoes the rest)."""
        self.enabled = False
        self._chunks = {}
        self._events.discard()


def check_and_write(
    runtime: PhaseMemoryRuntime, scan: EnvelopeScan, progress: Progress, *, write: bool
) -> None:
    """The second pass: check references; with ``write``, write while nothing is wrong.

    Call inside a store transaction when writing: if a problem turns up after
    some batches were written, the caller raises and the transaction undoes them.
    """
    graph, problems, file = runtime.graph, scan.problems, scan.file
    profiles = _Profiles(graph, scan.profiles)
    writer = _Writer(runtime, scan, progress)
    if not write or problems:
        writer.stop()
    writer.profiles(list(scan.profiles.values()))
    active_trees: dict[str, str] = {}
    refs = _References(graph, scan, profiles)
    for key in ("nodes", "edges", "paths"):
        skip = scan.invalid.get(key, set())
        for item in scan.items(key):
            if item.index in skip:
                progress.advance()
                continue
            record: Any = item.record
            if record is None:  # the file changed since the first pass
                if item.error is not None:
                    problems.add_validation(file, item.error, line=item.line,
                                            base=(key, item.index))
                writer.stop()
                progress.advance()
                continue
            if key == "nodes":
                found = refs.node(record)
            elif key == "edges":
                found = refs.edge(record)
            else:
                found = refs.profile(record)
                found.extend(_path_problems(graph, scan, record.model_dump(), active_trees))
            if found:
                for name, reason in found:
                    problems.add(file, name, reason, line=item.line,
                                 pointer=pointer_of(key, item.index, name))
                writer.stop()
            if writer.enabled:
                writer.add(key, record, item.line)
            else:
                progress.advance()
        writer.end_array(key)


class _References:
    """The reference checks of one record: ``(field, reason)`` of each problem."""

    def __init__(self, graph: MemoryGraphStore, scan: EnvelopeScan, profiles: _Profiles) -> None:
        self._graph = graph
        self._scan = scan
        self._profiles = profiles
        self._look_nodes = scan.stored.get("nodes", 1) > 0
        self._allowed: dict[tuple[str, str, str], bool] = {}

    def profile(self, record: Any) -> list[tuple[str, str]]:
        profile_id: str = record.profile_id
        if self._profiles.get(profile_id) is None:
            return [("profile_id",
                     f"profile {profile_id!r} is neither in this file nor in the database")]
        return []

    def _kind(self, what: str, record: Any) -> list[tuple[str, str]]:
        """The record's profile exists and allows its kind."""
        profile_id: str = record.profile_id
        kind: str = record.kind
        allowed = self._allowed.get((what, profile_id, kind))
        if allowed is None:
            profile = self._profiles.get(profile_id)
            if profile is None:
                return self.profile(record)
            policy = profile.policy
            allowed = (policy.allows_node_kind(kind) if what == "node"
                       else policy.allows_edge_kind(kind))
            self._allowed[(what, profile_id, kind)] = allowed
        if allowed:
            return []
        return [("kind", f"profile {profile_id!r} does not allow {what} kind {kind!r}")]

    def node(self, record: Any) -> list[tuple[str, str]]:
        return self._kind("node", record)

    def edge(self, record: Any) -> list[tuple[str, str]]:
        found = self._kind("edge", record)
        profile_id: str = record.profile_id
        for end in ("source_id", "target_id"):
            node_id: str = getattr(record, end)
            owner = self._scan.node_owner(node_id)
            if owner is None and self._look_nodes:
                stored = self._graph.find_node(node_id)
                owner = stored.profile_id if stored is not None else None
            if owner is None:
                found.append((end, f"node {node_id!r} is neither in this file "
                                   "nor in the database"))
            elif owner != profile_id:
                found.append((end, f"node {node_id!r} belongs to profile {owner!r}, "
                                   f"not {profile_id!r}"))
        return found


def _path_problems(
    graph: MemoryGraphStore,
    scan: EnvelopeScan,
    record: dict[str, Any],
    active_trees: dict[str, str],
) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    _check_path_references(graph, scan, record, active_trees,
                           lambda name, reason: found.append((name, reason)))
    return found


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

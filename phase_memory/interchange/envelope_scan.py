"""The first pass of an envelope import: every record against its model, ids, the header.

:func:`scan_envelope` reads the file once, never holding more than one record
in memory: it checks each record against its model, notes where each array
starts (so the second pass, :mod:`phase_memory.interchange.envelope_import`,
can read it again) and keeps every node and edge id as a 64-bit key (8 bytes
an id, not a Python string: a million ids take 8 MB, not 150), from which
duplicates are found once the pass is over.
"""


from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from phase_memory.interchange.formats import (
    ENVELOPE_ARRAYS,
    ENVELOPE_NAME,
    READABLE_ENVELOPE_VERSIONS,
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
from phase_memory.protocols import MemoryGraphStore

ARRAY_MODELS: dict[str, type[DomainModel]] = {
    "profiles": Profile,
    "nodes": MemoryNode,
    "edges": MemoryEdge,
    "paths": MemoryPath,
}
_HEADER_KEYS = frozenset(EnvelopeHeader.model_fields)
_SINGULAR = {"profiles": "profile", "nodes": "node", "edges": "edge", "paths": "path"}


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
    if header["schema_version"] not in READABLE_ENVELOPE_VERSIONS:
        readable = " and ".join(str(v) for v in sorted(READABLE_ENVELOPE_VERSIONS))
        problems.add(
            file, "schema_version",
            f"unknown envelope schema_version {header['schema_version']!r}; "
            f"this version of phase-memory reads {readable}",
            pointer="/schema_version",
        )

"""Strict streaming import of a graph envelope: the second pass, references and writing.

The file is read twice, never holding more than one record (plus compact id
keys) in memory:

1. :func:`~phase_memory.interchange.envelope_scan.scan_envelope` checks every
   record against its model, notes where each array starts and keeps every
   node and edge id as a 64-bit key (8 bytes an id, not a Python string: a
   million ids take 8 MB, not 150);
2. :func:`check_and_write` reads nodes, edges and paths again, checks their
   references (profiles, edge endpoints, paths, kind policies) and, when
   asked and while no problem has been found, writes them inside the
   caller's store transaction: ``graph.imported`` events of at most
   :data:`~phase_memory.interchange.formats.RECORDS_PER_IMPORT_EVENT` records
   (so a replay of the log reproduces the graph), through the recorder's
   batch entry point: every event passes the checks and the review gate any
   event passes, and its effects are the replay fold's
   (:func:`~phase_memory.replay.graph_imported_effects`), a whole batch of rows
   at a time. A problem found after some rows were written raises inside that
   transaction, which undoes them: nothing is kept.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic_core import to_json

from phase_memory.interchange.common import EventWriter, graph_imported_event
from phase_memory.interchange.envelope_scan import ARRAY_MODELS, EnvelopeScan
from phase_memory.interchange.formats import RECORDS_PER_IMPORT_EVENT
from phase_memory.interchange.problems import pointer_of
from phase_memory.interchange.progress import Progress
from phase_memory.models import (
    ActivationPlan,
    GraphImported,
    MemoryEdge,
    MemoryNode,
    MemoryPath,
    Profile,
)
from phase_memory.models.effects import Effect
from phase_memory.models.limits import MAX_PAYLOAD_BYTES
from phase_memory.protocols import MemoryGraphStore
from phase_memory.recorder import Recorder
from phase_memory.replay import GraphView, LoggedEvent, graph_imported_effects, kind_refusal

_RECORDS_PER_WRITE = 5 * RECORDS_PER_IMPORT_EVENT
_BYTES_PER_IMPORT_EVENT = MAX_PAYLOAD_BYTES // 2
"""JSON bytes of the records one ``graph.imported`` event carries, at most (unless one
record alone is more): far under the payload limit every appended event is checked
against, so big records make more events instead of one refused."""


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


def _imported_effects(event: LoggedEvent, payload: Any, view: GraphView) -> list[Effect]:
    # The scan checked every edge's endpoints against the file and the database.
    return graph_imported_effects(event, payload, view, endpoints_checked=True)


class _ImportView:
    """The graph as the recorder's checks and the fold see it during an envelope import.

    Reads go to the store (which holds what earlier batches wrote, in the same
    transaction), except node lookups into a database that held no node when
    the import began: while the file's nodes are written those nodes are new
    (None, no lookup), and afterwards they are looked up in the store.
    """

    __slots__ = ("_graph", "_look_nodes", "_profiles", "nodes_written")

    def __init__(self, graph: MemoryGraphStore, scan: EnvelopeScan) -> None:
        self._graph = graph
        self._look_nodes = scan.stored.get("nodes", 1) > 0
        self._profiles: dict[str, Profile | None] = {}
        self.nodes_written = False

    def find_profile(self, profile_id: str) -> Profile | None:
        if profile_id not in self._profiles:
            self._profiles[profile_id] = self._graph.find_profile(profile_id)
        return self._profiles[profile_id]

    def find_node(self, node_id: str) -> MemoryNode | None:
        if not self._look_nodes and not self.nodes_written:
            return None
        return self._graph.find_node(node_id)

    def find_edge(self, edge_id: str) -> MemoryEdge | None:
        return self._graph.find_edge(edge_id)

    def find_path(self, path_id: str) -> MemoryPath | None:
        return self._graph.find_path(path_id)

    def edges_touching(self, node_id: str) -> list[MemoryEdge]:
        return self._graph.edges_touching(node_id)

    def paths_in_tree(self, root_path_id: str) -> list[MemoryPath]:
        return self._graph.paths_in_tree(root_path_id)

    def plans_mentioning(self, node_id: str) -> list[ActivationPlan]:
        return self._graph.plans_mentioning(node_id)

    def forget_profiles(self) -> None:
        """Profiles were written: look them up again."""
        self._profiles.clear()


class _Writer:
    """Queues checked records as ``graph.imported`` events, written in batches.

    Batches go through the recorder's batch entry point
    (:meth:`~phase_memory.recorder.Recorder.record_folded`): the same checks and
    review gate as any event, effects decided by the replay fold, one write of
    a batch's effects.
    """

    def __init__(self, recorder: Recorder, scan: EnvelopeScan, progress: Progress) -> None:
        self._recorder = recorder
        self._source = scan.path.name
        self.view = _ImportView(recorder.graph, scan)
        self._events = EventWriter(recorder, scan.file, progress, folded=_imported_effects,
                                   view=self.view, max_records=_RECORDS_PER_WRITE)
        self._chunks: dict[str, tuple[list[Any], list[Any]]] = {}
        self._sizes: dict[str, int] = {}
        """JSON bytes of the records of each profile's chunk."""
        # What model_dump(mode="json") calls, without its wrapper (once per record).
        self._dump = {key: model.__pydantic_serializer__.to_python
                      for key, model in ARRAY_MODELS.items()}
        self.enabled = True

    def add(self, key: str, record: Any, line: int) -> None:
        """Queue one checked record of array ``key`` (found at ``line``)."""
        profile_id: str = record.profile_id
        dumped = self._dump[key](record, mode="json")
        size = len(to_json(dumped))
        chunk = self._chunks.get(profile_id)
        if chunk is not None and self._sizes[profile_id] + size > _BYTES_PER_IMPORT_EVENT:
            del self._chunks[profile_id]
            self._event(profile_id, key, chunk, line)
            chunk = None
        if chunk is None:
            chunk = self._chunks[profile_id] = ([], [])
            self._sizes[profile_id] = 0
        chunk[0].append(dumped)
        chunk[1].append(record)
        self._sizes[profile_id] += size
        if len(chunk[0]) >= RECORDS_PER_IMPORT_EVENT:
            del self._chunks[profile_id]
            self._event(profile_id, key, chunk, line)

    def end_array(self, key: str) -> None:
        """Close the events of an array (each event carries one kind of record)."""
        chunks, self._chunks = self._chunks, {}
        for profile_id, chunk in sorted(chunks.items()):
            self._event(profile_id, key, chunk, None)
        self._flush()
        if key == "nodes":
            self.view.nodes_written = True

    def profiles(self, profiles: list[Profile]) -> None:
        """Write the file's profiles, one event each."""
        for profile in profiles:
            self._event(profile.id, "profiles", ([profile.model_dump(mode="json")], [profile]),
                        None)
        self._flush()
        self.view.forget_profiles()

    def _event(self, profile_id: str, key: str, chunk: tuple[list[Any], list[Any]],
               line: int | None) -> None:
        if not self.enabled:
            return
        records, models = chunk
        event = graph_imported_event(self._recorder, profile_id, self._source, **{key: records})
        # The payload model the event's payload was dumped from (records already validated).
        arrays: dict[str, Any] = {"profiles": [], "nodes": [], "edges": [], "paths": []}
        arrays[key] = models
        payload = GraphImported.model_construct(source=self._source, **arrays)
        self._events.add(event, line=line, records=len(records), payload=payload)

    def _flush(self) -> None:
        if self.enabled:
            self._events.flush()

    def stop(self) -> None:
        """A problem was found: write nothing more (the transaction undoes the rest)."""
        self.enabled = False
        self._chunks = {}
        self._events.discard()


def check_and_write(
    recorder: Recorder, scan: EnvelopeScan, progress: Progress, *, write: bool
) -> None:
    """The second pass: check references; with ``write``, write while nothing is wrong.

    Call inside a store transaction when writing: if a problem turns up after
    some batches were written, the caller raises and the transaction undoes them.
    """
    graph, problems, file = recorder.graph, scan.problems, scan.file
    profiles = _Profiles(graph, scan.profiles)
    writer = _Writer(recorder, scan, progress)
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
        self._refusals: dict[tuple[str, str, str], str | None] = {}

    def profile(self, record: Any) -> list[tuple[str, str]]:
        profile_id: str = record.profile_id
        if self._profiles.get(profile_id) is None:
            return [("profile_id",
                     f"profile {profile_id!r} is neither in this file nor in the database")]
        return []

    def _kind(self, what: Literal["node", "edge"], record: Any) -> list[tuple[str, str]]:
        """The record's profile exists and allows its kind."""
        profile_id: str = record.profile_id
        kind: str = record.kind
        key = (what, profile_id, kind)
        if key not in self._refusals:
            profile = self._profiles.get(profile_id)
            if profile is None:
                return self.profile(record)
            self._refusals[key] = kind_refusal(profile, what, kind)
        refusal = self._refusals[key]
        return [] if refusal is None else [("kind", refusal)]

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

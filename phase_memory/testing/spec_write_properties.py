"""Property test: ``record`` and the importers accept exactly the same writes.

Generated events (and envelope files) mixing well-formed and broken records
(foreign profiles, forgotten nodes with content, state changes the policy
gates, missing summary nodes, merged paths without a target, dangling edges)
are offered to ``record`` and to the importers, each over a fresh copy of the
same seeded memory. They must agree on acceptance, and after anything
accepted ``diagnose()`` must find the memory clean. Runs derandomized in CI
(the ``ci`` hypothesis profile of tests/conftest.py); ``--stress`` explores.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phase_memory.errors import ImportValidationError, PhaseMemoryError
from phase_memory.models import LifecycleKind, MemoryEvent, NodeState, PathStatus, ProfilePolicy
from phase_memory.runtime.runtime import PhaseMemoryRuntime
from phase_memory.testing.builders import P1, edge, event, node, path, profile
from phase_memory.testing.fixtures import StoreFactory

WRITE_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_NODE_IDS = st.sampled_from(["a", "b", "new1", "new2"])
_PROFILES = st.sampled_from([P1, "p2", "nobody"])
_NEW_NODE_IDS = st.sampled_from(["new1", "new2", "new3"])
"""An envelope adds records: one naming an id the database holds is refused by design
(docs/envelope-format.md), so the envelope property offers new ids only."""


@contextmanager
def _seeded(factory: StoreFactory, tmp: pytest.TempPathFactory) -> Iterator[PhaseMemoryRuntime]:
    """A memory holding profiles p1 (archive needs review) and p2, nodes a, b and path root."""
    store = factory.make(tmp.mktemp(factory.name))
    try:
        mem = PhaseMemoryRuntime(store)
        policy = ProfilePolicy(review_required={LifecycleKind.FORGET, LifecycleKind.ARCHIVE},
                               node_kinds=frozenset({"note", "fact"}))
        mem.save_profile(profile(P1, policy=policy))
        mem.save_profile(profile("p2"))
        mem.save_node(node("a", content="alpha content", attributes={"k": "v"}))
        mem.save_node(node("b"))
        mem.save_edge(edge("e1", "a", "b"))
        mem.paths.open(P1, path_id="root")
        yield mem
    finally:
        store.close()


@st.composite
def _node_records(draw: st.DrawFn, ids: st.SearchStrategy[str] = _NODE_IDS) -> dict[str, Any]:
    state = draw(st.sampled_from(list(NodeState)))
    erased = draw(st.booleans())
    record = node(
        draw(ids), draw(_PROFILES),
        kind=draw(st.sampled_from(["note", "fact", "secret-kind"])),
        label="" if erased else "a label",
        content=None if erased else draw(st.sampled_from([None, "some content"])),
        state=state,
    )
    return record.model_dump(mode="json")


@st.composite
def _path_records(draw: st.DrawFn) -> dict[str, Any]:
    status = draw(st.sampled_from([PathStatus.OPEN, PathStatus.MERGED]))
    merged_into = draw(st.sampled_from([None, "root"])) if status is PathStatus.MERGED else None
    record = path(
        draw(st.sampled_from(["q1", "q2"])), draw(_PROFILES),
        status=status, merged_into_path_id=merged_into,
        summary_node_id=draw(st.sampled_from([None, "a", "ghost"])),
    )
    return record.model_dump(mode="json")


@st.composite
def _events(draw: st.DrawFn) -> MemoryEvent:
    kind = draw(st.sampled_from(
        ["profile.saved", "node.saved", "graph.imported", "path.opened", "edge.saved"]))
    profile_id = draw(_PROFILES)
    if kind == "profile.saved":
        saved = profile(draw(st.sampled_from([P1, "p2", "p3"])))
        return event(kind, {"profile": saved.model_dump(mode="json")}, profile_id=profile_id)
    if kind == "node.saved":
        return event(kind, {"node": draw(_node_records())}, profile_id=profile_id)
    if kind == "graph.imported":
        nodes: list[Any] = draw(st.lists(_node_records(), max_size=2,
                                         unique_by=lambda r: r["id"]))
        return event(kind, {"nodes": nodes}, profile_id=profile_id)
    if kind == "path.opened":
        record = draw(_path_records())
        return event(kind, {"path": record}, profile_id=profile_id, path_id=record["id"])
    saved_edge = edge("e2", draw(_NODE_IDS), draw(_NODE_IDS), profile_id)
    return event(kind, {"edge": saved_edge.model_dump(mode="json")}, profile_id=profile_id)


def _accepts(write: Any) -> bool:
    try:
        write()
    except (PhaseMemoryError, ImportValidationError):
        return False
    return True


def _same_graph(a: PhaseMemoryRuntime, b: PhaseMemoryRuntime) -> None:
    """Equal records (paths by id and status: the seed's paths are opened at "now")."""
    left, right = a.graph.snapshot(), b.graph.snapshot()
    assert (left.profiles, left.nodes, left.edges) == (right.profiles, right.nodes, right.edges)
    assert {k: p.status for k, p in left.paths.items()} == {
        k: p.status for k, p in right.paths.items()}


def _clean(mem: PhaseMemoryRuntime) -> None:
    report = mem.diagnose()
    assert report.ok, report.findings


@WRITE_SETTINGS
@given(offered=_events())
def test_record_and_the_events_importer_accept_the_same_events(
    store_factory: StoreFactory, tmp_path_factory: pytest.TempPathFactory, offered: MemoryEvent
) -> None:
    with _seeded(store_factory, tmp_path_factory) as recorded, \
            _seeded(store_factory, tmp_path_factory) as imported:
        by_record = _accepts(lambda: recorded.record(offered))
        src = Path(tmp_path_factory.mktemp("events")) / "events.jsonl"
        src.write_text(json.dumps(offered.model_dump(mode="json")) + "\n", encoding="utf-8")
        by_import = _accepts(lambda: imported.import_events(src))
        assert by_record == by_import, (offered.kind, offered.payload)
        _clean(recorded)
        _clean(imported)
        if by_record:
            _same_graph(recorded, imported)


@WRITE_SETTINGS
@given(nodes=st.lists(_node_records(_NEW_NODE_IDS), max_size=3, unique_by=lambda r: r["id"]),
       paths=st.lists(_path_records(), max_size=2, unique_by=lambda r: r["id"]))
def test_an_envelope_import_accepts_what_record_accepts_and_leaves_it_clean(
    store_factory: StoreFactory, tmp_path_factory: pytest.TempPathFactory,
    nodes: list[dict[str, Any]], paths: list[dict[str, Any]],
) -> None:
    document = {"envelope": "markitect.graph", "schema_version": 1,
                "profiles": [], "nodes": nodes, "edges": [], "paths": paths}
    src = Path(tmp_path_factory.mktemp("envelope")) / "graph.json"
    src.write_text(json.dumps(document), encoding="utf-8")
    # The same records as record() takes them: one graph.imported event per profile and array.
    offered = [
        event("graph.imported",
              {key: [r for r in records if r["profile_id"] == owner]},
              profile_id=owner)
        for key, records in (("nodes", nodes), ("paths", paths))
        for owner in sorted({r["profile_id"] for r in records})
    ]
    with _seeded(store_factory, tmp_path_factory) as recorded, \
            _seeded(store_factory, tmp_path_factory) as imported:
        by_record = _accepts(lambda: recorded.record_many(offered))
        by_import = _accepts(lambda: imported.import_envelope(src))
        assert by_record == by_import, document
        _clean(recorded)
        _clean(imported)
        if by_record:
            _same_graph(recorded, imported)

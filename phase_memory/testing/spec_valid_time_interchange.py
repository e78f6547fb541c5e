"""Conformance spec of valid time in interchange: every importer follows the rules ``record``
follows (events and envelope round trips, version 1 envelopes, imported supersessions).

The records are those of :mod:`phase_memory.testing.spec_valid_time` (Ana moving house).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phase_memory.errors import ImportValidationError, PhaseMemoryError
from phase_memory.models import MemoryEvent
from phase_memory.runtime.runtime import PhaseMemoryRuntime
from phase_memory.testing.builders import T0
from phase_memory.testing.fixtures import StoreFactory
from phase_memory.testing.spec_interchange import second_memory
from phase_memory.testing.spec_valid_time import P, ana_story, ids_of, lives, moved_story, year


def test_an_events_round_trip_keeps_valid_times_and_supersessions(
    mem: PhaseMemoryRuntime, store_factory: StoreFactory, tmp_path: Path
) -> None:
    moved_story(mem)
    mem.save_edge(lives("e-braga", "braga", year(2021)), correction=True)
    mem.export_events(tmp_path / "events.jsonl")
    with second_memory(store_factory, tmp_path / "other") as other:
        other.import_events(tmp_path / "events.jsonl")
        assert other.graph.snapshot().same_records(mem.graph.snapshot())
        assert other.graph.get_edge("e-porto").valid_to == year(2023)
        assert [v.correction for v in other.history("e-porto")] == [False, True]


def test_an_envelope_round_trip_keeps_valid_times(
    mem: PhaseMemoryRuntime, store_factory: StoreFactory, tmp_path: Path
) -> None:
    moved_story(mem)
    mem.export_envelope(tmp_path / "graph.json")
    written = json.loads((tmp_path / "graph.json").read_text(encoding="utf-8"))
    assert written["schema_version"] == 2
    assert {e["id"]: e["valid_to"] for e in written["edges"]}["e-lisbon"] == (
        "2023-01-01T00:00:00Z")
    with second_memory(store_factory, tmp_path / "other") as other:
        other.import_envelope(tmp_path / "graph.json")
        assert other.graph.get_edge("e-lisbon") == mem.graph.get_edge("e-lisbon")
        assert ids_of(other.graph.list_edges(P, source_id="ana")) == ["e-porto"]


def test_a_version_1_envelope_still_imports(mem: PhaseMemoryRuntime, tmp_path: Path) -> None:
    envelope = {
        "envelope": "markitect.graph", "schema_version": 1,
        "profiles": [{"id": P, "name": "Ana", "created_at": "2024-05-01T12:00:00Z",
                      "updated_at": "2024-05-01T12:00:00Z"}],
        "nodes": [{"id": "n1", "profile_id": P, "kind": "fact", "label": "Old fact",
                   "created_at": "2024-05-01T12:00:00Z", "updated_at": "2024-05-01T12:00:00Z"}],
    }
    (tmp_path / "v1.json").write_text(json.dumps(envelope), encoding="utf-8")
    mem.import_envelope(tmp_path / "v1.json")
    imported = mem.graph.get_node("n1")
    assert imported.valid_from is None and imported.valid_to is None
    assert imported.effective_from == T0  # valid from when it was recorded
    assert ids_of(mem.graph.list_nodes(P)) == ["n1"]


def test_an_imported_supersession_of_a_missing_edge_is_a_listed_problem(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    ana_story(mem)
    line = MemoryEvent(kind="edge.superseded", profile_id=P,
                       payload={"edge_id": "ghost", "superseded_by": "ghost-2"})
    (tmp_path / "events.jsonl").write_text(
        json.dumps(line.model_dump(mode="json", exclude={"position"})) + "\n", encoding="utf-8")
    before = mem.events.last_position()
    with pytest.raises(ImportValidationError) as refused:
        mem.import_events(tmp_path / "events.jsonl")
    fields = {p.field for p in refused.value.problems}
    assert {"payload.edge_id", "payload.superseded_by"} <= fields
    assert mem.events.last_position() == before


def test_an_imported_backward_supersession_is_refused_like_a_save(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    moved_story(mem)
    mem.save_edge(lives("e-braga", "braga", year(2010), valid_to=year(2011)))
    line = MemoryEvent(kind="edge.superseded", profile_id=P,
                       payload={"edge_id": "e-porto", "superseded_by": "e-braga"})
    (tmp_path / "events.jsonl").write_text(
        json.dumps(line.model_dump(mode="json", exclude={"position"})) + "\n", encoding="utf-8")
    before = mem.events.last_position()
    with pytest.raises(PhaseMemoryError, match="correction"):
        mem.import_events(tmp_path / "events.jsonl")
    assert mem.events.last_position() == before
    assert mem.graph.get_edge("e-porto").valid_to is None

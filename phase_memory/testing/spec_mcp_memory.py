"""Conformance spec of the MCP memory server's ``memory.jsonl``: import, sync, export.

The files are written here exactly as ``@modelcontextprotocol/server-memory``
writes them (``JSON.stringify`` of objects whose keys come in the order
``type, name, entityType, observations`` / ``type, from, to, relationType``,
compact, lines joined by ``\\n`` with no newline after the last one), so
every test reads a file in the real server's format.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phase_memory.errors import ImportValidationError, NotFoundError, ReviewRequiredError
from phase_memory.models import (
    Approval,
    AuditOutcome,
    LifecycleAction,
    LifecycleKind,
    MemoryEdge,
    MemoryNode,
    NodeState,
    Profile,
    ProfilePolicy,
)
from phase_memory.runtime.runtime import PhaseMemoryRuntime

PROFILE = "sam"
IMPORT = "interchange.import"


def entity(name: str, entity_type: str, *observations: str) -> dict[str, Any]:
    """An entity line, keys in the server's order."""
    return {"type": "entity", "name": name, "entityType": entity_type,
            "observations": list(observations)}


def relation(source: str, target: str, relation_type: str) -> dict[str, Any]:
    """A relation line, keys in the server's order."""
    return {"type": "relation", "from": source, "to": target, "relationType": relation_type}


def server_text(lines: list[dict[str, Any]]) -> str:
    """What the server's ``saveGraph`` writes: ``JSON.stringify`` lines joined by ``\\n``."""
    return "\n".join(json.dumps(line, ensure_ascii=False, separators=(",", ":"))
                     for line in lines)


def write_server_file(path: Path, lines: list[dict[str, Any]]) -> Path:
    """Write ``lines`` to ``path`` as the server would."""
    path.write_bytes(server_text(lines).encode("utf-8"))
    return path


BASE = [
    entity("Sam", "person", "Likes tea", "Lives in Lisbon"),
    entity("Ada Lovelace", "person", "Wrote the first program"),
    entity("Acme", "work place", "Makes anvils"),
    entity("Lisbon", "city"),
    relation("Sam", "Acme", "works at"),
    relation("Sam", "Acme", "works_at"),
    relation("Sam", "Lisbon", "lives in"),
    relation("Ada Lovelace", "Sam", "mentors"),
]


@contextmanager
def nothing_written(mem: PhaseMemoryRuntime) -> Iterator[None]:
    """Assert that the block leaves the log, the graph and the audit trail as they were."""
    position = mem.events.last_position()
    graph = mem.graph.snapshot()
    audit = len(mem.audit.list())
    yield
    assert mem.events.last_position() == position
    assert mem.graph.snapshot() == graph
    assert len(mem.audit.list()) == audit


def exported_lines(mem: PhaseMemoryRuntime, target: Path, profile_id: str = PROFILE) -> set[str]:
    """Export ``profile_id`` in the server's format and return its lines as a set."""
    mem.export_mcp_memory(target, profile_id=profile_id)
    # split at "\n" only, as the server does (str.splitlines also splits at U+0085, U+2028...)
    return set(target.read_text(encoding="utf-8").split("\n")) - {""}


def active_labels(mem: PhaseMemoryRuntime, profile_id: str = PROFILE) -> set[str]:
    """Labels of the profile's active nodes."""
    return {n.label for n in mem.graph.list_nodes(profile_id, state=NodeState.ACTIVE)}


# --- strict import stays strict ---------------------------------------------------------------


def test_strict_import_of_a_server_file_then_export_gives_the_same_lines(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    source = write_server_file(tmp_path / "memory.jsonl", BASE)
    result = mem.import_mcp_memory(source, profile_id=PROFILE)
    assert result.counts == {"nodes": 4, "edges": 4}
    out = tmp_path / "back.jsonl"
    assert exported_lines(mem, out) == set(server_text(BASE).split("\n"))
    # Entities first, then relations; every line ends with a newline.
    text = out.read_text(encoding="utf-8")
    types = [json.loads(line)["type"] for line in text.split("\n")[:-1]]
    assert types == ["entity"] * 4 + ["relation"] * 4
    assert text.endswith("\n")
    assert mem.events.replay().snapshot.same_records(mem.graph.snapshot())


def test_strict_import_still_refuses_a_second_import(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    source = write_server_file(tmp_path / "memory.jsonl", BASE)
    mem.import_mcp_memory(source, profile_id=PROFILE)
    with nothing_written(mem), pytest.raises(ImportValidationError) as caught:
        mem.import_mcp_memory(source, profile_id=PROFILE)
    assert "already in profile" in str(caught.value)


def test_original_type_strings_are_kept_and_kinds_stay_normalised(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    mem.import_mcp_memory(write_server_file(tmp_path / "memory.jsonl", BASE), profile_id=PROFILE)
    acme = next(n for n in mem.graph.list_nodes(PROFILE) if n.label == "Acme")
    assert acme.kind == "work_place"
    assert acme.attributes["mcp_entity_type"] == "work place"
    edges = mem.graph.list_edges(PROFILE, kind="works_at")
    assert sorted(str(e.attributes["mcp_relation_type"]) for e in edges) == [
        "works at", "works_at"]
    assert len({e.id for e in edges}) == 2


# --- sync --------------------------------------------------------------------------------------


def test_sync_into_an_empty_profile_then_again_writes_nothing(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    source = write_server_file(tmp_path / "memory.jsonl", BASE)
    first = mem.import_mcp_memory(source, profile_id=PROFILE, mode="sync")
    assert first.counts["nodes_added"] == 4 and first.counts["edges_added"] == 4
    [audit] = mem.audit.list(operation=IMPORT)
    assert audit.details["mode"] == "sync"
    counts: Any = audit.details["counts"]
    assert counts["nodes_added"] == 4
    with nothing_written(mem):
        second = mem.import_mcp_memory(source, profile_id=PROFILE, mode="sync")
    assert second.counts["nodes_unchanged"] == 4 and second.counts["edges_unchanged"] == 4
    assert not any(v for k, v in second.counts.items() if not k.endswith("_unchanged"))


def test_sync_after_a_strict_import_writes_nothing(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    source = write_server_file(tmp_path / "memory.jsonl", BASE)
    mem.import_mcp_memory(source, profile_id=PROFILE)
    with nothing_written(mem):
        mem.import_mcp_memory(source, profile_id=PROFILE, mode="sync")


def test_sync_of_a_grown_file_adds_and_appends_in_order(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    source = tmp_path / "memory.jsonl"
    mem.import_mcp_memory(write_server_file(source, BASE), profile_id=PROFILE, mode="sync")
    grown = [
        entity("Sam", "person", "Likes tea", "Lives in Lisbon", "Moved to Porto", "Has a cat"),
        *BASE[1:4],
        entity("Porto", "city", "On the Douro"),
        *BASE[4:],
        relation("Sam", "Porto", "lives in"),
    ]
    result = mem.import_mcp_memory(write_server_file(source, grown), profile_id=PROFILE,
                                   mode="sync")
    assert result.counts["nodes_added"] == 1
    assert result.counts["nodes_updated"] == 1
    assert result.counts["nodes_archived"] == 0
    assert result.counts["edges_added"] == 1
    sam = next(n for n in mem.graph.list_nodes(PROFILE) if n.label == "Sam")
    assert sam.attributes["observations"] == [
        "Likes tea", "Lives in Lisbon", "Moved to Porto", "Has a cat"]
    assert sam.content == "Likes tea\nLives in Lisbon\nMoved to Porto\nHas a cat"
    assert sam.version == 2
    audits = mem.audit.list(operation=IMPORT)
    counts: Any = audits[-1].details["counts"]
    assert counts["nodes_updated"] == 1
    assert exported_lines(mem, tmp_path / "back.jsonl") == set(server_text(grown).split("\n"))
    assert mem.events.replay().snapshot.same_records(mem.graph.snapshot())
    with nothing_written(mem):
        mem.import_mcp_memory(source, profile_id=PROFILE, mode="sync")


def test_sync_of_a_shrunk_file_archives_and_restores(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    source = tmp_path / "memory.jsonl"
    mem.import_mcp_memory(write_server_file(source, BASE), profile_id=PROFILE, mode="sync")
    # What the server leaves after delete_entities(["Ada Lovelace"]) (its relations go too),
    # delete_relations([Sam -works_at-> Acme]) and delete_observations(Sam, "Likes tea").
    shrunk = [
        entity("Sam", "person", "Lives in Lisbon"),
        BASE[2], BASE[3], BASE[4], BASE[6],
    ]
    result = mem.import_mcp_memory(write_server_file(source, shrunk), profile_id=PROFILE,
                                   mode="sync")
    assert result.counts["nodes_archived"] == 1
    assert result.counts["nodes_updated"] == 1
    assert result.counts["edges_removed"] == 2
    ada = next(n for n in mem.graph.list_nodes(PROFILE) if n.label == "Ada Lovelace")
    assert ada.state is NodeState.ARCHIVED
    assert ada.attributes["observations"] == ["Wrote the first program"]  # nothing lost
    assert [a.outcome for a in mem.audit.list(operation="lifecycle.archive")] == [
        AuditOutcome.APPLIED]
    assert active_labels(mem) == {"Sam", "Acme", "Lisbon"}
    assert exported_lines(mem, tmp_path / "back.jsonl") == set(server_text(shrunk).split("\n"))
    with nothing_written(mem):
        mem.import_mcp_memory(source, profile_id=PROFILE, mode="sync")
    # The entity comes back: the same node is restored, not a new one made.
    result = mem.import_mcp_memory(write_server_file(source, BASE), profile_id=PROFILE,
                                   mode="sync")
    assert result.counts["nodes_restored"] == 1 and result.counts["nodes_added"] == 0
    assert next(n for n in mem.graph.list_nodes(PROFILE)
                if n.label == "Ada Lovelace").id == ada.id
    assert exported_lines(mem, tmp_path / "back.jsonl") == set(server_text(BASE).split("\n"))
    assert mem.events.replay().snapshot.same_records(mem.graph.snapshot())


def test_sync_leaves_nodes_that_did_not_come_from_the_file_alone(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    source = write_server_file(tmp_path / "memory.jsonl", BASE)
    mem.import_mcp_memory(source, profile_id=PROFILE, mode="sync")
    mem.save_node(MemoryNode(id="own", profile_id=PROFILE, kind="note", label="my own note"))
    with nothing_written(mem):
        mem.import_mcp_memory(source, profile_id=PROFILE, mode="sync")
    assert "my own note" in active_labels(mem)


def test_sync_is_refused_when_the_profile_requires_review_to_archive(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    policy = ProfilePolicy(review_required={LifecycleKind.ARCHIVE, LifecycleKind.FORGET})
    mem.save_profile(Profile(id=PROFILE, name="Sam", policy=policy))
    source = tmp_path / "memory.jsonl"
    mem.import_mcp_memory(write_server_file(source, BASE), profile_id=PROFILE, mode="sync")
    write_server_file(source, BASE[:3] + BASE[4:6])  # Lisbon and a relation gone
    position = mem.events.last_position()
    with pytest.raises(ReviewRequiredError) as caught:
        mem.import_mcp_memory(source, profile_id=PROFILE, mode="sync")
    assert "archive 1 entity of profile 'sam' ('Lisbon')" in str(caught.value)
    assert mem.events.last_position() == position
    assert "Lisbon" in active_labels(mem)
    [denied] = mem.audit.list(outcome=AuditOutcome.DENIED)
    assert denied.operation == IMPORT and denied.details["mode"] == "sync"
    # An approved archive through apply() is the way through; the sync then agrees.
    lisbon = next(n for n in mem.graph.list_nodes(PROFILE) if n.label == "Lisbon")
    mem.apply([LifecycleAction(kind=LifecycleKind.ARCHIVE, profile_id=PROFILE,
                               targets=[lisbon.id], approval=Approval(approved_by="sam"))])
    result = mem.import_mcp_memory(source, profile_id=PROFILE, mode="sync")
    assert result.counts["nodes_archived"] == 0 and result.counts["edges_removed"] == 2


def test_a_forgotten_entity_leaves_nothing_to_recognise_it_by(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    # Nothing derived from a forgotten name is kept (no id computed from it), so
    # the memory cannot tell that a file names it again: a sync adds it anew, as
    # a new node with a new id; the forgotten node stays forgotten and empty.
    source = write_server_file(tmp_path / "memory.jsonl", BASE)
    mem.import_mcp_memory(source, profile_id=PROFILE, mode="sync")
    lisbon = next(n for n in mem.graph.list_nodes(PROFILE) if n.label == "Lisbon")
    mem.apply([LifecycleAction(kind=LifecycleKind.FORGET, profile_id=PROFILE,
                               targets=[lisbon.id], approval=Approval(approved_by="sam"))])
    assert mem.graph.find_nodes_by_name(PROFILE, ["Lisbon"]) == {}
    result = mem.import_mcp_memory(source, profile_id=PROFILE, mode="sync")
    assert result.counts["nodes_added"] == 1 and result.counts["edges_added"] == 1
    forgotten = mem.graph.get_node(lisbon.id)
    assert forgotten.state is NodeState.FORGOTTEN and forgotten.label == ""
    [again] = mem.graph.find_nodes_by_name(PROFILE, ["Lisbon"])["Lisbon"]
    assert again.id != lisbon.id and again.state is NodeState.ACTIVE


# --- skip-invalid ------------------------------------------------------------------------------


MESSY = [
    entity("Sam", "person", "Likes tea"),
    entity("Tea", "drink"),
    entity("Sam", "person", "Likes tea"),                # 3: duplicate entity
    relation("Sam", "Tea", "likes"),
    relation("Sam", "Tea", "likes"),                     # 5: duplicate relation
    relation("Sam", "Nobody", "knows"),                  # 6: dangling relation
    {"type": "entity", "name": "Blank", "entityType": "   ", "observations": []},  # 7
    {"type": "comment", "text": "written by a fork"},   # 8: unknown type
]


def test_real_server_quirks_are_refused_strictly_and_skipped_on_request(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    source = write_server_file(tmp_path / "memory.jsonl", MESSY)
    with nothing_written(mem), pytest.raises(ImportValidationError) as caught:
        mem.import_mcp_memory(source, profile_id=PROFILE)
    assert {p.line for p in caught.value.problems} == {3, 5, 6, 7, 8}
    result = mem.import_mcp_memory(source, profile_id=PROFILE, skip_invalid=True)
    assert result.counts == {"nodes": 2, "edges": 1}
    skipped = {p.line: p for p in result.skipped}
    assert list(skipped) == [3, 5, 6, 7, 8]
    assert "duplicate entity 'Sam'" in skipped[3].reason
    assert "duplicate relation" in skipped[5].reason
    assert "'Nobody'" in skipped[6].reason and skipped[6].field == "to"
    assert (skipped[7].field, skipped[7].reason) == ("entityType", "entityType must not be blank")
    assert result.problems == []
    [audit] = mem.audit.list(operation=IMPORT)
    listed: Any = audit.details["skipped"]
    assert [s["line"] for s in listed] == [3, 5, 6, 7, 8]
    assert all(s["reason"] for s in listed)
    assert active_labels(mem) == {"Sam", "Tea"}


def test_sync_with_skip_invalid_is_idempotent_and_keeps_skipped_entities(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    source = tmp_path / "memory.jsonl"
    mem.import_mcp_memory(write_server_file(source, MESSY[:2] + MESSY[3:4]), profile_id=PROFILE,
                          mode="sync")
    # Tea's line turns invalid: the entity is skipped, but it is still in the file, so it
    # is neither archived nor are its relations removed.
    broken = [MESSY[0], {"type": "entity", "name": "Tea", "entityType": ""}, *MESSY[2:]]
    write_server_file(source, broken)
    with nothing_written(mem):
        result = mem.import_mcp_memory(source, profile_id=PROFILE, mode="sync",
                                       skip_invalid=True)
    assert [p.line for p in result.skipped] == [2, 3, 5, 6, 7, 8]
    assert active_labels(mem) == {"Sam", "Tea"}


def test_check_only_sync_reports_the_changes_and_writes_nothing(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    source = tmp_path / "memory.jsonl"
    mem.import_mcp_memory(write_server_file(source, BASE), profile_id=PROFILE, mode="sync")
    write_server_file(source, [*BASE[:3], *BASE[4:6], entity("Porto", "city")])
    with nothing_written(mem):
        result = mem.import_mcp_memory(source, profile_id=PROFILE, mode="sync", check_only=True)
    assert result.check_only and result.ok
    assert result.counts["nodes_added"] == 1 and result.counts["nodes_archived"] == 1
    assert result.counts["edges_removed"] == 2


# --- odd inputs --------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["strict", "sync"])
def test_an_empty_file_is_an_empty_memory(
    mem: PhaseMemoryRuntime, tmp_path: Path, mode: str
) -> None:
    source = tmp_path / "memory.jsonl"
    source.write_bytes(b"")
    with nothing_written(mem):
        result = mem.import_mcp_memory(source, profile_id=PROFILE, mode=mode)  # type: ignore[arg-type]
    assert result.ok and not any(result.counts.values())
    assert mem.graph.find_profile(PROFILE) is None


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        ({"type": "entity", "name": "X", "entityType": " \t "}, "entityType",
         "entityType must not be blank"),
        ({"type": "entity", "name": "", "entityType": "person"}, "name",
         "name must not be blank"),
        ({"type": "entity", "name": "X"}, "entityType", "entityType is missing"),
        ({"type": "entity", "name": "X", "entityType": 3}, "entityType",
         "entityType must be a string"),
        ({"type": "entity", "name": "X", "entityType": "p", "observations": "hi"},
         "observations", "observations must be a list of strings"),
        ({"type": "entity", "name": "X", "entityType": "p", "observations": ["a", 1]},
         "observations", "observations[1] must be a string"),
        ({"type": "entity", "name": "X", "entityType": "t" * 201}, "entityType",
         "entityType is longer than 200 characters"),
        ({"type": "relation", "from": "X", "to": "X", "relationType": "\n"}, "relationType",
         "relationType must not be blank"),
        ({"type": "relation", "to": "X", "relationType": "r"}, "from", "from is missing"),
        (["entity"], "type", "a line must be a JSON object, not an array"),
    ],
)
def test_problems_speak_of_the_file_fields(
    mem: PhaseMemoryRuntime, tmp_path: Path, line: Any, field: str, reason: str
) -> None:
    source = tmp_path / "memory.jsonl"
    source.write_text(json.dumps(line) + "\n", encoding="utf-8")
    with nothing_written(mem), pytest.raises(ImportValidationError) as caught:
        mem.import_mcp_memory(source, profile_id=PROFILE)
    [problem] = caught.value.problems
    assert (problem.line, problem.field, problem.reason) == (1, field, reason)
    for word in ("pattern", "String should", "Input should", "validation error"):
        assert word not in problem.reason


def test_export_of_a_profile_that_does_not_exist_is_refused(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    with pytest.raises(NotFoundError):
        mem.export_mcp_memory(tmp_path / "out.jsonl", profile_id="nobody")
    assert not (tmp_path / "out.jsonl").exists()


def test_export_writes_nodes_made_without_the_file_too(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    mem.save_profile(Profile(id=PROFILE, name="Sam"))
    mem.save_node(MemoryNode(id="n1", profile_id=PROFILE, kind="fact", label="Sam",
                             content="likes tea\nlives in Lisbon"))
    mem.save_node(MemoryNode(id="n2", profile_id=PROFILE, kind="fact", label="Sam"))
    mem.save_node(MemoryNode(id="n3", profile_id=PROFILE, kind="place", label="Lisbon",
                             state=NodeState.ARCHIVED))
    mem.save_edge(MemoryEdge(id="e1", profile_id=PROFILE, source_id="n1", target_id="n2",
                             kind="same_as"))
    mem.save_edge(MemoryEdge(id="e2", profile_id=PROFILE, source_id="n1", target_id="n3",
                             kind="lives_in"))
    out = tmp_path / "out.jsonl"
    result = mem.export_mcp_memory(out, profile_id=PROFILE)
    assert result.counts == {"entities": 2, "relations": 1}
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").split("\n")[:-1]]
    assert lines == [
        entity("Sam", "fact", "likes tea", "lives in Lisbon"),
        entity("Sam (n2)", "fact"),
        relation("Sam", "Sam (n2)", "same_as"),
    ]
    # What was exported imports back into another profile.
    assert mem.import_mcp_memory(out, profile_id="copy").counts == {"nodes": 2, "edges": 1}


def test_many_bad_lines_are_listed_up_to_the_cap_and_counted_beyond(
    mem: PhaseMemoryRuntime, tmp_path: Path
) -> None:
    lines = [entity("Sam", "person"), *([entity("Sam", "person")] * 1100)]
    source = write_server_file(tmp_path / "memory.jsonl", lines)
    with nothing_written(mem), pytest.raises(ImportValidationError) as caught:
        mem.import_mcp_memory(source, profile_id=PROFILE)
    assert len(caught.value.problems) == 1001
    assert caught.value.problems[-1].reason == "100 more problem(s) not listed"
    result = mem.import_mcp_memory(source, profile_id=PROFILE, skip_invalid=True)
    assert result.counts == {"nodes": 1, "edges": 0}
    assert [p.line for p in result.skipped[:2]] == [2, 3]
    assert result.skipped[-1].reason == "100 more problem(s) not listed"


# --- property: import then export gives the file back ------------------------------------------

# Any text the server could hold, less what no adapter can store (NUL, lone surrogates).
_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=8)
_NAME = _TEXT.filter(lambda t: bool(t.strip()))
_PROFILES = itertools.count()


@st.composite
def _server_files(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(_NAME, max_size=6, unique=True))
    entities = [entity(name, draw(_NAME), *draw(st.lists(_TEXT, max_size=3))) for name in names]
    relations: dict[tuple[str, str, str], dict[str, Any]] = {}
    if names:
        for _ in range(draw(st.integers(0, 6))):
            line = relation(draw(st.sampled_from(names)), draw(st.sampled_from(names)),
                            draw(_NAME))
            relations.setdefault((line["from"], line["to"], line["relationType"]), line)
    return [*entities, *relations.values()]


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=_server_files(), resync=_server_files())
def test_any_server_file_syncs_and_exports_back_to_the_same_lines(
    mem: PhaseMemoryRuntime, tmp_path: Path, lines: list[dict[str, Any]],
    resync: list[dict[str, Any]],
) -> None:
    profile_id = f"p{next(_PROFILES)}"
    source, back = tmp_path / "memory.jsonl", tmp_path / "back.jsonl"
    for file_lines in (lines, resync, lines):
        write_server_file(source, file_lines)
        mem.import_mcp_memory(source, profile_id=profile_id, mode="sync")
        if not file_lines and mem.graph.find_profile(profile_id) is None:
            continue
        expected = set(server_text(file_lines).split("\n")) - {""}
        assert exported_lines(mem, back, profile_id) == expected
        with nothing_written(mem):
            mem.import_mcp_memory(source, profile_id=profile_id, mode="sync")

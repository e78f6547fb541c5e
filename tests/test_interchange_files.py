"""File-level details of interchange: atomic writes, safe names, canonical text, readers."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

import phase_memory as pm
from phase_memory.errors import ImportValidationError, ValidationError
from phase_memory.interchange import json_stream
from phase_memory.interchange.atomic_write import (
    atomic_text_file,
    id_of_file_name,
    safe_file_name,
    write_text_atomically,
)
from phase_memory.interchange.json_stream import (
    ArrayEnd,
    ArrayStart,
    Item,
    JsonObjectStream,
    JsonSyntaxError,
    Member,
)
from phase_memory.testing.builders import P1, edge, node, profile


@pytest.fixture
def mem() -> pm.PhaseMemoryRuntime:
    return pm.open(":memory:")


# --- atomic writes ---------------------------------------------------------------------------


def test_atomic_write_replaces_the_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old\n", encoding="utf-8")
    with atomic_text_file(target) as handle:
        handle.write("new ✓\n")
        assert target.read_text(encoding="utf-8") == "old\n"  # not visible until done
    assert target.read_bytes() == "new ✓\n".encode()
    assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_write_gives_the_file_the_usual_mode_not_a_private_one(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        write_text_atomically(tmp_path / "out.json", "{}\n")
    finally:
        os.umask(previous)
    assert (tmp_path / "out.json").stat().st_mode & 0o777 == 0o644


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(RuntimeError), atomic_text_file(target) as handle:
        handle.write("half")
        raise RuntimeError("crash")
    assert target.read_text(encoding="utf-8") == "old\n"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_a_failed_export_leaves_no_file(mem: pm.PhaseMemoryRuntime, tmp_path: Path) -> None:
    mem.save_profile(profile())
    mem.save_node(node("n1", attributes={"x": float("nan")}))
    with pytest.raises(ValidationError, match="canonical JSON"):
        mem.export_envelope(tmp_path / "graph.json")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("record_id", "name"),
    [
        ("p1", "p1.json"),
        (".", "%2E.json"),
        ("..", "%2E..json"),
        ("../../etc/passwd", "%2E.%2F..%2Fetc%2Fpasswd.json"),
        ("a/b\\c", "a%2Fb%5Cc.json"),
        ("50% off", "50%25%20off.json"),
        ("ünï", "%C3%BCn%C3%AF.json"),
        (".hidden", "%2Ehidden.json"),
    ],
)
def test_safe_file_names_stay_in_their_directory(record_id: str, name: str) -> None:
    assert safe_file_name(record_id, ".json") == name
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert id_of_file_name(name, ".json") == record_id


@pytest.mark.parametrize("name", ["a%2fb.json", "%zz.json", "a b.json", "%FF.json", "x.txt"])
def test_file_names_an_export_cannot_have_written_are_refused(name: str) -> None:
    with pytest.raises(ValidationError):
        id_of_file_name(name, ".json")


def test_workspace_export_never_writes_outside_its_directory(
    mem: pm.PhaseMemoryRuntime, tmp_path: Path
) -> None:
    for profile_id in ("..", ".", "../escape", "/abs", "a/../../b"):
        mem.save_profile(profile(profile_id))
    mem.export_workspace(tmp_path / "ws")
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert all(p.startswith("ws/") for p in written)
    assert len([p for p in written if p.startswith("ws/profiles/")]) == 5
    other = pm.open(":memory:")
    other.import_workspace(tmp_path / "ws")
    assert {p.id for p in other.graph.list_profiles()} == {"..", ".", "../escape", "/abs",
                                                             "a/../../b"}


def test_workspace_export_removes_profile_files_of_deleted_profiles(
    mem: pm.PhaseMemoryRuntime, tmp_path: Path
) -> None:
    mem.save_profile(profile())
    (tmp_path / "ws" / "profiles").mkdir(parents=True)
    (tmp_path / "ws" / "profiles" / "gone.json").write_text("{}", encoding="utf-8")
    (tmp_path / "ws" / "profiles" / "notes.txt").write_text("mine", encoding="utf-8")
    mem.export_workspace(tmp_path / "ws")
    assert sorted(os.listdir(tmp_path / "ws" / "profiles")) == ["notes.txt", "p1.json"]


# --- the streaming JSON reader --------------------------------------------------------------


def _tokens(text: str, keys: set[str] | None = None) -> list[object]:
    stream = JsonObjectStream(io.BytesIO(text.encode("utf-8")), keys or {"a"})
    return list(stream.tokens())


def test_stream_reads_members_and_array_items_with_lines() -> None:
    text = '{\n  "a": [\n    1,\n    {"x": "é"}\n  ],\n  "b": {"c": [1]}\n}\n'
    tokens = _tokens(text)
    assert tokens == [
        ArrayStart("a", 9, 2),
        Item("a", 0, 1, 3),
        Item("a", 1, {"x": "é"}, 4),
        ArrayEnd("a", 2),
        Member("b", {"c": [1]}, 6),
    ]


def test_stream_reopens_an_array_at_its_offset() -> None:
    text = '{"z": "ü" , "a": [10, 20, 30]}'
    start = next(t for t in _tokens(text) if isinstance(t, ArrayStart))
    raw = io.BytesIO(text.encode("utf-8"))
    again = list(JsonObjectStream(raw, offset=start.offset, line=start.line).open_array("a"))
    assert [i.value for i in again] == [10, 20, 30]


def test_stream_handles_values_across_buffer_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_stream, "CHUNK_BYTES", 7)
    items = [123456789012345678901234567890, "ö" * 50, {"k": [1.5, -2e300, None, True]}]
    text = json.dumps({"a": items * 20}, ensure_ascii=False)
    got = [t.value for t in _tokens(text) if isinstance(t, Item)]
    assert got == items * 20


@pytest.mark.parametrize(
    ("text", "reason", "pointer"),
    [
        ("", "the file is empty", ""),
        ("[]", "expected a JSON object", ""),
        ('{"a": [1, 2,, 3]}', "Expecting value", "/a/2"),
        ('{"a": [1, 2', "expected ',' or ']'", "/a"),
        ('{"b": NaN}', "NaN is not a valid JSON value", "/b"),
        ('{"b": 1} {}', "extra data after the JSON document", ""),
        ('{"b": "unterminated}', "Unterminated string", "/b"),
    ],
)
def test_stream_reports_malformed_json(text: str, reason: str, pointer: str) -> None:
    with pytest.raises(JsonSyntaxError) as caught:
        _tokens(text)
    assert reason in caught.value.reason
    assert caught.value.pointer == pointer
    assert caught.value.line == 1


def test_stream_refuses_values_over_the_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_stream, "CHUNK_BYTES", 16)
    text = json.dumps({"a": ["x" * 5000]})
    stream = JsonObjectStream(io.BytesIO(text.encode()), {"a"}, max_value_chars=100)
    with pytest.raises(JsonSyntaxError, match="larger than 100"):
        list(stream.tokens())


def test_malformed_envelope_is_one_problem_with_its_line(
    mem: pm.PhaseMemoryRuntime, tmp_path: Path
) -> None:
    good = json.dumps(
        {"envelope": "markitect.graph", "schema_version": 1,
         "nodes": [node("a").model_dump(mode="json")]},
        indent=2,
    )
    broken = good.replace('"kind": "note",', '"kind": "note"')
    (tmp_path / "g.json").write_text(broken, encoding="utf-8")
    with pytest.raises(ImportValidationError) as caught:
        mem.import_envelope(tmp_path / "g.json")
    [problem] = caught.value.problems
    assert problem.reason.startswith("malformed JSON: Expecting ',' delimiter")
    assert problem.pointer == "/nodes/0" and problem.line == 9
    assert str(problem).startswith(f"{tmp_path / 'g.json'}:9#/nodes/0: ")


def test_envelope_problem_fields_and_pointers(mem: pm.PhaseMemoryRuntime, tmp_path: Path) -> None:
    doc = {
        "envelope": "markitect.graph",
        "schema_version": 1,
        "profiles": [profile().model_dump(mode="json"), {"id": "p2", "unexpected": 1}],
        "nodes": [{**node("a").model_dump(mode="json"), "created_at": "2024-01-01T00:00:00"}],
        "edges": [{"id": "e"}],
        "paths": "nope",
    }
    (tmp_path / "g.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    result = mem.import_envelope(tmp_path / "g.json", check_only=True)
    found = {(p.pointer, p.field, p.reason) for p in result.problems}
    assert ("/profiles/1/unexpected", "unexpected", "unknown field") in found
    assert ("/nodes/0/created_at", "created_at",
            "Input should be a timezone-aware datetime (RFC 3339, with Z or an offset)") in found
    assert ("/edges/0/source_id", "source_id", "required field is missing") in found
    assert ("/paths", "paths", "must be an array of records") in found


def test_envelope_rejects_two_active_paths_of_one_tree(
    mem: pm.PhaseMemoryRuntime, tmp_path: Path
) -> None:
    paths = [
        {"id": "r", "profile_id": P1, "root_path_id": "r", "active": True},
        {"id": "b", "profile_id": P1, "root_path_id": "r", "parent_path_id": "r",
         "active": True},
        {"id": "c", "profile_id": P1, "parent_path_id": "ghost", "merged_into_path_id": "gone",
         "root_path_id": "r2"},
    ]
    doc = {"envelope": "markitect.graph", "schema_version": 1,
           "profiles": [profile().model_dump(mode="json")], "paths": paths}
    (tmp_path / "g.json").write_text(json.dumps(doc), encoding="utf-8")
    result = mem.import_envelope(tmp_path / "g.json", check_only=True)
    assert {(p.pointer, p.field) for p in result.problems} == {
        ("/paths/1/active", "active"),
        ("/paths/2/parent_path_id", "parent_path_id"),
        ("/paths/2/merged_into_path_id", "merged_into_path_id"),
    }


def test_edges_must_join_nodes_of_their_own_profile(
    mem: pm.PhaseMemoryRuntime, tmp_path: Path
) -> None:
    doc = {"envelope": "markitect.graph", "schema_version": 1,
           "profiles": [profile().model_dump(mode="json"), profile("p2").model_dump(mode="json")],
           "nodes": [node("a").model_dump(mode="json"),
                     node("b", profile_id="p2").model_dump(mode="json")],
           "edges": [edge("e", "a", "b").model_dump(mode="json")]}
    (tmp_path / "g.json").write_text(json.dumps(doc), encoding="utf-8")
    [problem] = mem.import_envelope(tmp_path / "g.json", check_only=True).problems
    assert problem.field == "target_id" and "belongs to profile 'p2'" in problem.reason


# --- JSONL readers --------------------------------------------------------------------------


def _event_line(**fields: object) -> str:
    base: dict[str, object] = {"kind": "chat.turn", "profile_id": P1,
                               "occurred_at": "2024-01-01T00:00:00Z"}
    return json.dumps({**base, **fields}, ensure_ascii=False)


def test_jsonl_tolerates_blank_lines_a_bom_and_a_missing_final_newline(
    mem: pm.PhaseMemoryRuntime, tmp_path: Path
) -> None:
    mem.save_profile(profile())
    text = "\ufeff" + _event_line(event_id="a") + "\n\n   \n" + _event_line(event_id="b")
    (tmp_path / "e.jsonl").write_text(text, encoding="utf-8")
    assert mem.import_events(tmp_path / "e.jsonl").counts == {"events": 2}
    assert [e.event_id for e in mem.events.list()][-2:] == ["a", "b"]


def test_jsonl_problems_name_the_line(mem: pm.PhaseMemoryRuntime, tmp_path: Path) -> None:
    mem.save_profile(profile())
    lines = [
        _event_line(event_id="ok"),
        '{"kind": "chat.turn", ',
        "[1, 2]",
        _event_line(event_id="x", kind="not a kind"),
        _event_line(event_id="y") + " trailing",
        _event_line(event_id="z", payload={"n": float("inf")}).replace("Infinity", "Infinity"),
    ]
    raw = ("\n".join(lines) + "\n").encode("utf-8") + b"\xff\xfe\n"
    (tmp_path / "e.jsonl").write_bytes(raw)
    position = mem.events.last_position()
    with pytest.raises(ImportValidationError) as caught:
        mem.import_events(tmp_path / "e.jsonl")
    assert mem.events.last_position() == position
    by_line = {p.line: p for p in caught.value.problems}
    assert set(by_line) == {2, 3, 4, 5, 6, 7}
    assert "malformed JSON" in by_line[2].reason
    assert "valid dictionary" in by_line[3].reason
    assert by_line[4].field == "kind"
    assert "extra data" in by_line[5].reason
    assert "Infinity" in by_line[6].reason
    assert "UTF-8" in by_line[7].reason


def test_events_in_a_closed_path_are_refused(mem: pm.PhaseMemoryRuntime, tmp_path: Path) -> None:
    mem.save_profile(profile())
    root = mem.paths.open(P1, path_id="root")
    mem.paths.abandon(root.id, reason="done")
    (tmp_path / "e.jsonl").write_text(_event_line(path_id="root") + "\n", encoding="utf-8")
    [problem] = mem.import_events(tmp_path / "e.jsonl", check_only=True).problems
    assert problem.field == "path_id" and "abandoned" in problem.reason


def test_events_that_depend_on_each_other_import_in_one_go(
    mem: pm.PhaseMemoryRuntime, tmp_path: Path
) -> None:
    source = pm.open(":memory:")
    source.save_profile(profile())
    for i in range(30):
        root = source.paths.open(P1, path_id=f"root{i}")
        source.save_node(node(f"n{i}"), path_id=root.id)
        source.paths.branch(root.id, new_path_id=f"b{i}")
        source.save_node(node(f"m{i}"), path_id=f"b{i}")
        source.paths.merge(f"b{i}", into=root.id)
    source.export_events(tmp_path / "e.jsonl")
    mem.import_events(tmp_path / "e.jsonl")
    assert mem.graph.snapshot().same_records(source.graph.snapshot())


def test_progress_goes_to_the_callers_callback_only(
    mem: pm.PhaseMemoryRuntime, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    mem.save_profile(profile())
    for i in range(2500):
        mem.save_node(node(f"n{i}"))
    reports: list[tuple[str, int, int | None]] = []
    mem.export_envelope(tmp_path / "g.json",
                        progress=lambda stage, done, total: reports.append((stage, done, total)))
    assert ("Writing nodes", 0, None) in reports
    assert ("Writing nodes", 2500, None) in reports
    other = pm.open(":memory:")
    seen: list[str] = []
    assert other.import_envelope(tmp_path / "g.json",
                                 progress=lambda stage, done, total: seen.append(stage)).ok
    assert seen
    # Without a callback the library prints nothing, on a terminal or not.
    other.export_envelope(tmp_path / "h.json")
    assert capfd.readouterr() == ("", "")


def test_export_from_a_read_only_view_still_writes(tmp_path: Path) -> None:
    with pm.open(tmp_path / "m.db") as writer:
        writer.save_profile(profile())
        writer.save_node(node("n1"))
    with pm.open(tmp_path / "m.db", read_only=True) as reader:
        reader.export_envelope(tmp_path / "g.json")
        reader.export_workspace(tmp_path / "ws")
        assert reader.import_envelope(tmp_path / "g.json", check_only=True).problems
    assert json.loads((tmp_path / "g.json").read_text(encoding="utf-8"))["nodes"][0]["id"] == "n1"

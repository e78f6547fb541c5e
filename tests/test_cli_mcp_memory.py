"""``phase-memory import/export`` with the MCP memory server's ``memory.jsonl``.

The files are written as the real server writes them (see
:mod:`phase_memory.testing.spec_mcp_memory`); the library's behaviour is
covered there on every adapter, this checks what the command line adds:
options, messages, exit status, and that it agrees with the API.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import phase_memory as pm
from phase_memory.cli import app
from phase_memory.testing.spec_mcp_memory import (
    BASE,
    MESSY,
    entity,
    server_text,
    write_server_file,
)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"PHASE_MEMORY_DB": None, "COLUMNS": "200"},
                                prog_name="phase-memory")
    out = result.stdout + result.stderr
    assert "Traceback" not in out, out
    return result.exit_code, result.stdout, result.stderr


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_an_empty_file_is_an_empty_memory_as_in_the_api(workdir: Path) -> None:
    (workdir / "memory.jsonl").write_bytes(b"")
    code, out, err = run("import", "memory.jsonl", "--profile", "sam")
    assert (code, err) == (0, ""), out + err
    assert "nothing" in out
    code, out, err = run("import", "memory.jsonl")  # no --profile: still an MCP memory
    assert (code, err) == (0, ""), out + err
    with pm.open("phase-memory.db", read_only=True) as mem:
        assert mem.events.last_position() == 0
        assert mem.graph.list_profiles() == []


def test_problems_name_the_file_fields(workdir: Path) -> None:
    (workdir / "memory.jsonl").write_text(
        json.dumps({"type": "entity", "name": "X", "entityType": "   ", "observations": []}),
        encoding="utf-8",
    )
    code, out, err = run("import", "memory.jsonl", "--profile", "sam")
    assert code == 1
    assert "entityType must not be blank" in out + err
    assert "pattern" not in out + err and "String should" not in out + err
    one_error_line(err)


def test_sync_twice_then_export_gives_the_file_back(workdir: Path) -> None:
    write_server_file(workdir / "memory.jsonl", BASE)
    code, out, err = run("import", "memory.jsonl", "--profile", "sam", "--sync")
    assert (code, err) == (0, ""), out + err
    assert "4 nodes added" in out and "4 edges added" in out
    code, out, err = run("import", "memory.jsonl", "--profile", "sam", "--sync")
    assert (code, err) == (0, ""), out + err
    assert "nothing changed" in out
    grown = [entity("Sam", "person", "Likes tea", "Lives in Lisbon", "Has a cat"), *BASE[1:]]
    write_server_file(workdir / "memory.jsonl", grown)
    code, out, err = run("import", "memory.jsonl", "--profile", "sam", "--sync", "--json")
    assert code == 0, out + err
    assert json.loads(out)["counts"]["nodes_updated"] == 1
    code, out, err = run("export", "back.jsonl", "--format", "mcp", "--profile", "sam")
    assert (code, err) == (0, ""), out + err
    back = (workdir / "back.jsonl").read_text(encoding="utf-8")
    assert set(back.split("\n")) - {""} == set(server_text(grown).split("\n"))


def test_strict_import_without_sync_still_refuses_a_second_import(workdir: Path) -> None:
    write_server_file(workdir / "memory.jsonl", BASE)
    assert run("import", "memory.jsonl", "--profile", "sam")[0] == 0
    code, out, err = run("import", "memory.jsonl", "--profile", "sam")
    assert code == 1 and "already in profile 'sam'" in out + err


def test_skip_invalid_lists_every_skipped_line(workdir: Path) -> None:
    write_server_file(workdir / "memory.jsonl", MESSY)
    code, out, err = run("import", "memory.jsonl", "--profile", "sam")
    assert code == 1
    code, out, err = run("import", "memory.jsonl", "--profile", "sam", "--skip-invalid",
                         "--sync", "--json")
    assert (code, err) == (0, ""), out + err
    document = json.loads(out)
    assert [s["line"] for s in document["skipped"]] == [3, 5, 6, 7, 8]
    assert document["counts"]["nodes_added"] == 2
    write_server_file(workdir / "memory.jsonl", MESSY)
    code, out, err = run("import", "memory.jsonl", "--profile", "sam", "--skip-invalid",
                         "--sync")
    assert (code, err) == (0, ""), out + err
    assert "Skipped" in out and "duplicate entity 'Sam'" in out and "'Nobody'" in out


def test_check_with_sync_reports_without_writing(workdir: Path) -> None:
    write_server_file(workdir / "memory.jsonl", BASE)
    code, out, err = run("import", "memory.jsonl", "--profile", "sam", "--sync", "--check")
    assert (code, err) == (0, ""), out + err
    assert "4 nodes added" in out and "nothing written" in out


def test_mcp_options_apply_to_mcp_files_only(workdir: Path) -> None:
    (workdir / "graph.json").write_text(
        json.dumps({"envelope": "markitect.graph", "schema_version": 1}), encoding="utf-8"
    )
    for option in ("--sync", "--skip-invalid"):
        code, _, err = run("import", "graph.json", option)
        assert code == 2 and option in err
    code, _, err = run("export", "out.jsonl", "--format", "events", "--profile", "sam")
    assert code == 2


def test_export_of_a_missing_profile_is_one_error_line(workdir: Path) -> None:
    run("init")
    code, _, err = run("export", "memory.jsonl", "--format", "mcp", "--profile", "nobody")
    assert code == 1
    assert "nobody" in one_error_line(err)
    assert not (workdir / "memory.jsonl").exists()

"""The ``phase-memory`` command through Typer's CliRunner.

:data:`SCENARIO` is one walk through every command (success path and main
error path), run in order against one working directory. The same scenario
runs through a real subprocess in ``test_cli_subprocess.py``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

import phase_memory as pm
from phase_memory.cli import app
from phase_memory.samples import seed

DB = "phase-memory.db"


@dataclass(frozen=True)
class Step:
    """One command line, the exit status it must give, and text it must print."""

    name: str
    args: list[str]
    code: int = 0
    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)
    needs: str | None = None
    """A module that must be importable (a feature still being built); else skipped."""
    check: Callable[[str], None] | None = None
    """Extra check on stdout."""
    error_line: bool = True
    """A failure prints one ``error:`` line (False: a report whose status says "problems")."""


def _json_document(text: str) -> None:
    assert isinstance(json.loads(text), dict)


def _json_lines(text: str) -> None:
    lines = text.splitlines()
    assert lines, "no JSON lines"
    for line in lines:
        assert isinstance(json.loads(line), dict)


DIAGNOSTICS = "phase_memory.diagnostics"
ENVELOPE = "phase_memory.interchange.envelope"
JSONL = "phase_memory.interchange.jsonl"
WORKSPACE = "phase_memory.interchange.workspace"

SCENARIO: list[Step] = [
    Step("version", ["--version"], out=["phase-memory 0.1.0"]),
    Step("no-command-shows-help", [], code=2, out=["Usage"]),
    Step("help", ["--help"], out=["import", "paths", "doctor"]),
    Step("unknown-command", ["nope"], code=2, err=["No such command"]),
    Step("unknown-option", ["info", "--bogus"], code=2, err=["--bogus"]),
    Step("info", ["info"], out=["assistant", "Sam's assistant", "schema revision"]),
    Step("info-json", ["info", "--json"], check=_json_document),
    Step("missing-db", ["--db", "missing.db", "info"], code=1, err=["no memory database"]),
    Step("db-is-directory", ["--db", "adir", "info"], code=1, err=["is a directory"]),
    Step("db-is-corrupt", ["--db", "corrupt.db", "info"], code=1, err=["not a SQLite database"]),
    Step("db-from-newer-version", ["--db", "newer.db", "init"], code=1, err=["does not know"]),
    Step("init", ["--db", "new.db", "init", "--profile", "work"], out=["Created", "work"]),
    Step("init-again", ["--db", "new.db", "init"], out=["already exists"]),
    Step("nodes-list", ["nodes", "list", "--profile", "assistant", "--kind", "person"],
         out=["person-sam", "Sam Rivera"]),
    Step("nodes-list-json", ["nodes", "list", "--json"], check=_json_lines),
    Step("nodes-list-unknown-profile", ["nodes", "list", "--profile", "ghost"], code=1,
         err=["ghost"]),
    Step("nodes-show", ["nodes", "show", "person-sam"], out=["Sam Rivera", "prefers"]),
    Step("nodes-show-json", ["nodes", "show", "person-sam", "--json"], check=_json_document),
    Step("nodes-show-unknown", ["nodes", "show", "nobody"], code=1, err=["nobody"]),
    Step("events-append", ["events", "append", "events.jsonl"], out=["Appended 2 event(s)"]),
    Step("events-append-bad", ["events", "append", "bad-events.jsonl"], code=1,
         err=["bad-events.jsonl:2"]),
    Step("events-append-missing-file", ["events", "append", "nowhere.jsonl"], code=1,
         err=["nowhere.jsonl"]),
    Step("events-list", ["events", "list", "--kind", "note.taken"], out=["note.taken"]),
    Step("events-list-json", ["events", "list", "--limit", "5", "--json"], check=_json_lines),
    Step("events-replay", ["events", "replay", "--until", "5"], out=["Replayed", "position 5"]),
    Step("events-replay-json", ["events", "replay", "--json"], check=_json_document),
    Step("events-replay-unknown-path", ["events", "replay", "--path", "nope"], code=1,
         err=["nope"]),
    Step("paths-open", ["paths", "open", "--profile", "assistant", "--id", "chat"],
         out=["Opened path chat"]),
    Step("paths-open-unknown-profile", ["paths", "open", "--profile", "ghost"], code=1,
         err=["ghost"]),
    Step("paths-branch", ["paths", "branch", "chat", "--id", "side"], out=["Branched path side"]),
    Step("paths-merge", ["paths", "merge", "side", "--into", "chat"], out=["Merged path side"]),
    Step("paths-branch-2", ["paths", "branch", "chat", "--id", "detour"]),
    Step("paths-abandon", ["paths", "abandon", "detour", "--reason", "wrong turn"],
         out=["Abandoned path detour: wrong turn"]),
    Step("paths-merge-abandoned", ["paths", "merge", "detour", "--into", "chat"], code=1,
         err=["abandoned"]),
    Step("paths-abandon-needs-reason", ["paths", "abandon", "chat"], code=2, err=["--reason"]),
    Step("paths-list", ["paths", "list"], out=["chat", "side", "merged", "abandoned"]),
    Step("paths-list-json", ["paths", "list", "--json"], check=_json_lines),
    Step("paths-show", ["paths", "show", "chat"], out=["chat", "Effective history"]),
    Step("paths-show-json", ["paths", "show", "chat", "--json"], check=_json_document),
    Step("paths-show-unknown", ["paths", "show", "nope"], code=1, err=["nope"]),
    Step("paths-activate", ["paths", "activate", "chat"], out=["Activated path chat"]),
    Step("activate", ["activate", "--profile", "assistant", "Lisbon trip", "--budget", "3"],
         out=["Lisbon"]),
    Step("activate-json", ["activate", "--profile", "assistant", "tea", "--path", "chat",
                           "--json"], check=_json_document),
    Step("activate-unknown-profile", ["activate", "--profile", "ghost", "tea"], code=1,
         err=["ghost"]),
    Step("apply-refused", ["apply", "forget.json"], code=1, out=["forget-old-address"],
         err=["need review"]),
    Step("apply-half-approval", ["apply", "forget.json", "--approve-by", "sam"], code=2,
         err=["--approve-by and --note"]),
    Step("apply-malformed", ["apply", "malformed.json"], code=1, err=["malformed JSON"]),
    Step("apply-approved", ["apply", "forget.json", "--approve-by", "sam", "--note", "asked"],
         out=["Applied forget forget-old-address", "approved by sam"]),
    Step("apply-review-free", ["apply", "archive.json", "--json"], check=_json_document),
    Step("audit-list", ["audit", "list", "--outcome", "denied"], out=["denied"]),
    Step("audit-list-json", ["audit", "list", "--json"], check=_json_lines),
    Step("audit-list-bad-outcome", ["audit", "list", "--outcome", "maybe"], code=2,
         err=["maybe"]),
    Step("doctor", ["doctor"], out=["no problems"], needs=DIAGNOSTICS),
    Step("doctor-json", ["doctor", "--json"], check=_json_document, needs=DIAGNOSTICS),
    Step("doctor-finds-problems", ["--db", "broken.db", "doctor"], code=1,
         out=["event.unknown_schema_version"], error_line=False, needs=DIAGNOSTICS),
    Step("doctor-missing-db", ["--db", "missing.db", "doctor"], code=1,
         err=["no memory database"]),
    Step("doctor-forgotten", ["doctor", "--forgotten", "fact-old-address"],
         out=["forget.certificate"], needs=DIAGNOSTICS),
    Step("doctor-forgotten-json", ["doctor", "--forgotten", "fact-old-address", "--json"],
         check=_json_document, needs=DIAGNOSTICS),
    Step("doctor-not-forgotten", ["doctor", "--forgotten", "fact-car"], code=1,
         out=["forget.not_forgotten"], error_line=False, needs=DIAGNOSTICS),
    Step("doctor-forgotten-unknown", ["doctor", "--forgotten", "ghost"], code=1, err=["ghost"]),
    Step("export-envelope", ["export", "graph.json"], out=["graph.json"], needs=ENVELOPE),
    Step("export-profile", ["export", "assistant.json", "--profile", "assistant"],
         out=["assistant.json"], needs=ENVELOPE),
    Step("export-events", ["export", "events-out.jsonl"], out=["events-out.jsonl"], needs=JSONL),
    Step("export-workspace", ["export", "workspace", "--format", "workspace"],
         out=["workspace"], needs=WORKSPACE),
    Step("export-profile-not-envelope", ["export", "x.jsonl", "--profile", "assistant"],
         code=2, err=["--profile"]),
    Step("export-bad-format", ["export", "x.json", "--format", "csv"], code=2, err=["csv"]),
    Step("import-check", ["--db", "copy.db", "import", "graph.json", "--check"],
         out=["valid"], needs=ENVELOPE),
    Step("import-envelope", ["--db", "copy.db", "import", "graph.json"], out=["Imported"],
         needs=ENVELOPE),
    Step("import-events", ["--db", "copy-events.db", "import", "events-out.jsonl"],
         out=["Imported"], needs=JSONL),
    Step("import-workspace", ["--db", "copy-ws.db", "import", "workspace"], out=["Imported"],
         needs=WORKSPACE),
    Step("import-mcp", ["--db", "mcp.db", "import", "memory.jsonl", "--profile", "mcp"],
         out=["Imported"], needs="phase_memory.interchange.mcp_memory"),
    Step("import-audit", ["--db", "audit.db", "import", "workspace/audit.jsonl"],
         out=["audit"], needs=WORKSPACE),
    Step("import-unknown-shape", ["import", "notes.txt"], code=1, err=["cannot tell"]),
    Step("import-invalid", ["--db", "bad.db", "import", "bad-envelope.json"], code=1,
         err=["import refused"], needs=ENVELOPE),
    Step("db-current", ["db", "current"], out=["(head)"]),
    Step("db-current-json", ["db", "current", "--json"], check=_json_document),
    Step("db-history", ["db", "history"], out=["head"]),
    Step("db-history-json", ["db", "history", "--json"], check=_json_lines),
    Step("db-upgrade-noop", ["db", "upgrade"], out=["nothing to do"]),
    Step("db-checkpoint", ["db", "checkpoint"], out=["Checkpointed"]),
    Step("db-vacuum", ["db", "vacuum"], out=["Vacuumed"]),
    Step("db-downgrade", ["--db", "new.db", "db", "downgrade", "base"], out=["-> base"]),
    Step("db-refuses-missing-schema", ["--db", "new.db", "nodes", "list"], code=1,
         err=["schema"]),
    Step("db-upgrade", ["--db", "new.db", "db", "upgrade"], out=["Upgraded base ->"]),
    Step("db-memory", ["--db", ":memory:", "db", "current"], code=1, err=[":memory:"]),
]


# --- the working directory the scenario runs in ---------------------------------

EVENTS = [
    {"kind": "note.taken", "profile_id": "assistant", "payload": {"topic": "running"}},
    {
        "kind": "node.saved",
        "profile_id": "assistant",
        "payload": {
            "node": {
                "id": "fact-shoes",
                "profile_id": "assistant",
                "kind": "fact",
                "label": "Needs new running shoes",
                "created_at": "2024-05-01T10:00:00Z",
                "updated_at": "2024-05-01T10:00:00Z",
                "version": 1,
            }
        },
    },
]

MCP_MEMORY = [
    {"type": "entity", "name": "Sam", "entityType": "person", "observations": ["Likes tea"]},
    {"type": "entity", "name": "Lisbon", "entityType": "place", "observations": []},
    {"type": "relation", "from": "Sam", "to": "Lisbon", "relationType": "travels_to"},
]


def make_workdir(directory: Path) -> Path:
    """A sample database (./phase-memory.db) and the input files the scenario uses."""
    with pm.open(directory / DB) as mem:
        seed(mem)
    (directory / "adir").mkdir()
    (directory / "corrupt.db").write_bytes(b"this is not a database at all, just text\n" * 10)
    broken = directory / "broken.db"
    with pm.open(broken) as mem:
        seed(mem)
    with sqlite3.connect(broken) as conn:
        conn.execute("UPDATE events SET schema_version = 99 WHERE position = 2")
    conn.close()
    newer = directory / "newer.db"
    with pm.open(newer):
        pass
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    conn.close()
    (directory / "events.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in EVENTS), encoding="utf-8"
    )
    (directory / "bad-events.jsonl").write_text(
        json.dumps(EVENTS[0]) + "\n" + '{"kind": "note.taken", "payload": {}}\n',
        encoding="utf-8",
    )
    forget = {
        "id": "forget-old-address",
        "kind": "forget",
        "profile_id": "assistant",
        "targets": ["fact-old-address"],
        "reason": "Sam asked",
    }
    (directory / "forget.json").write_text(json.dumps([forget]), encoding="utf-8")
    archive = {"actions": [{"kind": "archive", "profile_id": "assistant",
                            "targets": ["fact-car"]}]}
    (directory / "archive.json").write_text(json.dumps(archive), encoding="utf-8")
    (directory / "malformed.json").write_text("[{", encoding="utf-8")
    (directory / "notes.txt").write_text("just some notes\n", encoding="utf-8")
    (directory / "memory.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in MCP_MEMORY), encoding="utf-8"
    )
    bad_envelope = {
        "envelope": "markitect.graph",
        "schema_version": 1,
        "profiles": [],
        "nodes": [{"id": "n1", "profile_id": "nobody", "kind": "fact"}],
        "edges": [],
        "paths": [],
    }
    (directory / "bad-envelope.json").write_text(json.dumps(bad_envelope), encoding="utf-8")
    return directory


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


def check_outcome(step: Step, outcome: Outcome) -> None:
    """The exit status, the texts, and the error rules (one line, no traceback)."""
    shown = f"{step.args}\n--- stdout\n{outcome.stdout}\n--- stderr\n{outcome.stderr}"
    assert outcome.code == step.code, shown
    assert "Traceback" not in outcome.stdout + outcome.stderr, shown
    for text in step.out:
        assert text in outcome.stdout, shown
    for text in step.err:
        assert text in outcome.stderr, shown
    if step.code != 0 and step.args and step.error_line:
        lines = outcome.stderr.splitlines()
        assert len(lines) == 1, shown
        assert lines[0].startswith("error: "), shown
    if step.code == 0:
        assert outcome.stderr == "", shown
    if step.check is not None:
        step.check(outcome.stdout)


def missing(module: str | None) -> bool:
    """Whether a feature module is not there (yet)."""
    if module is None:
        return False
    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:
        return True


# --- CliRunner ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = make_workdir(tmp_path_factory.mktemp("cli"))
    old = Path.cwd()
    os.chdir(directory)
    try:
        yield directory
    finally:
        os.chdir(old)


def run_cli(args: list[str], env: dict[str, str | None] | None = None) -> Outcome:
    """Run the app in this process, as the console script would."""
    runner = CliRunner()
    result = runner.invoke(
        app, args, env={"PHASE_MEMORY_DB": None, "COLUMNS": "200", **(env or {})},
        prog_name="phase-memory",
    )
    return Outcome(result.exit_code, result.stdout, result.stderr)


@pytest.mark.parametrize("step", SCENARIO, ids=lambda s: s.name)
def test_scenario(step: Step, workdir: Path) -> None:
    if missing(step.needs):
        pytest.skip(f"{step.needs} is not there yet")
    os.chdir(workdir)
    check_outcome(step, run_cli(step.args))


# --- beyond the scenario --------------------------------------------------------------


def test_env_names_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    created = run_cli(["init"], env={"PHASE_MEMORY_DB": "from-env.db"})
    assert created.code == 0, created
    assert (tmp_path / "from-env.db").exists()
    assert not (tmp_path / DB).exists()
    explicit = run_cli(["--db", "explicit.db", "init"], env={"PHASE_MEMORY_DB": "from-env.db"})
    assert explicit.code == 0 and (tmp_path / "explicit.db").exists()


def test_sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite:///{tmp_path / 'url.db'}"
    assert run_cli(["--db", url, "init"]).code == 0
    assert (tmp_path / "url.db").exists()
    info = run_cli(["--db", url, "info", "--json"])
    assert json.loads(info.stdout)["backend"] == "sqlite"


def test_debug_shows_the_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corrupt.db").write_bytes(b"not a database\n" * 20)
    result = CliRunner().invoke(app, ["--debug", "--db", "corrupt.db", "info"])
    assert result.exit_code == 1
    assert isinstance(result.exception, pm.StoreUnavailableError)  # raised, not a line


def test_events_append_from_stdin(workdir: Path) -> None:
    os.chdir(workdir)
    line = json.dumps({"kind": "note.taken", "profile_id": "assistant", "payload": {}})
    result = CliRunner().invoke(
        app, ["events", "append", "-", "--json"], input=line + "\n",
        env={"PHASE_MEMORY_DB": None},
    )
    assert result.exit_code == 0, result.output
    (event,) = [json.loads(x) for x in result.stdout.splitlines()]
    assert event["kind"] == "note.taken" and event["position"] > 0


def _read_only(file: Path) -> Callable[[], None]:
    """Make ``file`` unwritable (mode 444, or ``chattr +i`` for root); return the undo."""
    if os.name != "posix":
        pytest.skip("POSIX file modes")
    if os.geteuid() != 0:
        file.chmod(0o444)
        return lambda: file.chmod(0o644)
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("root ignores file modes and chattr is not installed")
    done = subprocess.run([chattr, "+i", str(file)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip("root ignores file modes and this file system has no immutable flag")
    return lambda: subprocess.run([chattr, "-i", str(file)], check=True)


def test_read_only_file_reads_and_refuses_writes_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli(["init", "--profile", "p"]).code == 0
    undo = _read_only(tmp_path / DB)
    try:
        listing = run_cli(["nodes", "list"])
        write = run_cli(["paths", "open", "--profile", "p"])
    finally:
        undo()
    assert listing.code == 0, listing
    assert write.code == 1, write
    assert "read-only" in write.stderr
    assert len(write.stderr.splitlines()) == 1 and "Traceback" not in write.stderr


def test_apply_keeps_an_approval_given_in_the_file(workdir: Path) -> None:
    os.chdir(workdir)
    action = {
        "kind": "archive",
        "profile_id": "assistant",
        "targets": ["pref-jazz"],
        "approval": {"approved_by": "maya", "approved_at": "2024-05-01T10:00:00Z"},
    }
    (workdir / "approved.json").write_text(json.dumps(action), encoding="utf-8")
    result = run_cli(["apply", "approved.json", "--approve-by", "sam", "--note", "n"])
    assert result.code == 0, result
    assert "approved by maya" in result.stdout


def test_every_listing_has_json() -> None:
    """Each command that prints records or a report takes --json."""
    import typer.main

    root = typer.main.get_command(app)
    without: list[str] = []

    def walk(command: object, path: list[str]) -> None:
        commands = getattr(command, "commands", None)
        if commands:
            for name, sub in commands.items():
                walk(sub, [*path, name])
            return
        names = {o for p in getattr(command, "params", []) for o in getattr(p, "opts", [])}
        if "--json" not in names:
            without.append(" ".join(path))

    walk(root, [])
    # Commands that print a sentence, not records: they report what they did.
    assert sorted(without) == sorted(
        [
            "demo", "init", "db upgrade", "db downgrade", "db checkpoint", "db vacuum",
            "mcp", "review approve", "review reject",
        ]
    )

"""Hostile input for every importer: the answer is success or ImportValidationError, nothing else.

Inputs are generated with hypothesis: arbitrary bytes, arbitrary JSON, valid
files with bytes cut, inserted or swapped, records whose fields hold hostile
values, and a few fixed monsters (100 000 nested arrays, a huge string, a
huge number, invalid UTF-8). Every input goes into a copy of the same SQLite
database; when the importer refuses it, the database must be exactly as it
was (log position, event ids, graph, audit trail): never a partial write.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import phase_memory as pm
from phase_memory.errors import ImportValidationError
from phase_memory.testing.builders import edge, node, profile

FORMATS = ("envelope", "events", "audit", "workspace", "mcp")


def examples(stress: bool) -> int:
    return 300 if stress else 25


# --- the databases ---------------------------------------------------------------------------


def _fingerprint(mem: pm.PhaseMemoryRuntime) -> tuple[Any, ...]:
    return (
        mem.events.last_position(),
        [e.event_id for e in mem.events.list()],
        mem.graph.snapshot(),
        [r.id for r in mem.audit.list()],
    )


class Target:
    """A template database; each input is imported into a fresh copy of it."""

    def __init__(self, directory: Path, *, empty: bool) -> None:
        self.directory = directory
        self.template = directory / "template.db"
        with pm.open(self.template) as mem:
            if not empty:
                mem.save_profile(profile("p"))
                mem.save_node(node("n1", "p", label="first"))
                mem.save_node(node("n2", "p", label="second"))
                mem.save_edge(edge("e1", "n1", "n2", "p"))
                mem.store.checkpoint()  # type: ignore[attr-defined]
            self.fingerprint = _fingerprint(mem)
        self.counter = 0

    def run(self, importer: Callable[[pm.PhaseMemoryRuntime], object], stats: Counter[str]) -> str:
        """Import into a copy; 'ok' or 'refused'. Anything else is a failure of the test."""
        self.counter += 1
        db = self.directory / f"copy-{self.counter}.db"
        shutil.copy(self.template, db)
        stats["fuzz_inputs"] += 1
        try:
            with pm.open(db) as mem:
                try:
                    importer(mem)
                except ImportValidationError as refused:
                    assert refused.problems, "an ImportValidationError lists its problems"
                    assert _fingerprint(mem) == self.fingerprint, "a refused import wrote"
                    return "refused"
                except BaseException:
                    stats["unhandled"] += 1
                    raise
                # What was imported replays to the same graph (no drift, nothing broken).
                report = mem.diagnose()
                assert report.ok, [f.message for f in report.findings]
                return "ok"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Target]:
    base = tmp_path_factory.mktemp("fuzz")
    (base / "full").mkdir()
    (base / "empty").mkdir()
    return {"full": Target(base / "full", empty=False), "empty": Target(base / "empty", empty=True)}


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """A valid input of each format (the seeds the mutations start from)."""
    directory = tmp_path_factory.mktemp("valid")
    with pm.open(directory / "source.db") as mem:
        mem.save_profile(profile("q", description="ünïcödé ✓"))
        mem.save_node(node("m1", "q", label="héllo", content="a\nb"))
        mem.save_node(node("m2", "q", label="wörld"))
        mem.save_edge(edge("f1", "m1", "m2", "q"))
        mem.record(pm.MemoryEvent(kind="note.added", profile_id="q", payload={"x": [1, "ü"]}))
        mem.export_envelope(directory / "graph.json")
        mem.export_events(directory / "events.jsonl")
        mem.export_audit(directory / "audit.jsonl")
        mem.export_workspace(directory / "ws")
    mcp = (
        '{"type": "entity", "name": "Ada", "entityType": "person", "observations": ["x"]}\n'
        '{"type": "entity", "name": "Bob", "entityType": "person", "observations": []}\n'
        '{"type": "relation", "from": "Ada", "to": "Bob", "relationType": "knows"}\n'
    )
    files = {
        "envelope": (directory / "graph.json").read_bytes(),
        "events": (directory / "events.jsonl").read_bytes(),
        "audit": (directory / "audit.jsonl").read_bytes(),
        "mcp": mcp.encode(),
    }
    for name in ("metadata.json", "graph.json", "events.jsonl", "audit.jsonl",
                 "activation-plans.jsonl"):
        files[f"workspace/{name}"] = (directory / "ws" / name).read_bytes()
    for entry in (directory / "ws" / "profiles").iterdir():
        files[f"workspace/profiles/{entry.name}"] = entry.read_bytes()
    return files


def _importer(fmt: str, src: Path) -> Callable[[pm.PhaseMemoryRuntime], object]:
    def run(mem: pm.PhaseMemoryRuntime) -> object:
        if fmt == "envelope":
            return mem.import_envelope(src)
        if fmt == "events":
            return mem.import_events(src)
        if fmt == "audit":
            return mem.import_audit(src)
        if fmt == "workspace":
            return mem.import_workspace(src)
        return mem.import_mcp_memory(src, profile_id="mcp")

    return run


def _write_input(directory: Path, fmt: str, data: bytes, valid: dict[str, bytes],
                 member: str = "graph.json") -> Path:
    """Put ``data`` where the importer of ``fmt`` reads it (a workspace file for workspaces)."""
    if fmt != "workspace":
        src = directory / f"input.{fmt}"
        src.write_bytes(data)
        return src
    root = directory / "ws-input"
    if root.exists():
        shutil.rmtree(root)
    (root / "profiles").mkdir(parents=True)
    for name, content in valid.items():
        if name.startswith("workspace/"):
            (root / name[len("workspace/"):]).write_bytes(content)
    (root / member).write_bytes(data)
    return root


def _target(targets: dict[str, Target], fmt: str) -> Target:
    return targets["empty" if fmt == "workspace" else "full"]


def _seed(valid: dict[str, bytes], fmt: str, member: str) -> bytes:
    return valid[f"workspace/{member}" if fmt == "workspace" else fmt]


# --- strategies -------------------------------------------------------------------------------

HOSTILE_TEXT = [
    "", " ", "'", '"', "\\", "'; DROP TABLE events; --", "Robert'); DELETE FROM nodes;--",
    "..", "../../etc/passwd", "/etc/passwd", "a/b", "C:\\Windows", "NUL\x00byte", "ctrl\x01\x1f",
    "\x7f", "%2e%2e%2f", ".hidden", "\u202eevil", "\ufeffbom", "\ud7ff", "😀" * 60, "a" * 201,
    "x" * 70_000, "\u0085nel", "MATCH * OR NEAR(", "{}", "[]", "null",
]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
    st.sampled_from(HOSTILE_TEXT),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=10), st.sampled_from(HOSTILE_TEXT[:12])),
                        inner, max_size=4),
    ),
    max_leaves=12,
)


@st.composite
def mutations(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with a few cuts, insertions, swaps and truncations."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["truncate", "delete", "insert", "replace", "dup-line"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "truncate":
            del data[at:]
        elif action == "delete":
            del data[at:at + draw(st.integers(1, 40))]
        elif action == "insert":
            text = draw(st.one_of(st.binary(min_size=1, max_size=12),
                                  st.sampled_from(HOSTILE_TEXT).map(lambda s: s.encode()),
                                  st.text(min_size=1, max_size=6).map(lambda s: s.encode())))
            data[at:at] = text
        elif action == "replace" and data:
            data[at] = draw(st.integers(0, 255))
        elif action == "dup-line":
            lines = bytes(data).split(b"\n")
            if lines:
                lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(lines)))
            data = bytearray(b"\n".join(lines))
    return bytes(data)


@st.composite
def hostile_records(draw: st.DrawFn, fmt: str, seed: bytes) -> bytes:
    """Valid-looking records of ``fmt`` whose fields are replaced by hostile values."""

    def corrupt(value: Any) -> Any:
        if isinstance(value, dict) and value:
            key = draw(st.sampled_from(sorted(value)))
            changed = dict(value)
            if draw(st.booleans()):
                changed[key] = draw(json_values)
            else:
                changed[key] = corrupt(value[key])
            if draw(st.integers(0, 9)) == 0:
                changed[draw(st.sampled_from(HOSTILE_TEXT[:12]))] = draw(json_values)
            return changed
        if isinstance(value, list) and value:
            index = draw(st.integers(0, len(value) - 1))
            changed_list = list(value)
            changed_list[index] = corrupt(value[index])
            return changed_list
        return draw(json_values)

    text = seed.decode()
    if fmt in ("envelope",) or text.lstrip().startswith("{\n"):
        document = json.loads(text)
        return json.dumps(corrupt(document), ensure_ascii=draw(st.booleans())).encode()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    index = draw(st.integers(0, len(lines) - 1))
    lines[index] = corrupt(lines[index])
    return "".join(json.dumps(line, ensure_ascii=draw(st.booleans())) + "\n"
                   for line in lines).encode()


MONSTERS = {
    "deep-arrays": b"[" * 100_000 + b"]" * 100_000,
    "deep-objects": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "deep-unclosed": b'{"nodes": ' + b"[" * 100_000,
    "huge-number": b'{"envelope": ' + b"9" * 100_000 + b"}",
    "huge-string": b'{"envelope": "' + b"x" * 5_000_000 + b'"}',
    "nan": b'{"envelope": NaN, "schema_version": Infinity}',
    "not-utf8": b'{"envelope": "\xff\xfe\xc3\x28"}',
    "bom": b"\xef\xbb\xbf{}",
    "lone-surrogate": b'{"envelope": "\\ud800"}',
    "nul": b"\x00" * 1000,
    "empty": b"",
    "whitespace": b" \n\t\r\n",
}


def _deep_payload(fmt: str, depth: int) -> bytes:
    """A record of ``fmt`` that is valid except for a value nested ``depth`` deep."""
    deep = "[" * depth + "]" * depth
    if fmt in ("events",):
        return (b'{"event_id":"deep","kind":"note.x","profile_id":"p","payload":{"d":'
                + deep.encode() + b'},"occurred_at":"2024-01-01T00:00:00Z",'
                b'"schema_version":1,"actor":"x"}\n')
    if fmt == "audit":
        return (b'{"id":"deep","at":"2024-01-01T00:00:00Z","actor":"x","operation":"x",'
                b'"subject_ids":[],"outcome":"applied","details":{"d":' + deep.encode()
                + b"}}\n")
    if fmt == "mcp":
        return (b'{"type":"entity","name":"E","entityType":"t","observations":'
                + deep.encode() + b"}\n")
    record = node("deep", "p").model_dump(mode="json")
    record["attributes"] = {"d": "@@"}
    text = json.dumps({"envelope": "markitect.graph", "schema_version": 1, "nodes": [record]})
    return text.replace('"@@"', deep).encode()


# --- the tests ----------------------------------------------------------------------------------


def _fuzz(
    fmt: str, strategy: st.SearchStrategy[bytes], member: str, targets: dict[str, Target],
    valid: dict[str, bytes], tmp_path: Path, stats: Counter[str], stress: bool,
) -> Counter[str]:
    outcomes: Counter[str] = Counter()

    @settings(max_examples=examples(stress), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=strategy)
    def check(data: bytes) -> None:
        src = _write_input(tmp_path, fmt, data, valid, member)
        outcomes[_target(targets, fmt).run(_importer(fmt, src), stats)] += 1

    check()
    return outcomes


WORKSPACE_MEMBERS = ["graph.json", "events.jsonl", "metadata.json", "audit.jsonl",
                     "activation-plans.jsonl"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_arbitrary_bytes_and_json(fmt: str, targets: dict[str, Target],
                                  valid_files: dict[str, bytes], tmp_path: Path,
                                  stats: Counter[str], stress: bool) -> None:
    strategy = st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.lists(json_values, max_size=5).map(
            lambda vs: "".join(json.dumps(v) + "\n" for v in vs).encode()),
    )
    members = WORKSPACE_MEMBERS if fmt == "workspace" else ["-"]
    for member in members:
        _fuzz(fmt, strategy, member, targets, valid_files, tmp_path, stats, stress)


@pytest.mark.parametrize("fmt", FORMATS)
def test_mutated_valid_files(fmt: str, targets: dict[str, Target], valid_files: dict[str, bytes],
                             tmp_path: Path, stats: Counter[str], stress: bool) -> None:
    members = WORKSPACE_MEMBERS if fmt == "workspace" else ["-"]
    seen: Counter[str] = Counter()
    for member in members:
        seed = _seed(valid_files, fmt, member)
        seen += _fuzz(fmt, mutations(seed), member, targets, valid_files, tmp_path, stats, stress)
    assert seen["refused"], "the mutations never broke the input: the fuzzer is not biting"


@pytest.mark.parametrize("fmt", FORMATS)
def test_records_with_hostile_values(fmt: str, targets: dict[str, Target],
                                     valid_files: dict[str, bytes], tmp_path: Path,
                                     stats: Counter[str], stress: bool) -> None:
    members = ["graph.json", "events.jsonl", "metadata.json"] if fmt == "workspace" else ["-"]
    for member in members:
        seed = _seed(valid_files, fmt, member)
        _fuzz(fmt, hostile_records(fmt if fmt != "workspace" else "events", seed), member,
              targets, valid_files, tmp_path, stats, stress)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("monster", [*sorted(MONSTERS), "deep-record-900", "deep-record-3000"])
def test_monster_inputs(fmt: str, monster: str, targets: dict[str, Target],
                        valid_files: dict[str, bytes], tmp_path: Path,
                        stats: Counter[str]) -> None:
    if monster.startswith("deep-record-"):
        data = _deep_payload("events" if fmt == "workspace" else fmt, int(monster.split("-")[-1]))
    else:
        data = MONSTERS[monster]
    member = "events.jsonl" if fmt == "workspace" else "-"
    src = _write_input(tmp_path, fmt, data, valid_files, member)
    _target(targets, fmt).run(_importer(fmt, src), stats)


def test_events_relying_on_payload_defaults_replay_to_the_same_graph(
    targets: dict[str, Target], tmp_path: Path, stats: Counter[str]
) -> None:
    """A file may leave out defaulted payload fields (timestamps); the import stores them."""
    lines = [
        {"event_id": "d1", "kind": "profile.saved", "profile_id": "d",
         "payload": {"profile": {"id": "d", "name": "d"}}},
        {"event_id": "d2", "kind": "node.saved", "profile_id": "d",
         "payload": {"node": {"id": "dn", "profile_id": "d", "kind": "k", "label": "l"}}},
    ]
    src = tmp_path / "defaults.jsonl"
    src.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert targets["full"].run(_importer("events", src), stats) == "ok"

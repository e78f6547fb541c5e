"""Record arrays read with a model: the quick road gives what decoding then validating gives."""

from __future__ import annotations

import gc
import io
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError as PydanticValidationError

import phase_memory as pm
from phase_memory.interchange import json_stream
from phase_memory.interchange.json_stream import Item, JsonObjectStream, JsonSyntaxError
from phase_memory.models import MemoryNode
from phase_memory.testing.builders import node, profile

_AWKWARD = ["},{", "}, {", "}]", "}\n]", "NaN", "Infinity", "é😀", '"', "\\", "{", "]"]


def _attributes(rng: random.Random) -> dict[str, Any]:
    choice = rng.randrange(5)
    if choice == 0:
        return {}
    if choice == 1:
        return {"list": [{"a": 1}, {"b": [{"c": None}]}], "z": rng.choice(_AWKWARD)}
    if choice == 2:
        return {"nested": {"deep": {"x": rng.random()}}, "text": rng.choice(_AWKWARD)}
    if choice == 3:
        return {"t": [rng.choice(_AWKWARD) for _ in range(3)], "n": rng.randint(-9, 10**25)}
    return {"objs": [{} for _ in range(12)]}


def _record(rng: random.Random, i: int) -> Any:
    record = node(f"n{i}", label=rng.choice(_AWKWARD) + "label").model_dump(mode="json")
    record["attributes"] = _attributes(rng)
    bad = rng.randrange(10)
    if bad == 0:
        record["salience"] = 7  # the model refuses it
    elif bad == 1:
        record["created_at"] = "2024-01-01T00:00:00"
    elif bad == 2:
        record["unexpected"] = True
    elif bad == 3:
        return rng.choice([1, "text", [record], None])  # not an object at all
    return record


def _layouts(records: list[Any]) -> list[str]:
    doc = {"a": records, "b": 1, "c": records[::-1]}
    per_line = '{\n  "a": [\n' + ",\n".join(
        "    " + json.dumps(r, ensure_ascii=False) for r in records
    ) + '\n  ],\n  "b": 1,\n  "c": [\n' + ",\n".join(
        "    " + json.dumps(r, ensure_ascii=False) for r in records[::-1]
    ) + '\n  ]\n}\n'
    return [
        json.dumps(doc),
        json.dumps(doc, indent=2, ensure_ascii=False),
        per_line,
        json.dumps(doc, separators=(",", ":")),
    ]


def _read(text: str, models: bool) -> list[tuple[Any, ...]]:
    raw = io.BytesIO(text.encode("utf-8"))
    stream = JsonObjectStream(raw, {"a", "c"},
                              models={"a": MemoryNode, "c": MemoryNode} if models else None)
    out: list[tuple[Any, ...]] = []
    for token in stream.tokens():
        if not isinstance(token, Item):
            continue
        if models:
            record, error = token.record, token.error
        else:
            try:
                record, error = MemoryNode.model_validate(token.value), None
            except PydanticValidationError as exc:
                record, error = None, exc
        errors = None if error is None else error.errors(include_url=False)
        out.append((token.key, token.index, token.line, record, errors))
    return out


@pytest.mark.parametrize("chunk", [json_stream.CHUNK_BYTES, 64, 7])
def test_records_read_with_a_model_equal_decoding_then_validating(
    monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(json_stream, "CHUNK_BYTES", chunk)
    rng = random.Random(chunk)
    for _ in range(6):
        records = [_record(rng, i) for i in range(rng.randrange(0, 25))]
        for text in _layouts(records):
            assert _read(text, models=True) == _read(text, models=False)


def test_nan_in_a_record_is_still_malformed_json() -> None:
    text = '{"a": [' + json.dumps(node("n").model_dump(mode="json"))[:-1] + ', "x": NaN}]}'
    text = text.replace('"attributes": {}', '"attributes": {"v": NaN}')
    with pytest.raises(JsonSyntaxError, match="NaN is not a valid JSON value"):
        _read(text, models=True)


def test_a_syntax_error_inside_a_record_is_reported_where_it_is() -> None:
    good = json.dumps({"a": [node(f"n{i}").model_dump(mode="json") for i in range(3)]}, indent=2)
    broken = good.replace('"label": "label of n1",', '"label": "label of n1"', 1)
    assert broken != good
    with pytest.raises(JsonSyntaxError) as caught:
        _read(broken, models=True)
    with pytest.raises(JsonSyntaxError) as expected:
        _read(broken, models=False)
    assert (caught.value.line, caught.value.column, caught.value.reason) == (
        expected.value.line, expected.value.column, expected.value.reason)


def test_the_library_leaves_process_wide_state_alone(tmp_path: Path) -> None:
    """No gc tuning, no umask change: a library is a guest in its caller's process."""
    threshold, enabled = gc.get_threshold(), gc.isenabled()
    previous = os.umask(0o027)  # the test's own umask, restored below
    try:
        with pm.open(tmp_path / "m.db") as mem:
            mem.save_profile(profile())
            for i in range(50):
                mem.save_node(node(f"n{i}"))
            mem.export_envelope(tmp_path / "g.json")
            mem.export_events(tmp_path / "e.jsonl")
            assert not mem.events.replay().report.problems
            assert gc.get_threshold() == threshold and gc.isenabled() is enabled
        with pm.open(tmp_path / "copy.db") as copy:
            copy.import_envelope(tmp_path / "g.json")
            assert gc.get_threshold() == threshold and gc.isenabled() is enabled
        assert os.umask(0o027) == 0o027
        # Exports get the usual mode of a new file: 0666 less the caller's umask.
        assert (tmp_path / "g.json").stat().st_mode & 0o777 == 0o640
        assert (tmp_path / "e.jsonl").stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(previous)

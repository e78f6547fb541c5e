"""How PhaseMemorySaver stores values: plain JSON as is, the rest transcoded, never base64."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from phase_memory.langgraph.encoding import TAG, decode, encode, is_plain

SERDE = JsonPlusSerializer()


@dataclasses.dataclass
class Point:
    x: int
    label: str


PLAIN: list[Any] = [
    None, True, 0, -(2**63 - 1), 2.5, "", "日本語 🙂", [1, [2, {"a": None}]],
    {"messages": [{"role": "user", "content": "hi"}], "step": 3},
]
OTHER: list[Any] = [
    (1, 2),
    {1: "int key"},
    {"$lg": "looks like a tag"},
    b"\x00\x01binary",
    "nul \x00 inside",
    math.inf,
    2**63,
    HumanMessage("hello there", id="m1"),
    [AIMessage("an answer"), Point(3, "p")],
    {"nested": {"set": {1, 2}}},
]


@pytest.mark.parametrize("value", PLAIN, ids=repr)
def test_plain_values_are_stored_as_themselves(value: Any) -> None:
    assert is_plain(value)
    stored = encode(SERDE, value)
    assert stored is value
    assert decode(SERDE, json.loads(json.dumps(stored))) == value


@pytest.mark.parametrize("value", OTHER, ids=repr)
def test_other_values_round_trip_through_json(value: Any) -> None:
    assert not is_plain(value)
    stored = encode(SERDE, value)
    text = json.dumps(stored, allow_nan=False)  # valid JSON: no NaN, no bytes
    assert "\\u0000" not in text  # PostgreSQL's jsonb refuses NUL
    expected = SERDE.loads_typed(SERDE.dumps_typed(value))
    assert decode(SERDE, json.loads(text)) == expected


def test_a_message_is_readable_json_not_base64() -> None:
    stored = encode(SERDE, HumanMessage("the code word is marmalade", id="m1"))
    assert stored[TAG] == "msgpack"
    body = stored["v"]
    assert body[f"{TAG}.ext"] == 5
    module, name, fields = body["v"][:3]
    assert (module, name) == ("langchain_core.messages.human", "HumanMessage")
    assert fields["content"] == "the code word is marmalade"
    assert "marmalade" in json.dumps(stored)


def test_only_bytes_become_base85() -> None:
    stored = encode(SERDE, {"blob": b"\xff" * 30, "text": "kept"})
    text = json.dumps(stored)
    assert f'"{TAG}.bytes"' in text and '"text": "kept"' in text

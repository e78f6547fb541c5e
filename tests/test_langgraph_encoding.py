"""How PhaseMemorySaver stores values: plain JSON as is, the rest transcoded, never base64."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
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
    {"note": "$lg is only text here", "digits": "12345678901234567890123"},
    [{"n": 2**63 - 1, "m": -(2**63 - 1), "f": 1e300, "g": -0.0, "h": 5e-324}],
]


class Colour(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


class Text(str):
    pass

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
    # Inside objects and arrays too, where orjson's check runs before the walk:
    {"pair": (1, 2)},
    [[1], {"ids": [uuid.UUID(int=7)]}],
    {"colour": Colour.RED},
    {"level": Level.HIGH},
    {"text": Text("a str subclass")},
    {"at": datetime(2026, 1, 1, tzinfo=UTC)},
    {"point": Point(1, "p")},
    {"x": [1.0, -math.inf]},
    {"deep": {"$lg.ext": 1}},
    {"nul": ["a", "b\x00c"]},
    {"big": [2**63]},
    {"small": [-(2**63)]},
    {"keys": {2: "two"}},
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


def _plain_by_definition(value: Any) -> bool:
    """is_plain's contract, spelled out: exact JSON types, in range, no NUL, no tag keys."""
    kind = type(value)
    if kind is dict:
        return all(
            type(k) is str and not k.startswith(TAG) and _plain_by_definition(v)
            for k, v in value.items()
        )
    if kind is list:
        return all(_plain_by_definition(item) for item in value)
    if kind is str:
        return "\x00" not in value
    if kind is int:
        return -(2**63 - 1) <= value <= 2**63 - 1
    if kind is float:
        return math.isfinite(value)
    return value is None or kind is bool


_SCALARS = (
    st.none() | st.booleans() | st.integers(min_value=-(2**65), max_value=2**65)
    | st.floats() | st.text(alphabet=st.sampled_from("ab$lg\x00 1"), max_size=6)
    | st.sampled_from([Colour.RED, Level.HIGH, Text("t"), uuid.UUID(int=1), b"b"])
)
_KEYS = st.text(alphabet=st.sampled_from("ab$lg"), max_size=4) | st.integers(0, 3)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.lists(inner, max_size=3).map(tuple)
    | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)


@given(_VALUES)
def test_is_plain_is_exactly_its_definition(value: Any) -> None:
    # orjson checks most values before the walk: it must never call plain what is not.
    assert is_plain(value) == _plain_by_definition(value)

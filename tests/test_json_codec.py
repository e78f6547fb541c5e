"""JSON text written by orjson keeps the standard library's spelling; reading is exact."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phase_memory import json_codec

_FLOATS = [0.0, -0.0, 1e-4, 9.99e-5, 1e-5, 1e-7, 1e15, 1e16, 1e22, 0.1, 5e-324,
           1.7976931348623157e308, 123456789012345680.0]


@pytest.mark.parametrize("value", _FLOATS)
def test_floats_are_spelled_as_json_dumps_spells_them(value: float) -> None:
    for wrapped in (value, [value], {"x": value}, {"a": {"b": [1, value]}}):
        assert json_codec.dumps(wrapped) == json.dumps(
            wrapped, ensure_ascii=False, separators=(",", ":")
        )
        assert json_codec.dumps_indented(wrapped) == json.dumps(
            wrapped, ensure_ascii=False, indent=2, sort_keys=True
        )


def test_random_values_match_json_dumps() -> None:
    rng = random.Random(16)
    for _ in range(2000):
        value: Any = {
            "f": rng.random() * 10 ** rng.randint(-30, 30),
            "i": rng.randint(-(10**20), 10**20),
            "s": "".join(rng.choice(["é", "\n", '"', "\x00", "😀", "a"]) for _ in range(5)),
            "l": [None, True, rng.random()],
        }
        assert json_codec.dumps(value, sort_keys=True) == json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), sort_keys=True
        )
        assert json_codec.loads(json_codec.dumps(value)) == value


def test_big_integers_read_back_exactly() -> None:
    value = {"n": 2**70, "m": -(10**30), "k": 10**18}
    text = json_codec.dumps(value)
    assert json_codec.loads(text) == value
    assert json_codec.loads(text.encode()) == value


def test_nan_is_refused_when_writing_and_strict_reading() -> None:
    with pytest.raises(ValueError):
        json_codec.dumps({"x": float("nan")})
    with pytest.raises(ValueError):
        json_codec.loads('{"x": NaN}', strict=True)


def test_malformed_text_says_where() -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        json_codec.loads('{"a": 1,\n "b": }')
    assert (caught.value.lineno, caught.value.colno) == (2, 7)


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=4))
def test_any_float_is_spelled_as_json_dumps_spells_it(values: list[float]) -> None:
    # orjson writes the bytes first; only a spelling it may write otherwise sends the
    # value to the standard encoder, so every float must come out the standard way.
    value = {"id": "0190c00e-7a00-8000-0000-00000000000e", "values": values}
    assert json_codec.dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_a_float_spelling_inside_a_string_is_kept() -> None:
    # The text looks like the spellings orjson and json write differently.
    value = {"s": "1e-7 0.00001 null NaN", "f": 0.5}
    assert json_codec.dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))

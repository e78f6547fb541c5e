"""The fast canonical encoder gives exactly the bytes of ``json.dumps``."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from phase_memory.errors import ValidationError
from phase_memory.interchange.formats import canonical_nested

_TEXT = ["a", "é", "\n", '"', "\\", "\u2028", "\x00", "😀", "/", "\t", "z", "}", "]", "\ud800"]
_FLOATS = [0.0, -0.0, 1e-7, 1e22, 0.1, 123.456, -5e-324, 1.7976931348623157e308]


def _value(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(12 if depth < 4 else 7)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.randint(-(10**20), 10**20)
    if choice == 3:
        return rng.choice([*_FLOATS, rng.random() * 10 ** rng.randint(-30, 30)])
    if choice <= 6:
        return "".join(rng.choice(_TEXT) for _ in range(rng.randrange(6)))
    if choice <= 9:
        return {
            "".join(rng.choice('abé"\n') for _ in range(rng.randrange(4))): _value(rng, depth + 1)
            for _ in range(rng.randrange(4))
        }
    return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]


def _expected(value: Any, depth: int) -> str:
    text = json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return text.replace("\n", "\n" + "  " * depth)


def test_canonical_nested_matches_json_dumps() -> None:
    rng = random.Random(20261202)
    for _ in range(5000):
        value, depth = _value(rng), rng.randrange(4)
        assert canonical_nested(value, depth) == _expected(value, depth)


@pytest.mark.parametrize(
    "value",
    [{1: 2, 3: (1, 2)}, {"b": (1, [2, {}]), "a": []}, (), {True: None}, 2**70, -0.0],
)
def test_canonical_nested_unusual_values(value: Any) -> None:
    assert canonical_nested(value, 2) == _expected(value, 2)


@pytest.mark.parametrize("value", [float("nan"), {"a": [float("inf")]}, [float("-inf")]])
def test_canonical_nested_refuses_nan(value: Any) -> None:
    with pytest.raises(ValidationError, match="cannot write canonical JSON"):
        canonical_nested(value, 1)

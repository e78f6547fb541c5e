"""JSON text, encoded and decoded by orjson, spelled as the standard library spells it.

Every JSON phase-memory writes (interchange files, JSON columns) comes from
here, so it has one spelling: the one ``json.dumps(value, ensure_ascii=False)``
gives. orjson writes the same bytes for every value but two kinds, which go
to the standard encoder instead:

- floats outside ``[1e-4, 1e16)`` (other than zero), which Python spells in
  exponent form with a signed, two-digit exponent (``1e-07``, ``1e+22``)
  where orjson writes ``1e-7``, ``1e22`` or ``0.00001``; and NaN or the
  infinities, which are not JSON at all (orjson would write ``null``);
- what orjson refuses: integers beyond 64 bits, text with a lone surrogate,
  keys that are not strings.

Reading is orjson's, except for text orjson cannot read exactly (integers
longer than 18 digits, which it reads as floats, and ``NaN``/``Infinity``,
which it refuses): :func:`loads` gives that text to :func:`json.loads`.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_SORTED = orjson.OPT_SORT_KEYS
_SORTED_INDENTED = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2
_DIGITS_TO_ZERO = bytes.maketrans(b"0123456789", b"0000000000")
_LONG_RUN = b"0" * 19


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON text (``","`` and ``":"``, no spaces), UTF-8 characters unescaped.

    Raises ``ValueError`` for NaN and the infinities, ``TypeError`` for a value
    that is not JSON.
    """
    encoded = _orjson(value, _SORTED if sort_keys else None)
    if encoded is not None:
        return encoded
    return json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys, allow_nan=False
    )


def text_of(encoded: bytes | None, value: Any) -> str:
    """:func:`dumps` of ``value``, given ``encoded``: orjson's bytes of it (or None).

    A writer that had orjson encode a value already (the limit check of an
    appended payload) passes the bytes here, and stores them as they are
    unless they may spell a float otherwise than :func:`dumps` does.
    """
    if encoded is not None and (not _maybe_nonstandard(encoded) or not _standard_only(value)):
        return encoded.decode()
    return dumps(value)


def dumps_indented(value: Any) -> str:
    """JSON text with sorted keys and a two-space indent (no trailing newline).

    The bytes of ``json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)``.
    """
    encoded = _orjson(value, _SORTED_INDENTED)
    if encoded is not None:
        return encoded
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, allow_nan=False)


def _orjson(value: Any, option: int | None) -> str | None:
    """orjson's text of ``value``, or None where the standard encoder must write it.

    orjson first, and the walk over ``value`` (:func:`_standard_only`) only when
    its bytes could hold a float spelled the other way: every event appended
    is encoded here, and the walk cost more than the encoding.
    """
    try:
        data = orjson.dumps(value, option=option)
    except TypeError:  # orjson.JSONEncodeError: big integers, surrogates, odd keys
        return None
    if _maybe_nonstandard(data) and _standard_only(value):
        return None
    return data.decode()


def _maybe_nonstandard(data: bytes) -> bool:
    """Whether orjson's ``data`` may hold a float the standard encoder spells otherwise.

    orjson writes the standard spelling of every float but those below 1e-4
    (``1e-7`` for ``1e-07``, ``0.00001`` for ``1e-05``) and NaN or the
    infinities, which it writes as ``null``; the bytes are searched for those
    spellings (a match inside a string only costs the walk). With an orjson
    that spells large floats otherwise too (``1e22``), always walk.
    """
    if not _ORJSON_SPELLS_LARGE_FLOATS:
        return True
    return (
        b"null" in data
        or b"0.0000" in data
        or (b"e-" in data and _SHORT_NEGATIVE_EXPONENT.search(data) is not None)
    )


_SHORT_NEGATIVE_EXPONENT = re.compile(rb"e-[0-9](?![0-9])")
_ORJSON_SPELLS_LARGE_FLOATS = all(
    orjson.dumps(f) == json.dumps(f).encode() for f in (1e16, 1e22, -1.5e300, 1e-4, 1e-10)
)


def loads(text: str | bytes, *, strict: bool = False) -> Any:
    """The value of a JSON text (``json.JSONDecodeError`` with line and column if malformed).

    ``strict`` refuses ``NaN`` and the infinities, as JSON does (interchange
    files); JSON columns written before may hold them.
    """
    try:
        data = text.encode() if isinstance(text, str) else text
    except UnicodeEncodeError:  # a lone surrogate: the standard parser says what is wrong
        data = b""
    # Every digit made "0": a run of 19 zeros is an integer orjson may read as a float.
    if data and _LONG_RUN not in data.translate(_DIGITS_TO_ZERO):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass  # the standard parser says what is wrong (or reads NaN)
    if strict:
        return json.loads(text, parse_constant=_reject_constant)
    return json.loads(text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON value")


def _standard_only(value: Any) -> bool:
    """Whether ``value`` holds a float that orjson spells differently from ``json``."""
    kind = type(value)
    if kind is dict:
        for item in value.values():
            item_kind = type(item)
            if item_kind is str or item_kind is int or item is None or item_kind is bool:
                continue
            if _standard_only(item):
                return True
        return False
    if kind is list or kind is tuple:
        return any(_standard_only(item) for item in value)
    if kind is float:
        return not (1e-4 <= abs(value) < 1e16 or value == 0.0)
    return False

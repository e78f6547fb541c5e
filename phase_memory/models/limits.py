"""Input limits: one rule set, checked by the models where data comes in.

Every limit is chosen so that whatever a write accepts, every reader on every
adapter reads back: the JSON parsers under the stores stop at a nesting depth
(pydantic-core's, reading SQLite and PostgreSQL JSON columns, at 200 levels;
orjson at 254; SQLite's JSON functions at 1000), so payloads stay far below
the shallowest of them, with room for the records the library wraps around a
caller's JSON (an exported event line wraps the payload, which wraps a node,
which wraps its attributes).

==========================  ===========================================================
limit                       rule
==========================  ===========================================================
``MAX_ID_LENGTH``           identifiers: at most 200 characters
``MAX_JSON_DEPTH``          attributes, params, details: at most 64 levels of nesting
``MAX_PAYLOAD_DEPTH``       an event payload: at most 72 levels (64 + room for a record)
``MAX_STRING_LENGTH``       any text field and any string or key inside JSON: 1,000,000
                            characters
``MAX_PAYLOAD_BYTES``       an event payload as compact UTF-8 JSON: 16 MiB
``MAX_LINE_BYTES``          a line of an imported JSONL file: 64 MiB
``MIN_INTEGER`` ..          positions and the integers compared with them (``after``,
``MAX_INTEGER``             ``until``, ``limit``, ``expected_position``): 64-bit signed,
                            -2**63 .. 2**63 - 1
``MAX_VERSION``             a node's ``version`` and an event's ``schema_version``:
                            2**31 - 1 (PostgreSQL stores them as INTEGER)
``MAX_ACTIVATION_BUDGET``   items an activation may return: 10,000
==========================  ===========================================================

Depth counts containers: ``{}`` is one level, ``{"a": [1]}`` two.

No string or key inside JSON may hold a lone surrogate (text with no UTF-8 form,
which no UTF-8 driver can send): :func:`json_problem` refuses it for every adapter.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterator
from typing import Annotated, Any

import orjson
from pydantic import BeforeValidator, StringConstraints, ValidationInfo
from pydantic_core import to_json

from phase_memory.errors import LimitExceededError, ValidationError

MAX_ID_LENGTH = 200
MAX_JSON_DEPTH = 64
MAX_PAYLOAD_DEPTH = 72
MAX_STRING_LENGTH = 1_000_000
MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
MAX_LINE_BYTES = 64 * 1024 * 1024
MIN_INTEGER = -(2**63)
MAX_INTEGER = 2**63 - 1
MAX_VERSION = 2**31 - 1
MAX_ACTIVATION_BUDGET = 10_000

# An upper bound of the encoded size of one character of a string (``\u001f``)
# and of any scalar or separator; the exact size is computed only when this
# bound is over the limit, so ordinary payloads are never encoded twice.
_BYTES_PER_CHAR = 6
_BYTES_PER_ITEM = 32
_SCALARS = (int, float, bool, type(None))

_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 80  # an error names a value, never all of a huge one


def shown(value: Any) -> str:
    """``repr(value)`` for an error message: long strings and containers cut short."""
    return _SHOWN.repr(value)


def has_utf8_form(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8 (holds no lone surrogate, U+D800..U+DFFF)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _DepthExceeded(Exception):
    """Raised inside :func:`_measure` to stop at the first level over the limit."""


def _measure(container: Any, depth: int, max_depth: int) -> tuple[int, int]:
    """Characters of the strings and keys, and number of values, in ``container``.

    Recursive on purpose (it stops at ``max_depth``, far below Python's limit):
    this runs for every payload and attributes validated, read-backs included,
    and a plain recursive walk is the cheapest in Python.
    """
    if depth > max_depth:
        raise _DepthExceeded
    chars = items = 0
    if isinstance(container, dict):
        for key in container:
            if type(key) is str:
                chars += len(key)
        values: Any = container.values()
    else:
        values = container
    for item in values:
        items += 1
        kind = type(item)
        if kind is str:
            chars += len(item)
        elif kind not in _SCALARS and isinstance(item, dict | list | tuple):
            inner_chars, inner_items = _measure(item, depth + 1, max_depth)
            chars += inner_chars
            items += inner_items
    return chars, items


def _strings(container: Any) -> Iterator[str]:
    """Every string and key in ``container``, at any depth (below the depth limit)."""
    stack = [container]
    while stack:
        current = stack.pop()
        values = list(current.values()) + list(current) if isinstance(current, dict) else current
        for item in values:
            if isinstance(item, str):
                yield item
            elif isinstance(item, dict | list | tuple):
                stack.append(item)


def _longest_string(container: Any) -> int:
    """The length of the longest string or key in ``container``."""
    return max(map(len, _strings(container)), default=0)


def _lone_surrogate(container: Any) -> bool:
    """Whether a string or key in ``container`` has no UTF-8 form (holds a lone surrogate)."""
    return not all(map(has_utf8_form, _strings(container)))


def within_json(
    value: Any, *, max_depth: int = MAX_JSON_DEPTH, max_bytes: int | None = None
) -> bytes | None:
    """orjson's bytes of ``value`` when they show it within every limit, else None.

    orjson encodes it (in C, several times faster than the walk of
    :func:`json_problem`, which every payload appended and every attributes
    object validated would pay). No string or key can be longer than the whole
    text, no nesting deeper than its count of opening brackets (brackets
    inside strings only add to the count), and the compact text the size limit
    counts is never twice the size of orjson's (they differ at most in the
    spelling of a float). None: the text could break a limit, or orjson refuses
    the value; :func:`json_problem` then walks it exactly. A writer stores
    these bytes (see :func:`phase_memory.json_codec.text_of`): one encoding
    serves the check and the row.
    """
    try:
        encoded = orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError: big integers, odd keys, nesting past 254
        return None
    size = len(encoded)
    if (
        size <= MAX_STRING_LENGTH
        and (max_bytes is None or 2 * size <= max_bytes)
        and encoded.count(b"{") + encoded.count(b"[") <= max_depth
    ):
        return encoded
    return None


def json_problem(
    value: Any, *, max_depth: int = MAX_JSON_DEPTH, max_bytes: int | None = None
) -> str | None:
    """Which limit ``value`` (JSON-like data) breaks, or ``None`` when it breaks none."""
    if not isinstance(value, dict | list | tuple):
        return None
    if within_json(value, max_depth=max_depth, max_bytes=max_bytes) is not None:
        return None
    try:
        chars, items = _measure(value, 1, max_depth)
    except _DepthExceeded:
        name = "MAX_PAYLOAD_DEPTH" if max_depth == MAX_PAYLOAD_DEPTH else "MAX_JSON_DEPTH"
        return f"is nested deeper than the limit of {max_depth} levels ({name})"
    # No single string can be longer than all of them together.
    if chars > MAX_STRING_LENGTH and _longest_string(value) > MAX_STRING_LENGTH:
        return (f"holds a string longer than the limit of {MAX_STRING_LENGTH} characters "
                "(MAX_STRING_LENGTH)")
    # Text no UTF-8 driver can send would be refused by some adapters only: refused
    # here, before any adapter, so all of them agree (orjson refused it above).
    if _lone_surrogate(value):
        return "holds text with no UTF-8 form (a lone surrogate, U+D800..U+DFFF)"
    bound = _BYTES_PER_CHAR * chars + _BYTES_PER_ITEM * (items + 1)
    if max_bytes is not None and bound > max_bytes:
        size = len(to_json(value))
        if size > max_bytes:
            return (f"is {size} bytes of JSON, over the limit of {max_bytes} bytes "
                    "(MAX_PAYLOAD_BYTES)")
    return None


STORED: dict[str, bool] = {"phase_memory.stored": True}
"""Validation context for records read back from storage (``validate_*(..., context=STORED)``).

They passed these limits when they were written; walking every payload again
on every read cost about 40 % of a replay. Readers read back whatever is stored.
"""


def _json_checker(max_depth: int, max_bytes: int | None) -> Any:
    def check(value: Any, info: ValidationInfo) -> Any:
        if info.context is STORED:
            return value
        problem = json_problem(value, max_depth=max_depth, max_bytes=max_bytes)
        if problem is not None:
            raise ValueError(problem)
        return value

    return check


def check_text(name: str, value: str) -> None:
    """Refuse text with no UTF-8 form (a lone surrogate), naming it: ``ValidationError``.

    For text a caller hands over as it is (a query, an id that is hashed): the
    models' text fields refuse such text themselves. No UTF-8 driver can send
    it, so without this an SQL store would refuse it and the in-memory one not.
    """
    if not has_utf8_form(value):
        raise ValidationError(
            f"{name} {shown(value)} is not valid text: it holds a lone surrogate "
            "(U+D800..U+DFFF)"
        )


def int64_problem(name: str, value: object) -> str | None:
    """Why ``value`` (named ``name``) is not a storable 64-bit integer, or ``None``."""
    if isinstance(value, int) and not isinstance(value, bool) and not (
        MIN_INTEGER <= value <= MAX_INTEGER
    ):
        return (f"{name} is {value}, outside the 64-bit integer range "
                f"{MIN_INTEGER}..{MAX_INTEGER} (MAX_INTEGER)")
    return None


def version_problem(name: str, value: object) -> str | None:
    """Why ``value`` (a version named ``name``) is outside 0..:data:`MAX_VERSION`, or ``None``."""
    if isinstance(value, int) and not isinstance(value, bool) and not 0 <= value <= MAX_VERSION:
        return f"{name} is {value}, outside the range 0..{MAX_VERSION} (MAX_VERSION)"
    return None


def next_version(name: str, version: int) -> int:
    """``version + 1``: the version a change of a record at ``version`` gives it.

    Raises :class:`~phase_memory.errors.LimitExceededError` naming ``name`` when
    that is past :data:`MAX_VERSION` (every increment of a node's version goes
    through here, so none stores a version its readers refuse).
    """
    problem = version_problem(name, version + 1)
    if problem is not None:
        raise LimitExceededError(problem)
    return version + 1


def check_int64(**values: object) -> None:
    """Refuse any of ``values`` (by name) outside the 64-bit range, naming it.

    Raises :class:`~phase_memory.errors.LimitExceededError`; the stores call it on
    the integers a caller hands them (``after``, ``until``, ``limit``, versions).
    """
    for name, value in values.items():
        problem = int64_problem(name, value)
        if problem is not None:
            raise LimitExceededError(problem)


LimitedJson = BeforeValidator(_json_checker(MAX_JSON_DEPTH, None))
"""The depth and string limits of attributes, params and details (before parsing)."""

LimitedPayload = BeforeValidator(_json_checker(MAX_PAYLOAD_DEPTH, MAX_PAYLOAD_BYTES))
"""The depth, string and size limits of an event payload (before parsing)."""

Text = Annotated[str, StringConstraints(max_length=MAX_STRING_LENGTH)]
"""A text field: at most :data:`MAX_STRING_LENGTH` characters."""


__all__ = [
    "MAX_ACTIVATION_BUDGET",
    "MAX_ID_LENGTH",
    "MAX_INTEGER",
    "MAX_JSON_DEPTH",
    "MAX_LINE_BYTES",
    "MAX_PAYLOAD_BYTES",
    "MAX_PAYLOAD_DEPTH",
    "MAX_STRING_LENGTH",
    "MAX_VERSION",
    "MIN_INTEGER",
    "LimitedJson",
    "LimitedPayload",
    "Text",
    "check_int64",
    "check_text",
    "has_utf8_form",
    "int64_problem",
    "json_problem",
    "next_version",
    "shown",
    "version_problem",
    "within_json",
]

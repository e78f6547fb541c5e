"""Checkpoint values as readable JSON, without base64 bloat.

A value that is plain JSON (strings, finite numbers, booleans, null, lists and
string-keyed objects) is stored as it is, so ``sqlite3`` and ``jq`` read it.
Anything else goes through the saver's serializer (LangGraph's
``JsonPlusSerializer`` by default), whose msgpack bytes are *transcoded* into
JSON: msgpack maps, arrays, strings and numbers become their JSON selves, an
extension value (a LangChain message, a pydantic model, a dataclass) becomes
``{"$lg.ext": code, "v": ...}`` with its fields readable inside, and only
true binary data (``bytes`` values) is base85 text. Decoding packs the JSON
back into the very same msgpack bytes (checked when encoding: when they would
differ, the bytes are kept whole as base85) and hands them to the serializer.

Every tag is a key starting with ``$lg``; an object of the caller's own that
has such a key takes the serializer route, so tags are never ambiguous.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping
from typing import Any

import ormsgpack
from langgraph.checkpoint.serde.base import SerializerProtocol

TAG = "$lg"
"""The key of a tagged (non-plain) stored value."""
_MSGPACK_OPTIONS = ormsgpack.OPT_NON_STR_KEYS
_MAX_INT = 2**63 - 1
JsonDict = dict[str, Any]


def encode(serde: SerializerProtocol, value: Any) -> Any:
    """``value`` as JSON: itself when plain, else its serializer form, transcoded."""
    if is_plain(value):
        return value
    return _encoded_other(serde, value)


def encode_values(serde: SerializerProtocol, mapping: Mapping[Any, Any]) -> tuple[JsonDict, bool]:
    """:func:`encode` of each value of ``mapping`` (keys as text), and whether any was tagged.

    Tagged: not plain, so stored in its serializer form (a ``$lg`` object to decode).
    """
    encoded: JsonDict = {}
    tagged = False
    for key, value in mapping.items():
        if not is_plain(value):
            value = _encoded_other(serde, value)
            tagged = True
        encoded[key if type(key) is str else str(key)] = value
    return encoded, tagged


def _encoded_other(serde: SerializerProtocol, value: Any) -> JsonDict:
    """A value that is not plain, in its serializer's form, transcoded (tagged)."""
    type_, data = serde.dumps_typed(value)
    if type_ == "msgpack":
        transcoded = _transcode(data)
        if transcoded is not None:
            return {TAG: "msgpack", "v": transcoded}
    return {TAG: "bytes", "type": type_, "b85": base64.b85encode(data).decode("ascii")}


def decode(serde: SerializerProtocol, stored: Any) -> Any:
    """The value :func:`encode` stored."""
    if not (isinstance(stored, dict) and TAG in stored):
        return stored
    if stored[TAG] == "msgpack":
        data = ormsgpack.packb(_from_json(stored["v"]), option=_MSGPACK_OPTIONS)
        return serde.loads_typed(("msgpack", data))
    return serde.loads_typed((stored["type"], base64.b85decode(stored["b85"])))


def is_plain(value: Any) -> bool:
    """Whether ``value`` is JSON that every adapter stores and reads back unchanged.

    Exact types only: a subclass (a ``str`` enum, a ``dict`` subclass) would
    come back as its base type, so it takes the serializer's route.
    """
    kind = type(value)
    if kind is dict:
        return _plain_dict(value)
    if kind is list:
        return _plain_items(value)
    return _plain_scalar(value)


# Runs over every value of every checkpoint put: one call per object or array, the
# scalars in them checked inline (a call per string cost more than the check).


def _plain_dict(value: dict[Any, Any]) -> bool:
    for key in value:
        if type(key) is not str or key.startswith(TAG):
            return False
    return _plain_items(value.values())


def _plain_items(items: Iterable[Any]) -> bool:
    for item in items:
        kind = type(item)
        if kind is str:
            if "\x00" in item:  # PostgreSQL's jsonb refuses NUL characters
                return False
        elif kind is dict:
            if not _plain_dict(item):
                return False
        elif kind is list:
            if not _plain_items(item):
                return False
        elif not (item is None or kind is bool or _plain_scalar(item)):
            return False
    return True


def _plain_scalar(value: Any) -> bool:
    kind = type(value)
    if kind is str:
        return "\x00" not in value  # PostgreSQL's jsonb refuses NUL characters
    if kind is int:
        return bool(-_MAX_INT <= value <= _MAX_INT)
    if kind is float:
        return math.isfinite(value)
    return value is None or kind is bool


class _Ext:
    """A msgpack extension value met while unpacking: its code and unpacked body."""

    __slots__ = ("body", "code")

    def __init__(self, code: int, body: Any) -> None:
        self.code = code
        self.body = body


def _unpack_ext(code: int, data: bytes) -> Any:
    return _Ext(code, ormsgpack.unpackb(data, ext_hook=_unpack_ext, option=_MSGPACK_OPTIONS))


def _transcode(data: bytes) -> Any | None:
    """msgpack bytes as JSON (None when they would not pack back to the same bytes)."""
    try:
        unpacked = ormsgpack.unpackb(data, ext_hook=_unpack_ext, option=_MSGPACK_OPTIONS)
        as_json = _to_json(unpacked)
        again = ormsgpack.packb(_from_json(as_json), option=_MSGPACK_OPTIONS)
    except (ValueError, TypeError, OverflowError):
        return None
    return as_json if again == data else None


def _to_json(value: Any) -> Any:
    if isinstance(value, _Ext):
        return {f"{TAG}.ext": value.code, "v": _to_json(value.body)}
    if isinstance(value, bytes):
        return {f"{TAG}.bytes": base64.b85encode(value).decode("ascii")}
    if isinstance(value, list):
        return [_to_json(item) for item in value]
    if isinstance(value, dict):
        if all(type(k) is str and not k.startswith(TAG) for k in value):
            return {k: _to_json(v) for k, v in value.items()}
        return {f"{TAG}.map": [[_to_json(k), _to_json(v)] for k, v in value.items()]}
    if isinstance(value, float) and not math.isfinite(value):
        return {f"{TAG}.float": repr(value)}
    if isinstance(value, str) and "\x00" in value:
        return {f"{TAG}.str": base64.b85encode(value.encode("utf-8")).decode("ascii")}
    if isinstance(value, int) and not -_MAX_INT <= value <= _MAX_INT:
        return {f"{TAG}.int": str(value)}
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    if not isinstance(value, dict):
        return value
    if f"{TAG}.ext" in value:
        body = ormsgpack.packb(_from_json(value["v"]), option=_MSGPACK_OPTIONS)
        return ormsgpack.Ext(value[f"{TAG}.ext"], body)
    if f"{TAG}.bytes" in value:
        return base64.b85decode(value[f"{TAG}.bytes"])
    if f"{TAG}.map" in value:
        return {_from_json(k): _from_json(v) for k, v in value[f"{TAG}.map"]}
    if f"{TAG}.float" in value:
        return float(value[f"{TAG}.float"])
    if f"{TAG}.str" in value:
        return base64.b85decode(value[f"{TAG}.str"]).decode("utf-8")
    if f"{TAG}.int" in value:
        return int(value[f"{TAG}.int"])
    return {k: _from_json(v) for k, v in value.items()}


__all__ = ["TAG", "decode", "encode", "encode_values", "is_plain"]

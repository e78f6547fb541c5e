"""The interchange formats: envelope and workspace models, canonical JSON text.

Every file phase-memory writes is *canonical*: keys sorted, UTF-8 (no ``\\u``
escapes for non-ASCII text), timestamps RFC 3339 UTC with ``Z``. JSON
documents use a two-space indent and end with a newline; JSONL files hold one
compact JSON value per line, each line ending with a newline. The same data
therefore always gives the same bytes.
"""

from __future__ import annotations

import json
import json.encoder
from typing import Any, Literal

from pydantic import Field

from phase_memory.errors import ValidationError
from phase_memory.models import MemoryEdge, MemoryNode, MemoryPath, Profile
from phase_memory.models.base import DomainModel
from phase_memory.models.ids import UtcDatetime, utc_now
from phase_memory.version import __version__

ENVELOPE_NAME = "markitect.graph"
ENVELOPE_SCHEMA_VERSION = 1
ENVELOPE_ARRAYS = ("profiles", "nodes", "edges", "paths")
"""The record arrays of an envelope, in the order an import writes them."""

WORKSPACE_FORMAT = "phase-memory.workspace"
WORKSPACE_FORMAT_VERSION = 1

RECORDS_PER_IMPORT_EVENT = 1000
"""Records carried by one ``graph.imported`` event."""


def generator() -> str:
    """The ``generator`` written into envelopes: ``phase-memory <version>``."""
    return f"phase-memory {__version__}"


class GraphEnvelope(DomainModel):
    """A Markitect graph envelope: a whole graph (or one profile of it) in one JSON document.

    Arrays are sorted by ``id``. Missing arrays read as empty.
    """

    envelope: Literal["markitect.graph"]
    schema_version: Literal[1]
    generator: str = ""
    profiles: list[Profile] = Field(default_factory=list)
    nodes: list[MemoryNode] = Field(default_factory=list)
    edges: list[MemoryEdge] = Field(default_factory=list)
    paths: list[MemoryPath] = Field(default_factory=list)


class EnvelopeHeader(DomainModel):
    """The scalar members of an envelope (validated apart from the record arrays)."""

    envelope: str
    schema_version: int
    generator: str = ""


class WorkspaceCounts(DomainModel):
    """How many records each file of a workspace holds."""

    profiles: int = 0
    nodes: int = 0
    edges: int = 0
    paths: int = 0
    events: int = 0
    audit_records: int = 0
    activation_plans: int = 0


class WorkspaceMetadata(DomainModel):
    """``metadata.json`` of a workspace directory.

    ``exported_at`` is the only field that depends on when the export ran.
    """

    format: Literal["phase-memory.workspace"]
    format_version: Literal[1]
    generator: str = ""
    exported_at: UtcDatetime = Field(default_factory=utc_now)
    envelope_schema_version: int = ENVELOPE_SCHEMA_VERSION
    counts: WorkspaceCounts = Field(default_factory=WorkspaceCounts)


def _dumps(value: Any, **kwargs: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False, **kwargs)
    except ValueError as exc:  # NaN or infinity stored in attributes or a payload
        raise ValidationError(f"cannot write canonical JSON: {exc}") from None


def canonical_document(value: Any) -> str:
    """A JSON document: sorted keys, two-space indent, UTF-8, trailing newline."""
    return _dumps(value, indent=2) + "\n"


def canonical_line(value: Any) -> str:
    """One JSONL line: compact, sorted keys, UTF-8, ending with a newline."""
    return _dumps(value, separators=(",", ":")) + "\n"


def canonical_nested(value: Any, depth: int) -> str:
    """``value`` as it appears ``depth`` levels deep in a :func:`canonical_document`.

    The same text as ``json.dumps(value, sort_keys=True, indent=2,
    ensure_ascii=False)`` re-indented, but built by :func:`_indented` (the
    standard library's encoder is pure Python once ``indent`` is given, and
    exports write millions of records this way). Values the fast encoder does
    not know (non-string keys, other types) go through ``json.dumps`` itself.
    """
    try:
        return _indented(value, "\n" + "  " * depth)
    except (_Unusual, TypeError):  # TypeError: keys that do not sort
        return _dumps(value, indent=2).replace("\n", "\n" + "  " * depth)


class _Unusual(Exception):
    """A value :func:`_indented` leaves to ``json.dumps``."""


_encode_str: Any = json.encoder.encode_basestring  # the C encoder when available


def _indented(value: Any, newline: str) -> str:
    """JSON text of ``value`` at the indentation ``newline`` (a newline and spaces).

    Follows :class:`json.JSONEncoder` exactly: strings (and keys) by the same
    escaping function, ``int.__repr__``/``float.__repr__`` for numbers, keys
    sorted, separators ``","`` and ``": "``. NaN, infinities and keys that are
    not strings are left to ``json.dumps`` (:class:`_Unusual`, or the
    ``TypeError`` of the escaping function).
    """
    cls = type(value)
    if cls is dict:
        if not value:
            return "{}"
        inner = newline + "  "
        parts: list[str] = []
        append = parts.append
        for key in sorted(value):
            item = value[key]
            kind = type(item)
            if kind is str:
                append(_encode_str(key) + ": " + _encode_str(item))
            elif kind is int:
                append(_encode_str(key) + ": " + int.__repr__(item))
            elif kind is float and -_INF < item < _INF:
                append(_encode_str(key) + ": " + float.__repr__(item))
            else:
                append(_encode_str(key) + ": " + _indented(item, inner))
        return "{" + inner + ("," + inner).join(parts) + newline + "}"
    if cls is str:
        return _encode_str(value)  # type: ignore[no-any-return]
    if cls is list or cls is tuple:
        if not value:
            return "[]"
        inner = newline + "  "
        return "[" + inner + ("," + inner).join([_indented(v, inner) for v in value]) + (
            newline + "]")
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if cls is int:
        return int.__repr__(value)
    if cls is float and -_INF < value < _INF:
        return float.__repr__(value)
    raise _Unusual  # NaN, infinities, other types: json.dumps says what is wrong


_INF = float("inf")


def reject_constant(name: str) -> Any:
    """``parse_constant`` hook: NaN and infinities are not JSON."""
    raise ValueError(f"{name} is not a valid JSON value")

"""The interchange formats: envelope and workspace models, canonical JSON text.

Every file phase-memory writes is *canonical*: keys sorted, UTF-8 (no ``\\u``
escapes for non-ASCII text), timestamps RFC 3339 UTC with ``Z``. JSON
documents use a two-space indent and end with a newline; JSONL files hold one
compact JSON value per line, each line ending with a newline. The same data
therefore always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from phase_memory import json_codec
from phase_memory.errors import ValidationError
from phase_memory.models import MemoryEdge, MemoryNode, MemoryPath, Profile
from phase_memory.models.base import DomainModel
from phase_memory.models.ids import UtcDatetime, utc_now
from phase_memory.version import __version__

ENVELOPE_NAME = "markitect.graph"
ENVELOPE_SCHEMA_VERSION = 2
"""The version exports write: 2 added ``valid_from`` / ``valid_to`` on nodes and edges."""
READABLE_ENVELOPE_VERSIONS = frozenset({1, 2})
"""The versions imports read (a version 1 file has no valid times: all valid from creation)."""
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
    schema_version: Literal[1, 2]
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


def canonical_document(value: Any) -> str:
    """A JSON document: sorted keys, two-space indent, UTF-8, trailing newline."""
    return _checked(json_codec.dumps_indented, value) + "\n"


def canonical_line(value: Any) -> str:
    """One JSONL line: compact, sorted keys, UTF-8, ending with a newline."""
    return _checked(_sorted_compact, value) + "\n"


def canonical_nested(value: Any, depth: int) -> str:
    """``value`` as it appears ``depth`` levels deep in a :func:`canonical_document`.

    The text of ``json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False)``
    re-indented (written by orjson, see :mod:`phase_memory.json_codec`).
    """
    return _checked(json_codec.dumps_indented, value).replace("\n", "\n" + "  " * depth)


def _sorted_compact(value: Any) -> str:
    return json_codec.dumps(value, sort_keys=True)


def _checked(encode: Callable[[Any], str], value: Any) -> str:
    try:
        return encode(value)
    except ValueError as exc:  # NaN or infinity stored in attributes or a payload
        raise ValidationError(f"cannot write canonical JSON: {exc}") from None


def reject_constant(name: str) -> Any:
    """``parse_constant`` hook: NaN and infinities are not JSON."""
    raise ValueError(f"{name} is not a valid JSON value")

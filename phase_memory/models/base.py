"""The base class of every domain model and the enums of the domain."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, JsonValue

from phase_memory.models.limits import LimitedJson, LimitedPayload

JsonObject = Annotated[dict[str, JsonValue], LimitedJson]
"""A JSON object (``attributes``, ``params``, ``details``), within the depth and string limits."""

PayloadObject = Annotated[dict[str, JsonValue], LimitedPayload]
"""An event ``payload``: a JSON object within the payload depth, size and string limits."""


class DomainModel(BaseModel):
    """Immutable, strict-shaped pydantic model: unknown fields are an error."""

    # cache_strings="keys": pydantic-core would otherwise look every short string
    # value up in its cache; ids, labels and contents are nearly all distinct, so
    # the lookups rarely hit and made reading JSON records about 15 % slower.
    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_default=False, cache_strings="keys"
    )

    def to_json_dict(self) -> dict[str, Any]:
        """The model as plain JSON-compatible data (timestamps as RFC 3339 strings)."""
        return self.model_dump(mode="json")


class Sensitivity(StrEnum):
    """How sensitive a node is; ordered from least to most sensitive."""

    PUBLIC = "public"
    INTERNAL = "internal"
    PRIVATE = "private"
    SECRET = "secret"

    @property
    def level(self) -> int:
        """Position in the order public < internal < private < secret."""
        return _SENSITIVITY_ORDER.index(self)


_SENSITIVITY_ORDER = list(Sensitivity)


class NodeState(StrEnum):
    """Lifecycle state of a node."""

    ACTIVE = "active"
    ARCHIVED = "archived"
    FORGOTTEN = "forgotten"


class PathStatus(StrEnum):
    """Status of a conversational path."""

    OPEN = "open"
    MERGED = "merged"
    ABANDONED = "abandoned"


class CompactionStatus(StrEnum):
    """Whether a path has been compacted into a summary node."""

    NONE = "none"
    COMPACTED = "compacted"


class LifecycleKind(StrEnum):
    """The lifecycle actions that :meth:`PhaseMemoryRuntime.apply` understands."""

    ARCHIVE = "archive"
    RESTORE = "restore"
    FORGET = "forget"
    MERGE_NODES = "merge_nodes"
    REWEIGHT = "reweight"
    COMPACT_PATH = "compact_path"


class AuditOutcome(StrEnum):
    """What happened to an audited operation."""

    APPLIED = "applied"
    DENIED = "denied"
    IMPORTED = "imported"
    EXPORTED = "exported"
    MIGRATED = "migrated"
    FAILED = "failed"

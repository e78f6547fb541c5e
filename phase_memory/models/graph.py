"""Nodes and edges of the memory graph."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol, TypeAlias, TypeGuard

from pydantic import Field, model_validator

from phase_memory.errors import ValidationError
from phase_memory.models.base import DomainModel, JsonObject, NodeState, Sensitivity
from phase_memory.models.ids import Identifier, Kind, UtcDatetime, new_id, utc_now
from phase_memory.models.limits import MAX_VERSION, Text, has_utf8_form

NAME_ATTRIBUTE = "mcp_name"
"""The node attribute holding a name that identifies the node within its profile.

MCP memory entities keep their ``name`` there (see
:mod:`phase_memory.interchange.mcp_format`); stores index it, so
:meth:`~phase_memory.protocols.MemoryGraphStore.find_nodes_by_name` finds a
node from its name without the id being derived from the name.
"""


def is_name(value: object) -> TypeGuard[str]:
    """Whether ``value`` can name a node (:data:`NAME_ATTRIBUTE`) that stores find by it.

    Text, without NUL (SQLite's JSON functions cut text there, PostgreSQL's
    jsonb refuses it) and with a UTF-8 form (no lone surrogate): on every
    adapter alike, a node whose name breaks this is never found by it.
    """
    return isinstance(value, str) and "\x00" not in value and has_utf8_form(value)


class Timed(Protocol):
    """A record with valid time (a node or an edge)."""

    @property
    def created_at(self) -> datetime: ...

    @property
    def valid_from(self) -> datetime | None: ...

    @property
    def valid_to(self) -> datetime | None: ...


def effective_from(record: Timed) -> datetime:
    """Where a record's valid time starts: ``valid_from``, else when it was recorded.

    Valid time is half-open, ``effective_from <= t < valid_to``; an omitted
    ``valid_to`` is open-ended. An empty interval (``valid_to`` equal to the
    start) is what a correction leaves of a fact that never held.
    """
    return record.valid_from if record.valid_from is not None else record.created_at


def valid_at(record: Timed, at: datetime) -> bool:
    """Whether ``record`` holds in the world at ``at``."""
    return effective_from(record) <= at and (record.valid_to is None or at < record.valid_to)


ValidAt: TypeAlias = datetime | Literal["now", "any"]
"""Which facts a listing returns: those valid ``"now"`` (the default), valid at a
timezone-aware datetime, or ``"any"`` (every version, superseded ones included)."""


def resolve_valid_at(valid_at: ValidAt) -> datetime | None:
    """The instant a listing filters on (None for ``"any"``); refuses anything else."""
    if valid_at == "now":
        return utc_now()
    if valid_at == "any":
        return None
    if isinstance(valid_at, datetime) and valid_at.utcoffset() is not None:
        return valid_at
    raise ValidationError(
        f"valid_at must be 'now', 'any' or a timezone-aware datetime, not {valid_at!r}"
    )


def check_interval(record: Timed) -> None:
    """Refuse ``valid_to`` before ``valid_from`` (ValueError: a validation error)."""
    if (
        record.valid_from is not None
        and record.valid_to is not None
        and record.valid_to < record.valid_from
    ):
        raise ValueError("valid_to must not be before valid_from")


class ValidTime:
    """What nodes and edges share of valid time: the interval check and its queries.

    A mixin of methods only: each model declares ``valid_from`` and
    ``valid_to`` itself, so its fields keep their order (and its JSON its shape).
    """

    __slots__ = ()

    @model_validator(mode="after")
    def _ordered(self: Timed) -> Timed:
        check_interval(self)
        return self

    @property
    def effective_from(self: Timed) -> datetime:
        """Where the record's valid time starts: ``valid_from``, else ``created_at``."""
        return effective_from(self)

    def valid_at(self: Timed, at: datetime) -> bool:
        """Whether the record holds at ``at`` (``effective_from <= at < valid_to``)."""
        return valid_at(self, at)


class MemoryNode(ValidTime, DomainModel):
    """One memory: a fact, preference, episode or summary.

    ``version`` counts saves (1 after the first); stores assign it.
    """

    id: Identifier = Field(default_factory=new_id)
    profile_id: Identifier
    kind: Kind
    label: Text
    content: Text | None = None
    attributes: JsonObject = Field(default_factory=dict)
    salience: float = Field(default=0.5, ge=0.0, le=1.0)
    sensitivity: Sensitivity = Sensitivity.INTERNAL
    state: NodeState = NodeState.ACTIVE
    created_at: UtcDatetime = Field(default_factory=utc_now)
    updated_at: UtcDatetime = Field(default_factory=utc_now)
    version: int = Field(default=0, ge=0, le=MAX_VERSION)
    valid_from: UtcDatetime | None = None
    """When the fact starts to hold in the world; None: from ``created_at``."""
    valid_to: UtcDatetime | None = None
    """When it stops holding (exclusive); None: open-ended."""


class MemoryEdge(ValidTime, DomainModel):
    """A directed, weighted relation between two nodes of the same profile."""

    id: Identifier = Field(default_factory=new_id)
    profile_id: Identifier
    source_id: Identifier
    target_id: Identifier
    kind: Kind
    weight: float = 1.0
    attributes: JsonObject = Field(default_factory=dict)
    created_at: UtcDatetime = Field(default_factory=utc_now)
    updated_at: UtcDatetime = Field(default_factory=utc_now)
    valid_from: UtcDatetime | None = None
    """When the relation starts to hold in the world; None: from ``created_at``."""
    valid_to: UtcDatetime | None = None
    """When it stops holding (exclusive); None: open-ended."""

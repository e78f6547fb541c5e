"""The versions of one fact on both time axes (``phase-memory nodes history``)."""

from __future__ import annotations

from pydantic import Field

from phase_memory.models.base import DomainModel
from phase_memory.models.graph import MemoryEdge, MemoryNode
from phase_memory.models.ids import Identifier, UtcDatetime


class FactVersion(DomainModel):
    """One version of a node or an edge, as an event of the log left it.

    Transaction time: ``position`` and ``recorded_at`` (when the memory learned
    it). Valid time: ``valid_from`` (the effective start: the record's
    ``valid_from``, else its ``created_at``) and ``valid_to`` (None:
    open-ended). ``record`` is the node or edge after the event; None when the
    event removed it. ``superseded_by`` and ``correction`` come from a
    ``node.superseded`` / ``edge.superseded`` event.
    """

    position: int
    event_id: Identifier
    event_kind: str
    recorded_at: UtcDatetime
    valid_from: UtcDatetime | None = None
    valid_to: UtcDatetime | None = None
    record: MemoryNode | MemoryEdge | None = None
    superseded_by: Identifier | None = None
    correction: bool = False
    removed: bool = Field(default=False)

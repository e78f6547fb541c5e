"""Conversational paths: branches of a conversation's event stream."""

from __future__ import annotations

from pydantic import Field

from phase_memory.models.base import CompactionStatus, DomainModel, PathStatus
from phase_memory.models.ids import Identifier, UtcDatetime, new_id, utc_now
from phase_memory.models.limits import Text


class MemoryPath(DomainModel):
    """A stream of events; branches fork from a parent path at an event.

    ``root_path_id`` names the conversation tree the path belongs to (itself for
    a root path); at most one path per tree is ``active``.
    """

    id: Identifier = Field(default_factory=new_id)
    profile_id: Identifier
    parent_path_id: Identifier | None = None
    fork_event_id: Identifier | None = None
    root_path_id: Identifier | None = None
    status: PathStatus = PathStatus.OPEN
    active: bool = False
    merged_into_path_id: Identifier | None = None
    merge_event_id: Identifier | None = None
    abandoned_reason: Text | None = None
    compaction_status: CompactionStatus = CompactionStatus.NONE
    summary_node_id: Identifier | None = None
    created_at: UtcDatetime = Field(default_factory=utc_now)
    updated_at: UtcDatetime = Field(default_factory=utc_now)

    @property
    def tree_id(self) -> str:
        """The id of the root of this path's conversation tree."""
        return self.root_path_id or self.id

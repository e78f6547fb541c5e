"""``mem.review`` of the async runtime: the review queue's calls, awaited."""

from __future__ import annotations

from collections.abc import Sequence

from phase_memory.models import LifecycleAction
from phase_memory.runtime.async_lanes import AsyncListing, WorkerLanes
from phase_memory.runtime.lifecycle import ApplyResult
from phase_memory.runtime.review_queue import Proposal, ProposalStatus, ProposeResult
from phase_memory.runtime.runtime import PhaseMemoryRuntime


class AsyncReviewQueue:
    """The asyncio face of :class:`~phase_memory.runtime.review_queue.ReviewQueue`."""

    def __init__(self, runtime: PhaseMemoryRuntime, lanes: WorkerLanes) -> None:
        self._queue = runtime.review
        self._lanes = lanes

    async def propose(self, actions: Sequence[LifecycleAction]) -> ProposeResult:
        """Store review-required actions as proposals (targets archived), apply the others."""
        return await self._lanes.write(self._queue.propose, list(actions))

    def list(self, status: ProposalStatus | None = "pending",
             profile_id: str | None = None) -> AsyncListing[Proposal]:
        """Proposals in the order they were made; by default the pending ones only."""
        return self._lanes.listing(lambda: self._queue.list(status, profile_id))

    async def get(self, proposal_id: str) -> Proposal:
        """One proposal by id (any status)."""
        return await self._lanes.read(self._queue.get, proposal_id)

    async def approve(self, proposal_id: str, *, by: str, note: str = "") -> ApplyResult:
        """Apply a pending proposal with an approval by ``by`` (same gate and audit as apply)."""
        return await self._lanes.write(self._queue.approve, proposal_id, by=by, note=note)

    async def reject(self, proposal_id: str, *, by: str, reason: str) -> Proposal:
        """Refuse a pending proposal: restore what was archived for it, keep the decision."""
        return await self._lanes.write(self._queue.reject, proposal_id, by=by, reason=reason)


__all__ = ["AsyncReviewQueue"]

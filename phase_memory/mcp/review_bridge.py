"""``delete_entities``: an agent's deletion goes to the review queue, not straight to erasure.

The named entities become one ``forget`` proposal (:mod:`phase_memory.runtime.review_queue`):
when the profile's policy makes ``forget`` review-required (the default), they
are archived at once, so every read tool stops showing them and their
relations, and a person approves (erases) or rejects (restores) them later
with ``phase-memory review``. A profile that lets ``forget`` through has them
forgotten at once, as the official server deletes them.
"""

from __future__ import annotations

from collections.abc import Sequence

from phase_memory.mcp.knowledge_graph import live_entities
from phase_memory.models import LifecycleAction, LifecycleKind
from phase_memory.runtime.async_runtime import AsyncPhaseMemoryRuntime

DELETED = "Entities deleted successfully"


async def delete_entities(mem: AsyncPhaseMemoryRuntime, profile_id: str,
                          names: Sequence[str]) -> str:
    """Propose forgetting the live entities among ``names``; return the tool's message."""
    wanted = list(names)
    found = await mem.run_reading(lambda rt: live_entities(rt, profile_id, wanted))
    targets = sorted(node.id for node in found.values())
    if not targets:
        return DELETED
    # The reason names no entity: an approved forget erases the names from every event.
    count = f"{len(targets)} entit{'y' if len(targets) == 1 else 'ies'}"
    action = LifecycleAction(
        kind=LifecycleKind.FORGET, profile_id=profile_id, targets=targets,
        reason=f"an agent called delete_entities ({count})",
    )
    result = await mem.review.propose([action])
    if result.proposed:
        return (f"{DELETED}: hidden now and waiting for review as proposal {action.id} "
                f"(a person approves or rejects it with `phase-memory review`)")
    return DELETED


__all__ = ["DELETED", "delete_entities"]

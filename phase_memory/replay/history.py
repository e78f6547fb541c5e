"""A fact's history: every version of one node or edge, folded from the log.

The same fold as :func:`~phase_memory.replay.replay`: the log is folded in
position order into a :class:`GraphState`, and each event whose effects put or
remove the record makes a :class:`~phase_memory.models.history.FactVersion`.
"""

from __future__ import annotations

from collections.abc import Iterable

from phase_memory.models import MemoryEdge, MemoryNode, effective_from
from phase_memory.models.history import FactVersion
from phase_memory.replay.effects import PutEdge, PutNode, RemoveEdge, RemoveNode, ReplayConflict
from phase_memory.replay.fold import effects_of
from phase_memory.replay.graph_state import GraphState
from phase_memory.replay.logged_event import LoggedEvent


def fact_history(events: Iterable[LoggedEvent], record_id: str) -> list[FactVersion]:
    """Every version of node or edge ``record_id`` in the log, oldest first.

    Events the fold refuses are skipped, as :func:`replay` reports and skips them.
    """
    state = GraphState()
    versions: list[FactVersion] = []
    for event in events:
        try:
            effects = effects_of(event, state)
        except ReplayConflict:
            continue
        touched: MemoryNode | MemoryEdge | None = None
        removed = False
        for effect in effects:
            if isinstance(effect, PutNode) and effect.node.id == record_id:
                touched = effect.node
            elif isinstance(effect, PutEdge) and effect.edge.id == record_id:
                touched = effect.edge
            elif isinstance(effect, RemoveNode | RemoveEdge) and _removed_id(effect) == record_id:
                removed = True
        state.apply(effects)
        if touched is None and not removed:
            continue
        payload = event.payload_dict()
        superseding = event.kind in ("node.superseded", "edge.superseded")
        versions.append(
            FactVersion(
                position=event.position,
                event_id=event.event_id,
                event_kind=event.kind,
                recorded_at=event.occurred_at,
                valid_from=None if touched is None else effective_from(touched),
                valid_to=None if touched is None else touched.valid_to,
                record=touched,
                superseded_by=payload.get("superseded_by") if superseding else None,
                correction=bool(payload.get("correction")) if superseding else False,
                removed=removed and touched is None,
            )
        )
    return versions


def _removed_id(effect: RemoveNode | RemoveEdge) -> str:
    return effect.node_id if isinstance(effect, RemoveNode) else effect.edge_id


__all__ = ["fact_history"]

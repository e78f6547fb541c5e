"""The one fold of events into graph records, shared by replay and every adapter.

:func:`effects_of` turns one event into *effects* (put or remove one record),
looking at the current graph through a read-only :class:`GraphView`. Replay
applies the effects to an in-memory :class:`GraphState`; the runtime applies
the very same effects to the graph tables in the transaction that appends the
event. One function decides every graph effect, so the tables and a replay of
the log cannot disagree.

The package, one module per part:

- :mod:`~phase_memory.replay.effects`: the effects, the conflicts, :class:`GraphView`;
- :mod:`~phase_memory.replay.logged_event`: :class:`LoggedEvent`, the fold's input;
- :mod:`~phase_memory.replay.fold`: :func:`effects_of` and one handler per event kind;
- :mod:`~phase_memory.replay.write_rules`: the record rules every writer shares;
- :mod:`~phase_memory.replay.graph_state`: :class:`GraphState`;
- :mod:`~phase_memory.replay.log_replay`: :func:`replay`;
- :mod:`~phase_memory.replay.path_history`: :func:`effective_history`;
- :mod:`~phase_memory.replay.history`: :func:`fact_history` (a fact's versions on both time axes).
"""

from phase_memory.replay.effects import (
    Effect,
    GraphView,
    LimitReached,
    MalformedEvent,
    PutActivationPlan,
    PutEdge,
    PutNode,
    PutPath,
    PutProfile,
    RemoveEdge,
    RemoveNode,
    ReplayConflict,
)
from phase_memory.replay.fold import (
    check_edge_endpoints,
    effects_of,
    graph_imported_effects,
    merged_tombstone,
    redact_plan,
)
from phase_memory.replay.graph_state import GraphState
from phase_memory.replay.history import fact_history
from phase_memory.replay.log_replay import replay
from phase_memory.replay.logged_event import LoggedEvent
from phase_memory.replay.path_history import effective_history
from phase_memory.replay.write_rules import kind_refusal, superseded_until

__all__ = [
    "Effect",
    "GraphState",
    "GraphView",
    "LimitReached",
    "LoggedEvent",
    "MalformedEvent",
    "PutActivationPlan",
    "PutEdge",
    "PutNode",
    "PutPath",
    "PutProfile",
    "RemoveEdge",
    "RemoveNode",
    "ReplayConflict",
    "check_edge_endpoints",
    "effective_history",
    "effects_of",
    "fact_history",
    "graph_imported_effects",
    "kind_refusal",
    "merged_tombstone",
    "redact_plan",
    "replay",
    "superseded_until",
]

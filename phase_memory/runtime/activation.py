"""Activation: which memories to bring into the next turn, ranked, explained and stored.

A query is split into plain word terms (:func:`phase_memory.text_search.query_terms`;
no input is search syntax). Candidates come from the graph store's full-text
search (FTS5 bm25 on SQLite, ``ts_rank`` on PostgreSQL, a small scorer in
memory), and from its substring search of the whole query (parts of words,
Japanese inside a phrase, symbols, kinds: the trigram index) when whole words
leave part of the budget empty; a substring match counts for at most
:data:`SUBSTRING_SHARE` of a word match. Each candidate is scored
from its text relevance (relative to the best match), its salience and its
recency. The strongest matches then pull in their direct neighbours along
edges ("graph hop"). Archived and forgotten nodes never appear; nodes at or
above the profile's ``redact_at`` sensitivity appear without their content.
Only facts valid at the time asked about (now, or ``valid_at``) take part:
nodes and the edges hops follow. ``include_superseded=True`` lets facts not
valid then take part too, each saying so in its reasons.
The plan is stored by recording an ``activation.planned`` event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from phase_memory.errors import LimitExceededError, NotFoundError, ValidationError
from phase_memory.models import (
    ActivationItem,
    ActivationPlan,
    ActivationPlanned,
    MemoryEdge,
    MemoryNode,
    NodeState,
    PathStatus,
    ProfilePolicy,
    new_id,
    resolve_valid_at,
    utc_now,
)
from phase_memory.models.limits import MAX_ACTIVATION_BUDGET, check_text
from phase_memory.protocols import MemoryGraphStore, TextMatch
from phase_memory.recorder import Recorder
from phase_memory.text_search import query_terms

TEXT_WEIGHT = 0.6
"""Share of a direct match's score that comes from text relevance."""
SALIENCE_WEIGHT = 0.25
"""Share that comes from the node's salience."""
RECENCY_WEIGHT = 0.15
"""Share that comes from how recently the node was updated."""
RECENCY_HALF_LIFE_DAYS = 30.0
"""A node updated this many days ago gets half the recency of one updated now."""
HOP_SOURCES = 3
"""How many of the strongest matches pull in their neighbours."""
HOP_DECAY = 0.5
"""A neighbour's score is at most this share of the score of the match it hangs off."""
SUBSTRING_SHARE = 0.8
"""A substring-only match (no whole word of the query) scores at most this much text match."""
MAX_SUBSTRING_QUERY = 200
"""Longer queries are searched by their words only."""
MIN_CANDIDATES = 50
"""Full-text candidates fetched at least (more when the budget is large)."""
MAX_STORED_QUERY = 2000
"""Longer queries are stored cut to this many characters."""


@dataclass(frozen=True)
class _When:
    """The valid time asked about, and whether facts not valid then may take part."""

    at: datetime
    include_superseded: bool

    def admits(self, record: MemoryNode | MemoryEdge) -> bool:
        return self.include_superseded or record.valid_at(self.at)

    def note(self, record: MemoryNode | MemoryEdge, what: str) -> list[str]:
        """The reason to give for a fact returned although not valid then ([] if valid)."""
        if record.valid_at(self.at):
            return []
        if record.valid_to is not None and record.valid_to <= self.at:
            return [f"superseded {what}: valid until {record.valid_to.isoformat()}"]
        return [f"{what} not yet valid: from {record.effective_from.isoformat()}"]


@dataclass
class _Scored:
    node: MemoryNode
    score: float
    reasons: list[str] = field(default_factory=list)


def activate(
    recorder: Recorder,
    profile_id: str,
    query: str,
    *,
    budget: int | None = None,
    path_id: str | None = None,
    valid_at: datetime | None = None,
    include_superseded: bool = False,
) -> ActivationPlan:
    """Rank the profile's active memories for ``query``, store the plan and return it.

    ``budget`` defaults to the profile's ``activation_budget``. With ``path_id``
    only nodes in that path's effective history are eligible. An empty query
    (no words) gives an empty plan, which is stored too. Only nodes and edges
    valid at ``valid_at`` (default: now) are used, unless ``include_superseded``:
    then an item that is not valid then says so in its reasons.

    Everything runs in one store transaction: the ranking reads one state of
    the graph, the plan is recorded against that state, and the node lookups
    (one batch for the candidates, one for their neighbours) share its connection.
    """
    check_text("query", query)  # before any store: every adapter refuses it alike
    with recorder.store.transaction():
        return _activate(
            recorder, profile_id, query, budget=budget, path_id=path_id,
            valid_at=valid_at, include_superseded=include_superseded,
        )


def _activate(
    recorder: Recorder,
    profile_id: str,
    query: str,
    *,
    budget: int | None,
    path_id: str | None,
    valid_at: datetime | None,
    include_superseded: bool,
) -> ActivationPlan:
    store = recorder.store
    graph = store.graph
    profile = graph.get_profile(profile_id)
    policy = profile.policy
    if budget is None:
        budget = policy.activation_budget
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise ValidationError(f"budget must be a positive whole number, got {budget!r}")
    if budget > MAX_ACTIVATION_BUDGET:
        raise LimitExceededError(
            f"budget is {budget}, over the limit of {MAX_ACTIVATION_BUDGET} items "
            "(MAX_ACTIVATION_BUDGET)"
        )
    if not isinstance(query, str):
        raise ValidationError("query must be text")
    path_open = False
    eligible: set[str] | None = None
    if path_id is not None:
        path = graph.find_path(path_id)
        if path is None or path.profile_id != profile_id:
            raise NotFoundError(f"path {path_id!r} does not exist in profile {profile_id!r}")
        path_open = path.status is PathStatus.OPEN
        snapshot = store.events.replay(path_id=path_id).snapshot
        eligible = {
            node_id for node_id, node in snapshot.nodes.items()
            if node.profile_id == profile_id and node.state is NodeState.ACTIVE
        }
    now = utc_now()
    if valid_at is not None:
        at = resolve_valid_at(valid_at)
        assert at is not None
    else:
        at = now
    when = _When(at, include_superseded)
    ranked = _rank(graph, profile_id, query, budget, eligible, now, when)
    plan = ActivationPlan(
        id=new_id(),
        profile_id=profile_id,
        path_id=path_id,
        query=_storable(query),
        budget=budget,
        created_at=now,
        items=[_item(rank, scored, policy) for rank, scored in enumerate(ranked, start=1)],
    )
    planned = ActivationPlanned(plan=plan)
    event = recorder.new_event(
        "activation.planned", profile_id, planned, path_id=path_id if path_open else None
    )
    recorder.record_events([event], parsed=planned)  # the fold takes the plan as built
    return plan


def _storable(query: str) -> str:
    # NUL cannot be stored in PostgreSQL text; a huge paste is cut.
    return query.replace("\x00", "\ufffd")[:MAX_STORED_QUERY]


def _recency(node: MemoryNode, now: datetime) -> float:
    age_days = max((now - node.updated_at).total_seconds(), 0.0) / 86_400
    return math.pow(0.5, age_days / RECENCY_HALF_LIFE_DAYS)


def _usable(
    node: MemoryNode | None, profile_id: str, eligible: set[str] | None, when: _When
) -> bool:
    return (
        node is not None
        and node.profile_id == profile_id
        and node.state is NodeState.ACTIVE
        and (eligible is None or node.id in eligible)
        and when.admits(node)
    )


def _rank(
    graph: MemoryGraphStore,
    profile_id: str,
    query: str,
    budget: int,
    eligible: set[str] | None,
    now: datetime,
    when: _When,
) -> list[_Scored]:
    terms = query_terms(query)
    needle = query.strip()
    if len(needle) > MAX_SUBSTRING_QUERY:
        needle = ""  # a pasted page is searched by its words only
    if not terms and not needle:
        return []
    limit = max(MIN_CANDIDATES, budget * 4)
    if eligible is not None:
        limit = max(limit, len(eligible))
    # Whole words through the word index, then the query as a substring (parts of
    # words, CJK inside a phrase, symbols, kinds) through the trigram index.
    found: dict[str, tuple[TextMatch, float, str]] = {}

    def gather(hits: list[TextMatch], share: float, reason: str) -> None:
        best = max((m.relevance for m in hits), default=0.0)
        if best <= 0:
            return
        for match in hits:
            if match.node_id not in found:
                found[match.node_id] = (match, share * max(match.relevance, 0.0) / best, reason)

    gather(graph.search_text(profile_id, terms, limit) if terms else [], 1.0, "text match")
    # Substring hits only fill what whole words leave of the budget: they rank below
    # word matches anyway, and a topical query full of whole words needs no second search.
    if needle and len(found) < budget:
        gather(graph.search_substring(profile_id, needle, limit), SUBSTRING_SHARE,
               "substring match")
    if not found:
        return []
    matches = [m for m, _, _ in found.values()]
    # The matches carry their nodes (adapters that leave them out get one batch
    # lookup); one more batch below for every neighbour.
    candidates = {m.node_id: m.node for m in matches if m.node is not None}
    if len(candidates) < len(matches):
        candidates.update(graph.find_nodes(m.node_id for m in matches if m.node is None))
    scored: dict[str, _Scored] = {}
    for match, text, reason in found.values():
        node = candidates.get(match.node_id)
        if node is None or not _usable(node, profile_id, eligible, when):
            continue
        recency = _recency(node, now)
        score = TEXT_WEIGHT * text + SALIENCE_WEIGHT * node.salience + RECENCY_WEIGHT * recency
        scored[node.id] = _Scored(
            node, score,
            [f"{reason} {text:.2f}", f"salience {node.salience:.2f}", f"recency {recency:.2f}",
             *when.note(node, "fact")],
        )
    direct = sorted(scored.values(), key=lambda s: (-s.score, s.node.id))
    hops = [
        (source, edge, edge.target_id if edge.source_id == source.node.id else edge.source_id)
        for source in direct[:HOP_SOURCES]
        for edge in graph.edges_touching(source.node.id)
        if when.admits(edge)
    ]
    neighbours = graph.find_nodes(other_id for _, _, other_id in hops if other_id not in scored)
    for source, edge, other_id in hops:
        if other_id in scored:
            continue
        other = neighbours.get(other_id)
        if other is None or not _usable(other, profile_id, eligible, when):
            continue
        strength = min(max(edge.weight, 0.0), 1.0)
        score = HOP_DECAY * source.score * strength * (0.5 + 0.5 * other.salience)
        if score <= 0:
            continue
        scored[other_id] = _Scored(
            other, score,
            [f"graph hop from {source.node.id} via {edge.kind}",
             f"salience {other.salience:.2f}",
             *when.note(edge, "relation"), *when.note(other, "fact")],
        )
    ranked = sorted(scored.values(), key=lambda s: (-s.score, s.node.id))
    return ranked[:budget]


def _item(rank: int, scored: _Scored, policy: ProfilePolicy) -> ActivationItem:
    node = scored.node
    if node.sensitivity.level >= policy.redact_at.level:
        return ActivationItem(
            node_id=node.id, rank=rank, score=round(scored.score, 6),
            reasons=[
                *scored.reasons,
                f"redacted: sensitivity {node.sensitivity.value} is at or above "
                f"the profile's redact_at ({policy.redact_at.value})",
            ],
            redacted=True, label=node.label, content=None,
        )
    return ActivationItem(
        node_id=node.id, rank=rank, score=round(scored.score, 6), reasons=scored.reasons,
        redacted=False, label=node.label, content=node.content,
    )


__all__ = ["activate"]

"""Conformance spec of activation: ranking, graph hops, redaction, budgets, stored plans.

Every test takes the ``mem`` fixture. The corpus is a small assistant memory
about one user, Sam; the expected rankings hold on every adapter (full-text
relevance differs in detail between bm25 and the in-memory scorer, so the
corpus makes the expected memory clearly the best).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phase_memory.errors import NotFoundError, ValidationError
from phase_memory.models import (
    ActivationPlan,
    Approval,
    LifecycleAction,
    ProfilePolicy,
    Sensitivity,
)
from phase_memory.runtime.runtime import PhaseMemoryRuntime
from phase_memory.testing.builders import at, edge, node, profile

SAM = "sam"
DOOR_CODE = "4-7-1-9"

CORPUS = [
    # id, kind, label, content, salience, sensitivity
    ("pref-coffee", "preference", "Coffee order",
     "Sam drinks a flat white with oat milk and no sugar.", 0.8, "internal"),
    ("place-cafe", "place", "Blue Door Cafe",
     "The usual cafe, two streets from the office on Elm Road.", 0.5, "internal"),
    ("old-coffee", "preference", "Old coffee order",
     "Used to drink espresso with milk and two sugars.", 0.9, "internal"),
    ("pref-tea", "preference", "Evening tea",
     "Switches to chamomile tea after six in the evening.", 0.4, "internal"),
    ("fact-allergy", "fact", "Peanut allergy",
     "Allergic to peanuts; always check restaurant menus.", 0.9, "private"),
    ("pref-diet", "preference", "Diet", "Eats fish but no red meat.", 0.5, "internal"),
    ("person-partner", "person", "Partner Alex", "Alex is vegetarian and loves jazz.", 0.6,
     "internal"),
    ("event-birthday", "event", "Alex's birthday", "14 March; book a table for two.", 0.7,
     "internal"),
    ("place-office", "place", "Office", "Third floor of the Elm Road building.", 0.3,
     "internal"),
    ("project-atlas", "project", "Project Atlas",
     "Leads the Atlas migration to PostgreSQL, due in June.", 0.7, "internal"),
    ("pref-meetings", "preference", "Meeting preference",
     "No meetings before ten; prefers video off.", 0.5, "internal"),
    ("fact-running", "fact", "Morning runs", "Runs five kilometres along the river.", 0.4,
     "internal"),
    ("pref-music", "preference", "Focus music", "Lo-fi playlists while programming.", 0.3,
     "public"),
    ("secret-door", "fact", "Office door code", f"The office door code is {DOOR_CODE}.", 0.6,
     "secret"),
    ("fact-car", "fact", "Car", "Drives a blue hatchback; parking spot B12.", 0.2, "internal"),
]

LINKS = [
    ("e-coffee-cafe", "pref-coffee", "place-cafe", "usual_place"),
    ("e-coffee-old", "pref-coffee", "old-coffee", "replaces"),
    ("e-cafe-office", "place-cafe", "place-office", "near"),
    ("e-partner-birthday", "person-partner", "event-birthday", "has_event"),
    ("e-atlas-office", "project-atlas", "place-office", "located_at"),
    ("e-allergy-diet", "fact-allergy", "pref-diet", "relevant_to"),
]


def load_corpus(mem: PhaseMemoryRuntime, **policy: object) -> PhaseMemoryRuntime:
    """Profile ``sam`` with the corpus; ``old-coffee`` is archived."""
    mem.save_profile(profile(SAM, policy=ProfilePolicy.model_validate(policy)))
    for node_id, kind, label, content, salience, sensitivity in CORPUS:
        mem.save_node(
            node(
                node_id, SAM, kind=kind, label=label, content=content, salience=salience,
                sensitivity=Sensitivity(sensitivity),
            )
        )
    for edge_id, source, target, kind in LINKS:
        mem.save_edge(edge(edge_id, source, target, SAM, kind=kind))
    mem.apply([archive("old-coffee")])
    return mem


def archive(node_id: str) -> LifecycleAction:
    """A review-free action archiving one node of ``sam``."""
    return LifecycleAction.model_validate(
        {"kind": "archive", "profile_id": SAM, "targets": [node_id]}
    )


def _ids(plan: ActivationPlan) -> list[str]:
    return [item.node_id for item in plan.items]


def _item(plan: ActivationPlan, node_id: str) -> object:
    return next(item for item in plan.items if item.node_id == node_id)


def test_expected_memory_ranks_first(mem: PhaseMemoryRuntime) -> None:
    load_corpus(mem)
    cases = {
        "How do I like my coffee, with milk?": "pref-coffee",
        "is Sam allergic to anything like peanuts": "fact-allergy",
        "when is Alex's birthday?": "event-birthday",
        "what's the status of the Atlas migration": "project-atlas",
        "tea in the evening": "pref-tea",
    }
    for query, expected in cases.items():
        plan = mem.activate(SAM, query)
        assert plan.items, query
        assert plan.items[0].node_id == expected, (query, _ids(plan))
        assert plan.items[0].rank == 1
        assert any(r.startswith("text match") for r in plan.items[0].reasons)


def test_ranks_and_scores_are_ordered(mem: PhaseMemoryRuntime) -> None:
    load_corpus(mem)
    plan = mem.activate(SAM, "office cafe coffee Elm Road")
    assert [item.rank for item in plan.items] == list(range(1, len(plan.items) + 1))
    scores = [item.score for item in plan.items]
    assert scores == sorted(scores, reverse=True)


def test_a_neighbour_is_pulled_in_by_a_graph_hop(mem: PhaseMemoryRuntime) -> None:
    load_corpus(mem)
    plan = mem.activate(SAM, "How do I like my coffee, with milk?")
    assert "place-cafe" in _ids(plan)
    cafe = plan.items[_ids(plan).index("place-cafe")]
    assert any(r.startswith("graph hop") and "pref-coffee" in r for r in cafe.reasons)
    assert cafe.rank > 1


def test_secret_nodes_appear_redacted(mem: PhaseMemoryRuntime) -> None:
    load_corpus(mem)
    plan = mem.activate(SAM, "what is the office door code?")
    assert plan.items[0].node_id == "secret-door"
    secret = plan.items[0]
    assert secret.redacted and secret.content is None
    assert any(r.startswith("redacted") for r in secret.reasons)
    assert DOOR_CODE not in json.dumps(plan.model_dump(mode="json"))
    stored = mem.graph.get_activation_plan(plan.id)
    assert DOOR_CODE not in json.dumps(stored.model_dump(mode="json"))
    assert all(not item.redacted for item in plan.items[1:])


def test_redaction_threshold_follows_the_policy(mem: PhaseMemoryRuntime) -> None:
    load_corpus(mem, redact_at=Sensitivity.PRIVATE)
    plan = mem.activate(SAM, "peanut allergy")
    allergy = plan.items[0]
    assert allergy.node_id == "fact-allergy" and allergy.redacted and allergy.content is None


def test_archived_and_forgotten_nodes_never_appear(mem: PhaseMemoryRuntime) -> None:
    load_corpus(mem)
    mem.apply([
        LifecycleAction.model_validate({
            "kind": "forget", "profile_id": SAM, "targets": ["pref-tea"],
            "approval": Approval(approved_by="sam", approved_at=at(1)),
        }),
        archive("place-office"),
    ])
    for query in ("espresso sugars milk coffee", "chamomile tea evening", "office Elm Road"):
        ids = _ids(mem.activate(SAM, query))
        assert not {"old-coffee", "pref-tea", "place-office"} & set(ids), (query, ids)


def test_budget_defaults_to_the_policy_and_limits_the_plan(mem: PhaseMemoryRuntime) -> None:
    load_corpus(mem, activation_budget=3)
    plan = mem.activate(SAM, "office cafe coffee Elm Road tea Alex Atlas")
    assert plan.budget == 3 and len(plan.items) == 3
    wide = mem.activate(SAM, "office cafe coffee Elm Road tea Alex Atlas", budget=50)
    assert wide.budget == 50 and len(wide.items) > 3
    assert _ids(wide)[:3] == _ids(plan)
    one = mem.activate(SAM, "coffee", budget=1)
    assert _ids(one) == ["pref-coffee"]
    for bad in (0, -1):
        with pytest.raises(ValidationError):
            mem.activate(SAM, "coffee", budget=bad)


def test_empty_or_wordless_queries_give_empty_plans(mem: PhaseMemoryRuntime) -> None:
    load_corpus(mem)
    for query in ("", "   ", "?!", "*", '"'):
        plan = mem.activate(SAM, query)
        assert plan.items == [] and plan.query == query
        assert mem.graph.get_activation_plan(plan.id) == plan


def test_several_words_match_any_of_them(mem: PhaseMemoryRuntime) -> None:
    load_corpus(mem)
    ids = _ids(mem.activate(SAM, "jazz hatchback"))
    assert {"person-partner", "fact-car"} <= set(ids)


def test_plans_are_stored_as_events_and_listed(mem: PhaseMemoryRuntime) -> None:
    load_corpus(mem)
    before = mem.events.last_position()
    plan = mem.activate(SAM, "coffee")
    assert mem.events.last_position() == before + 1
    recorded = mem.events.list(kinds=["activation.planned"])[-1]
    assert recorded.payload["plan"] == plan.model_dump(mode="json")
    assert recorded.path_id is None
    assert plan in mem.graph.list_activation_plans(SAM)
    assert mem.graph.get_activation_plan(plan.id) == plan
    result = mem.events.replay()
    assert result.report.problems == []
    assert result.snapshot.same_records(mem.graph.snapshot())


def test_unknown_profile_or_path_is_refused(mem: PhaseMemoryRuntime) -> None:
    load_corpus(mem)
    with pytest.raises(NotFoundError):
        mem.activate("nobody", "coffee")
    with pytest.raises(NotFoundError):
        mem.activate(SAM, "coffee", path_id="no-such-path")


def test_path_limits_activation_to_its_history(mem: PhaseMemoryRuntime) -> None:
    load_corpus(mem)
    trunk = mem.paths.open(SAM)
    mem.save_node(node("trip-rome", SAM, label="Trip to Rome", content="coffee in Rome"),
                  path_id=trunk.id)
    branch = mem.paths.branch(trunk.id)
    mem.save_node(node("trip-oslo", SAM, label="Trip to Oslo", content="coffee in Oslo"),
                  path_id=branch.id)
    other = mem.paths.open(SAM)
    mem.save_node(node("trip-lima", SAM, label="Trip to Lima", content="coffee in Lima"),
                  path_id=other.id)

    on_trunk = set(_ids(mem.activate(SAM, "coffee trip", path_id=trunk.id)))
    on_branch = set(_ids(mem.activate(SAM, "coffee trip", path_id=branch.id)))
    everywhere = set(_ids(mem.activate(SAM, "coffee trip")))
    assert "pref-coffee" in on_trunk and "pref-coffee" in on_branch  # shared memory
    assert "trip-rome" in on_trunk and not {"trip-oslo", "trip-lima"} & on_trunk
    assert {"trip-rome", "trip-oslo"} <= on_branch and "trip-lima" not in on_branch
    assert {"trip-rome", "trip-oslo", "trip-lima"} <= everywhere

    plan = mem.activate(SAM, "coffee", path_id=branch.id)
    assert plan.path_id == branch.id
    assert mem.events.list(kinds=["activation.planned"])[-1].path_id == branch.id
    mem.paths.abandon(branch.id, reason="changed plans")
    closed = mem.activate(SAM, "coffee", path_id=branch.id)
    assert closed.path_id == branch.id  # the plan names the path ...
    assert mem.events.list(kinds=["activation.planned"])[-1].path_id is None  # ... not the event


_FTS_SYNTAX = st.sampled_from([
    '"', '""', "*", "coffee*", "NEAR(", "NEAR(coffee tea, 2)", "AND", "OR", "NOT", "coffee AND",
    "label:coffee", ":", "^", "^coffee", "(", ")", "{", "}", "-", "+", "'", "\\", ";", "--",
    "'; DROP TABLE nodes; --", "\x00", "café", "咖啡", "🙂 coffee", "ß", "İstanbul", "\u200b",
    "a" * 500,
])
_QUERIES = st.one_of(
    st.text(max_size=80),
    _FTS_SYNTAX,
    st.lists(st.one_of(_FTS_SYNTAX, st.text(max_size=10)), max_size=6).map(" ".join),
)


@settings(
    max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=_QUERIES)
def test_any_query_text_is_safe(mem: PhaseMemoryRuntime, query: str) -> None:
    if mem.graph.find_profile(SAM) is None:
        load_corpus(mem)
    plan = mem.activate(SAM, query, budget=5)
    assert len(plan.items) <= 5
    assert all(item.node_id not in ("old-coffee",) for item in plan.items)
    assert mem.graph.get_activation_plan(plan.id).items == plan.items

"""Conformance spec of valid time: supersession, corrections, ``valid_at`` queries on both
time axes, activation and the diagnostics of contradictions.

Every test takes the ``mem`` fixture (a runtime over the adapter under test).
The story: Ana lives in Lisbon from 2020, moves to Porto in 2023; she works at
Acme, then at Globex. ``lives_in`` and ``works_at`` are single-valued.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from phase_memory.errors import NotFoundError, ValidationError
from phase_memory.models import (
    EdgeSaved,
    MemoryEdge,
    MemoryEvent,
    MemoryNode,
    ProfilePolicy,
)
from phase_memory.runtime.runtime import PhaseMemoryRuntime
from phase_memory.testing.builders import T0, edge, node, profile

P = "ana"
SINGLE = frozenset({"lives_in", "works_at"})


def year(y: int, month: int = 1) -> datetime:
    """The first of ``month`` of year ``y``, UTC."""
    return datetime(y, month, 1, tzinfo=UTC)


def ana_story(mem: PhaseMemoryRuntime) -> None:
    """Ana's profile (``lives_in`` and ``works_at`` single-valued), her cities and employers."""
    mem.save_profile(profile(P, policy=ProfilePolicy(single_valued_edge_kinds=SINGLE)))
    for node_id, kind, label in (
        ("ana", "person", "Ana"),
        ("lisbon", "city", "Lisbon"),
        ("porto", "city", "Porto"),
        ("braga", "city", "Braga"),
        ("acme", "company", "Acme"),
        ("globex", "company", "Globex"),
    ):
        mem.save_node(node(node_id, P, kind=kind, label=label, valid_from=year(1990)))


def lives(edge_id: str, city: str, since: datetime, **fields: object) -> MemoryEdge:
    """Ana ``lives_in`` ``city`` from ``since``."""
    return edge(edge_id, "ana", city, P, kind="lives_in", valid_from=since, **fields)


def moved_story(mem: PhaseMemoryRuntime) -> None:
    """Ana lives in Lisbon from 2020, in Porto from 2023 (the save supersedes Lisbon)."""
    ana_story(mem)
    mem.save_edge(lives("e-lisbon", "lisbon", year(2020)))
    mem.save_edge(lives("e-porto", "porto", year(2023)))


def ids_of(records: list[MemoryEdge] | list[MemoryNode]) -> list[str]:
    """The records' ids, in order."""
    return [r.id for r in records]


# --- supersession ------------------------------------------------------------------------


def test_a_single_valued_edge_supersedes_the_current_one_and_deletes_nothing(
    mem: PhaseMemoryRuntime,
) -> None:
    moved_story(mem)
    old = mem.graph.get_edge("e-lisbon")
    assert old.valid_to == year(2023)  # ends where the new one starts
    assert mem.graph.get_edge("e-porto").valid_to is None
    everything = mem.graph.list_edges(P, source_id="ana", valid_at="any")
    assert ids_of(everything) == ["e-lisbon", "e-porto"]
    superseded = mem.events.list(profile_id=P, kinds=["edge.superseded"])
    assert [e.payload for e in superseded] == [
        {"edge_id": "e-lisbon", "superseded_by": "e-porto", "correction": False}
    ]
    saved = mem.events.list(profile_id=P, kinds=["edge.saved"])[-1]
    assert superseded[0].causation_id == saved.event_id


def test_other_kinds_and_other_sources_are_not_superseded(mem: PhaseMemoryRuntime) -> None:
    ana_story(mem)
    mem.save_edge(edge("v1", "ana", "lisbon", P, kind="visited", valid_from=year(2020)))
    mem.save_edge(edge("v2", "ana", "porto", P, kind="visited", valid_from=year(2021)))
    mem.save_edge(lives("e-lisbon", "lisbon", year(2020)))
    mem.save_edge(edge("acme-in", "acme", "porto", P, kind="lives_in", valid_from=year(2021)))
    assert all(e.valid_to is None for e in mem.graph.list_edges(P, valid_at="any"))
    assert mem.events.list(profile_id=P, kinds=["edge.superseded"]) == []


def test_saving_the_current_edge_again_does_not_supersede_it(mem: PhaseMemoryRuntime) -> None:
    moved_story(mem)
    current = mem.graph.get_edge("e-porto")
    mem.save_edge(current.model_copy(update={"weight": 0.5}))
    assert mem.graph.get_edge("e-porto").valid_to is None
    assert mem.graph.get_edge("e-porto").weight == 0.5
    assert len(mem.events.list(profile_id=P, kinds=["edge.superseded"])) == 1


def test_a_closed_historical_edge_supersedes_nothing(mem: PhaseMemoryRuntime) -> None:
    moved_story(mem)
    mem.save_edge(lives("e-braga", "braga", year(2010), valid_to=year(2015)))
    assert mem.graph.get_edge("e-porto").valid_to is None
    assert ids_of(mem.graph.list_edges(P, source_id="ana", valid_at=year(2012))) == ["e-braga"]


def test_a_node_supersedes_another_explicitly(mem: PhaseMemoryRuntime) -> None:
    ana_story(mem)
    mem.save_node(node("job1", P, kind="fact", label="Works at Acme", valid_from=year(2018)))
    new = mem.save_node(
        node("job2", P, kind="fact", label="Works at Globex", valid_from=year(2022)),
        supersedes="job1",
    )
    old = mem.graph.get_node("job1")
    assert old.valid_to == year(2022)
    assert old.version == 2  # superseding is a change of the record
    assert new.valid_to is None
    change = mem.events.list(profile_id=P, kinds=["node.superseded"])
    assert [e.payload for e in change] == [
        {"node_id": "job1", "superseded_by": "job2", "correction": False}
    ]
    now = ids_of(mem.graph.list_nodes(P, kind="fact"))
    assert now == ["job2"]
    assert ids_of(mem.graph.list_nodes(P, kind="fact", valid_at=year(2020))) == ["job1"]


def test_superseding_a_missing_node_writes_nothing(mem: PhaseMemoryRuntime) -> None:
    ana_story(mem)
    before = mem.events.last_position()
    with pytest.raises(Exception) as raised:
        mem.save_node(node("job2", P, kind="fact", label="Globex"), supersedes="nope")
    assert "nope" in str(raised.value)
    assert mem.events.last_position() == before
    assert mem.graph.find_node("job2") is None


# --- corrections -------------------------------------------------------------------------


def test_a_backward_supersession_is_refused_and_writes_nothing(mem: PhaseMemoryRuntime) -> None:
    moved_story(mem)
    before = mem.events.last_position()
    with pytest.raises(ValidationError, match="correction=True"):
        mem.save_edge(lives("e-braga", "braga", year(2021)))
    assert mem.events.last_position() == before
    assert mem.graph.find_edge("e-braga") is None
    assert mem.graph.get_edge("e-porto").valid_to is None


def test_a_correction_is_accepted_and_recorded_as_such(mem: PhaseMemoryRuntime) -> None:
    moved_story(mem)
    # Ana never lived in Porto: she moved to Braga in 2021.
    mem.save_edge(lives("e-braga", "braga", year(2021)), correction=True)
    porto = mem.graph.get_edge("e-porto")
    assert porto.valid_to == porto.valid_from == year(2023)  # an empty interval: never held
    for at in (year(2022), year(2023), year(2024)):
        assert ids_of(mem.graph.list_edges(P, source_id="ana", valid_at=at)) == ["e-braga"]
    corrections = mem.events.list(profile_id=P, kinds=["edge.superseded"])[1:]
    assert [e.payload for e in corrections] == [
        {"edge_id": "e-lisbon", "superseded_by": "e-braga", "correction": True},
        {"edge_id": "e-porto", "superseded_by": "e-braga", "correction": True},
    ]
    # Lisbon, already ended, now ends where Braga starts; before that it still holds.
    assert mem.graph.get_edge("e-lisbon").valid_to == year(2021)
    assert ids_of(mem.graph.list_edges(P, source_id="ana", valid_at=year(2020, 6))) == [
        "e-lisbon"
    ]


def test_a_backward_node_supersession_needs_a_correction(mem: PhaseMemoryRuntime) -> None:
    ana_story(mem)
    mem.save_node(node("job1", P, kind="fact", label="Acme", valid_from=year(2020)))
    with pytest.raises(ValidationError, match="correction"):
        mem.save_node(node("job2", P, kind="fact", label="Globex", valid_from=year(2019)),
                      supersedes="job1")
    assert mem.graph.find_node("job2") is None
    mem.save_node(node("job2", P, kind="fact", label="Globex", valid_from=year(2019)),
                  supersedes="job1", correction=True)
    assert mem.graph.get_node("job1").valid_to == year(2020)


def test_valid_to_before_valid_from_is_refused() -> None:
    with pytest.raises(ValueError, match="valid_to"):
        MemoryNode(profile_id=P, kind="fact", label="x", valid_from=year(2020),
                   valid_to=year(2019))


# --- questions on both axes --------------------------------------------------------------


def test_listings_default_to_what_is_valid_now(mem: PhaseMemoryRuntime) -> None:
    moved_story(mem)
    assert ids_of(mem.graph.list_edges(P, source_id="ana")) == ["e-porto"]
    assert ids_of(mem.graph.list_edges(P, kind="lives_in")) == ["e-porto"]
    assert ids_of(mem.graph.list_edges(P, source_id="ana", valid_at=year(2021))) == ["e-lisbon"]
    assert ids_of(mem.graph.list_edges(P, source_id="ana", valid_at=year(2019))) == []
    # The boundary: valid_to is exclusive, valid_from inclusive.
    assert ids_of(mem.graph.list_edges(P, source_id="ana", valid_at=year(2023))) == ["e-porto"]
    future = node("plan", P, kind="fact", label="Retire", valid_from=year(2090))
    mem.save_node(future)
    assert "plan" not in ids_of(mem.graph.list_nodes(P))
    assert "plan" in ids_of(mem.graph.list_nodes(P, valid_at=year(2091)))
    assert "plan" in ids_of(mem.graph.list_nodes(P, valid_at="any"))


def test_omitted_valid_from_means_from_when_it_was_recorded(mem: PhaseMemoryRuntime) -> None:
    ana_story(mem)
    mem.save_node(node("note", P, created_at=T0))
    assert mem.graph.get_node("note").valid_from is None
    assert "note" in ids_of(mem.graph.list_nodes(P))
    assert "note" not in ids_of(mem.graph.list_nodes(P, valid_at=year(2024)))  # T0 is May 2024
    assert "note" in ids_of(mem.graph.list_nodes(P, valid_at=year(2024, 6)))


def test_a_bad_valid_at_is_refused(mem: PhaseMemoryRuntime) -> None:
    ana_story(mem)
    for bad in ("yesterday", datetime(2020, 1, 1)):
        with pytest.raises(ValidationError, match="valid_at"):
            mem.graph.list_nodes(P, valid_at=bad)  # type: ignore[arg-type]


def test_the_neighbourhood_walks_only_what_holds(mem: PhaseMemoryRuntime) -> None:
    moved_story(mem)
    mem.save_edge(edge("near", "lisbon", "braga", P, kind="near", valid_from=year(2000)))
    now = mem.graph.neighbourhood("ana", depth=2)
    assert sorted(n.id for n in now.nodes) == ["ana", "porto"]
    assert ids_of(now.edges) == ["e-porto"]
    then = mem.graph.neighbourhood("ana", depth=2, valid_at=year(2021))
    assert sorted(n.id for n in then.nodes) == ["ana", "braga", "lisbon"]
    assert sorted(ids_of(then.edges)) == ["e-lisbon", "near"]
    every = mem.graph.neighbourhood("ana", depth=1, valid_at="any")
    assert sorted(n.id for n in every.nodes) == ["ana", "lisbon", "porto"]


def test_replay_until_combines_with_valid_at(mem: PhaseMemoryRuntime) -> None:
    ana_story(mem)
    mem.save_edge(lives("e-lisbon", "lisbon", year(2020)))
    known_then = mem.events.last_position()
    mem.save_edge(lives("e-porto", "porto", year(2023)))
    # What we knew before the move was recorded, about 2024: still Lisbon.
    before = mem.events.replay(until=known_then).snapshot.valid_at(year(2024))
    assert sorted(before.edges) == ["e-lisbon"]
    # What we know now about 2024: Porto; about 2021: Lisbon.
    after = mem.events.replay().snapshot
    assert sorted(after.valid_at(year(2024)).edges) == ["e-porto"]
    assert sorted(after.valid_at(year(2021)).edges) == ["e-lisbon"]


def test_tables_equal_a_replay_after_supersessions_and_corrections(
    mem: PhaseMemoryRuntime,
) -> None:
    moved_story(mem)
    mem.save_edge(lives("e-braga", "braga", year(2021)), correction=True)
    mem.save_node(node("job1", P, kind="fact", label="Acme", valid_from=year(2018)))
    mem.save_node(node("job2", P, kind="fact", label="Globex", valid_from=year(2022)),
                  supersedes="job1")
    folded = mem.events.replay()
    assert folded.report.ok
    assert mem.graph.snapshot().same_records(folded.snapshot)


# --- activation --------------------------------------------------------------------------


def _jobs(mem: PhaseMemoryRuntime) -> None:
    ana_story(mem)
    mem.save_node(node("job1", P, kind="fact", label="Ana works at Acme as an engineer",
                       valid_from=year(2018)))
    mem.save_node(node("job2", P, kind="fact", label="Ana works at Globex as an engineer",
                       valid_from=year(2022)), supersedes="job1")


def test_activation_leaves_superseded_facts_out(mem: PhaseMemoryRuntime) -> None:
    _jobs(mem)
    plan = mem.activate(P, "where does Ana work as an engineer")
    ids = [i.node_id for i in plan.items]
    assert "job2" in ids and "job1" not in ids
    then = mem.activate(P, "where does Ana work as an engineer", valid_at=year(2020))
    then_ids = [i.node_id for i in then.items]
    assert "job1" in then_ids and "job2" not in then_ids


def test_activation_returns_superseded_facts_when_asked_and_says_so(
    mem: PhaseMemoryRuntime,
) -> None:
    _jobs(mem)
    plan = mem.activate(P, "where does Ana work as an engineer", include_superseded=True)
    items = {i.node_id: i for i in plan.items}
    assert {"job1", "job2"} <= set(items)
    assert any(r.startswith("superseded fact: valid until 2022-01-01") for r in
               items["job1"].reasons)
    assert not any("superseded" in r for r in items["job2"].reasons)


def test_activation_hops_only_along_edges_valid_then(mem: PhaseMemoryRuntime) -> None:
    moved_story(mem)
    mem.save_node(node("ana", P, kind="person", label="Ana the engineer", valid_from=year(1990)))
    plan = mem.activate(P, "Ana engineer")
    ids = [i.node_id for i in plan.items]
    assert "porto" in ids and "lisbon" not in ids
    plan = mem.activate(P, "Ana engineer", include_superseded=True)
    items = {i.node_id: i for i in plan.items}
    assert "lisbon" in items
    assert any(r.startswith("superseded relation") for r in items["lisbon"].reasons)


# --- diagnostics and history -------------------------------------------------------------


def test_diagnose_reports_overlapping_current_facts_with_the_fix(
    mem: PhaseMemoryRuntime,
) -> None:
    ana_story(mem)
    # Raw events (as an import of another system's log would) bypass supersession.
    for edge_id, city, since in (("e1", "lisbon", 2020), ("e2", "porto", 2023)):
        mem.record(MemoryEvent(kind="edge.saved", profile_id=P, payload=EdgeSaved(
            edge=lives(edge_id, city, year(since))).model_dump(mode="json")))
    report = mem.diagnose()
    found = [f for f in report.findings if f.code == "edge.overlapping_current"]
    assert len(found) == 1 and found[0].severity == "warning"
    assert "'e1'" in found[0].message and "'e2'" in found[0].message
    assert "mem.save_edge(mem.graph.get_edge('e2'))" in found[0].suggested_fix
    # The fix works, and nothing is deleted.
    mem.save_edge(mem.graph.get_edge("e2"))
    assert "edge.overlapping_current" not in mem.diagnose().codes()
    assert mem.graph.get_edge("e1").valid_to == year(2023)


def test_history_shows_every_version_on_both_axes(mem: PhaseMemoryRuntime) -> None:
    moved_story(mem)
    mem.save_edge(lives("e-braga", "braga", year(2024)))
    versions = mem.history("e-porto")
    assert [v.event_kind for v in versions] == ["edge.saved", "edge.superseded"]
    assert [(v.valid_from, v.valid_to) for v in versions] == [
        (year(2023), None), (year(2023), year(2024))
    ]
    assert versions[1].superseded_by == "e-braga" and not versions[1].correction
    assert versions[0].position < versions[1].position
    assert versions[0].recorded_at <= versions[1].recorded_at
    with pytest.raises(NotFoundError):
        mem.history("nothing-of-that-id")


def test_node_history_includes_a_deleted_version(mem: PhaseMemoryRuntime) -> None:
    ana_story(mem)
    mem.save_node(node("n", P, label="first", valid_from=year(2020)))
    mem.save_node(node("n", P, label="second"))
    mem.delete_node("n")
    versions = mem.history("n")
    assert [v.event_kind for v in versions] == ["node.saved", "node.saved", "node.deleted"]
    assert versions[1].valid_from == year(2020)  # kept: not given on the update
    assert versions[2].removed and versions[2].record is None

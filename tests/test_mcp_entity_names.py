"""MCP entity ids are random and names are found through the name index (issue 22: nothing
derived from a forgotten name lets anyone confirm a guess).

- every tool and the import find entities by name (``find_nodes_by_name``), on every adapter;
- databases written by earlier releases, whose ids were ``uuid5(profile, name)``, keep working;
- after a forget, no byte of any file holds the name, and no id can be recomputed from it;
- the name look-up goes through ``ix_nodes_name`` (the query plans of SQLite and PostgreSQL);
- the migration adds the index to a database holding data, and takes it away again.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import URL, create_engine, text

import phase_memory as pm
from phase_memory.interchange.mcp_format import ENTITY_ID_PREFIX, RELATION_ID_PREFIX
from phase_memory.models import Approval, LifecycleAction, LifecycleKind, NodeState
from phase_memory.replay import PutNode
from phase_memory.sql import database_revision, downgrade_database, open_sql_store, upgrade_database
from phase_memory.sql import dialect as sql_dialect
from phase_memory.testing.raw_files import scan, sqlite_files
from phase_memory.testing.spec_mcp_memory import entity, relation, write_server_file

pytest.importorskip("mcp")

from phase_memory.mcp import knowledge_graph as kg
from phase_memory.mcp.search import search_nodes

NAME_INDEX_REVISION = "d5b8e2f4a7c1"
"""This branch's migration (the lead re-chains heads at merge: keep it in this one place)."""
BEFORE_NAME_INDEX = "5b1d7e2a9c40"

PROFILE = "agent"
LEGACY_NAMESPACE = uuid.UUID("6f3c1d2e-8a4b-5c6d-9e0f-1a2b3c4d5e6f")
"""The namespace earlier releases derived entity and relation ids from."""


def legacy_entity_id(profile_id: str, name: str) -> str:
    """The id an earlier release gave entity ``name``: computable by anyone from the name."""
    key = f"{profile_id}\x00{name}"
    return f"mcp-entity-{uuid.uuid5(LEGACY_NAMESPACE, key)}"


def legacy_relation_id(profile_id: str, source: str, relation_type: str, target: str) -> str:
    key = f"{profile_id}\x00{source}\x00{relation_type}\x00{target}"
    return f"mcp-relation-{uuid.uuid5(LEGACY_NAMESPACE, key)}"


def _entities(*names: str) -> list[kg.Entity]:
    return [kg.Entity(name=n, entityType="person", observations=[f"{n} was here"]) for n in names]


def _relations(*triples: tuple[str, str, str]) -> list[kg.Relation]:
    return [kg.Relation.model_validate({"from": s, "to": t, "relationType": r})
            for s, r, t in triples]


def _seed_legacy(mem: pm.PhaseMemoryRuntime) -> None:
    """Ada and Bob and "Ada knows Bob" as an earlier release stored them (uuid5 ids)."""
    mem.save_profile(pm.Profile(id=PROFILE, name=PROFILE))
    for name in ("Ada", "Bob"):
        mem.save_node(pm.MemoryNode(
            id=legacy_entity_id(PROFILE, name), profile_id=PROFILE, kind="person", label=name,
            content=f"{name} was here", attributes={"mcp_name": name, "mcp_entity_type": "person",
                                                    "observations": [f"{name} was here"]},
        ))
    mem.save_edge(pm.MemoryEdge(
        id=legacy_relation_id(PROFILE, "Ada", "knows", "Bob"), profile_id=PROFILE,
        source_id=legacy_entity_id(PROFILE, "Ada"), target_id=legacy_entity_id(PROFILE, "Bob"),
        kind="knows", attributes={"mcp_relation_type": "knows"},
    ))


def test_new_entities_and_relations_get_random_ids(mem: pm.PhaseMemoryRuntime) -> None:
    mem.save_profile(pm.Profile(id=PROFILE, name=PROFILE))
    assert kg.create_entities(mem, PROFILE, _entities("Ada", "Bob"))
    kg.create_relations(mem, PROFILE, _relations(("Ada", "knows", "Bob")))
    ada = kg.live_entities(mem, PROFILE, ["Ada"])["Ada"]
    assert ada.id.startswith(ENTITY_ID_PREFIX) and ada.id != legacy_entity_id(PROFILE, "Ada")
    [edge] = mem.graph.list_edges(PROFILE)
    assert edge.id.startswith(RELATION_ID_PREFIX)
    assert edge.id != legacy_relation_id(PROFILE, "Ada", "knows", "Bob")
    # Repeats are skipped by name, as the official server skips them.
    assert kg.create_entities(mem, PROFILE, _entities("Ada")) == []
    assert kg.create_relations(mem, PROFILE, _relations(("Ada", "knows", "Bob"))) == []
    assert len(mem.graph.list_nodes(PROFILE)) == 2 and len(mem.graph.list_edges(PROFILE)) == 1


def test_a_database_of_uuid5_ids_keeps_working(
    mem: pm.PhaseMemoryRuntime, tmp_path: Path
) -> None:
    _seed_legacy(mem)
    ada_id, bob_id = legacy_entity_id(PROFILE, "Ada"), legacy_entity_id(PROFILE, "Bob")
    # create_entities skips the names already there, and makes the new one.
    created = kg.create_entities(mem, PROFILE, _entities("Ada", "Carol"))
    assert [e["name"] for e in created] == ["Carol"]
    assert kg.live_entities(mem, PROFILE, ["Ada"])["Ada"].id == ada_id
    # create_relations skips the relation already there (an id of the old kind).
    assert kg.create_relations(mem, PROFILE, _relations(("Ada", "knows", "Bob"))) == []
    assert kg.create_relations(mem, PROFILE, _relations(("Carol", "knows", "Ada")))
    with pytest.raises(pm.NotFoundError, match="'Nobody'"):
        kg.create_relations(mem, PROFILE, _relations(("Ada", "knows", "Nobody")))
    opened = kg.open_nodes(mem, PROFILE, ["Ada"])
    assert [e["name"] for e in opened["entities"]] == ["Ada"]
    assert {(r["from"], r["to"]) for r in opened["relations"]} == {
        ("Ada", "Bob"), ("Carol", "Ada")}
    assert kg.add_observations(mem, PROFILE, [kg.ObservationAddition(
        entityName="Ada", contents=["likes tea"])])[0]["addedObservations"] == ["likes tea"]
    assert mem.graph.get_node(ada_id).attributes["observations"][-1] == "likes tea"
    kg.delete_observations(mem, PROFILE, [kg.ObservationDeletion(
        entityName="Ada", observations=["likes tea"])])
    assert "likes tea" not in mem.graph.get_node(ada_id).attributes["observations"]
    assert sorted(e["name"] for e in search_nodes(mem, PROFILE, "was here")["entities"]) == [
        "Ada", "Bob", "Carol"]
    # Export, then a sync from the same file: every entity and relation recognised.
    out = tmp_path / "memory.jsonl"
    mem.export_mcp_memory(out, profile_id=PROFILE)
    result = mem.import_mcp_memory(out, profile_id=PROFILE, mode="sync")
    assert result.counts["nodes_added"] == 0 and result.counts["edges_added"] == 0
    assert result.counts["nodes_unchanged"] == 3 and result.counts["edges_unchanged"] == 2
    kg.delete_relations(mem, PROFILE, _relations(("Ada", "knows", "Bob")))
    assert mem.graph.find_edge(legacy_relation_id(PROFILE, "Ada", "knows", "Bob")) is None
    assert mem.graph.get_node(bob_id).state is NodeState.ACTIVE


def test_an_archived_name_comes_back_as_its_node_and_a_forgotten_one_as_a_new_node(
    mem: pm.PhaseMemoryRuntime,
) -> None:
    mem.save_profile(pm.Profile(id=PROFILE, name=PROFILE))
    kg.create_entities(mem, PROFILE, _entities("Ada", "Bob"))
    ada = kg.live_entities(mem, PROFILE, ["Ada"])["Ada"]
    bob = kg.live_entities(mem, PROFILE, ["Bob"])["Bob"]
    mem.apply([LifecycleAction(kind=LifecycleKind.ARCHIVE, profile_id=PROFILE,
                               targets=[ada.id], approval=Approval(approved_by="sam")),
               LifecycleAction(kind=LifecycleKind.FORGET, profile_id=PROFILE,
                               targets=[bob.id], approval=Approval(approved_by="sam"))])
    assert kg.live_entities(mem, PROFILE, ["Ada", "Bob"]) == {}
    assert len(kg.create_entities(mem, PROFILE, _entities("Ada", "Bob"))) == 2
    again = kg.live_entities(mem, PROFILE, ["Ada", "Bob"])
    assert again["Ada"].id == ada.id and again["Ada"].version == ada.version + 2
    assert again["Bob"].id != bob.id  # nothing of the forgotten Bob ties it to the name
    assert mem.graph.get_node(bob.id).state is NodeState.FORGOTTEN


# --- after a forget, nothing derived from the name ----------------------------------------------

SECRET_NAME = "Quokka Zanzibarova"
SECRET_NOTE = "keeps the vault code under the marmalade jar"
OTHER_NAME = "Xavier Ocelotti"


def test_a_forgotten_entity_leaves_no_byte_and_no_derived_id(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    source = write_server_file(tmp_path / "memory.jsonl", [
        entity(SECRET_NAME, "person", SECRET_NOTE), entity(OTHER_NAME, "person"),
        relation(OTHER_NAME, SECRET_NAME, "knows"),
    ])
    with pm.open(db) as mem:
        mem.import_mcp_memory(source, profile_id=PROFILE)
        kg.create_entities(mem, PROFILE, _entities("Tool Made"))
        kg.create_relations(mem, PROFILE, _relations((SECRET_NAME, "met", "Tool Made")))
        secret = kg.live_entities(mem, PROFILE, [SECRET_NAME])[SECRET_NAME]
        assert secret.id != legacy_entity_id(PROFILE, SECRET_NAME)
        mem.store.checkpoint()  # type: ignore[attr-defined]
        assert scan(sqlite_files(db), [SECRET_NAME, SECRET_NOTE], words=False)
        mem.apply([LifecycleAction(kind=LifecycleKind.FORGET, profile_id=PROFILE,
                                   targets=[secret.id], approval=Approval(approved_by="sam"))])
        assert mem.graph.find_nodes_by_name(PROFILE, [SECRET_NAME]) == {}
        assert kg.open_nodes(mem, PROFILE, [SECRET_NAME]) == {"entities": [], "relations": []}
        assert [e["name"] for e in kg.read_graph(mem, PROFILE)["entities"]] == [
            OTHER_NAME, "Tool Made"]
    traces = scan(sqlite_files(db), [SECRET_NAME, SECRET_NOTE], words=False)
    assert traces == [], [str(t) for t in traces]
    # No id in any file can be recomputed from the name (nor one of its relations).
    derived = [legacy_entity_id(PROFILE, SECRET_NAME),
               legacy_relation_id(PROFILE, OTHER_NAME, "knows", SECRET_NAME),
               legacy_relation_id(PROFILE, SECRET_NAME, "met", "Tool Made")]
    assert scan(sqlite_files(db), derived, words=False) == []
    conn = sqlite3.connect(db)
    try:
        ids = [i for (i,) in conn.execute("SELECT id FROM nodes UNION ALL SELECT id FROM edges")]
    finally:
        conn.close()
    assert ids and not set(ids) & set(derived)


# --- the name index: query plans and the migration -------------------------------------------


def _literal_sql(stmt: Any, conn: Any) -> str:
    """The name look-up for Ada and Bob of PROFILE, its values written in."""
    bound = stmt.params(profile_id=PROFILE, names_=["Ada", "Bob"])
    return str(bound.compile(conn, compile_kwargs={"literal_binds": True,
                                                   "render_postcompile": True}))


def _explain_sqlite(db: Path) -> str:
    stmt = sql_dialect.nodes_by_name(sql_dialect.SQLITE)
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {_literal_sql(stmt, conn)}")
            return " | ".join(str(row[-1]) for row in plan)
    finally:
        engine.dispose()


def _many_named_nodes(mem: pm.PhaseMemoryRuntime) -> None:
    """Entities and other nodes enough for a planner to prefer an index when it can use one."""
    made = [PutNode(pm.MemoryNode(
        id=f"n{i:05d}", profile_id=PROFILE, kind="note", label=f"note {i}",
        attributes={"mcp_name": f"name {i}"} if i % 2 else {"other": i},
    )) for i in range(3000)]
    mem.store.graph.apply(made)


def test_sqlite_finds_names_through_the_index(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    with pm.open(db) as mem:
        _seed_legacy(mem)
        _many_named_nodes(mem)
    detail = _explain_sqlite(db)
    assert "SEARCH nodes USING INDEX ix_nodes_name (profile_id=? AND <expr>=?)" in detail, detail
    assert "SCAN" not in detail, detail


def test_postgresql_finds_names_through_the_index(postgres_url: URL) -> None:
    url = postgres_url.render_as_string(hide_password=False)
    with pm.open(url) as mem:
        _seed_legacy(mem)
        _many_named_nodes(mem)
        engine = mem.store.engine  # type: ignore[attr-defined]
    stmt = sql_dialect.nodes_by_name(sql_dialect.POSTGRESQL)
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE nodes")
        explained = conn.exec_driver_sql(f"EXPLAIN {_literal_sql(stmt, conn)}")
        plan = " | ".join(str(r[0]) for r in explained)
    engine.dispose()
    assert "Seq Scan" not in plan, plan
    conditions = [part for part in plan.split(" | ") if "Index Cond" in part]
    assert "ix_nodes_name" in plan and any("mcp_name" in c for c in conditions), plan


def test_the_migration_adds_the_name_index_to_a_database_with_data_and_drops_it(
    tmp_path: Path,
) -> None:
    db = tmp_path / "memory.db"
    with pm.open(db) as mem:
        _seed_legacy(mem)
        before = mem.graph.snapshot()
    downgrade_database(db, BEFORE_NAME_INDEX)
    assert database_revision(db)[0] == BEFORE_NAME_INDEX
    assert "ix_nodes_name" not in _sqlite_indexes(db)
    upgrade_database(db)
    assert database_revision(db)[0] == database_revision(db)[1]
    assert "ix_nodes_name" in _sqlite_indexes(db)
    with open_sql_store(db) as store:
        assert store.graph.snapshot().same_records(before)
        # Filled from the rows already there.
        found = store.graph.find_nodes_by_name(PROFILE, ["Ada", "Bob"])
        assert {n: [x.id for x in v] for n, v in found.items()} == {
            "Ada": [legacy_entity_id(PROFILE, "Ada")], "Bob": [legacy_entity_id(PROFILE, "Bob")]}
        assert store.integrity_findings() == []
    assert _explain_sqlite(db).count("ix_nodes_name") == 1


def test_postgresql_migration_adds_and_drops_the_name_index(postgres_url: URL) -> None:
    url = postgres_url.render_as_string(hide_password=False)
    with pm.open(url) as mem:
        _seed_legacy(mem)
        before = mem.graph.snapshot()
    downgrade_database(url, BEFORE_NAME_INDEX)
    assert "ix_nodes_name" not in _pg_indexes(url)
    upgrade_database(url)
    assert "ix_nodes_name" in _pg_indexes(url)
    with open_sql_store(url) as store:
        assert store.graph.snapshot().same_records(before)
        assert list(store.graph.find_nodes_by_name(PROFILE, ["Bob", "Ada"])) == ["Bob", "Ada"]


def test_this_branch_migration_is_the_one_with_the_name_index() -> None:
    path = next(Path("migrations/versions").glob(f"{NAME_INDEX_REVISION}_*.py"))
    assert f'down_revision: str | Sequence[str] | None = "{BEFORE_NAME_INDEX}"' in path.read_text()


def _sqlite_indexes(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    finally:
        conn.close()


def _pg_indexes(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {n for (n,) in conn.execute(text(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"))}
    finally:
        engine.dispose()

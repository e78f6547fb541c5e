"""The official MCP memory server's knowledge graph, kept as nodes and edges of one profile.

Each operation here is one unit of work on the sync runtime. The server runs
those that write inside :meth:`AsyncPhaseMemoryRuntime.run_in_transaction`, so
a look-up and the writes it decides commit together (and no other process
writes in between), and those that only read (``read_graph``, ``open_nodes``,
``search_nodes``) with :meth:`AsyncPhaseMemoryRuntime.run_reading`, on the
reader lane, so they never wait for a writer. Entities and relations map onto
nodes and edges exactly as the MCP memory file import does
(:mod:`phase_memory.interchange.mcp_format`), so ``import --sync`` and
``export --format mcp`` recognise what the tools wrote.

Semantics follow the official server (``@modelcontextprotocol/server-memory``):
an entity's name is its identity; creating an entity or relation that exists
is skipped (and left out of the result); observations already present are not
added twice; deleting what does not exist is not an error. Two differences,
both on purpose: a relation whose endpoint is missing is refused (the official
server stores a dangling relation), and deleting entities is a proposal for a
person to review when the profile's policy says so (see :mod:`.review`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from phase_memory.errors import NotFoundError, ValidationError
from phase_memory.interchange.mcp_format import (
    ENTITY_TYPE_KEY,
    NAME_KEY,
    OBSERVATIONS_KEY,
    RELATION_TYPE_KEY,
    LineProblem,
    McpEntity,
    McpRelation,
    check_observations,
    entity_node,
    entity_nodes,
    is_entity_node,
    parse_line,
    relation_edge,
    relation_edge_between,
)
from phase_memory.models import MemoryEdge, MemoryNode, NodeState, utc_now
from phase_memory.runtime.runtime import PhaseMemoryRuntime


class _Input(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, populate_by_name=True)


class Entity(_Input):
    """An entity as the tools take and return it."""

    name: str
    entityType: str  # the server's own field name
    observations: list[str]


class Relation(_Input):
    """A relation as the tools take and return it (``from`` is a Python keyword)."""

    source: str = Field(alias="from")
    to: str
    relationType: str  # the server's own field name

    def as_json(self) -> dict[str, str]:
        """The relation in the server's shape."""
        return {"from": self.source, "to": self.to, "relationType": self.relationType}


class ObservationAddition(_Input):
    """One item of ``add_observations``."""

    entityName: str
    contents: list[str]


class ObservationDeletion(_Input):
    """One item of ``delete_observations``."""

    entityName: str
    observations: list[str]


def entity_of(node: MemoryNode) -> dict[str, Any]:
    """The entity a node stands for, in the server's shape."""
    attributes = node.attributes
    kept = attributes.get(OBSERVATIONS_KEY)
    observations: list[str] = (
        [str(o) for o in kept] if isinstance(kept, list)
        else node.content.split("\n") if node.content else []
    )
    return {
        "name": str(attributes.get(NAME_KEY, node.label)),
        "entityType": str(attributes.get(ENTITY_TYPE_KEY, node.kind)),
        "observations": observations,
    }


def is_entity(node: MemoryNode) -> bool:
    """Whether a node is a live entity of its profile (made from an MCP name)."""
    return node.state is NodeState.ACTIVE and is_entity_node(node)


def _relation_of(edge: MemoryEdge, names: dict[str, str]) -> dict[str, str]:
    return {
        "from": names[edge.source_id],
        "to": names[edge.target_id],
        "relationType": str(edge.attributes.get(RELATION_TYPE_KEY, edge.kind)),
    }


def live_entities(rt: PhaseMemoryRuntime, profile_id: str, names: Iterable[str]
                  ) -> dict[str, MemoryNode]:
    """Live entity nodes by name, for the names that have one (through the name index)."""
    found = entity_nodes(rt.graph, profile_id, names)
    return {name: node for name, node in found.items() if is_entity(node)}


def create_entities(rt: PhaseMemoryRuntime, profile_id: str, entities: Sequence[Entity]
                    ) -> list[dict[str, Any]]:
    """Save the entities whose names are new; return those, as given."""
    checked = [_line(entity.model_dump(by_alias=True), "entity", f"entities[{index}]")
               for index, entity in enumerate(entities)]
    stored = entity_nodes(rt.graph, profile_id, (e.name for e in entities))
    created: list[dict[str, Any]] = []
    start = utc_now()
    for entity, made in zip(entities, checked, strict=True):
        previous = stored.get(entity.name)
        if previous is not None and previous.state is NodeState.ACTIVE:
            continue
        # Listings go by creation time: a microsecond apart keeps the batch's order.
        at = start + timedelta(microseconds=len(created))
        assert isinstance(made, McpEntity)
        node = entity_node(made, profile_id, at)
        if previous is not None:
            # An archived name comes back as a new version of its node (same id). A
            # forgotten one keeps no name: it is not found, and gets a new node.
            node = node.model_copy(update={"id": previous.id})
        stored[entity.name] = rt.save_node(
            node, expected_version=previous.version if previous else 0
        )
        created.append(entity.model_dump(by_alias=True))
    return created


def create_relations(rt: PhaseMemoryRuntime, profile_id: str, relations: Sequence[Relation]
                     ) -> list[dict[str, str]]:
    """Save the relations that are new; refuse the call if an endpoint does not exist."""
    for index, relation in enumerate(relations):
        _line(relation.as_json(), "relation", f"relations[{index}]")
    names = {n for r in relations for n in (r.source, r.to)}
    live = live_entities(rt, profile_id, names)
    missing = sorted(names - set(live))
    if missing:
        raise NotFoundError(
            "no entity named " + ", ".join(repr(m) for m in missing)
            + "; create it first (create_entities). Nothing was written"
        )
    created: list[dict[str, str]] = []
    start = utc_now()
    for relation in {(r.source, r.relationType, r.to): r for r in relations}.values():
        source_id, target_id = live[relation.source].id, live[relation.to].id
        if relation_edge_between(rt.graph, profile_id, source_id, target_id,
                                 relation.relationType) is not None:
            continue
        at = start + timedelta(microseconds=len(created))
        rt.save_edge(relation_edge(
            McpRelation(relation.source, relation.to, relation.relationType), profile_id, at,
            source_id=source_id, target_id=target_id,
        ))
        created.append(relation.as_json())
    return created


def _line(line: dict[str, Any], line_type: str, where: str) -> McpEntity | McpRelation:
    """The importer's checks of one entity or relation a tool is given.

    So the tools store only what an import of their export reads back (no blank
    name or type, no NUL: SQL stores cannot look a name with NUL up).
    """
    try:
        return parse_line({**line, "type": line_type})
    except LineProblem as problem:
        raise ValidationError(f"{where}.{problem.field}: {problem.reason}") from None


def _with_observations(node: MemoryNode, observations: list[str]) -> MemoryNode:
    attributes = {**node.attributes, OBSERVATIONS_KEY: observations}
    content = "\n".join(observations) if observations else None
    return node.model_copy(update={"attributes": attributes, "content": content})


def add_observations(rt: PhaseMemoryRuntime, profile_id: str,
                     additions: Sequence[ObservationAddition]) -> list[dict[str, Any]]:
    """Append the new observations; an unknown entity fails the whole call."""
    for index, addition in enumerate(additions):
        try:
            check_observations(addition.contents, "contents")
        except LineProblem as problem:
            raise ValidationError(f"observations[{index}].{problem.reason}") from None
    live = live_entities(rt, profile_id, (a.entityName for a in additions))
    for addition in additions:
        if addition.entityName not in live:
            raise NotFoundError(f"Entity with name {addition.entityName} not found")
    results: list[dict[str, Any]] = []
    for addition in additions:
        node = live[addition.entityName]
        current = entity_of(node)["observations"]
        added = [c for c in dict.fromkeys(addition.contents) if c not in current]
        if added:
            live[addition.entityName] = rt.save_node(
                _with_observations(node, [*current, *added]), expected_version=node.version
            )
        results.append({"entityName": addition.entityName, "addedObservations": added})
    return results


def delete_observations(rt: PhaseMemoryRuntime, profile_id: str,
                        deletions: Sequence[ObservationDeletion]) -> None:
    """Remove the named observations; unknown entities and observations are ignored."""
    live = live_entities(rt, profile_id, (d.entityName for d in deletions))
    for deletion in deletions:
        node = live.get(deletion.entityName)
        if node is None:
            continue
        current = entity_of(node)["observations"]
        kept = [o for o in current if o not in deletion.observations]
        if kept != current:
            live[deletion.entityName] = rt.save_node(
                _with_observations(node, kept), expected_version=node.version
            )


def delete_relations(rt: PhaseMemoryRuntime, profile_id: str,
                     relations: Sequence[Relation]) -> None:
    """Delete the named relations; those that do not exist are ignored."""
    stored = entity_nodes(rt.graph, profile_id, {n for r in relations for n in (r.source, r.to)})
    for relation in relations:
        source, target = stored.get(relation.source), stored.get(relation.to)
        if source is None or target is None:
            continue
        edge = relation_edge_between(rt.graph, profile_id, source.id, target.id,
                                     relation.relationType)
        if edge is not None:
            rt.delete_edge(edge.id)


def subgraph(rt: PhaseMemoryRuntime, nodes: Iterable[MemoryNode]) -> dict[str, Any]:
    """Entities of ``nodes`` and every relation touching one of them, between live entities."""
    chosen = [n for n in nodes if is_entity(n)]
    names = {n.id: str(n.attributes[NAME_KEY]) for n in chosen}
    edges: dict[str, MemoryEdge] = {}
    for node in chosen:
        for edge in rt.graph.list_edges(node.profile_id, source_id=node.id):
            edges[edge.id] = edge
        for edge in rt.graph.list_edges(node.profile_id, target_id=node.id):
            edges[edge.id] = edge
    others = {i for e in edges.values() for i in (e.source_id, e.target_id)} - set(names)
    for node in rt.graph.find_nodes(list(others)).values():
        if is_entity(node):
            names[node.id] = str(node.attributes[NAME_KEY])
    relations = [
        _relation_of(e, names) for e in sorted(edges.values(), key=lambda e: (e.created_at, e.id))
        if e.source_id in names and e.target_id in names
    ]
    return {"entities": [entity_of(n) for n in chosen], "relations": relations}


def read_graph(rt: PhaseMemoryRuntime, profile_id: str) -> dict[str, Any]:
    """Every live entity of the profile and the relations between them."""
    nodes = [n for n in rt.graph.list_nodes(profile_id, state=NodeState.ACTIVE) if is_entity(n)]
    nodes.sort(key=lambda n: (n.created_at, n.id))
    names = {n.id: str(n.attributes[NAME_KEY]) for n in nodes}
    edges = sorted(rt.graph.list_edges(profile_id), key=lambda e: (e.created_at, e.id))
    return {
        "entities": [entity_of(n) for n in nodes],
        "relations": [_relation_of(e, names) for e in edges
                      if e.source_id in names and e.target_id in names],
    }


def open_nodes(rt: PhaseMemoryRuntime, profile_id: str, names: Sequence[str]) -> dict[str, Any]:
    """The named entities (unknown names left out) and the relations touching them."""
    live = live_entities(rt, profile_id, names)
    return subgraph(rt, sorted(live.values(), key=lambda n: (n.created_at, n.id)))

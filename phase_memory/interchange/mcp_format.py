"""The MCP memory server's ``memory.jsonl``: its lines, and how they map onto the graph.

The server (``@modelcontextprotocol/server-memory``) keeps a knowledge graph as
JSON lines of two types, written by ``JSON.stringify`` with the keys in this
order, compact, one per line::

    {"type":"entity","name":"Ada","entityType":"person","observations":["..."]}
    {"type":"relation","from":"Ada","to":"Babbage","relationType":"worked with"}

Mapping (see ``docs/mcp-memory.md``):

- an entity becomes a node: ``kind`` = ``entityType`` with whitespace and
  control characters turned into ``_`` (kinds are what queries use),
  ``label`` = ``name``, ``content`` = the observations joined by newlines
  (None when there are none), ``attributes`` = ``{"mcp_name": name,
  "mcp_entity_type": entityType, "observations": [...]}``: the name, the
  original type string and the exact list, which an export writes back;
- a relation becomes an edge from the node of ``from`` to the node of ``to``:
  ``kind`` = ``relationType`` mapped as above, ``attributes`` =
  ``{"mcp_relation_type": relationType}``;
- ids are random (``mcp-entity-<uuid>``, ``mcp-relation-<uuid>``), never
  derived from a name: an id computed from a name would let anyone confirm a
  guessed name after the entity was forgotten. An entity is found by its name
  through the ``mcp_name`` attribute (:func:`entity_nodes`, served by the
  stores' name index), a relation by its two nodes and its original relation
  type (:func:`relation_edge_between`), so ``works at`` and ``works_at`` stay
  two relations. Ids derived from names by earlier releases
  (``uuid5(profile, name)``) are kept and found the same way.

:func:`parse_line` checks one decoded line and says what is wrong in the
file's own words (``entityType must not be blank``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from phase_memory.models import NAME_ATTRIBUTE, MemoryEdge, MemoryNode, NodeState, is_name, new_id
from phase_memory.models.ids import MAX_ID_LENGTH
from phase_memory.protocols import MemoryGraphStore

ENTITY_ID_PREFIX = "mcp-entity-"
"""What every entity node's id starts with (the rest is random)."""
RELATION_ID_PREFIX = "mcp-relation-"
"""What every relation edge's id starts with (the rest is random)."""

NAME_KEY = NAME_ATTRIBUTE
"""Node attribute holding the entity's ``name`` exactly as the file has it."""
ENTITY_TYPE_KEY = "mcp_entity_type"
"""Node attribute holding the original ``entityType`` string."""
OBSERVATIONS_KEY = "observations"
"""Node attribute holding the ``observations`` list, in order."""
RELATION_TYPE_KEY = "mcp_relation_type"
"""Edge attribute holding the original ``relationType`` string."""

_NOT_KIND = re.compile(r"[\s\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class McpEntity:
    """An ``entity`` line of ``memory.jsonl``."""

    name: str
    entityType: str  # the file's own field name
    observations: tuple[str, ...] = ()

    def line(self) -> dict[str, Any]:
        """The line as the server writes it (keys in its order)."""
        return {"type": "entity", "name": self.name, "entityType": self.entityType,
                "observations": list(self.observations)}


@dataclass(frozen=True)
class McpRelation:
    """A ``relation`` line of ``memory.jsonl``."""

    source: str
    """``from``."""
    target: str
    """``to``."""
    relationType: str  # the file's own field name

    @property
    def key(self) -> tuple[str, str, str]:
        """What makes a relation itself for the server: (from, to, relationType)."""
        return (self.source, self.target, self.relationType)

    def line(self) -> dict[str, Any]:
        """The line as the server writes it (keys in its order)."""
        return {"type": "relation", "from": self.source, "to": self.target,
                "relationType": self.relationType}


class LineProblem(Exception):
    """What is wrong with one line: the file's field and a reason in the file's words."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def new_entity_id() -> str:
    """A new entity node id: random, so nothing about the name can be learnt from it."""
    return f"{ENTITY_ID_PREFIX}{new_id()}"


def new_relation_id() -> str:
    """A new relation edge id: random, like :func:`new_entity_id`."""
    return f"{RELATION_ID_PREFIX}{new_id()}"


def is_entity_node(node: MemoryNode) -> bool:
    """Whether ``node`` was made from an MCP entity (any state): its id and its name say so."""
    return node.id.startswith(ENTITY_ID_PREFIX) and isinstance(node.attributes.get(NAME_KEY), str)


def entity_nodes(graph: MemoryGraphStore, profile_id: str, names: Iterable[str]
                 ) -> dict[str, MemoryNode]:
    """The node of each entity name of ``profile_id`` that has one, keyed by name.

    Found through the stores' name index. An active node comes before an
    archived one, then the oldest; a forgotten node keeps no name, so it is
    never found (its name may be used again by a new entity).
    """
    found: dict[str, MemoryNode] = {}
    for name, nodes in graph.find_nodes_by_name(profile_id, names).items():
        usable = [n for n in nodes if is_entity_node(n) and n.state is not NodeState.FORGOTTEN]
        if usable:
            found[name] = min(usable, key=lambda n: (n.state is not NodeState.ACTIVE,
                                                     n.created_at, n.id))
    return found


def is_relation_edge(edge: MemoryEdge) -> bool:
    """Whether ``edge`` was made from an MCP relation: its id and its relation type say so."""
    return edge.id.startswith(RELATION_ID_PREFIX) and isinstance(
        edge.attributes.get(RELATION_TYPE_KEY), str)


def relation_edge_between(graph: MemoryGraphStore, profile_id: str, source_id: str,
                          target_id: str, relation_type: str) -> MemoryEdge | None:
    """The relation edge of ``relation_type`` from ``source_id`` to ``target_id``, if any."""
    for edge in graph.list_edges(profile_id, source_id=source_id, target_id=target_id):
        if is_relation_edge(edge) and edge.attributes[RELATION_TYPE_KEY] == relation_type:
            return edge
    return None


def kind_of(text: str) -> str:
    """An MCP type string as a node or edge kind: whitespace and control runs become ``_``."""
    return _NOT_KIND.sub("_", text.strip())


def entity_node(entity: McpEntity, profile_id: str, at: datetime) -> MemoryNode:
    """The node a new entity becomes (a new random id, version 1, made at ``at``)."""
    return MemoryNode(
        id=new_entity_id(),
        profile_id=profile_id,
        kind=kind_of(entity.entityType),
        label=entity.name,
        content="\n".join(entity.observations) if entity.observations else None,
        attributes=entity_attributes(entity),
        created_at=at,
        updated_at=at,
        version=1,
    )


def entity_attributes(entity: McpEntity) -> dict[str, Any]:
    """The node attributes that keep what the file says of an entity."""
    return {
        NAME_KEY: entity.name,
        ENTITY_TYPE_KEY: entity.entityType,
        OBSERVATIONS_KEY: list(entity.observations),
    }


def relation_edge(relation: McpRelation, profile_id: str, at: datetime, *, source_id: str,
                  target_id: str) -> MemoryEdge:
    """The edge a new relation becomes between the nodes of its two entities (made at ``at``)."""
    return MemoryEdge(
        id=new_relation_id(),
        profile_id=profile_id,
        source_id=source_id,
        target_id=target_id,
        kind=kind_of(relation.relationType),
        attributes={RELATION_TYPE_KEY: relation.relationType},
        created_at=at,
        updated_at=at,
    )


# --- checking one line ---------------------------------------------------------------------


def parse_line(value: Any) -> McpEntity | McpRelation:
    """Check one decoded line; raise :class:`LineProblem` saying what is wrong.

    Unknown extra fields are ignored, as the server ignores them.
    """
    if not isinstance(value, dict):
        what = "an array" if isinstance(value, list) else f"a {_json_type(value)}"
        raise LineProblem("type", f"a line must be a JSON object, not {what}")
    line_type = value.get("type")
    if line_type == "entity":
        name = _text(value, "name")
        entity_type = _text(value, "entityType", kind=True)
        observations = _observations(value)
        return McpEntity(name=name, entityType=entity_type, observations=observations)
    if line_type == "relation":
        source = _text(value, "from")
        target = _text(value, "to")
        relation_type = _text(value, "relationType", kind=True)
        return McpRelation(source=source, target=target, relationType=relation_type)
    if "type" not in value:
        raise LineProblem("type", "type is missing; expected 'entity' or 'relation'")
    raise LineProblem("type", f"unknown line type {line_type!r}; expected 'entity' or 'relation'")


def readable_name(value: Any) -> str | None:
    """The entity name an entity line gives, if it gives a usable one."""
    if isinstance(value, dict) and value.get("type") == "entity":
        name = value.get("name")
        if is_name(name) and name.strip():
            return name
    return None


def readable_relation(value: Any) -> tuple[str, str, str] | None:
    """The (from, to, relationType) a relation line gives, if all three are usable strings."""
    if isinstance(value, dict) and value.get("type") == "relation":
        parts = (value.get("from"), value.get("to"), value.get("relationType"))
        if all(isinstance(p, str) and p.strip() and "\x00" not in p for p in parts):
            return parts  # type: ignore[return-value]
    return None


def _text(value: dict[str, Any], key: str, *, kind: bool = False) -> str:
    if key not in value:
        raise LineProblem(key, f"{key} is missing")
    text = value[key]
    if not isinstance(text, str):
        raise LineProblem(key, f"{key} must be a string")
    if not text.strip():
        raise LineProblem(key, f"{key} must not be blank")
    if "\x00" in text:
        raise LineProblem(key, f"{key} must not contain NUL characters")
    if kind and len(kind_of(text)) > MAX_ID_LENGTH:
        raise LineProblem(key, f"{key} is longer than {MAX_ID_LENGTH} characters")
    return text


def _observations(value: dict[str, Any]) -> tuple[str, ...]:
    return check_observations(value.get("observations", []))


def check_observations(observations: Any, field: str = "observations") -> tuple[str, ...]:
    """The observations of a line (``field``), checked: a list of strings without NUL.

    Raises :class:`LineProblem` naming ``field``.
    """
    if not isinstance(observations, list):
        raise LineProblem(field, f"{field} must be a list of strings")
    for index, item in enumerate(observations):
        if not isinstance(item, str):
            raise LineProblem(field, f"{field}[{index}] must be a string")
        if "\x00" in item:
            raise LineProblem(field, f"{field}[{index}] must not contain NUL characters")
    return tuple(observations)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else type(value).__name__

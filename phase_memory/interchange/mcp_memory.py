"""Import the official MCP memory server's ``memory.jsonl`` into a profile.

The server (``@modelcontextprotocol/server-memory``) keeps a knowledge graph as
JSON lines of two types::

    {"type": "entity", "name": "Ada", "entityType": "person", "observations": ["..."]}
    {"type": "relation", "from": "Ada", "to": "Babbage", "relationType": "worked_with"}

Mapping (see ``docs/envelope-format.md``):

- an entity becomes a node: ``kind`` = ``entityType`` (whitespace runs turned
  into ``_``), ``label`` = ``name``, ``content`` = the observations joined by
  newlines (None when there are none), ``attributes`` =
  ``{"observations": [...], "mcp_name": name}``;
- a relation becomes an edge: ``kind`` = ``relationType`` (likewise), from the
  node of ``from`` to the node of ``to``;
- ids are derived from the names, so importing the same file into the same
  profile gives the same ids: ``mcp-entity-<uuid5(profile, name)>`` and
  ``mcp-relation-<uuid5(profile, from, relationType, to)>``;
- the profile is created (named after its id) if it does not exist.

Unknown extra fields on a line are ignored (forks of the server add some).
The records are written as ``graph.imported`` events, like an envelope.
"""

from __future__ import annotations

import os
import re
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from phase_memory.interchange.common import (
    EventWriter,
    audit_import,
    consistent_reads,
    display_name,
    graph_imported_event,
    resolved,
)
from phase_memory.interchange.formats import RECORDS_PER_IMPORT_EVENT
from phase_memory.interchange.jsonl import read_json_lines
from phase_memory.interchange.problems import Problems
from phase_memory.interchange.progress import Progress, ProgressCallback
from phase_memory.interchange.results import ImportResult
from phase_memory.models import MemoryEdge, MemoryNode, Profile, utc_now
from phase_memory.models.ids import check_identifier
from phase_memory.recorder import Recorder
from phase_memory.replay import kind_refusal

MCP_NAMESPACE = uuid.UUID("6f3c1d2e-8a4b-5c6d-9e0f-1a2b3c4d5e6f")
"""Namespace of the uuid5 ids derived from MCP entity and relation names."""

_SPACES = re.compile(r"\s+")


class McpEntity(BaseModel):
    """An ``entity`` line of ``memory.jsonl``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["entity"]
    name: str = Field(min_length=1)
    entityType: str = Field(min_length=1)
    observations: list[str] = Field(default_factory=list)


class McpRelation(BaseModel):
    """A ``relation`` line of ``memory.jsonl``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["relation"]
    from_: str = Field(alias="from", min_length=1)
    to: str = Field(min_length=1)
    relationType: str = Field(min_length=1)


def entity_node_id(profile_id: str, name: str) -> str:
    """The node id an entity ``name`` gets in ``profile_id``."""
    key = f"{profile_id}\x00{name}"
    return f"mcp-entity-{uuid.uuid5(MCP_NAMESPACE, key)}"


def relation_edge_id(profile_id: str, source: str, relation_type: str, target: str) -> str:
    """The edge id a relation gets in ``profile_id``."""
    key = f"{profile_id}\x00{source}\x00{relation_type}\x00{target}"
    return f"mcp-relation-{uuid.uuid5(MCP_NAMESPACE, key)}"


def kind_of(text: str) -> str:
    """An MCP type name as a node or edge kind: whitespace runs become ``_``."""
    return _SPACES.sub("_", text.strip())


def entity_node(entity: McpEntity, profile_id: str, at: datetime) -> MemoryNode:
    """The node an entity becomes."""
    return MemoryNode(
        id=entity_node_id(profile_id, entity.name),
        profile_id=profile_id,
        kind=kind_of(entity.entityType),
        label=entity.name,
        content="\n".join(entity.observations) if entity.observations else None,
        attributes={"observations": list(entity.observations), "mcp_name": entity.name},
        created_at=at,
        updated_at=at,
        version=1,
    )


def relation_edge(relation: McpRelation, profile_id: str, at: datetime) -> MemoryEdge:
    """The edge a relation becomes."""
    return MemoryEdge(
        id=relation_edge_id(profile_id, relation.from_, relation.relationType, relation.to),
        profile_id=profile_id,
        source_id=entity_node_id(profile_id, relation.from_),
        target_id=entity_node_id(profile_id, relation.to),
        kind=kind_of(relation.relationType),
        created_at=at,
        updated_at=at,
    )


def _parse(value: Any) -> McpEntity | McpRelation:
    kind = value.get("type") if isinstance(value, dict) else None
    if kind == "relation":
        return McpRelation.model_validate(value)
    return McpEntity.model_validate(value)


def import_mcp_memory(
    recorder: Recorder,
    src: str | os.PathLike[str],
    *,
    profile_id: str = "default",
    check_only: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Validate then import an MCP ``memory.jsonl`` into ``profile_id``, all or nothing."""
    file = display_name(src)
    problems = Problems()
    try:
        check_identifier(profile_id)
    except ValueError as exc:
        problems.add(file, "profile_id", f"{profile_id!r} is not a valid profile id: {exc}")
    with Progress(progress) as bar:
        if check_only:
            counts: dict[str, int] = {}
            with consistent_reads(recorder):
                if not problems:
                    counts = _check(recorder, src, file, profile_id, problems, bar)
            return ImportResult(format="mcp-memory", source=file, check_only=True,
                                counts=counts, problems=problems.items())
        problems.raise_if_any()
        with recorder.store.transaction():
            counts = _check(recorder, src, file, profile_id, problems, bar)
            problems.raise_if_any()
            _write(recorder, src, file, profile_id, bar)
            audit_import(recorder, "mcp-memory", resolved(src), counts, [profile_id])
    return ImportResult(format="mcp-memory", source=file, counts=counts)


def _check(
    recorder: Recorder,
    src: str | os.PathLike[str],
    file: str,
    profile_id: str,
    problems: Problems,
    bar: Progress,
) -> dict[str, int]:
    graph = recorder.graph
    profile = graph.find_profile(profile_id)
    at = utc_now()
    entities: set[str] = set()
    relations: list[tuple[int, str, str]] = []
    relation_ids: set[str] = set()
    bar.stage(f"Checking {file}")
    for number, value in read_json_lines(src, file, problems):
        bar.advance()
        line_type = value.get("type") if isinstance(value, dict) else None
        if line_type not in ("entity", "relation"):
            problems.add(file, "type", f"unknown line type {line_type!r}; expected 'entity' or "
                                       "'relation'", line=number)
            continue
        try:
            record = _parse(value)
            made: MemoryNode | MemoryEdge = (
                entity_node(record, profile_id, at)
                if isinstance(record, McpEntity)
                else relation_edge(record, profile_id, at)
            )
        except PydanticValidationError as exc:
            problems.add_validation(file, exc, line=number)
            continue
        if isinstance(record, McpEntity):
            if record.name in entities:
                problems.add(file, "name", f"duplicate entity {record.name!r}", line=number)
            elif graph.find_node(made.id) is not None:
                problems.add(file, "name", f"entity {record.name!r} is already in profile "
                                           f"{profile_id!r}", line=number)
            if profile is not None and (refusal := kind_refusal(profile, "node", made.kind)):
                problems.add(file, "entityType", refusal, line=number)
            entities.add(record.name)
        else:
            if made.id in relation_ids:
                problems.add(file, "", f"duplicate relation {record.from_!r} "
                                       f"-{record.relationType}-> {record.to!r}", line=number)
            elif graph.find_edge(made.id) is not None:
                problems.add(file, "", f"relation {record.from_!r} -{record.relationType}-> "
                                       f"{record.to!r} is already in profile {profile_id!r}",
                             line=number)
            if profile is not None and (refusal := kind_refusal(profile, "edge", made.kind)):
                problems.add(file, "relationType", refusal, line=number)
            relation_ids.add(made.id)
            relations.extend([(number, "from", record.from_), (number, "to", record.to)])
    for number, field, name in relations:
        if name in entities:
            continue
        stored = graph.find_node(entity_node_id(profile_id, name))
        if stored is None:
            problems.add(file, field, f"entity {name!r} is neither in this file nor in profile "
                                      f"{profile_id!r}", line=number)
    return {"nodes": len(entities), "edges": len(relation_ids)}


def _write(
    recorder: Recorder,
    src: str | os.PathLike[str],
    file: str,
    profile_id: str,
    bar: Progress,
) -> None:
    source = os.path.basename(os.fspath(src))
    at = utc_now()
    writer = EventWriter(recorder, file, bar, max_records=5 * RECORDS_PER_IMPORT_EVENT)
    if recorder.graph.find_profile(profile_id) is None:
        profile = Profile(id=profile_id, name=profile_id, created_at=at, updated_at=at)
        writer.add(graph_imported_event(recorder, profile_id, source,
                                        profiles=[profile.model_dump(mode="json")]))
        writer.flush()
    bar.stage(f"Importing {file}")
    for wanted in ("entity", "relation"):
        chunk: list[Any] = []
        key = "nodes" if wanted == "entity" else "edges"
        for _, value in read_json_lines(src, file, Problems()):
            if value.get("type") != wanted:
                continue
            record = _parse(value)
            made = (
                entity_node(record, profile_id, at)
                if isinstance(record, McpEntity)
                else relation_edge(record, profile_id, at)
            )
            chunk.append(made.model_dump(mode="json"))
            if len(chunk) >= RECORDS_PER_IMPORT_EVENT:
                writer.add(graph_imported_event(recorder, profile_id, source, **{key: chunk}),
                           records=len(chunk))
                chunk = []
        if chunk:
            writer.add(graph_imported_event(recorder, profile_id, source, **{key: chunk}),
                       records=len(chunk))
        writer.flush()

"""What an MCP memory import would write: the file read and checked, then compared with the profile.

:func:`read_file` reads and checks every line (the file alone); :func:`plan_import`
compares what is valid with the profile (inside the import's transaction) and
returns an :class:`ImportPlan`, writing nothing. Problems go to a
:class:`~phase_memory.interchange.problems.Problems`; :func:`sorted_out` turns
the problems of single lines into skipped lines when asked to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

from phase_memory.errors import ImportProblem
from phase_memory.interchange.jsonl import read_json_lines
from phase_memory.interchange.mcp_format import (
    NAME_KEY,
    RELATION_TYPE_KEY,
    LineProblem,
    McpEntity,
    McpRelation,
    entity_attributes,
    entity_node,
    entity_nodes,
    is_entity_node,
    is_relation_edge,
    kind_of,
    parse_line,
    readable_name,
    readable_relation,
    relation_edge,
    relation_edge_between,
)
from phase_memory.interchange.problems import MAX_PROBLEMS, Problems
from phase_memory.interchange.progress import Progress
from phase_memory.models import MemoryEdge, MemoryNode, NodeState, Profile, utc_now
from phase_memory.protocols import MemoryGraphStore
from phase_memory.replay import kind_refusal

ImportMode = Literal["strict", "sync"]
"""How an MCP memory file meets the profile: add to it (``strict``) or make it follow."""


@dataclass
class FileContents:
    """The valid lines of a file, and every name its lines give (valid or not)."""

    entities: dict[str, tuple[int, McpEntity]] = field(default_factory=dict)
    relations: dict[tuple[str, str, str], tuple[int, McpRelation]] = field(default_factory=dict)
    named_entities: set[str] = field(default_factory=set)
    named_relations: set[tuple[str, str, str]] = field(default_factory=set)


@dataclass
class ImportPlan:
    """What an import writes; built inside the import's transaction, nothing written yet."""

    new_profile: Profile | None = None
    added_nodes: list[MemoryNode] = field(default_factory=list)
    updated_nodes: list[MemoryNode] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    added_edges: list[MemoryEdge] = field(default_factory=list)
    updated_edges: list[MemoryEdge] = field(default_factory=list)
    removed_edges: list[str] = field(default_factory=list)
    unchanged_nodes: int = 0
    unchanged_edges: int = 0

    @property
    def changes_anything(self) -> bool:
        """Whether the import would write any record (a new profile alone is not one)."""
        return bool(self.added_nodes or self.updated_nodes or self.restored or self.archived
                    or self.added_edges or self.updated_edges or self.removed_edges)

    def counts(self, mode: ImportMode) -> dict[str, int]:
        """What the import writes, by kind: ``nodes``/``edges`` (strict) or by change (sync)."""
        if mode == "strict":
            return {"nodes": len(self.added_nodes), "edges": len(self.added_edges)}
        return {
            "nodes_added": len(self.added_nodes),
            "nodes_updated": len(self.updated_nodes),
            "nodes_restored": len(self.restored),
            "nodes_archived": len(self.archived),
            "nodes_unchanged": self.unchanged_nodes,
            "edges_added": len(self.added_edges),
            "edges_updated": len(self.updated_edges),
            "edges_removed": len(self.removed_edges),
            "edges_unchanged": self.unchanged_edges,
        }


def sorted_out(found: Problems, skip_invalid: bool) -> tuple[Problems, list[ImportProblem]]:
    """The problems that refuse the import, and the lines left out (``skip_invalid``).

    Both in file order, whichever check found them. With ``skip_invalid``
    every problem of a single line is a skipped line; what is left (the file
    cannot be read, the profile id is invalid) refuses.
    """
    items = found.items()
    more = [items.pop()] if found.total > MAX_PROBLEMS else []  # "N more problem(s) ..."
    items.sort(key=lambda p: p.line or 0)
    refusing = Problems()
    skipped: list[ImportProblem] = []
    for problem in items:
        if skip_invalid and problem.line is not None:
            skipped.append(problem)
        else:
            refusing.add(problem.file, problem.field, problem.reason, line=problem.line)
    if skip_invalid:
        skipped.extend(more)
    else:
        refusing.total = found.total  # its items() says how many more there were
    return refusing, skipped


def read_file(
    src: str | os.PathLike[str], file: str, problems: Problems, bar: Progress
) -> FileContents:
    """Read and check every line of ``src`` (the file alone); problems go to ``problems``.

    The first of duplicate entities (same name) or relations (same from, to,
    relationType) is kept; the others are problems naming the first's line.
    """
    contents = FileContents()
    for number, value in read_json_lines(src, file, problems):
        bar.advance()
        name = readable_name(value)
        if name is not None:
            contents.named_entities.add(name)
        named_relation = readable_relation(value)
        if named_relation is not None:
            contents.named_relations.add(named_relation)
        try:
            record = parse_line(value)
        except LineProblem as problem:
            problems.add(file, problem.field, problem.reason, line=number)
            continue
        if isinstance(record, McpEntity):
            first = contents.entities.get(record.name)
            if first is not None:
                problems.add(file, "name", f"duplicate entity {record.name!r} (first on line "
                                           f"{first[0]})", line=number)
            else:
                contents.entities[record.name] = (number, record)
        else:
            seen = contents.relations.get(record.key)
            if seen is not None:
                problems.add(file, "", f"duplicate relation {record.source!r} "
                                       f"-{record.relationType}-> {record.target!r} (first on "
                                       f"line {seen[0]})", line=number)
            else:
                contents.relations[record.key] = (number, record)
    return contents


def plan_import(
    graph: MemoryGraphStore,
    contents: FileContents,
    file: str,
    profile_id: str,
    mode: ImportMode,
    problems: Problems,
) -> ImportPlan:
    """Compare the file's valid lines with ``profile_id``: what the import would write.

    Problems found (an entity already there in strict mode, a relation to a
    missing entity, a kind the policy does not allow) go to ``problems`` with
    their line; nothing is written. Entities are found by name (the name
    index), relations by their two nodes and type. A forgotten entity keeps
    nothing of its name, so a file naming it again adds it as a new entity.
    """
    profile = graph.find_profile(profile_id)
    at = utc_now()
    plan = ImportPlan()
    node_ids: dict[str, str] = {}
    """The node each imported entity name is (or will be), for the relations."""
    stored = entity_nodes(graph, profile_id, contents.entities)
    for name, (line, entity) in contents.entities.items():
        kind = kind_of(entity.entityType)
        if profile is not None and (refusal := kind_refusal(profile, "node", kind)):
            problems.add(file, "entityType", refusal, line=line)
            continue
        current = stored.get(name)
        if current is None:
            made = entity_node(entity, profile_id, at)
            plan.added_nodes.append(made)
            node_ids[name] = made.id
            continue
        if mode == "strict":
            problems.add(file, "name", f"entity {name!r} is already in profile {profile_id!r}",
                         line=line)
            continue
        _plan_node_update(plan, current, entity)
        node_ids[name] = current.id
    ends = {n for _, r in contents.relations.values() for n in (r.source, r.target)}
    ends -= set(node_ids)
    elsewhere = {name: node.id for name, node in entity_nodes(graph, profile_id, ends).items()}
    edge_ids: set[str] = set()
    for line, relation in contents.relations.values():
        missing = _missing_endpoints(relation, node_ids, elsewhere, contents, profile_id, mode)
        for field_name, reason in missing:
            problems.add(file, field_name, reason, line=line)
        kind = kind_of(relation.relationType)
        if profile is not None and (refusal := kind_refusal(profile, "edge", kind)):
            problems.add(file, "relationType", refusal, line=line)
            continue
        if missing:
            continue
        source_id = node_ids.get(relation.source) or elsewhere[relation.source]
        target_id = node_ids.get(relation.target) or elsewhere[relation.target]
        made_edge = relation_edge(relation, profile_id, at, source_id=source_id,
                                  target_id=target_id)
        current_edge = relation_edge_between(graph, profile_id, source_id, target_id,
                                             relation.relationType)
        if current_edge is None:
            plan.added_edges.append(made_edge)
            edge_ids.add(made_edge.id)
        elif mode == "strict":
            problems.add(file, "", f"relation {relation.source!r} -{relation.relationType}-> "
                                   f"{relation.target!r} is already in profile {profile_id!r}",
                         line=line)
            continue
        else:
            _plan_edge_update(plan, current_edge, made_edge)
            edge_ids.add(current_edge.id)
    if mode == "sync":
        _plan_removals(graph, plan, contents, profile_id, edge_ids)
    if profile is None and plan.changes_anything:
        plan.new_profile = Profile(id=profile_id, name=profile_id, created_at=at, updated_at=at)
    return plan


def _plan_node_update(plan: ImportPlan, current: MemoryNode, entity: McpEntity) -> None:
    wanted = {
        "kind": kind_of(entity.entityType),
        "label": entity.name,
        "content": "\n".join(entity.observations) if entity.observations else None,
        "attributes": {**current.attributes, **entity_attributes(entity)},
    }
    archived = current.state is NodeState.ARCHIVED
    if archived:
        plan.restored.append(current.id)
    if any(getattr(current, key) != value for key, value in wanted.items()):
        # The state it will have once restored; save_node sets version and updated_at.
        plan.updated_nodes.append(
            current.model_copy(update={**wanted, "state": NodeState.ACTIVE})
        )
    elif not archived:
        plan.unchanged_nodes += 1


def _plan_edge_update(plan: ImportPlan, current: MemoryEdge, made: MemoryEdge) -> None:
    wanted_attributes = {**current.attributes, **made.attributes}
    if current.kind != made.kind or current.attributes != wanted_attributes:
        plan.updated_edges.append(
            current.model_copy(update={"kind": made.kind, "attributes": wanted_attributes})
        )
    else:
        plan.unchanged_edges += 1


def _missing_endpoints(
    relation: McpRelation,
    imported: dict[str, str],
    elsewhere: dict[str, str],
    contents: FileContents,
    profile_id: str,
    mode: ImportMode,
) -> list[tuple[str, str]]:
    """(field, reason) for each end of ``relation`` that names no entity the import keeps.

    ``imported``: the entities of the file the import keeps; ``elsewhere``: the
    other names the profile has an entity of (active or archived).
    """
    missing: list[tuple[str, str]] = []
    for field_name, name in (("from", relation.source), ("to", relation.target)):
        if name in imported:
            continue
        usable = name in elsewhere
        if name in contents.named_entities:
            # Its line has a problem; the entity is still there if the profile has it.
            if not usable:
                missing.append((field_name, f"entity {name!r} is not imported (its line has "
                                            "a problem)"))
        elif mode == "sync":
            missing.append((field_name, f"entity {name!r} is not in this file"))
        elif not usable:
            missing.append((field_name, f"entity {name!r} is neither in this file nor in "
                                        f"profile {profile_id!r}"))
    return missing


def _plan_removals(
    graph: MemoryGraphStore,
    plan: ImportPlan,
    contents: FileContents,
    profile_id: str,
    edge_ids: set[str],
) -> None:
    """Entities and relations of earlier MCP imports that the file no longer has."""
    names: dict[str, str] = {}
    for node in graph.iter_nodes(profile_id):
        if not is_entity_node(node):
            continue  # not an entity node: leave it alone
        name = str(node.attributes[NAME_KEY])
        names[node.id] = name
        if node.state is NodeState.ACTIVE and name not in contents.named_entities:
            plan.archived.append(node.id)
    for edge in graph.iter_edges(profile_id):
        if not is_relation_edge(edge) or edge.id in edge_ids:
            continue
        key = (names.get(edge.source_id), names.get(edge.target_id),
               edge.attributes[RELATION_TYPE_KEY])
        if key not in contents.named_relations:  # a line with a problem keeps its relation
            plan.removed_edges.append(edge.id)
    plan.archived.sort()
    plan.removed_edges.sort()

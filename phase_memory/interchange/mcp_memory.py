"""Import the official MCP memory server's ``memory.jsonl`` into a profile.

Two modes (``docs/mcp-memory.md`` walks through both):

- ``strict`` (the default): the file adds to the profile, all or nothing. An
  entity or relation already in the profile is a problem, like every other.
- ``sync``: the profile follows the file. Entities are matched by name: new
  ones are added, changed ones updated (the node gets the file's type and
  observations, in the file's order; its earlier versions stay in the event
  log), archived ones that are back are restored, and entities the file no
  longer has are archived, through the same lifecycle actions, review gate and
  audit as ``apply``. Relations the file gains are added, relations it lost
  are removed (edges have no state; ``edge.deleted`` keeps them in the log,
  and a relation that comes back gets its old id). Nodes that did not come
  from an MCP file are never touched. A sync that finds nothing to change
  writes nothing: no event, no audit record.

``skip_invalid=True`` imports what is valid and lists every line it left out,
with its reason (malformed, a duplicate, a relation to a missing entity, a
type the profile does not allow), in the result's ``skipped`` and in the
import's audit record. A line that names an entity keeps that entity from
being archived by a sync even when the line itself is skipped.

A file with no lines (the server writes a 0-byte file for an empty graph) is
an empty memory: nothing is written, not even the profile. The mapping of
lines onto nodes and edges is in :mod:`phase_memory.interchange.mcp_format`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from phase_memory.errors import ImportProblem, ReviewRequiredError
from phase_memory.interchange.common import (
    IMPORT_OPERATION,
    EventWriter,
    audit_import,
    consistent_reads,
    display_name,
    graph_imported_event,
    resolved,
)
from phase_memory.interchange.formats import RECORDS_PER_IMPORT_EVENT
from phase_memory.interchange.jsonl import read_json_lines
from phase_memory.interchange.mcp_format import (
    ENTITY_ID_PREFIX,
    MCP_NAMESPACE,
    NAME_KEY,
    RELATION_ID_PREFIX,
    LineProblem,
    McpEntity,
    McpRelation,
    entity_attributes,
    entity_node,
    entity_node_id,
    kind_of,
    parse_line,
    readable_name,
    readable_relation,
    relation_edge,
    relation_edge_id,
)
from phase_memory.interchange.problems import MAX_PROBLEMS, Problems
from phase_memory.interchange.progress import Progress
from phase_memory.interchange.results import ImportResult
from phase_memory.models import (
    AuditOutcome,
    AuditRecord,
    LifecycleAction,
    LifecycleKind,
    MemoryEdge,
    MemoryNode,
    NodeState,
    Profile,
    new_id,
    utc_now,
)
from phase_memory.models.ids import check_identifier
from phase_memory.runtime.review_gate import needs_review

if TYPE_CHECKING:
    from phase_memory.runtime.runtime import PhaseMemoryRuntime

ImportMode = Literal["strict", "sync"]
"""How an MCP memory file meets the profile: add to it (``strict``) or make it follow."""

FORMAT = "mcp-memory"

__all__ = [
    "MCP_NAMESPACE",
    "ImportMode",
    "entity_node_id",
    "import_mcp_memory",
    "kind_of",
    "relation_edge_id",
]


@dataclass
class _FileContents:
    """The valid lines of a file, and every name its lines give (valid or not)."""

    entities: dict[str, tuple[int, McpEntity]] = field(default_factory=dict)
    relations: dict[tuple[str, str, str], tuple[int, McpRelation]] = field(default_factory=dict)
    named_entities: set[str] = field(default_factory=set)
    named_relations: set[tuple[str, str, str]] = field(default_factory=set)


@dataclass
class _Plan:
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
        return bool(self.added_nodes or self.updated_nodes or self.restored or self.archived
                    or self.added_edges or self.updated_edges or self.removed_edges)

    def counts(self, mode: ImportMode) -> dict[str, int]:
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


class _NeedsReview(Exception):
    """A sync would archive or restore nodes, and the profile requires review for it."""

    def __init__(self, actions: list[LifecycleAction]) -> None:
        super().__init__("review required")
        self.actions = actions


def import_mcp_memory(
    runtime: PhaseMemoryRuntime,
    src: str | os.PathLike[str],
    *,
    profile_id: str = "default",
    mode: ImportMode = "strict",
    skip_invalid: bool = False,
    check_only: bool = False,
    progress: bool | None = None,
) -> ImportResult:
    """Import an MCP ``memory.jsonl`` into ``profile_id`` (see the module docstring).

    Raises :class:`~phase_memory.errors.ImportValidationError` listing every
    problem (nothing written), or :class:`~phase_memory.errors.ReviewRequiredError`
    when a sync would archive or restore entities and the profile's policy
    requires review for that (nothing written; a ``denied`` audit record is kept).
    ``check_only=True`` writes nothing and returns what the import would do.
    """
    if mode not in ("strict", "sync"):
        raise ValueError(f"mode must be 'strict' or 'sync', not {mode!r}")
    file = display_name(src)
    problems = Problems()
    try:
        check_identifier(profile_id)
    except ValueError as exc:
        problems.add(file, "profile_id", f"{profile_id!r} is not a valid profile id: {exc}")
    with Progress(progress) as bar:
        if problems:
            return _finish(problems, file, check_only, {}, [], raise_problems=not check_only)
        bar.stage(f"Checking {file}")
        contents = _read(src, file, problems, bar)
        if check_only:
            with consistent_reads(runtime):
                plan = _plan(runtime, contents, file, profile_id, mode, problems)
            refusing, skipped = _sorted_out(problems, skip_invalid)
            return _finish(refusing, file, True, plan.counts(mode), skipped, raise_problems=False)
        try:
            with runtime.store.transaction():
                plan = _plan(runtime, contents, file, profile_id, mode, problems)
                refusing, skipped = _sorted_out(problems, skip_invalid)
                refusing.raise_if_any()
                _check_gate(runtime, plan, profile_id, file)
                if plan.changes_anything:
                    bar.stage(f"Importing {file}")
                    _write(runtime, plan, src, file, profile_id, bar)
                    audit_import(runtime, FORMAT, resolved(src), plan.counts(mode), [profile_id],
                                 details={"mode": mode, "skip_invalid": skip_invalid,
                                          "skipped": _skipped_details(skipped)})
        except _NeedsReview as refusal:
            _audit_denied(runtime, refusal.actions, src, mode, profile_id)
            kinds = [a.kind.value for a in refusal.actions]
            raise ReviewRequiredError([a.id for a in refusal.actions], kinds) from None
    return ImportResult(format=FORMAT, source=file, counts=plan.counts(mode), skipped=skipped)


def _finish(
    problems: Problems, file: str, check_only: bool, counts: dict[str, int],
    skipped: list[ImportProblem], *, raise_problems: bool,
) -> ImportResult:
    if raise_problems:
        problems.raise_if_any()
    return ImportResult(format=FORMAT, source=file, check_only=check_only, counts=counts,
                        problems=problems.items(), skipped=skipped)


def _sorted_out(found: Problems, skip_invalid: bool) -> tuple[Problems, list[ImportProblem]]:
    """The problems that refuse the import, and the lines left out (``skip_invalid``).

    With ``skip_invalid`` every problem of a single line is a skipped line;
    what is left (the file cannot be read, the profile id is invalid) refuses.
    """
    if not skip_invalid:
        return found, []
    refusing = Problems()
    skipped: list[ImportProblem] = []
    items = found.items()
    listed = items[:MAX_PROBLEMS] if found.total > MAX_PROBLEMS else items
    for problem in listed:
        if problem.line is None:
            refusing.add(problem.file, problem.field, problem.reason)
        else:
            skipped.append(problem)
    skipped.sort(key=lambda p: p.line or 0)  # in file order, whichever check found them
    if found.total > MAX_PROBLEMS:
        skipped.append(items[-1])  # "N more problem(s) not listed"
    return refusing, skipped


def _skipped_details(skipped: list[ImportProblem]) -> list[dict[str, Any]]:
    return [{"line": p.line, "field": p.field, "reason": p.reason} for p in skipped]


# --- reading ---------------------------------------------------------------------------------


def _read(
    src: str | os.PathLike[str], file: str, problems: Problems, bar: Progress
) -> _FileContents:
    contents = _FileContents()
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


# --- planning --------------------------------------------------------------------------------


def _plan(
    runtime: PhaseMemoryRuntime,
    contents: _FileContents,
    file: str,
    profile_id: str,
    mode: ImportMode,
    problems: Problems,
) -> _Plan:
    graph = runtime.graph
    profile = graph.find_profile(profile_id)
    at = utc_now()
    plan = _Plan()
    imported: set[str] = set()
    for name, (line, entity) in contents.entities.items():
        made = entity_node(entity, profile_id, at)
        if profile is not None and not profile.policy.allows_node_kind(made.kind):
            problems.add(file, "entityType", f"profile {profile_id!r} does not allow node kind "
                                             f"{made.kind!r}", line=line)
            continue
        current = graph.find_node(made.id)
        if current is None:
            plan.added_nodes.append(made)
        elif current.state is NodeState.FORGOTTEN:
            problems.add(file, "name", f"entity {name!r} was forgotten in profile "
                                       f"{profile_id!r}; it is not imported again", line=line)
            continue
        elif mode == "strict":
            problems.add(file, "name", f"entity {name!r} is already in profile {profile_id!r}",
                         line=line)
            continue
        else:
            _plan_node_update(plan, current, entity)
        imported.add(name)
    edge_ids: set[str] = set()
    for line, relation in contents.relations.values():
        missing = _missing_endpoints(runtime, relation, imported, contents, profile_id, mode)
        for field_name, reason in missing:
            problems.add(file, field_name, reason, line=line)
        made_edge = relation_edge(relation, profile_id, at)
        if profile is not None and not profile.policy.allows_edge_kind(made_edge.kind):
            problems.add(file, "relationType", f"profile {profile_id!r} does not allow edge kind "
                                               f"{made_edge.kind!r}", line=line)
            continue
        if missing:
            continue
        current_edge = graph.find_edge(made_edge.id)
        if current_edge is None:
            plan.added_edges.append(made_edge)
        elif mode == "strict":
            problems.add(file, "", f"relation {relation.source!r} -{relation.relationType}-> "
                                   f"{relation.target!r} is already in profile {profile_id!r}",
                         line=line)
            continue
        else:
            _plan_edge_update(plan, current_edge, made_edge)
        edge_ids.add(made_edge.id)
    if mode == "sync":
        _plan_removals(runtime, plan, contents, profile_id, edge_ids)
    if profile is None and plan.changes_anything:
        plan.new_profile = Profile(id=profile_id, name=profile_id, created_at=at, updated_at=at)
    return plan


def _plan_node_update(plan: _Plan, current: MemoryNode, entity: McpEntity) -> None:
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


def _plan_edge_update(plan: _Plan, current: MemoryEdge, made: MemoryEdge) -> None:
    wanted_attributes = {**current.attributes, **made.attributes}
    if current.kind != made.kind or current.attributes != wanted_attributes:
        plan.updated_edges.append(
            current.model_copy(update={"kind": made.kind, "attributes": wanted_attributes})
        )
    else:
        plan.unchanged_edges += 1


def _missing_endpoints(
    runtime: PhaseMemoryRuntime,
    relation: McpRelation,
    imported: set[str],
    contents: _FileContents,
    profile_id: str,
    mode: ImportMode,
) -> list[tuple[str, str]]:
    """(field, reason) for each end of ``relation`` that names no entity the import keeps."""
    missing: list[tuple[str, str]] = []
    for field_name, name in (("from", relation.source), ("to", relation.target)):
        if name in imported:
            continue
        stored = runtime.graph.find_node(entity_node_id(profile_id, name))
        usable = stored is not None and stored.state is not NodeState.FORGOTTEN
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
    runtime: PhaseMemoryRuntime,
    plan: _Plan,
    contents: _FileContents,
    profile_id: str,
    edge_ids: set[str],
) -> None:
    """Entities and relations of earlier MCP imports that the file no longer has."""
    graph = runtime.graph
    for node in graph.iter_nodes(profile_id):
        if node.state is not NodeState.ACTIVE or not node.id.startswith(ENTITY_ID_PREFIX):
            continue
        name = node.attributes.get(NAME_KEY)
        if not isinstance(name, str) or entity_node_id(profile_id, name) != node.id:
            continue  # not an entity node: leave it alone
        if name not in contents.named_entities:
            plan.archived.append(node.id)
    named = {relation_edge_id(profile_id, source, relation_type, target)
             for source, target, relation_type in contents.named_relations}
    for edge in graph.iter_edges(profile_id):
        if (edge.id.startswith(RELATION_ID_PREFIX) and edge.id not in edge_ids
                and edge.id not in named):
            plan.removed_edges.append(edge.id)
    plan.archived.sort()
    plan.removed_edges.sort()


# --- the review gate -------------------------------------------------------------------------


def _lifecycle_actions(
    kind: LifecycleKind, profile_id: str, node_ids: list[str], reason: str
) -> list[LifecycleAction]:
    return [
        LifecycleAction(kind=kind, profile_id=profile_id, targets=node_ids[start:start + size],
                        reason=reason)
        for size in (RECORDS_PER_IMPORT_EVENT,)
        for start in range(0, len(node_ids), size)
    ]


def _actions(plan: _Plan, profile_id: str, file: str) -> list[LifecycleAction]:
    source = os.path.basename(file)
    return [
        *_lifecycle_actions(LifecycleKind.RESTORE, profile_id, plan.restored,
                            f"back in {source} (MCP memory sync)"),
        *_lifecycle_actions(LifecycleKind.ARCHIVE, profile_id, plan.archived,
                            f"no longer in {source} (MCP memory sync)"),
    ]


def _check_gate(runtime: PhaseMemoryRuntime, plan: _Plan, profile_id: str, file: str) -> None:
    """Refuse (before anything is written) archives or restores the policy sends to review."""
    profile = runtime.graph.find_profile(profile_id)
    if profile is None:
        return
    denied = [a for a in _actions(plan, profile_id, file) if needs_review(profile, a.kind)]
    if denied:
        raise _NeedsReview(denied)


def _audit_denied(
    runtime: PhaseMemoryRuntime,
    actions: list[LifecycleAction],
    src: str | os.PathLike[str],
    mode: ImportMode,
    profile_id: str,
) -> None:
    kinds = sorted({a.kind.value for a in actions})
    record = AuditRecord(
        id=new_id(), at=utc_now(), actor=runtime.actor, operation=IMPORT_OPERATION,
        subject_ids=[t for a in actions for t in a.targets], outcome=AuditOutcome.DENIED,
        details={
            "format": FORMAT, "source": resolved(src), "mode": mode, "profile_id": profile_id,
            "action_ids": [a.id for a in actions], "kinds": kinds,
            "denied_because": f"profile {profile_id!r} requires review for {', '.join(kinds)} "
                              "and an import carries no approval",
        },
    )
    with runtime.store.transaction():
        runtime.audit.record(record)


# --- writing ---------------------------------------------------------------------------------


def _write(
    runtime: PhaseMemoryRuntime,
    plan: _Plan,
    src: str | os.PathLike[str],
    file: str,
    profile_id: str,
    bar: Progress,
) -> None:
    source = os.path.basename(os.fspath(src))
    writer = EventWriter(runtime, file, bar, max_records=5 * RECORDS_PER_IMPORT_EVENT)
    if plan.new_profile is not None:
        writer.add(graph_imported_event(runtime, profile_id, source,
                                        profiles=[plan.new_profile.model_dump(mode="json")]))
        writer.flush()
    actions = _actions(plan, profile_id, file)
    restores = [a for a in actions if a.kind is LifecycleKind.RESTORE]
    if restores:
        runtime.apply(restores)
    _add_records(runtime, writer, profile_id, source, "nodes", plan.added_nodes)
    for node in plan.updated_nodes:
        runtime.save_node(node)
    for edge_id in plan.removed_edges:
        runtime.delete_edge(edge_id)
    _add_records(runtime, writer, profile_id, source, "edges", plan.added_edges)
    for edge in plan.updated_edges:
        runtime.save_edge(edge)
    archives = [a for a in actions if a.kind is LifecycleKind.ARCHIVE]
    if archives:
        runtime.apply(archives)


def _add_records(
    runtime: PhaseMemoryRuntime,
    writer: EventWriter,
    profile_id: str,
    source: str,
    key: str,
    records: Iterable[MemoryNode | MemoryEdge],
) -> None:
    chunk: list[Any] = []
    for record in records:
        chunk.append(record.model_dump(mode="json"))
        if len(chunk) >= RECORDS_PER_IMPORT_EVENT:
            writer.add(graph_imported_event(runtime, profile_id, source, **{key: chunk}),
                       records=len(chunk))
            chunk = []
    if chunk:
        writer.add(graph_imported_event(runtime, profile_id, source, **{key: chunk}),
                   records=len(chunk))
    writer.flush()

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
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from phase_memory.errors import ImportProblem, ReviewRequiredError, ValidationError
from phase_memory.interchange.common import (
    IMPORT_OPERATION,
    EventWriter,
    audit_import,
    display_name,
    graph_imported_event,
    resolved,
)
from phase_memory.interchange.formats import RECORDS_PER_IMPORT_EVENT
from phase_memory.interchange.mcp_format import (
    entity_nodes,
    kind_of,
    new_entity_id,
    new_relation_id,
)
from phase_memory.interchange.mcp_plan import (
    ImportMode,
    ImportPlan,
    plan_import,
    read_file,
    sorted_out,
)
from phase_memory.interchange.problems import Problems
from phase_memory.interchange.progress import Progress, ProgressCallback
from phase_memory.interchange.results import ImportResult
from phase_memory.models import (
    AuditOutcome,
    AuditRecord,
    LifecycleAction,
    LifecycleKind,
    MemoryEdge,
    MemoryNode,
    new_id,
    utc_now,
)
from phase_memory.models.ids import check_identifier
from phase_memory.recorder import Recorder, needs_review

ApplyActions = Callable[[Sequence[LifecycleAction]], object]
"""How a sync applies its archive and restore actions: the runtime's ``apply``
(lifecycle, the review gate and audit), handed down by the recorder."""

FORMAT = "mcp-memory"

__all__ = [
    "ImportMode",
    "entity_nodes",
    "import_mcp_memory",
    "kind_of",
    "new_entity_id",
    "new_relation_id",
]


class _NeedsReview(Exception):
    """A sync would archive or restore nodes, and the profile requires review for it."""

    def __init__(self, actions: list[LifecycleAction], message: str) -> None:
        super().__init__(message)
        self.actions = actions
        self.message = message


def import_mcp_memory(
    recorder: Recorder,
    src: str | os.PathLike[str],
    *,
    profile_id: str = "default",
    mode: ImportMode = "strict",
    skip_invalid: bool = False,
    check_only: bool = False,
    progress: ProgressCallback | None = None,
    apply: ApplyActions | None = None,
) -> ImportResult:
    """Import an MCP ``memory.jsonl`` into ``profile_id`` (see the module docstring).

    Raises :class:`~phase_memory.errors.ImportValidationError` listing every
    problem (nothing written), or :class:`~phase_memory.errors.ReviewRequiredError`
    when a sync would archive or restore entities and the profile's policy
    requires review for that (nothing written; a ``denied`` audit record is kept).
    ``check_only=True`` writes nothing and returns what the import would do.
    """
    if mode not in ("strict", "sync"):
        raise ValidationError(f"mode must be 'strict' or 'sync', not {mode!r}")
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
        contents = read_file(src, file, problems, bar)
        if check_only:
            with recorder.store.read_transaction():
                plan = plan_import(recorder.graph, contents, file, profile_id, mode, problems)
            refusing, skipped = sorted_out(problems, skip_invalid)
            return _finish(refusing, file, True, plan.counts(mode), skipped, raise_problems=False)
        try:
            with recorder.store.transaction():
                plan = plan_import(recorder.graph, contents, file, profile_id, mode, problems)
                refusing, skipped = sorted_out(problems, skip_invalid)
                refusing.raise_if_any()
                _check_gate(recorder, plan, profile_id, file)
                if plan.changes_anything:
                    bar.stage(f"Importing {file}")
                    _write(recorder, plan, src, file, profile_id, bar, apply)
                    audit_import(recorder, FORMAT, resolved(src), plan.counts(mode), [profile_id],
                                 details={"mode": mode, "skip_invalid": skip_invalid,
                                          "skipped": _skipped_details(skipped)})
        except _NeedsReview as refusal:
            _audit_denied(recorder, refusal.actions, src, mode, profile_id)
            kinds = [a.kind.value for a in refusal.actions]
            error = ReviewRequiredError([a.id for a in refusal.actions], kinds)
            error.args = (refusal.message,)  # name the entities, not action ids made here
            raise error from None
    return ImportResult(format=FORMAT, source=file, counts=plan.counts(mode), skipped=skipped)


def _finish(
    problems: Problems, file: str, check_only: bool, counts: dict[str, int],
    skipped: list[ImportProblem], *, raise_problems: bool,
) -> ImportResult:
    if raise_problems:
        problems.raise_if_any()
    return ImportResult(format=FORMAT, source=file, check_only=check_only, counts=counts,
                        problems=problems.items(), skipped=skipped)


def _skipped_details(skipped: list[ImportProblem]) -> list[dict[str, Any]]:
    return [{"line": p.line, "field": p.field, "reason": p.reason} for p in skipped]


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


def _actions(plan: ImportPlan, profile_id: str, file: str) -> list[LifecycleAction]:
    source = os.path.basename(file)
    return [
        *_lifecycle_actions(LifecycleKind.RESTORE, profile_id, plan.restored,
                            f"back in {source} (MCP memory sync)"),
        *_lifecycle_actions(LifecycleKind.ARCHIVE, profile_id, plan.archived,
                            f"no longer in {source} (MCP memory sync)"),
    ]


def _check_gate(recorder: Recorder, plan: ImportPlan, profile_id: str, file: str) -> None:
    """Refuse (before anything is written) archives or restores the policy sends to review."""
    profile = recorder.graph.find_profile(profile_id)
    if profile is None:
        return
    denied = [a for a in _actions(plan, profile_id, file) if needs_review(profile, a.kind)]
    if not denied:
        return
    node_ids = [t for a in denied for t in a.targets]
    names = [n.label for n in recorder.graph.find_nodes(node_ids[:3]).values()]
    shown = ", ".join(repr(n) for n in names) + (" and more" if len(node_ids) > 3 else "")
    kinds = " and ".join(sorted({a.kind.value for a in denied}))
    raise _NeedsReview(denied, (
        f"a sync with {file} would {kinds} {len(node_ids)} entit"
        f"{'y' if len(node_ids) == 1 else 'ies'} of profile {profile_id!r} ({shown}), which its "
        f"policy requires review for; {kinds} them with an approved action (phase-memory "
        "apply) or change the policy, then sync again; nothing was imported"
    ))


def _audit_denied(
    recorder: Recorder,
    actions: list[LifecycleAction],
    src: str | os.PathLike[str],
    mode: ImportMode,
    profile_id: str,
) -> None:
    kinds = sorted({a.kind.value for a in actions})
    record = AuditRecord(
        id=new_id(), at=utc_now(), actor=recorder.actor, operation=IMPORT_OPERATION,
        subject_ids=[t for a in actions for t in a.targets], outcome=AuditOutcome.DENIED,
        details={
            "format": FORMAT, "source": resolved(src), "mode": mode, "profile_id": profile_id,
            "action_ids": [a.id for a in actions], "kinds": kinds,
            "denied_because": f"profile {profile_id!r} requires review for {', '.join(kinds)} "
                              "and an import carries no approval",
        },
    )
    with recorder.store.transaction():
        recorder.audit.record(record)


# --- writing ---------------------------------------------------------------------------------


def _write(
    recorder: Recorder,
    plan: ImportPlan,
    src: str | os.PathLike[str],
    file: str,
    profile_id: str,
    bar: Progress,
    apply: ApplyActions | None,
) -> None:
    source = os.path.basename(os.fspath(src))
    writer = EventWriter(recorder, file, bar, max_records=5 * RECORDS_PER_IMPORT_EVENT)
    if plan.new_profile is not None:
        writer.add(graph_imported_event(recorder, profile_id, source,
                                        profiles=[plan.new_profile.model_dump(mode="json")]))
        writer.flush()
    actions = _actions(plan, profile_id, file)
    if actions and apply is None:
        raise ValidationError("a sync that archives or restores entities needs the runtime's apply")
    restores = [a for a in actions if a.kind is LifecycleKind.RESTORE]
    if restores:
        apply(restores)  # type: ignore[misc]
    _add_records(recorder, writer, profile_id, source, "nodes", plan.added_nodes)
    for node in plan.updated_nodes:
        recorder.save_node(node)
    for edge_id in plan.removed_edges:
        recorder.delete_edge(edge_id)
    _add_records(recorder, writer, profile_id, source, "edges", plan.added_edges)
    for edge in plan.updated_edges:
        recorder.save_edge(edge)
    archives = [a for a in actions if a.kind is LifecycleKind.ARCHIVE]
    if archives:
        apply(archives)  # type: ignore[misc]


def _add_records(
    recorder: Recorder,
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
            writer.add(graph_imported_event(recorder, profile_id, source, **{key: chunk}),
                       records=len(chunk))
            chunk = []
    if chunk:
        writer.add(graph_imported_event(recorder, profile_id, source, **{key: chunk}),
                   records=len(chunk))
    writer.flush()

"""Repair diagnostics: what is broken in a memory, where, and how to fix it.

:func:`diagnose` reads everything through the store protocols and reports
:class:`Finding` s: storage-level problems (SQLite ``integrity_check`` and
``foreign_key_check``), an unknown database schema revision, edges whose
endpoints are missing, paths whose parent or merge target is missing, events
that refer to unknown profiles or paths, events a replay cannot apply
(malformed payloads, unknown payload schema versions, references to records
that do not exist at that point of the log), graph drift (the graph tables
differ from a replay of the event log) and content of forgotten nodes that is
still stored somewhere. It writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Literal, cast

from pydantic import Field

from phase_memory.errors import PhaseMemoryError
from phase_memory.models import (
    ActivationPlan,
    AuditOutcome,
    GraphSnapshot,
    MemoryEdge,
    MemoryNode,
    NodeState,
    PathStatus,
)
from phase_memory.models.base import DomainModel
from phase_memory.models.events import PAYLOAD_MODELS
from phase_memory.protocols import Maintainable, MemoryStore
from phase_memory.sql import migrate

Severity = Literal["error", "warning", "info"]

MAX_DRIFT_FINDINGS = 50
"""Drifted records listed one by one per table; the rest are summed up in one finding."""

_REBUILD = (
    "rebuild the graph from the event log: export the events "
    "(`phase-memory export events.jsonl --format events`) and import them into an "
    "empty database"
)


class Finding(DomainModel):
    """One problem (or remark) found by :func:`diagnose`."""

    severity: Severity
    code: str
    """A stable dotted code, e.g. ``edge.missing_endpoint``."""
    location: str
    """What it is about: ``edge e1``, ``event at position 12``, ``database``."""
    message: str
    suggested_fix: str = ""


class RepairReport(DomainModel):
    """Everything :func:`diagnose` found. ``ok`` when nothing is an error or a warning."""

    findings: list[Finding] = Field(default_factory=list)
    checks: list[str] = Field(default_factory=list)
    """The checks that ran (a check skipped for this store is not listed)."""

    @property
    def ok(self) -> bool:
        """True when no finding is an error or a warning."""
        return not any(f.severity in ("error", "warning") for f in self.findings)

    @property
    def errors(self) -> list[Finding]:
        """The findings of severity ``error``."""
        return [f for f in self.findings if f.severity == "error"]

    def codes(self) -> set[str]:
        """The distinct codes found."""
        return {f.code for f in self.findings}


class _Report:
    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.checks: list[str] = []

    def add(
        self, severity: Severity, code: str, location: str, message: str, fix: str = ""
    ) -> None:
        self.findings.append(
            Finding(severity=severity, code=code, location=location, message=message,
                    suggested_fix=fix)
        )


def diagnose(store: MemoryStore) -> RepairReport:
    """Check a store for broken references, drift and leftovers of forgotten content."""
    report = _Report()
    _check_storage(store, report)
    _check_revision(store, report)
    snapshot = _graph_snapshot(store, report)
    if snapshot is not None:
        _check_graph(snapshot, report)
        _check_valid_time(snapshot, report)
        _check_events(store, snapshot, report)
        _check_drift(store, snapshot, report)
        _check_forgotten(store, snapshot, report)
    return RepairReport(findings=report.findings, checks=report.checks)


# --- storage ------------------------------------------------------------------------


def _check_storage(store: MemoryStore, report: _Report) -> None:
    report.checks.append("storage")
    try:
        findings = store.integrity_findings()
    except PhaseMemoryError as exc:
        report.add("error", "storage.unreadable", "database", f"integrity check failed: {exc}",
                   "restore the database from a backup")
        return
    for text in findings:
        foreign = text.startswith("foreign_key_check")
        code = "storage.foreign_key" if foreign else "storage.integrity"
        report.add("error", code, "database", text,
                   "export a workspace, then import it into a new database; if the export "
                   "fails, restore from a backup")


def _check_revision(store: MemoryStore, report: _Report) -> None:
    """The database's schema revision must be one this version knows (SQL stores only)."""
    revision: Callable[[], str | None] | None = getattr(store, "revision", None)
    if not callable(revision):
        return
    report.checks.append("schema_revision")
    try:
        current = revision()
    except PhaseMemoryError as exc:
        report.add("error", "schema.unreadable_revision", "database",
                   f"cannot read the schema revision: {exc}")
        return
    head = migrate.head_revision()
    if current is None:
        report.add("error", "schema.no_revision", "database",
                   "the database records no schema revision",
                   "run `phase-memory db upgrade`")
    elif current not in migrate.known_revisions():
        report.add("error", "schema.unknown_revision", "database",
                   f"the database is at schema revision {current!r}, which this version of "
                   f"phase-memory does not know (its newest is {head!r})",
                   "open it with the newer phase-memory that wrote it")
    elif current != head:
        report.add("warning", "schema.old_revision", "database",
                   f"the database is at schema revision {current!r}; the newest is {head!r}",
                   "run `phase-memory db upgrade`")


# --- graph ------------------------------------------------------------------------------


def _graph_snapshot(store: MemoryStore, report: _Report) -> GraphSnapshot | None:
    """The well-formed stored records; each malformed row is reported where it is."""
    try:
        snapshot, malformed = store.readable_graph()
    except (PhaseMemoryError, ValueError) as exc:
        report.add("error", "graph.unreadable", "graph tables",
                   f"the stored graph cannot be read: {exc}",
                   "look for malformed rows with `sqlite3`; restore from a backup")
        return None
    for row in malformed:
        where = f"{row.table} {row.record_id}" if row.record_id else row.table
        column = f" column {row.column}" if row.column else ""
        report.add("error", "storage.malformed_row", where,
                   f"{row.table} row {row.record_id!r}{column} holds {row.value}, which "
                   f"cannot be read: {row.reason}",
                   f"correct the value with `sqlite3` (UPDATE {row.table} SET ... WHERE "
                   f"id = '{row.record_id}') or restore from a backup; other checks ran "
                   "without this row")
    return snapshot


def _check_graph(snapshot: GraphSnapshot, report: _Report) -> None:
    report.checks.append("references")
    profiles, nodes, paths = snapshot.profiles, snapshot.nodes, snapshot.paths
    for node in snapshot.nodes.values():
        if node.profile_id not in profiles:
            report.add("error", "node.missing_profile", f"node {node.id}",
                       f"node {node.id!r} belongs to profile {node.profile_id!r}, which does "
                       "not exist", _REBUILD)
    for edge in snapshot.edges.values():
        for end in (edge.source_id, edge.target_id):
            target = nodes.get(end)
            if target is None:
                report.add("error", "edge.missing_endpoint", f"edge {edge.id}",
                           f"edge {edge.id!r} refers to node {end!r}, which does not exist",
                           f"delete the edge (`mem.delete_edge({edge.id!r})`) or restore "
                           f"node {end!r}")
            elif target.profile_id != edge.profile_id:
                report.add("error", "edge.cross_profile", f"edge {edge.id}",
                           f"edge {edge.id!r} of profile {edge.profile_id!r} joins node "
                           f"{end!r} of profile {target.profile_id!r}",
                           f"delete the edge (`mem.delete_edge({edge.id!r})`)")
        if edge.profile_id not in profiles:
            report.add("error", "edge.missing_profile", f"edge {edge.id}",
                       f"edge {edge.id!r} belongs to profile {edge.profile_id!r}, which does "
                       "not exist", _REBUILD)
    active: dict[str, list[str]] = defaultdict(list)
    for path in paths.values():
        where = f"path {path.id}"
        if path.profile_id not in profiles:
            report.add("error", "path.missing_profile", where,
                       f"path {path.id!r} belongs to profile {path.profile_id!r}, which does "
                       "not exist", _REBUILD)
        if path.parent_path_id is not None and path.parent_path_id not in paths:
            report.add("error", "path.missing_parent", where,
                       f"path {path.id!r} branches from path {path.parent_path_id!r}, which "
                       "does not exist", _REBUILD)
        if path.merged_into_path_id is not None and path.merged_into_path_id not in paths:
            report.add("error", "path.missing_merge_target", where,
                       f"path {path.id!r} was merged into path {path.merged_into_path_id!r}, "
                       "which does not exist", _REBUILD)
        if path.status is PathStatus.MERGED and path.merged_into_path_id is None:
            report.add("error", "path.missing_merge_target", where,
                       f"path {path.id!r} is merged but names no merge target", _REBUILD)
        if path.summary_node_id is not None and path.summary_node_id not in nodes:
            report.add("warning", "path.missing_summary", where,
                       f"path {path.id!r} names summary node {path.summary_node_id!r}, which "
                       "does not exist", _REBUILD)
        if path.active:
            active[path.tree_id].append(path.id)
    for tree, ids in sorted(active.items()):
        if len(ids) > 1:
            report.add("error", "path.several_active", f"conversation tree {tree}",
                       f"paths {', '.join(map(repr, sorted(ids)))} are all active; at most one "
                       "may be", "activate the right one with `mem.paths.activate(...)`")


def _check_valid_time(snapshot: GraphSnapshot, report: _Report) -> None:
    """Single-valued kinds: a source holds at most one current (open-ended) edge of each.

    ``save_edge`` keeps to it by superseding; imported data (an envelope, a log
    of raw events) can break it.
    """
    report.checks.append("valid_time")
    single = {
        p.id: p.policy.single_valued_edge_kinds
        for p in snapshot.profiles.values()
        if p.policy.single_valued_edge_kinds
    }
    if not single:
        return
    current: dict[tuple[str, str, str], list[MemoryEdge]] = defaultdict(list)
    for edge in snapshot.edges.values():
        if edge.valid_to is None and edge.kind in single.get(edge.profile_id, ()):
            current[(edge.profile_id, edge.source_id, edge.kind)].append(edge)
    for (profile_id, source_id, kind), edges in sorted(current.items()):
        if len(edges) < 2:
            continue
        ordered = sorted(edges, key=lambda e: (e.effective_from, e.id))
        newest = ordered[-1]
        report.add("warning", "edge.overlapping_current", f"node {source_id}",
                   f"node {source_id!r} has {len(edges)} current {kind!r} edges "
                   f"({', '.join(repr(e.id) for e in ordered)}), but {kind!r} is single-valued "
                   f"in profile {profile_id!r}",
                   f"save the newest again so it supersedes the others: "
                   f"`mem.save_edge(mem.graph.get_edge({newest.id!r}))` (nothing is deleted; "
                   "`phase-memory edges history ID` shows each one's versions)")


# --- events -----------------------------------------------------------------------------


def _check_events(store: MemoryStore, snapshot: GraphSnapshot, report: _Report) -> None:
    report.checks.append("events")
    try:
        for event in store.events.iter():
            where = f"event {event.event_id} at position {event.position}"
            if event.profile_id not in snapshot.profiles:
                report.add("error", "event.unknown_profile", where,
                           f"{event.kind} event belongs to profile {event.profile_id!r}, which "
                           "does not exist", _REBUILD)
            if event.path_id is not None and event.path_id not in snapshot.paths:
                report.add("error", "event.unknown_path", where,
                           f"{event.kind} event is in path {event.path_id!r}, which does not "
                           "exist", _REBUILD)
    except (PhaseMemoryError, ValueError) as exc:
        report.add("error", "event.unreadable", "event log",
                   f"the event log cannot be read: {exc}",
                   "look for malformed rows in the events table; restore from a backup")


def _replay_codes(reason: str) -> tuple[Severity, str, str]:
    if reason.startswith("malformed payload"):
        return ("error", "event.malformed_payload",
                "the payload does not match its kind: correct or remove the event in an "
                "events export and import it into an empty database")
    if reason.startswith("unknown schema_version"):
        return ("warning", "event.unknown_schema_version",
                "open the database with the phase-memory version that wrote the event")
    return ("error", "event.orphaned",
            "the event refers to a record that does not exist at that point of the log: "
            "correct or remove it in an events export and import that into an empty database")


def _check_drift(store: MemoryStore, snapshot: GraphSnapshot, report: _Report) -> None:
    report.checks.append("replay")
    try:
        replayed = store.events.replay()
    except (PhaseMemoryError, ValueError) as exc:
        report.add("error", "event.unreadable", "event log",
                   f"the event log cannot be replayed: {exc}")
        return
    for problem in replayed.report.problems:
        severity, code, fix = _replay_codes(problem.reason)
        report.add(severity, code, f"event {problem.event_id} at position {problem.position}",
                   f"{problem.kind}: {problem.reason}", fix)
    report.checks.append("drift")
    if replayed.snapshot.same_records(snapshot):
        return
    tables: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
        "profile": (snapshot.profiles, replayed.snapshot.profiles),
        "node": (snapshot.nodes, replayed.snapshot.nodes),
        "edge": (snapshot.edges, replayed.snapshot.edges),
        "path": (snapshot.paths, replayed.snapshot.paths),
        "activation plan": (snapshot.activation_plans, replayed.snapshot.activation_plans),
    }
    for what, (stored, folded) in tables.items():
        drifted = list(_differences(stored, folded))
        for record_id, message in drifted[:MAX_DRIFT_FINDINGS]:
            report.add("error", "graph.drift", f"{what} {record_id}",
                       f"{what} {record_id!r} {message}", _REBUILD)
        if len(drifted) > MAX_DRIFT_FINDINGS:
            report.add("error", "graph.drift", f"{what}s",
                       f"{len(drifted) - MAX_DRIFT_FINDINGS} more {what}s differ from the "
                       "replay", _REBUILD)


def _differences(stored: dict[str, Any], folded: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for record_id in sorted(stored.keys() | folded.keys()):
        if record_id not in folded:
            yield record_id, "is stored but a replay of the events does not produce it"
        elif record_id not in stored:
            yield record_id, "is produced by a replay of the events but is not stored"
        elif stored[record_id] != folded[record_id]:
            fields = sorted(
                name
                for name in type(stored[record_id]).model_fields
                if getattr(stored[record_id], name) != getattr(folded[record_id], name)
            )
            yield record_id, (
                f"differs from what a replay of the events produces ({', '.join(fields)})"
            )


# --- forgotten content ------------------------------------------------------------------


def _check_forgotten(store: MemoryStore, snapshot: GraphSnapshot, report: _Report) -> None:
    report.checks.append("forgotten")
    for node in snapshot.nodes.values():
        if node.state is NodeState.FORGOTTEN:
            _check_one_forgotten(store, node, snapshot.activation_plans.values(), report)


_FORGET_AGAIN = "forget the node again (an approved `forget` action) to erase what is left"


def _check_one_forgotten(
    store: MemoryStore, node: MemoryNode, plans: Iterable[ActivationPlan], report: _Report
) -> None:
    where = f"node {node.id}"
    if node.label or node.content or node.attributes:
        report.add("error", "forget.content_in_node", where,
                   f"forgotten node {node.id!r} still holds its label, content or "
                   "attributes", _FORGET_AGAIN)
    for plan in plans:
        if any(i.node_id == node.id and (i.label or i.content) for i in plan.items):
            report.add("error", "forget.content_in_plan", f"activation plan {plan.id}",
                       f"activation plan {plan.id!r} still shows forgotten node "
                       f"{node.id!r}", _FORGET_AGAIN)
    try:
        events = store.events.find_mentioning(node.id)
    except PhaseMemoryError:
        return
    for event in events:
        if _carries_content(event.kind, event.payload, node):
            report.add("error", "forget.content_in_event",
                       f"event {event.event_id} at position {event.position}",
                       f"{event.kind} event still carries content of forgotten node "
                       f"{node.id!r}", _FORGET_AGAIN)


def verify_forgotten(store: MemoryStore, node_id: str) -> RepairReport:
    """Check again, later, that the forgotten node ``node_id`` left nothing behind.

    Looks at the node row, its edges, stored activation plans, every event
    naming the node, and the certificate the forget's audit record keeps
    (``phase-memory doctor --forgotten ID``). Raises NotFoundError for an
    unknown node. Free text quoting the content cannot be looked for once the
    content is gone: the forget scrubbed it, and its certificate says how many
    events and audit records it rewrote.
    """
    report = _Report()
    node = store.graph.get_node(node_id)
    report.checks.append("forgotten")
    if node.state is not NodeState.FORGOTTEN:
        report.add("error", "forget.not_forgotten", f"node {node_id}",
                   f"node {node_id!r} is {node.state.value}, not forgotten",
                   "apply an approved `forget` action to it")
        return RepairReport(findings=report.findings, checks=report.checks)
    if store.graph.edges_touching(node_id):
        report.add("error", "forget.edges_left", f"node {node_id}",
                   f"forgotten node {node_id!r} still has edges", _FORGET_AGAIN)
    _check_one_forgotten(store, node, store.graph.list_activation_plans(), report)
    if isinstance(store, Maintainable):
        dirty = store.free_pages_holding_data()
        if dirty is not None:
            report.checks.append("free pages")
        if dirty:
            report.add("error", "forget.free_pages_not_cleared", "database",
                       f"{dirty} free page(s) of the database file still hold data, which "
                       "may include forgotten content",
                       "run `phase-memory db vacuum` (or forget again: a forget clears "
                       "every free page)")
    report.checks.append("certificate")
    certificates = [
        r for r in store.audit.list(operation="lifecycle.forget", outcome=AuditOutcome.APPLIED)
        if node_id in r.subject_ids and isinstance(r.details.get("certificate"), dict)
    ]
    if not certificates:
        report.add("info", "forget.no_certificate", f"node {node_id}",
                   f"no forget certificate names {node_id!r} (forgotten by an earlier "
                   "version, or imported forgotten)")
    for record in certificates:
        certificate = cast(dict[str, Any], record.details["certificate"])
        report.add("info", "forget.certificate", f"audit record {record.id}",
                   f"forgotten at {record.at.isoformat()} by {record.actor}: erased "
                   f"{certificate.get('erased')}")
        if certificate.get("vacuum_required"):
            report.add("info", "forget.vacuum", "database",
                       "earlier row versions stay on disk until the database is vacuumed",
                       "run `phase-memory db vacuum` (VACUUM FULL) if it has not run since")
    return RepairReport(findings=report.findings, checks=report.checks)


def _carries_content(kind: str, payload: dict[str, Any], node: MemoryNode) -> bool:
    """Whether an event payload still holds the label, content or attributes of ``node``."""
    if kind not in PAYLOAD_MODELS:
        # Free-form payloads hold no record of the node: naming it by id is
        # not content, and the text forget scrubbed cannot be recognised now.
        return False
    for record in _node_records(kind, payload):
        if record.get("id") == node.id and (
            record.get("label") or record.get("content") or record.get("attributes")
        ):
            return True
    plan = payload.get("plan") if kind == "activation.planned" else None
    if isinstance(plan, dict):
        for item in plan.get("items") or []:
            if (
                isinstance(item, dict)
                and item.get("node_id") == node.id
                and (item.get("label") or item.get("content"))
            ):
                return True
    return False


def _node_records(kind: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    records: list[Any] = []
    if kind == "node.saved":
        records.append(payload.get("node"))
    elif kind in ("graph.imported", "lifecycle.applied"):
        nodes = payload.get("nodes")
        if isinstance(nodes, list):
            records.extend(nodes)
    return [r for r in records if isinstance(r, dict)]


__all__ = ["Finding", "RepairReport", "Severity", "diagnose", "verify_forgotten"]

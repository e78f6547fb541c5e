"""PhaseMemoryRuntime: the main entry point over one store, a front composed of parts.

Every write goes through the :class:`~phase_memory.recorder.Recorder` (build,
check, append, the replay fold's effects, audit; one transaction). The front
hands it to its parts: :class:`~phase_memory.runtime.paths.PathsAPI`, lifecycle
(:mod:`~phase_memory.runtime.lifecycle`), activation, interchange
(:mod:`phase_memory.interchange`); diagnostics get the store.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType

from phase_memory.diagnostics import RepairReport, diagnose, verify_forgotten
from phase_memory.errors import NotFoundError
from phase_memory.interchange.detect import import_path
from phase_memory.interchange.envelope import export_envelope, import_envelope
from phase_memory.interchange.jsonl import export_audit, export_events, import_audit, import_events
from phase_memory.interchange.mcp_export import export_mcp_memory
from phase_memory.interchange.mcp_memory import ImportMode, import_mcp_memory
from phase_memory.interchange.progress import ProgressCallback
from phase_memory.interchange.results import ExportResult, ImportResult
from phase_memory.interchange.workspace import export_workspace, import_workspace
from phase_memory.models import (
    ActivationPlan,
    FactVersion,
    LifecycleAction,
    MemoryEdge,
    MemoryEvent,
    MemoryNode,
    Profile,
)
from phase_memory.protocols import MemoryStore
from phase_memory.recorder import Recorder, StoreParts
from phase_memory.replay import LoggedEvent, fact_history
from phase_memory.runtime.activation import activate
from phase_memory.runtime.lifecycle import ApplyResult, ReviewPlan, apply_actions, plan_actions
from phase_memory.runtime.paths import PathsAPI
from phase_memory.runtime.review_queue import ReviewQueue


class PhaseMemoryRuntime(StoreParts):
    """Records events with their graph effects, and runs paths, lifecycle and activation.

    Use :func:`phase_memory.open` to make one; it is a context manager.
    ``actor`` is written on the events and audit records the runtime creates.
    """

    def __init__(self, store: MemoryStore, *, actor: str = "system") -> None:
        self.store = store
        self.recorder = Recorder(store, actor=actor)
        """The one writer; parts and importers write through it."""
        self.paths = PathsAPI(self.recorder)
        self.review = ReviewQueue(self.recorder)
        """The review queue: proposals a person approves or rejects."""

    @property
    def actor(self) -> str:
        """Who the events and audit records this runtime writes are attributed to."""
        return self.recorder.actor

    @actor.setter
    def actor(self, actor: str) -> None:
        self.recorder.actor = actor

    # --- lifetime ---------------------------------------------------------------

    def close(self) -> None:
        """Release the store's connections and files."""
        self.store.close()

    def __enter__(self) -> PhaseMemoryRuntime:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- recording (see recorder/) ----------------------------------------------

    def record(self, event: MemoryEvent) -> MemoryEvent:
        """Append one event and apply its graph effect atomically; return it with its position."""
        return self.recorder.record_many([event])[0]

    def record_many(self, events: Sequence[MemoryEvent]) -> list[MemoryEvent]:
        """Append events and apply their graph effects in one transaction.

        If any event breaks its profile's policy, refers to a missing record,
        targets a closed path or needs review, nothing is written and the error
        is raised. Payloads of replayable kinds are stored complete (the payload
        model's defaults filled in), so a later replay folds exactly what was applied.
        """
        return self.recorder.record_many(events)

    def record_trusted(self, events: Sequence[MemoryEvent]) -> list[MemoryEvent]:
        """:meth:`record_many` for events whose payloads were built from validated models."""
        return self.recorder.record_trusted(events)

    # --- convenience writers --------------------------------------------------

    def save_profile(self, profile: Profile) -> Profile:
        """Record ``profile.saved``; keeps the original ``created_at`` on updates."""
        return self.recorder.save_profile(profile)

    def save_node(
        self,
        node: MemoryNode,
        *,
        expected_version: int | None = None,
        path_id: str | None = None,
        supersedes: str | None = None,
        correction: bool = False,
    ) -> MemoryNode:
        """Record ``node.saved`` with the next version; return the node as stored.

        ``expected_version`` makes the save conditional (0: the node must be new).
        ``supersedes``: a node this one replaces in the world (a ``node.superseded``
        event ends its valid time where this one's starts; nothing is deleted).
        A start before the old node's is refused unless ``correction=True``.
        """
        return self.recorder.save_node(
            node, expected_version=expected_version, path_id=path_id,
            supersedes=supersedes, correction=correction,
        )

    def save_edge(
        self, edge: MemoryEdge, *, path_id: str | None = None, correction: bool = False
    ) -> MemoryEdge:
        """Record ``edge.saved``; both endpoints must exist in the edge's profile.

        An edge of one of the profile's ``single_valued_edge_kinds`` supersedes
        the source's current edge of that kind (``edge.superseded``; nothing is
        deleted). A start before the current one's is refused unless ``correction=True``.
        """
        return self.recorder.save_edge(edge, path_id=path_id, correction=correction)

    def delete_node(self, node_id: str, *, path_id: str | None = None) -> None:
        """Record ``node.deleted``; the node's edges go with it."""
        self.recorder.delete_node(node_id, path_id=path_id)

    def delete_edge(self, edge_id: str, *, path_id: str | None = None) -> None:
        """Record ``edge.deleted``."""
        self.recorder.delete_edge(edge_id, path_id=path_id)

    # --- lifecycle, activation (see runtime/lifecycle.py, runtime/activation.py) --

    def plan(self, actions: Sequence[LifecycleAction]) -> ReviewPlan:
        """Which actions need review and what each would touch; writes nothing."""
        return plan_actions(self.recorder, actions)

    def apply(self, actions: Sequence[LifecycleAction]) -> ApplyResult:
        """Apply lifecycle actions atomically; refuse review-required ones without approval."""
        return apply_actions(self.recorder, actions)

    def activate(
        self,
        profile_id: str,
        query: str,
        *,
        budget: int | None = None,
        path_id: str | None = None,
        valid_at: datetime | None = None,
        include_superseded: bool = False,
    ) -> ActivationPlan:
        """Rank the profile's memories for ``query`` and store the plan.

        Only facts valid at ``valid_at`` (default: now) take part, unless
        ``include_superseded``: then items not valid then say so in their reasons.
        """
        return activate(
            self.recorder, profile_id, query, budget=budget, path_id=path_id,
            valid_at=valid_at, include_superseded=include_superseded,
        )

    def history(self, record_id: str) -> list[FactVersion]:
        """Every version of node or edge ``record_id``, oldest first, on both time axes.

        Folded from the event log (superseded and deleted versions included):
        when each version was recorded (position, ``recorded_at``) and when it
        holds (``valid_from`` / ``valid_to``). NotFoundError when the log holds
        no version of it.
        """
        graph = self.store.graph
        record = graph.find_node(record_id) or graph.find_edge(record_id)
        profile_id = record.profile_id if record is not None else None
        events = (LoggedEvent.of(e) for e in self.store.events.iter(profile_id))
        versions = fact_history(events, record_id)
        if not versions:
            raise NotFoundError(f"no node or edge {record_id!r} in the event log")
        return versions

    # --- diagnostics and interchange (see diagnostics.py, interchange/) --------

    def diagnose(self) -> RepairReport:
        """Check the store for broken references, drift, leftovers of forgotten content."""
        return diagnose(self.store)

    def verify_forgotten(self, node_id: str) -> RepairReport:
        """Check again that node ``node_id``'s forget left nothing (``doctor --forgotten``)."""
        return verify_forgotten(self.store, node_id)

    def export_envelope(
        self,
        out: str | os.PathLike[str],
        *,
        profile_id: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ExportResult:
        """Write the graph (or one profile) as a deterministic Markitect graph envelope.

        ``progress``: a callback ``(stage, completed, total)`` told how far the
        work is (the library prints nothing itself).
        """
        return export_envelope(self.recorder, out, profile_id=profile_id, progress=progress)

    def import_envelope(
        self,
        src: str | os.PathLike[str],
        *,
        check_only: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ImportResult:
        """Validate then import a graph envelope, all or nothing.

        Raises ImportValidationError listing every problem (nothing written);
        ``check_only=True`` returns the problems in the result instead.
        """
        return import_envelope(self.recorder, src, check_only=check_only, progress=progress)

    def export_events(
        self,
        out: str | os.PathLike[str],
        *,
        profile_id: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> ExportResult:
        """Write the event log (or one profile's events) as JSONL in position order."""
        return export_events(self.recorder, out, profile_id=profile_id, progress=progress)

    def import_events(
        self,
        src: str | os.PathLike[str],
        *,
        check_only: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ImportResult:
        """Validate then append (and project) the events of a JSONL file, all or nothing."""
        return import_events(self.recorder, src, check_only=check_only, progress=progress)

    def export_audit(
        self, out: str | os.PathLike[str], *, progress: ProgressCallback | None = None
    ) -> ExportResult:
        """Write the audit records as JSONL in write order."""
        return export_audit(self.recorder, out, progress=progress)

    def import_audit(
        self,
        src: str | os.PathLike[str],
        *,
        check_only: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ImportResult:
        """Validate then import audit records from JSONL, all or nothing."""
        return import_audit(self.recorder, src, check_only=check_only, progress=progress)

    def export_workspace(
        self, directory: str | os.PathLike[str], *, progress: ProgressCallback | None = None
    ) -> ExportResult:
        """Write the whole memory as a workspace directory."""
        return export_workspace(self.recorder, directory, progress=progress)

    def import_workspace(
        self,
        directory: str | os.PathLike[str],
        *,
        check_only: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ImportResult:
        """Validate then import a workspace directory into this (empty) memory."""
        return import_workspace(self.recorder, directory, check_only=check_only, progress=progress)

    def import_mcp_memory(
        self,
        src: str | os.PathLike[str],
        *,
        profile_id: str = "default",
        mode: ImportMode = "strict",
        skip_invalid: bool = False,
        check_only: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ImportResult:
        """Import the MCP memory server's ``memory.jsonl`` into a profile (default "default").

        ``mode="strict"`` adds the file to the profile, all or nothing;
        ``mode="sync"`` makes the profile follow the file (entities matched by
        name: added, updated, archived when gone, restored when back; a second
        sync of the same file writes nothing). ``skip_invalid=True`` imports
        the valid lines and lists the others in ``ImportResult.skipped``.
        See ``docs/mcp-memory.md``.
        """
        return import_mcp_memory(
            self.recorder, src, profile_id=profile_id, mode=mode, skip_invalid=skip_invalid,
            check_only=check_only, progress=progress, apply=self.apply,
        )

    def import_path(
        self,
        src: str | os.PathLike[str],
        *,
        profile_id: str | None = None,
        mode: ImportMode = "strict",
        skip_invalid: bool = False,
        check_only: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ImportResult:
        """Import whatever format ``src`` holds (``detect_format``), as ``phase-memory import``.

        ``profile_id``, ``mode`` and ``skip_invalid`` apply to MCP memory files
        only; given for another format they are refused.
        """
        return import_path(
            self.recorder, src, profile_id=profile_id, mode=mode, skip_invalid=skip_invalid,
            check_only=check_only, progress=progress, apply=self.apply,
        )

    def export_mcp_memory(
        self,
        out: str | os.PathLike[str],
        *,
        profile_id: str = "default",
        progress: ProgressCallback | None = None,
    ) -> ExportResult:
        """Write a profile as the MCP memory server's ``memory.jsonl`` (its exact line format).

        Active nodes become entities and the edges between them relations, with
        the original ``entityType`` / ``relationType`` strings an import kept.
        """
        return export_mcp_memory(self.recorder, out, profile_id=profile_id, progress=progress)

"""The workspace directory: a whole memory as files a person can read and diff.

```
metadata.json             format, version, generator, export time, counts
profiles/<id>.json        one profile each (id percent-encoded into a safe file name)
graph.json                the graph envelope (every profile)
events.jsonl              the event log, in position order
audit.jsonl               the audit trail, in write order (see below)
activation-plans.jsonl    stored activation plans, by id
```

The events are the truth: importing a workspace (into an empty memory)
records the events of ``events.jsonl`` and restores the audit records, then
checks that the graph and plans those events produce are exactly the ones in
``graph.json`` and ``activation-plans.jsonl`` (otherwise nothing is written).
So export, import into an empty database, export again gives the same bytes;
only ``exported_at`` in ``metadata.json`` differs.

``audit.jsonl`` leaves out the records about moving or hosting the memory
rather than changing it: exports (outcome ``exported``), schema migrations
(outcome ``migrated``) and workspace imports. Those stay in the database they
happened to (``export_audit`` writes every record).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError as PydanticValidationError

from phase_memory.errors import ImportValidationError, NotFoundError
from phase_memory.interchange.atomic_write import (
    is_id_file_name,
    safe_file_name,
    write_text_atomically,
)
from phase_memory.interchange.common import (
    IMPORT_OPERATION,
    audit_export,
    audit_import,
    resolved,
)
from phase_memory.interchange.envelope import EnvelopeScan, check_envelope, write_envelope_file
from phase_memory.interchange.formats import (
    WorkspaceCounts,
    WorkspaceMetadata,
    canonical_document,
    canonical_line,
    generator,
    reject_constant,
)
from phase_memory.interchange.jsonl import (
    audit_line,
    check_audit,
    check_events,
    event_line,
    read_json_lines,
    write_audit,
    write_events,
    write_lines,
)
from phase_memory.interchange.problems import Problems, pointer_of
from phase_memory.interchange.progress import Progress, ProgressCallback
from phase_memory.interchange.results import ExportResult, ImportResult
from phase_memory.models import ActivationPlan, AuditOutcome, AuditRecord, Profile, utc_now
from phase_memory.models.base import DomainModel
from phase_memory.models.limits import MAX_JSON_DEPTH
from phase_memory.recorder import Recorder

METADATA = "metadata.json"
PROFILES = "profiles"
GRAPH = "graph.json"
EVENTS = "events.jsonl"
AUDIT = "audit.jsonl"
PLANS = "activation-plans.jsonl"
WORKSPACE_FORMAT_NAME = "workspace"


def in_workspace_audit(record: AuditRecord) -> bool:
    """Whether ``audit.jsonl`` of a workspace carries this record (see the module docs)."""
    if record.outcome in (AuditOutcome.EXPORTED, AuditOutcome.MIGRATED):
        return False
    return not (
        record.operation == IMPORT_OPERATION
        and record.details.get("format") == WORKSPACE_FORMAT_NAME
    )


# --- export ----------------------------------------------------------------------------------


def export_workspace(
    recorder: Recorder,
    directory: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None = None,
) -> ExportResult:
    """Write the whole memory as a workspace directory (created if missing).

    Every file is replaced atomically and ``metadata.json`` is written last.
    Profile files of profiles that no longer exist are removed. The export
    reads inside one store transaction, so its files agree with each other.
    """
    root = Path(directory)
    (root / PROFILES).mkdir(parents=True, exist_ok=True)
    files: list[str] = []
    with Progress(progress) as bar, recorder.store.read_transaction():
        graph = recorder.graph
        profiles = graph.list_profiles()
        names = set()
        for profile in profiles:
            name = safe_file_name(profile.id, ".json")
            names.add(name)
            write_text_atomically(root / PROFILES / name, _document(profile))
            files.append(str(root / PROFILES / name))
        _remove_stale_profiles(root / PROFILES, names)
        envelope_counts = write_envelope_file(graph, root / GRAPH, progress=bar)
        files.append(str(root / GRAPH))
        bar.stage("Writing events", total=recorder.events.last_position() or None)
        events = write_lines(root / EVENTS, (event_line(e) for e in recorder.events.iter()), bar)
        files.append(str(root / EVENTS))
        bar.stage("Writing audit records")
        audit_records = write_lines(
            root / AUDIT,
            (audit_line(r) for r in recorder.audit.list() if in_workspace_audit(r)),
            bar,
        )
        files.append(str(root / AUDIT))
        bar.stage("Writing activation plans")
        plans = write_lines(
            root / PLANS,
            (canonical_line(p.model_dump(mode="json")) for p in graph.list_activation_plans()),
            bar,
        )
        files.append(str(root / PLANS))
        counts = WorkspaceCounts(
            profiles=envelope_counts["profiles"],
            nodes=envelope_counts["nodes"],
            edges=envelope_counts["edges"],
            paths=envelope_counts["paths"],
            events=events,
            audit_records=audit_records,
            activation_plans=plans,
        )
        metadata = WorkspaceMetadata(
            format="phase-memory.workspace",
            format_version=1,
            generator=generator(),
            exported_at=utc_now(),
            counts=counts,
        )
        write_text_atomically(root / METADATA, _document(metadata))
        files.append(str(root / METADATA))
        target = resolved(root)
        count_map = counts.model_dump()
    audit_export(recorder, WORKSPACE_FORMAT_NAME, target, count_map)
    return ExportResult(
        format=WORKSPACE_FORMAT_NAME,
        target=target,
        counts=count_map,
        files=[resolved(f) for f in files],
    )


def _document(model: DomainModel) -> str:
    return canonical_document(model.model_dump(mode="json"))


def _remove_stale_profiles(directory: Path, keep: set[str]) -> None:
    for entry in directory.iterdir():
        if entry.name in keep or not entry.is_file():
            continue
        if not is_id_file_name(entry.name, ".json"):
            continue  # not a file an export wrote: leave it alone
        entry.unlink()


# --- import ----------------------------------------------------------------------------------


def import_workspace(
    recorder: Recorder,
    directory: str | os.PathLike[str],
    *,
    check_only: bool = False,
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Validate then import a workspace directory into an empty memory, all or nothing.

    Raises :class:`~phase_memory.errors.ImportValidationError` listing every
    problem; ``check_only=True`` returns them instead. The check that the
    events produce exactly ``graph.json`` and ``activation-plans.jsonl`` needs
    the events recorded, so it runs during a real import only (inside the
    import's transaction, which it rolls back on a mismatch).
    """
    root = Path(directory)
    source = os.fspath(directory)
    problems = Problems()
    counts: dict[str, int] = {}
    with Progress(progress) as bar:
        if check_only:
            with recorder.store.read_transaction():
                _check_workspace(recorder, root, problems, bar, counts)
            return ImportResult(format=WORKSPACE_FORMAT_NAME, source=source, check_only=True,
                                counts=counts, problems=problems.items())
        with recorder.store.transaction():
            scan = _check_workspace(recorder, root, problems, bar, counts)
            problems.raise_if_any()
            assert scan is not None
            write_events(recorder, root / EVENTS, _name(root, EVENTS), bar, total=counts["events"])
            write_audit(recorder, root / AUDIT, _name(root, AUDIT), bar)
            _verify(recorder, root, scan, counts, bar)
            audit_import(recorder, WORKSPACE_FORMAT_NAME, resolved(root), counts)
    return ImportResult(format=WORKSPACE_FORMAT_NAME, source=source, counts=counts)


def _name(root: Path, *parts: str) -> str:
    return os.fspath(root.joinpath(*parts))


def _check_workspace(
    recorder: Recorder,
    root: Path,
    problems: Problems,
    bar: Progress,
    counts: dict[str, int],
) -> EnvelopeScan | None:
    if not root.is_dir():
        problems.add(os.fspath(root), "", "not a workspace directory (it does not exist or "
                                          "is not a directory)")
        return None
    for required in (METADATA, GRAPH, EVENTS, AUDIT, PLANS):
        if (root / required).is_symlink():
            problems.add(_name(root, required), "", _LINK_REFUSED)
        elif not (root / required).is_file():
            problems.add(_name(root, required), "", "missing: every workspace has this file")
    if (root / PROFILES).is_symlink():
        problems.add(_name(root, PROFILES), "", _LINK_REFUSED)
    if not problems:
        _check_metadata(root, problems)
    graph_counts = recorder.graph.counts()
    if recorder.events.last_position() or any(graph_counts.values()):
        problems.add(os.fspath(root), "", "the memory is not empty: a workspace imports into "
                                          "an empty database only")
    if problems:
        return None
    scan = check_envelope(recorder, root / GRAPH, problems, bar, file=_name(root, GRAPH))
    for key in ("profiles", "nodes", "edges", "paths"):
        counts[key] = scan.counts.get(key, 0)
    _check_profile_files(root, scan, problems)
    counts["events"] = check_events(recorder, root / EVENTS, _name(root, EVENTS), problems, bar)
    counts["audit_records"] = check_audit(recorder, root / AUDIT, _name(root, AUDIT), problems,
                                          bar)
    counts["activation_plans"] = _check_plans(root, problems, bar)
    return scan


_LINK_REFUSED = (
    "is a symbolic link: a workspace is read from plain files only, so an import "
    "never reads outside its directory"
)


_TOO_DEEP = (
    f"nested too deeply to read; JSON values may nest at most {MAX_JSON_DEPTH} levels "
    "(MAX_JSON_DEPTH)"
)


def _check_metadata(root: Path, problems: Problems) -> None:
    file = _name(root, METADATA)
    try:
        with open(root / METADATA, encoding="utf-8") as handle:
            value = json.load(handle, parse_constant=reject_constant)
    except (OSError, ValueError) as exc:
        problems.add(file, "", f"malformed JSON: {exc}")
        return
    except RecursionError:
        problems.add(file, "", _TOO_DEEP)
        return
    if isinstance(value, dict):
        if value.get("format") not in (None, "phase-memory.workspace"):
            problems.add(file, "format", f"unknown workspace format {value.get('format')!r}; "
                                         "expected 'phase-memory.workspace'", pointer="/format")
            return
        if value.get("format_version") not in (None, 1):
            problems.add(file, "format_version",
                         f"unknown workspace format_version {value.get('format_version')!r}; "
                         "this version of phase-memory reads 1", pointer="/format_version")
            return
    try:
        WorkspaceMetadata.model_validate(value)
    except PydanticValidationError as exc:
        problems.add_validation(file, exc)


def _check_profile_files(root: Path, scan: EnvelopeScan, problems: Problems) -> None:
    directory = root / PROFILES
    seen: set[str] = set()
    entries = sorted(directory.iterdir()) if directory.is_dir() else []
    for entry in entries:
        file = _name(root, PROFILES, entry.name)
        if entry.name.startswith(".") or not entry.name.endswith(".json"):
            continue
        if entry.is_symlink():
            problems.add(file, "", _LINK_REFUSED)
            continue
        if not entry.is_file():
            problems.add(file, "", "not a regular file")
            continue
        if not is_id_file_name(entry.name, ".json"):
            problems.add(file, "", f"file name {entry.name!r} is not the name of a profile id "
                                   "(profiles/<percent-encoded id>.json)")
            continue
        try:
            with open(entry, encoding="utf-8") as handle:
                profile = Profile.model_validate(json.load(handle, parse_constant=reject_constant))
        except (OSError, ValueError) as exc:
            if isinstance(exc, PydanticValidationError):
                problems.add_validation(file, exc)
            else:
                problems.add(file, "", f"malformed JSON: {exc}")
            continue
        except RecursionError:
            problems.add(file, "", _TOO_DEEP)
            continue
        seen.add(profile.id)
        if safe_file_name(profile.id, ".json") != entry.name:
            problems.add(file, "id", f"holds profile {profile.id!r}, whose file is "
                                     f"{safe_file_name(profile.id, '.json')!r}", pointer="/id")
        elif profile.id not in scan.profiles:
            problems.add(file, "id", f"profile {profile.id!r} is not in {GRAPH}", pointer="/id")
        elif scan.profiles[profile.id] != profile:
            problems.add(file, "", f"differs from profile {profile.id!r} in {GRAPH}")
    for profile_id in scan.profiles:
        if profile_id not in seen:
            problems.add(_name(root, PROFILES, safe_file_name(profile_id, ".json")), "",
                         f"missing: profile {profile_id!r} of {GRAPH} has no file")


def _check_plans(root: Path, problems: Problems, bar: Progress) -> int:
    file = _name(root, PLANS)
    bar.stage(f"Checking {file}")
    seen: set[str] = set()
    count = 0
    for number, value in read_json_lines(root / PLANS, file, problems):
        count += 1
        try:
            plan = ActivationPlan.model_validate(value)
        except PydanticValidationError as exc:
            problems.add_validation(file, exc, line=number)
            continue
        if plan.id in seen:
            problems.add(file, "id", f"duplicate activation plan id {plan.id!r}", line=number)
        seen.add(plan.id)
    return count


def _verify(
    recorder: Recorder,
    root: Path,
    scan: EnvelopeScan,
    counts: dict[str, int],
    bar: Progress,
) -> None:
    """After the events are recorded: the graph and plans must equal the workspace's files."""
    bar.stage("Comparing the imported graph with graph.json")
    graph = recorder.graph
    problems = Problems()
    file = _name(root, GRAPH)
    finders = {
        "profiles": graph.find_profile,
        "nodes": graph.find_node,
        "edges": graph.find_edge,
        "paths": graph.find_path,
    }
    for key, find in finders.items():
        for item in scan.items(key):
            expected: Any = item.record
            if expected is None:  # the file changed since it was checked
                if item.error is not None:
                    problems.add_validation(file, item.error, line=item.line,
                                            base=(key, item.index))
                continue
            if find(expected.id) != expected:
                problems.add(file, "", f"{key[:-1]} {expected.id!r} is not what the events of "
                                       f"{EVENTS} produce", line=item.line,
                             pointer=pointer_of(key, item.index))
    stored = graph.counts()
    for key in finders:
        if stored[key] != counts[key]:
            problems.add(file, key, f"the events of {EVENTS} produce {stored[key]} {key}, "
                                    f"the file has {counts[key]}", pointer=pointer_of(key))
    plans_file = _name(root, PLANS)
    for number, value in _lines(root / PLANS, plans_file):
        plan = ActivationPlan.model_validate(value)
        if _find_plan(recorder, plan.id) != plan:
            problems.add(plans_file, "", f"activation plan {plan.id!r} is not what the events "
                                         f"of {EVENTS} produce", line=number)
    if stored["activation_plans"] != counts["activation_plans"]:
        problems.add(plans_file, "", f"the events of {EVENTS} produce "
                                     f"{stored['activation_plans']} activation plans, the file "
                                     f"has {counts['activation_plans']}")
    if problems:
        raise ImportValidationError(problems.items())


def _lines(path: Path, file: str) -> Iterator[tuple[int, Any]]:
    return read_json_lines(path, file, Problems())


def _find_plan(recorder: Recorder, plan_id: str) -> ActivationPlan | None:
    try:
        return recorder.graph.get_activation_plan(plan_id)
    except NotFoundError:
        return None

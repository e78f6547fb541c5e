"""Which interchange format a file or directory holds, and importing it by that.

:func:`detect_format` judges by shape, not by name, so the command line's
``import PATH`` and :func:`import_path` agree on every input: both are this
function. A path that holds nothing importable (missing, empty, another kind
of JSON) is an :class:`~phase_memory.errors.ImportValidationError`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phase_memory import json_codec
from phase_memory.errors import ImportProblem, ImportValidationError
from phase_memory.interchange.envelope import import_envelope
from phase_memory.interchange.jsonl import import_audit, import_events
from phase_memory.interchange.mcp_memory import ImportMode, import_mcp_memory
from phase_memory.interchange.results import ImportResult
from phase_memory.interchange.workspace import import_workspace

if TYPE_CHECKING:
    from phase_memory.runtime.runtime import PhaseMemoryRuntime

ENVELOPE = "envelope"
EVENTS = "events"
AUDIT = "audit"
WORKSPACE = "workspace"
MCP_MEMORY = "mcp-memory"
FORMATS = (ENVELOPE, EVENTS, AUDIT, WORKSPACE, MCP_MEMORY)
"""The names :func:`detect_format` returns (the ``format`` of an :class:`ImportResult`)."""

_SNIFF_BYTES = 1 << 20


def detect_format(source: str | os.PathLike[str]) -> str:
    """Which format ``source`` holds, judged by its shape (not its name).

    A directory is a workspace. A file whose first line is a whole JSON object
    is JSON Lines: MCP memory (``"type": "entity"`` / ``"relation"``), events
    (``event_id``, or ``kind`` and ``payload``) or audit records (``operation``
    and ``outcome``); an object with ``"envelope"`` is a graph envelope, on
    one line or many. A file with no JSON at all is an (empty) MCP memory file,
    as the MCP memory server writes an empty graph, unless it is named
    ``*.json``. A missing file, an empty ``.json`` file, or any other content
    raises :class:`~phase_memory.errors.ImportValidationError`.
    """
    path = Path(source)
    if path.is_dir():
        return WORKSPACE
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except FileNotFoundError:
        raise _refused(path, "it does not exist") from None
    except OSError as exc:
        raise _refused(path, f"it cannot be read: {exc.strerror or exc}") from None
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    stripped = text.lstrip()
    if not stripped:
        if path.suffix.lower() == ".json":
            raise _refused(path, "the file is empty: nothing to import")
        # The MCP memory server writes an empty graph as a 0-byte file; JSON Lines
        # with no line hold no record of any format.
        return MCP_MEMORY
    first = _first_object(stripped.split("\n", 1)[0])
    if first is not None:
        if "envelope" in first:
            return ENVELOPE
        if first.get("type") in ("entity", "relation"):
            return MCP_MEMORY
        if "event_id" in first or ("kind" in first and "payload" in first):
            return EVENTS
        if "operation" in first and "outcome" in first:
            return AUDIT
    elif stripped.startswith("{") and '"envelope"' in text:
        return ENVELOPE
    raise _refused(
        path,
        "cannot tell what it holds: expected a graph envelope (.json), events or audit "
        "records (.jsonl), an MCP memory.jsonl or a workspace directory",
    )


def import_path(
    mem: PhaseMemoryRuntime,
    source: str | os.PathLike[str],
    *,
    profile_id: str | None = None,
    mode: ImportMode = "strict",
    skip_invalid: bool = False,
    check_only: bool = False,
    progress: bool | None = None,
) -> ImportResult:
    """Import whatever :func:`detect_format` finds at ``source``, all or nothing.

    ``profile_id`` (default ``"default"``), ``mode`` and ``skip_invalid`` apply
    to MCP memory files (see :func:`~phase_memory.interchange.import_mcp_memory`);
    given for another format, they are refused.
    """
    kind = detect_format(source)
    if kind != MCP_MEMORY:
        given = {"profile_id": profile_id is not None, "mode": mode != "strict",
                 "skip_invalid": skip_invalid}
        refused = [name for name, used in given.items() if used]
        if refused:
            raise ImportValidationError(
                [ImportProblem(file=str(source), field=name,
                               reason=f"{name} applies to MCP memory files only; this is {kind}"
                               + (", which names its own profiles" if name == "profile_id"
                                  else ""))
                 for name in refused]
            )
    if kind == ENVELOPE:
        return import_envelope(mem, source, check_only=check_only, progress=progress)
    if kind == EVENTS:
        return import_events(mem, source, check_only=check_only, progress=progress)
    if kind == AUDIT:
        return import_audit(mem, source, check_only=check_only, progress=progress)
    if kind == WORKSPACE:
        return import_workspace(mem, source, check_only=check_only, progress=progress)
    return import_mcp_memory(
        mem, source, profile_id=profile_id or "default", mode=mode,
        skip_invalid=skip_invalid, check_only=check_only, progress=progress,
    )


def _first_object(line: str) -> dict[str, Any] | None:
    try:
        value = json_codec.loads(line.strip(), strict=True)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _refused(path: Path, reason: str) -> ImportValidationError:
    return ImportValidationError([ImportProblem(file=str(path), field="", reason=reason)])

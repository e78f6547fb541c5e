"""Interchange: the graph envelope (JSON), events and audit JSONL, workspace directories
and the MCP memory server's ``memory.jsonl`` (import, sync, export back).

Everything here works through the store protocols, so an envelope imports the
same way into SQLite, PostgreSQL or memory. Exports are deterministic (the
same memory gives the same bytes) and written atomically; imports are strict
(every problem is reported, with file, line or JSON pointer, field and reason)
and atomic (one store transaction; nothing is written when anything is wrong);
both stream, so memory stays bounded on large inputs. The formats are
described in ``docs/envelope-format.md``.

The usual entry points are the runtime's methods (``mem.export_envelope``,
``mem.import_workspace``, ...); the functions below take the runtime first.
:func:`detect_format` tells which format a path holds and :func:`import_path`
imports it by that (what ``phase-memory import PATH`` does).
"""

from phase_memory.interchange.detect import (
    AUDIT,
    ENVELOPE,
    EVENTS,
    FORMATS,
    MCP_MEMORY,
    WORKSPACE,
    detect_format,
    import_path,
)
from phase_memory.interchange.envelope import export_envelope, import_envelope
from phase_memory.interchange.jsonl import export_audit, export_events, import_audit, import_events
from phase_memory.interchange.mcp_export import export_mcp_memory
from phase_memory.interchange.mcp_memory import ImportMode, import_mcp_memory
from phase_memory.interchange.results import ExportResult, ImportResult
from phase_memory.interchange.workspace import export_workspace, import_workspace

__all__ = [
    "AUDIT",
    "ENVELOPE",
    "EVENTS",
    "FORMATS",
    "MCP_MEMORY",
    "WORKSPACE",
    "ExportResult",
    "ImportMode",
    "ImportResult",
    "detect_format",
    "export_audit",
    "export_envelope",
    "export_events",
    "export_mcp_memory",
    "export_workspace",
    "import_audit",
    "import_envelope",
    "import_events",
    "import_mcp_memory",
    "import_path",
    "import_workspace",
]

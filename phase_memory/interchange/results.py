"""What an export or an import did: counts, files, problems."""

from __future__ import annotations

from pydantic import Field

from phase_memory.errors import ImportProblem
from phase_memory.models.base import DomainModel


class ExportResult(DomainModel):
    """The outcome of an export: what was written where, and how many records."""

    format: str
    """``envelope``, ``events``, ``audit`` or ``workspace``."""
    target: str
    """The file or directory written."""
    counts: dict[str, int] = Field(default_factory=dict)
    """Records written, by kind (``nodes``, ``edges``, ``events``, ...)."""
    files: list[str] = Field(default_factory=list)
    """Every file written (absolute paths), in the order they were written."""


class ImportResult(DomainModel):
    """The outcome of an import or of a check (``check_only=True``).

    A successful import has no problems. A check returns its problems here
    instead of raising :class:`~phase_memory.errors.ImportValidationError`.
    """

    format: str
    """``envelope``, ``events``, ``audit``, ``workspace`` or ``mcp-memory``."""
    source: str
    """The file or directory read."""
    check_only: bool = False
    """True when nothing was written on purpose (a check)."""
    counts: dict[str, int] = Field(default_factory=dict)
    """Records found (check) or written (import), by kind."""
    problems: list[ImportProblem] = Field(default_factory=list)
    """Every problem found; empty when the input is valid."""
    skipped: list[ImportProblem] = Field(default_factory=list)
    """Lines left out on request (``skip_invalid=True``), each with the reason;
    the rest of the input was imported."""

    @property
    def ok(self) -> bool:
        """True when the input had no problem."""
        return not self.problems

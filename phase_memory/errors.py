"""The exception hierarchy of phase-memory.

Every error the public API raises is a :class:`PhaseMemoryError`; adapters
translate driver and SQLAlchemy exceptions into these before they escape.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class PhaseMemoryError(Exception):
    """Base class of every error raised by phase-memory."""


class NotFoundError(PhaseMemoryError, LookupError):
    """A profile, node, edge, path, event or plan does not exist."""


class ValidationError(PhaseMemoryError, ValueError):
    """Input is not acceptable (bad identifier, policy violation, bad argument)."""


class LimitExceededError(ValidationError):
    """Input is over one of the documented input limits (``phase_memory.models.limits``).

    The message names the limit; nothing was written.
    """


class PolicyViolationError(ValidationError):
    """A write breaks its profile's policy (for example a node kind not allowed)."""


class DuplicateEventError(PhaseMemoryError):
    """An appended event id already exists (or appears twice in one batch)."""

    def __init__(self, event_id: str) -> None:
        super().__init__(f"duplicate event id {event_id!r}: nothing was written")
        self.event_id = event_id


class ConflictError(PhaseMemoryError):
    """Optimistic concurrency failed: an expected version or position did not match."""


class IntegrityError(PhaseMemoryError):
    """A write would break a reference (an edge to a missing node, a path to a missing parent)."""


class PathStateError(PhaseMemoryError):
    """A path operation is not allowed in the path's current state."""


class ReviewRequiredError(PhaseMemoryError):
    """Review-required lifecycle actions were submitted without an approval.

    ``denied`` holds the ids of every denied action; nothing was written for the call.
    """

    def __init__(self, denied: Sequence[str], kinds: Sequence[str] = ()) -> None:
        listing = ", ".join(
            f"{action_id} ({kind})" if kind else action_id
            for action_id, kind in zip(denied, list(kinds) + [""] * len(denied), strict=False)
        )
        super().__init__(
            f"{len(denied)} action(s) need review and carry no approval: {listing}; "
            "nothing was applied"
        )
        self.denied = tuple(denied)


class SchemaVersionError(PhaseMemoryError):
    """The database schema is older or newer than this version of phase-memory."""


class StoreBusyError(PhaseMemoryError):
    """The database stayed locked by another writer past the busy timeout."""


class StoreUnavailableError(PhaseMemoryError):
    """The database cannot be opened or read (missing, not a database, corrupt, read-only)."""


@dataclass(frozen=True)
class ImportProblem:
    """One problem found while validating an import.

    ``line`` is set for JSONL input, ``pointer`` (a JSON pointer) for JSON documents.
    """

    file: str
    field: str
    reason: str
    line: int | None = None
    pointer: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.pointer is not None:
            where += f"#{self.pointer}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.reason}"


class ImportValidationError(PhaseMemoryError):
    """An import was refused; ``problems`` lists every problem found. Nothing was written."""

    def __init__(self, problems: Iterable[ImportProblem]) -> None:
        self.problems = tuple(problems)
        shown = "; ".join(str(p) for p in self.problems[:5])
        more = f" (and {len(self.problems) - 5} more)" if len(self.problems) > 5 else ""
        super().__init__(f"import refused, {len(self.problems)} problem(s): {shown}{more}")


__all__ = [
    "ConflictError",
    "DuplicateEventError",
    "ImportProblem",
    "ImportValidationError",
    "IntegrityError",
    "LimitExceededError",
    "NotFoundError",
    "PathStateError",
    "PhaseMemoryError",
    "PolicyViolationError",
    "ReviewRequiredError",
    "SchemaVersionError",
    "StoreBusyError",
    "StoreUnavailableError",
    "ValidationError",
]

"""Progress of long imports and exports, reported to a callback the caller passes.

The library draws nothing itself: without a callback every method is a cheap
no-op. The command line passes one that drives a Rich progress bar.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

ProgressCallback = Callable[[str, int, "int | None"], None]
"""``callback(stage, completed, total)``: the stage's description, the records done in
it so far, and its total when known. Called when a stage starts, every
:data:`REPORT_EVERY` records, and when the stage ends."""

REPORT_EVERY = 1000
"""Records between two calls of the callback within a stage."""


class Progress:
    """Counts work done and reports it to ``callback`` (nothing without one)."""

    __slots__ = ("_callback", "_completed", "_pending", "_stage", "_total")

    def __init__(self, callback: ProgressCallback | None = None) -> None:
        self._callback = callback
        self._stage = ""
        self._total: int | None = None
        self._completed = 0
        self._pending = 0

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._flush()

    def stage(self, description: str, total: int | None = None) -> None:
        """Start a new stage (the previous one ends)."""
        if self._callback is None:
            return
        self._flush()
        self._stage, self._total, self._completed, self._pending = description, total, 0, 0
        self._callback(description, 0, total)

    def advance(self, amount: int = 1) -> None:
        """Count ``amount`` records done."""
        if self._callback is None:
            return
        self._pending += amount
        if self._pending >= REPORT_EVERY:
            self._flush()

    def _flush(self) -> None:
        if self._callback is not None and self._pending:
            self._completed += self._pending
            self._pending = 0
            self._callback(self._stage, self._completed, self._total)


__all__ = ["REPORT_EVERY", "Progress", "ProgressCallback"]

"""A progress bar for long imports and exports, shown only on a terminal."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any


class Progress:
    """Counts work done; draws a Rich progress bar on stderr when enabled.

    ``enabled=None`` means "when stderr is a terminal". Without a bar every
    method is a cheap no-op, so callers advance it unconditionally.
    """

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bar: Any = None
        self._task: Any = None
        self._pending = 0

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)
            self._bar = None

    def stage(self, description: str, total: int | None = None) -> None:
        """Start a new stage (replacing the previous one's bar)."""
        if self._bar is None:
            return
        self._flush()
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(description, total=total)

    def advance(self, amount: int = 1) -> None:
        """Count ``amount`` records done."""
        if self._bar is None:
            return
        self._pending += amount
        if self._pending >= 1000:
            self._flush()

    def _flush(self) -> None:
        if self._task is not None and self._pending:
            self._bar.advance(self._task, self._pending)
        self._pending = 0

"""Printing: Rich tables for people, JSON / JSON Lines for programs, progress on terminals.

Convention: ``--json`` prints one JSON document for a single object or report,
and JSON Lines (one compact object per line) for listings.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from phase_memory.interchange.progress import ProgressCallback

PIPE_WIDTH = 160
"""Width of tables written to a pipe or file (a terminal's own width is used otherwise)."""


def stdout_console() -> Console:
    """A console on the current ``sys.stdout``: the terminal's width, else wide for pipes."""
    out = sys.stdout
    tty = out.isatty()
    width = None if tty or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(file=out, width=width, highlight=False, soft_wrap=True)


def stderr_console() -> Console:
    """A console on the current ``sys.stderr``."""
    return Console(file=sys.stderr, highlight=False)


def jsonable(value: Any) -> Any:
    """Plain JSON data for a model, a dataclass-like object or a plain value."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    return value


def print_json(value: Any) -> None:
    """One JSON document (two-space indent, sorted keys, trailing newline)."""
    sys.stdout.write(json.dumps(jsonable(value), indent=2, sort_keys=True, ensure_ascii=False))
    sys.stdout.write("\n")
    sys.stdout.flush()


def print_jsonl(values: Iterable[Any]) -> None:
    """JSON Lines: one compact JSON object per line."""
    out = sys.stdout
    for value in values:
        out.write(json.dumps(jsonable(value), sort_keys=True, ensure_ascii=False))
        out.write("\n")
    out.flush()


def say(text: str = "") -> None:
    """A line for people on stdout (Rich markup allowed)."""
    stdout_console().print(text)


def plain(text: str) -> str:
    """Escape text from the database so Rich prints it as is."""
    return escape(text)


def when(value: datetime | None) -> str:
    """A timestamp as ``2024-05-01 12:00:00Z``."""
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M:%SZ")


def short(text: str | None, width: int = 60) -> str:
    """Text on one line, cut to ``width`` characters."""
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A Rich table on stdout; cells are printed as plain text."""
    grid = Table(title=title, title_justify="left", show_lines=False)
    for name in columns:
        grid.add_column(name, overflow="fold")
    count = 0
    for row in rows:
        grid.add_row(*(plain("" if cell is None else str(cell)) for cell in row))
        count += 1
    if count == 0:
        say(f"(no {title.lower() if title else 'rows'})")
        return
    stdout_console().print(grid)


def fields(pairs: Iterable[tuple[str, Any]]) -> None:
    """``name: value`` lines for one object."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")
    for name, value in pairs:
        grid.add_row(name, plain("" if value is None else str(value)))
    stdout_console().print(grid)


@contextmanager
def progress(description: str) -> Iterator[None]:
    """A spinner with elapsed time on stderr while a long step runs, when stdout is a terminal."""
    if not sys.stdout.isatty():
        yield
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=stderr_console(),
        transient=True,
    ) as bar:
        bar.add_task(description, total=None)
        yield


@contextmanager
def progress_bar() -> Iterator[ProgressCallback | None]:
    """A progress callback drawing a Rich bar on stderr (None when stderr is no terminal).

    The library reports progress only to the callback it is given; this is the
    command line's.
    """
    if not sys.stderr.isatty():
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr_console(),
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def report(stage: str, completed: int, total: int | None) -> None:
            task = tasks.get(stage)
            if task is None:
                for other in tasks.values():
                    bar.remove_task(other)
                tasks.clear()
                task = tasks[stage] = bar.add_task(stage, total=total)
            bar.update(task, completed=completed)

        yield report


def error_line(message: str) -> None:
    """The one line a failure prints on stderr (never wrapped, never styled)."""
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()


def event_summary(payload: dict[str, Any], width: int = 60) -> str:
    """A short description of an event payload (the whole payload is in ``--json``)."""
    record = next(
        (payload[k] for k in ("node", "edge", "path", "profile", "plan", "action")
         if isinstance(payload.get(k), dict)),
        None,
    )
    if isinstance(record, dict):
        if "source_id" in record:
            text = f"{record.get('source_id')} -{record.get('kind')}-> {record.get('target_id')}"
        elif "label" in record:
            text = f"{record.get('id')}: {record.get('label')}"
        elif "query" in record:
            text = f"{record.get('id')}: {record.get('query')}"
        elif "kind" in record and "targets" in record:
            text = f"{record.get('kind')} {', '.join(map(str, record.get('targets') or []))}"
        else:
            text = str(record.get("id", ""))
        return short(text, width)
    lists = {k: len(v) for k, v in payload.items() if isinstance(v, list)}
    if lists and all(isinstance(x, dict) for v in payload.values() if isinstance(v, list)
                     for x in v):
        return short(counted(lists), width)
    if "source_path_id" in payload and "target_path_id" in payload:
        return short(f"{payload['source_path_id']} -> {payload['target_path_id']}", width)
    return short(json.dumps(payload, sort_keys=True, ensure_ascii=False), width)


def counted(counts: dict[str, int]) -> str:
    """``{"nodes": 2, "profiles": 1}`` as ``2 nodes, 1 profile`` (zeros left out)."""
    shown = []
    for name, number in counts.items():
        if not number:
            continue
        words = name.replace("_", " ")
        if number == 1 and words.endswith("s"):
            words = words[:-1]
        shown.append(f"{number} {words}")
    return ", ".join(shown) if shown else "nothing"

"""The command line: pick workloads, run them, print the table, write the JSON file."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from benchmarks.harness import REPO_ROOT, Context, Row, Workload
from benchmarks.machine import describe, machine_facts
from benchmarks.workloads import WORKLOADS

DEFAULT_OUTPUT = REPO_ROOT / "benchmarks" / "results" / "latest.json"
COLUMNS = ("workload", "N", "phase-memory", "raw sqlite3", "ratio", "target", "met")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    names = [w.name for w in WORKLOADS]
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="phase-memory beside raw sqlite3 doing the same work, on the same schema.",
    )
    parser.add_argument("--quick", action="store_true",
                        help="small sizes (about 1-2%% of the full run): checks the benchmarks run")
    parser.add_argument("--only", action="append", metavar="NAME", default=[],
                        help=f"run only these workloads (repeatable or comma separated): "
                             f"{', '.join(names)}")
    parser.add_argument("--repeat", type=int, default=None,
                        help="repeats per side; medians are reported (default 3, quick 1)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="JSON results file (default benchmarks/results/latest.json)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="scratch directory for database files (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--list", action="store_true", help="list the workloads and exit")
    args = parser.parse_args(argv)
    wanted = [name.strip() for item in args.only for name in item.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(unknown)}; choose from {', '.join(names)}")
    args.only = wanted
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def _console() -> Console:
    # Off a terminal (CI logs, tests) keep the table wide enough not to wrap.
    if sys.stdout.isatty():
        return Console()
    return Console(width=200, no_color=True)


def make_table(rows: list[Row], title: str, *, ascii_box: bool) -> Table:
    table = Table(title=title, box=box.ASCII if ascii_box else box.ROUNDED, show_lines=False)
    for column in COLUMNS:
        table.add_column(column, justify="right" if column in ("N", "ratio") else "left",
                         no_wrap=True)
    for row in rows:
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}x"
        met = "-" if row.met is None else ("yes" if row.met else "no")
        table.add_row(row.name, row.n, row.pm, row.raw, ratio, row.target, met)
    return table


def run(workloads: list[Workload], ctx: Context, console: Console) -> list[Row]:
    rows: list[Row] = []
    for number, workload in enumerate(workloads, start=1):
        sizes = workload.sizes(ctx.quick)
        print(f"[{number}/{len(workloads)}] {workload.name} {sizes} ...", file=sys.stderr,
              flush=True)
        started = time.perf_counter()
        row = workload.run(ctx, sizes)
        row.seconds = round(time.perf_counter() - started, 2)
        print(f"    {row.name}: phase-memory {row.pm}, raw {row.raw} ({row.seconds:.1f} s)",
              file=sys.stderr, flush=True)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for workload in WORKLOADS:
            print(f"{workload.name:24} {workload.title}")
        return 0
    selected = [w for w in WORKLOADS if not args.only or w.name in args.only]
    facts = machine_facts()
    console = _console()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="phase-memory-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    ctx = Context(quick=args.quick, repeat=args.repeat, workdir=workdir)
    started = time.perf_counter()
    try:
        rows = run(selected, ctx, console)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.perf_counter() - started
    mode = "quick" if args.quick else "full"
    title = f"phase-memory vs raw sqlite3 ({mode} run, median of {args.repeat})"
    console.print(make_table(rows, title, ascii_box=not sys.stdout.isatty()))
    for row in rows:
        if row.note:
            console.print(f"  {row.name}: {row.note}", highlight=False)
    console.print(f"machine: {describe(facts)}", highlight=False)
    console.print(f"total {elapsed:.1f} s", highlight=False)
    _write_json(args.output, rows, facts, mode, args.repeat, elapsed)
    return 0


def _write_json(path: Path, rows: list[Row], facts: dict[str, Any], mode: str, repeat: int,
                elapsed: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "repeat": repeat,
        "seconds": round(elapsed, 2),
        "machine": facts,
        "results": [row.to_json() for row in rows],
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")

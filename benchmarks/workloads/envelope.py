"""Graph envelope import and export at a million nodes and a million edges.

Each side runs in its own interpreter (``benchmarks.worker``) so its peak
resident set (``ru_maxrss``) is its own. The functions named ``*_side`` below
are what those interpreters run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, TextIO

from benchmarks import data, dbfiles
from benchmarks.harness import Context, Row, in_subprocess, median, rate, ratio_of

RSS_LIMIT_MB = 300


# --- fixtures ---------------------------------------------------------------------------


def envelope_file(ctx: Context, n_nodes: int, n_edges: int) -> Path:
    """An envelope of the benchmark profile, ``n_nodes`` nodes and ``n_edges`` edges.

    One record per line (valid JSON; the importer does not need the canonical
    indentation), written once per run.
    """

    def build() -> Path:
        path = ctx.workdir / f"envelope-{n_nodes}-{n_edges}.json"
        dumps = json.dumps
        with path.open("w", encoding="utf-8") as out:
            out.write('{\n  "edges": [\n')
            _write_records(out, (dumps(e, sort_keys=True) for e in data.edges(n_edges, n_nodes)))
            out.write('  ],\n  "envelope": "markitect.graph",\n  "generator": "benchmarks",\n')
            out.write('  "nodes": [\n')
            _write_records(out, (dumps(n, sort_keys=True) for n in data.nodes(n_nodes)))
            out.write('  ],\n  "paths": [],\n  "profiles": [\n')
            _write_records(out, [dumps(data.profile(), sort_keys=True)])
            out.write('  ],\n  "schema_version": 1\n}\n')
        return path

    path: Path = ctx.cached(f"envelope-{n_nodes}-{n_edges}", build)
    return path


def _write_records(out: TextIO, lines: Any) -> None:
    first = True
    for line in lines:
        if not first:
            out.write(",\n")
        out.write("    " + line)
        first = False
    out.write("\n")


def graph_db(ctx: Context, n_nodes: int, n_edges: int) -> Path:
    """A library-made database holding the benchmark graph (filled raw, checkpointed)."""

    def build() -> Path:
        path = ctx.fresh_db(f"graph-{n_nodes}-{n_edges}")
        dbfiles.insert_graph(path, data.nodes(n_nodes), data.edges(n_edges, n_nodes))
        return path

    path: Path = ctx.cached(f"graph-{n_nodes}-{n_edges}", build)
    return path


# --- the sides (run in a subprocess) ------------------------------------------------------


def pm_import_side(db: str, envelope: str) -> dict[str, Any]:
    import phase_memory as pm

    with pm.open(db) as mem:
        started = time.perf_counter()
        result = mem.import_envelope(envelope)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": result.counts["nodes"] + result.counts["edges"]}


def raw_import_side(db: str, envelope: str) -> dict[str, Any]:
    """Read the envelope a line at a time (one record a line) and ``executemany`` the rows.

    One pass in file order (edges, nodes, profiles: sorted keys), so foreign
    keys are checked at commit (``defer_foreign_keys``); memory stays bounded.
    """
    conn = dbfiles.raw_connect(db)
    started = time.perf_counter()
    loads = json.loads
    row_of = {"edges": data.edge_row, "nodes": data.node_row, "profiles": data.profile_row}
    insert = {"edges": data.INSERT_EDGE, "nodes": data.INSERT_NODE,
              "profiles": data.INSERT_PROFILE}
    rows = 0
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("PRAGMA defer_foreign_keys = ON")
    with open(envelope, encoding="utf-8") as src:
        current: str | None = None
        chunk: list[tuple[Any, ...]] = []
        for line in src:
            text = line.strip()
            if current is None:
                if text.endswith("[") and text.startswith('"'):
                    current = text.split('"')[1]
                continue
            if text.startswith("]"):
                conn.executemany(insert[current], chunk)
                rows += len(chunk) if current != "profiles" else 0
                current, chunk = None, []
                continue
            chunk.append(row_of[current](loads(text.rstrip(","))))
            if len(chunk) >= 10_000:
                conn.executemany(insert[current], chunk)
                rows += len(chunk)
                chunk = []
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return {"seconds": seconds, "rows": rows}


def pm_export_side(db: str, out: str) -> dict[str, Any]:
    import phase_memory as pm

    with pm.open(db) as mem:
        started = time.perf_counter()
        result = mem.export_envelope(out)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": result.counts["nodes"] + result.counts["edges"]}


def raw_export_side(db: str, out: str) -> dict[str, Any]:
    """Select every row, ``json.dumps`` it (sorted keys, indented), write the envelope."""
    conn = dbfiles.raw_connect(db)
    loads, dumps = json.loads, json.dumps
    started = time.perf_counter()
    rows = 0
    with open(out, "w", encoding="utf-8") as handle:
        handle.write("{")
        for key, columns, json_columns in (
            ("edges", data.EDGE_COLUMNS, {"attributes"}),
            ("nodes", data.NODE_COLUMNS, {"attributes"}),
        ):
            handle.write(f'\n  "{key}": ')
            sql = f"SELECT {', '.join(columns)} FROM {key} ORDER BY id"
            first = True
            for row in conn.execute(sql):
                record = dict(zip(columns, row, strict=True))
                for name in json_columns:
                    record[name] = loads(record[name])
                text = dumps(record, sort_keys=True, indent=2, ensure_ascii=False)
                handle.write((",\n    " if not first else "[\n    ")
                             + text.replace("\n", "\n    "))
                first = False
                rows += 1
            handle.write("\n  ]," if not first else "[],")
        handle.write('\n  "envelope": "markitect.graph",\n  "schema_version": 1\n}\n')
    seconds = time.perf_counter() - started
    conn.close()
    return {"seconds": seconds, "rows": rows}


# --- the workloads ----------------------------------------------------------------------


def _judge(name: str, title: str, n: str, pm_runs: list[dict[str, Any]],
           raw_runs: list[dict[str, Any]], target_ratio: float) -> Row:
    pm_rate = median([r["rows"] / r["seconds"] for r in pm_runs])
    raw_rate = median([r["rows"] / r["seconds"] for r in raw_runs])
    pm_rss = max(r["max_rss_mb"] for r in pm_runs)
    raw_rss = max(r["max_rss_mb"] for r in raw_runs)
    ratio = ratio_of(pm_rate, raw_rate)
    met = ratio is not None and ratio >= target_ratio and pm_rss <= RSS_LIMIT_MB
    return Row(
        name=name, title=title, n=n,
        pm=f"{rate(pm_rate, 'rows/s')}, {pm_rss:.0f} MB",
        raw=f"{rate(raw_rate, 'rows/s')}, {raw_rss:.0f} MB", ratio=ratio,
        target=f">= {target_ratio:.2f}x raw, RSS <= {RSS_LIMIT_MB} MB", met=met,
        figures={"pm": pm_runs, "raw": raw_runs, "pm_peak_rss_mb": pm_rss,
                 "raw_peak_rss_mb": raw_rss},
    )


def envelope_import(ctx: Context, sizes: dict[str, Any]) -> Row:
    n_nodes, n_edges = sizes["nodes"], sizes["edges"]
    envelope = envelope_file(ctx, n_nodes, n_edges)
    pm_runs, raw_runs = [], []
    for i in range(ctx.repeat):
        db = ctx.fresh_db(f"import-pm-{i}")
        pm_runs.append(in_subprocess("envelope:pm_import_side", db=str(db), envelope=str(envelope)))
        dbfiles.remove_db(db)
        db = ctx.fresh_db(f"import-raw-{i}")
        raw_runs.append(in_subprocess("envelope:raw_import_side", db=str(db),
                                      envelope=str(envelope)))
        dbfiles.remove_db(db)
    return _judge("envelope_import", "envelope import", f"{n_nodes:,}+{n_edges:,}",
                  pm_runs, raw_runs, 0.50)


def envelope_export(ctx: Context, sizes: dict[str, Any]) -> Row:
    n_nodes, n_edges = sizes["nodes"], sizes["edges"]
    db = graph_db(ctx, n_nodes, n_edges)
    pm_runs, raw_runs = [], []
    for i in range(ctx.repeat):
        out = ctx.workdir / f"export-pm-{i}.json"
        pm_runs.append(in_subprocess("envelope:pm_export_side", db=str(db), out=str(out)))
        out.unlink(missing_ok=True)
        out = ctx.workdir / f"export-raw-{i}.json"
        raw_runs.append(in_subprocess("envelope:raw_export_side", db=str(db), out=str(out)))
        out.unlink(missing_ok=True)
    return _judge("envelope_export", "envelope export", f"{n_nodes:,}+{n_edges:,}",
                  pm_runs, raw_runs, 0.50)

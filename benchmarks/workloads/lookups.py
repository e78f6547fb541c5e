"""Read latency: ``graph.list_edges(source_id=...)`` and ``mem.activate``."""

from __future__ import annotations

import random
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import phase_memory as pm
from benchmarks import data, dbfiles
from benchmarks.harness import Context, Row, median, percentile, ratio_of
from benchmarks.workloads.envelope import graph_db

RAW_LIST_EDGES = (
    f"SELECT {', '.join(data.EDGE_COLUMNS)} FROM edges "
    "WHERE profile_id = ? AND source_id = ? ORDER BY id"
)
RAW_SEARCH = (
    "SELECT n.id, n.label, n.content, n.salience, n.updated_at, -bm25(nodes_fts, 2.0, 1.0) "
    "FROM nodes_fts JOIN nodes n ON n.node_seq = nodes_fts.rowid "
    "WHERE nodes_fts MATCH ? AND n.profile_id = ? AND n.state = 'active' "
    "ORDER BY bm25(nodes_fts, 2.0, 1.0), n.id LIMIT ?"
)
WARMUP = 50


def _latencies(calls: list[Any], run: Any) -> list[float]:
    for arg in calls[:WARMUP]:
        run(arg)
    out = []
    clock = time.perf_counter
    for arg in calls:
        start = clock()
        run(arg)
        out.append(clock() - start)
    return out


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def _latency_row(name: str, title: str, n: str, pm_runs: list[list[float]],
                 raw_runs: list[list[float]], p50_limit: float, p99_limit: float,
                 note: str = "") -> Row:
    pm_p50 = median([percentile(r, 50) for r in pm_runs])
    pm_p99 = median([percentile(r, 99) for r in pm_runs])
    raw_p50 = median([percentile(r, 50) for r in raw_runs])
    raw_p99 = median([percentile(r, 99) for r in raw_runs])
    return Row(
        name=name, title=title, n=n,
        pm=f"p50 {_ms(pm_p50)} / p99 {_ms(pm_p99)} ms",
        raw=f"p50 {_ms(raw_p50)} / p99 {_ms(raw_p99)} ms",
        ratio=ratio_of(raw_p50, pm_p50),
        target=f"p50 <= {p50_limit * 1000:g} ms, p99 <= {p99_limit * 1000:g} ms",
        met=pm_p50 <= p50_limit and pm_p99 <= p99_limit, note=note,
        figures={"pm_p50_s": pm_p50, "pm_p99_s": pm_p99, "raw_p50_s": raw_p50,
                 "raw_p99_s": raw_p99},
    )


def list_edges(ctx: Context, sizes: dict[str, Any]) -> Row:
    """``graph.list_edges(profile_id, source_id=...)`` for random nodes of a big graph."""
    n_nodes, n_edges, lookups = sizes["nodes"], sizes["edges"], sizes["lookups"]
    db = graph_db(ctx, n_nodes, n_edges)
    rng = random.Random(5)
    sources = [data.node_id(rng.randrange(n_nodes)) for _ in range(lookups)]
    pm_runs, raw_runs = [], []
    for _ in range(ctx.repeat):
        with pm.open(db, read_only=True) as mem:
            pm_runs.append(_latencies(
                sources, lambda s, g=mem.graph: g.list_edges(data.PROFILE_ID, source_id=s)))
        conn = dbfiles.raw_connect(db)
        raw_runs.append(_latencies(
            sources,
            lambda s, x=conn.execute: x(RAW_LIST_EDGES, (data.PROFILE_ID, s)).fetchall()))
        conn.close()
    return _latency_row("list_edges", "graph.list_edges(source_id=...)",
                        f"{lookups:,} @ {n_edges:,} edges", pm_runs, raw_runs, 0.10e-3, 0.50e-3)


def activate(ctx: Context, sizes: dict[str, Any]) -> Row:
    """``mem.activate(profile, two-word query)`` at 100,000 nodes (plans are stored)."""
    n_nodes, n_edges = sizes["nodes"], sizes["edges"]
    return _activate_row(ctx, sizes, "activate", "activate, 2-word topical queries",
                         graph_db(ctx, n_nodes, n_edges))


SUPERSEDED_SHARE = 5
"""One edge in this many is superseded (20 %)."""


def activate_superseded(ctx: Context, sizes: dict[str, Any]) -> Row:
    """``activate`` on the same graph with 20 % of its edges superseded (valid time).

    Every fifth edge ended a day before the benchmark's base time: it stays
    stored (nothing is deleted) and activation must leave it out of its graph
    hops. The raw side is the same bm25 query as for ``activate``.
    """
    n_nodes, n_edges = sizes["nodes"], sizes["edges"]

    def build() -> Path:
        path = dbfiles.copy_db(graph_db(ctx, n_nodes, n_edges),
                               ctx.workdir / f"graph-superseded-{n_nodes}-{n_edges}.db")
        ended = data.ts_text(data.BASE_TIME - timedelta(days=1))
        begun = data.ts_text(data.BASE_TIME - timedelta(days=400))
        conn = dbfiles.raw_connect(path)
        with conn:
            conn.execute(
                "UPDATE edges SET valid_from = ?, valid_to = ? WHERE rowid % ? = 0",
                (begun, ended, SUPERSEDED_SHARE),
            )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        return path

    source: Path = ctx.cached(f"graph-superseded-{n_nodes}-{n_edges}", build)
    return _activate_row(ctx, sizes, "activate_superseded",
                         "activate, 20 % of edges superseded", source)


def _activate_row(ctx: Context, sizes: dict[str, Any], name: str, title: str,
                  source: Path) -> Row:
    n_nodes, count = sizes["nodes"], sizes["queries"]
    n = f"{count:,} @ {n_nodes:,} nodes"
    queries = data.queries(count)
    pm_runs, raw_runs = [], []
    for i in range(ctx.repeat):
        db = dbfiles.copy_db(source, ctx.workdir / f"{name}-{i}.db")
        with pm.open(db) as mem:
            pm_runs.append(_latencies(queries, lambda q: mem.activate(data.PROFILE_ID, q)))
        conn = dbfiles.raw_connect(db)
        raw_runs.append(_latencies(queries, lambda q, x=conn.execute: _raw_search(x, q)))
        conn.close()
        dbfiles.remove_db(db)
    return _latency_row(name, title, n, pm_runs, raw_runs, 5e-3, 50e-3,
                        note="raw: the FTS5 bm25 query alone (no scoring, no stored plan)")


def _raw_search(execute: Any, query: str) -> Any:
    match = " OR ".join(f'"{word}"' for word in query.split())
    return execute(RAW_SEARCH, (match, data.PROFILE_ID, 50)).fetchall()

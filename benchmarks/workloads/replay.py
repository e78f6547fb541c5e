"""Replaying the log into a snapshot."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

import phase_memory as pm
from benchmarks import data, dbfiles
from benchmarks.harness import Context, Row, Timer, alternate, median, rate, ratio_of
from phase_memory.models import EdgeSaved, NodeSaved
from phase_memory.models.limits import STORED

RAW_SELECT = (
    "SELECT position, event_id, kind, profile_id, path_id, occurred_at, schema_version, payload "
    "FROM events ORDER BY position"
)


def replay(ctx: Context, sizes: dict[str, Any]) -> Row:
    """``mem.events.replay()`` vs raw: iterate the rows and ``json.loads`` each payload.

    A third side in the same run is the floor of any snapshot of pydantic
    records: the same payloads (read beforehand), each validated into its
    ``MemoryNode`` / ``MemoryEdge`` and kept by id, no SQLite and no fold. The
    library leaves the garbage collector alone, and its full passes over the
    records kept so far cost more than the validation: when this side is under
    the target, so is every replay that builds the snapshot's records.
    """
    n = sizes["events"]
    path = ctx.fresh_db("replay")
    with pm.open(path) as mem:
        mem.events.append(data.event_models(data.events(n)))
    dbfiles.checkpoint(path)
    check: dict[str, int] = {}

    def pm_side(i: int) -> float:
        with pm.open(path, read_only=True) as mem, Timer() as t:
            result = mem.events.replay()
        check["nodes"] = len(result.snapshot.nodes)
        check["problems"] = len(result.report.problems)
        return n / t.seconds

    def raw_side(i: int) -> float:
        conn = dbfiles.raw_connect(path)
        loads = json.loads
        with Timer() as t:
            count = 0
            for row in conn.execute(RAW_SELECT):
                loads(row[7])
                count += 1
        conn.close()
        assert count == n
        return n / t.seconds

    conn = dbfiles.raw_connect(path)
    texts = [(kind, payload) for kind, payload in conn.execute(
        "SELECT kind, payload FROM events ORDER BY position")]
    conn.close()
    node_saved = partial(NodeSaved.__pydantic_validator__.validate_json, context=STORED)
    edge_saved = partial(EdgeSaved.__pydantic_validator__.validate_json, context=STORED)

    def models_side(i: int) -> float:
        nodes: dict[str, Any] = {}
        edges: dict[str, Any] = {}
        with Timer() as t:
            for kind, payload in texts:
                if kind == "node.saved":
                    node = node_saved(payload).node
                    nodes[node.id] = node
                elif kind == "edge.saved":
                    edge = edge_saved(payload).edge
                    edges[edge.id] = edge
        assert len(nodes) == check["nodes"]
        return n / t.seconds

    models_rates: list[float] = []

    def raw_then_models(i: int) -> float:
        raw_rate = raw_side(i)
        models_rates.append(models_side(i))
        return raw_rate

    pm_rates, raw_rates = alternate(ctx.repeat, pm_side, raw_then_models)
    pm_rate, raw_rate = median(pm_rates), median(raw_rates)
    ratio = ratio_of(pm_rate, raw_rate)
    floor = ratio_of(median(models_rates), raw_rate) or 0.0
    note = (f"floor in the same run: the records alone (validated and kept, no SQLite, no "
            f"fold) {rate(median(models_rates), 'ev/s')} = {floor:.2f}x raw")
    if check.get("problems"):
        note += f"; {check['problems']} replay problems!"
    return Row(
        name="replay", title="replay into a snapshot", n=f"{n:,}",
        pm=rate(pm_rate, "ev/s"), raw=rate(raw_rate, "ev/s"), ratio=ratio,
        target=">= 0.50x raw", met=ratio is not None and ratio >= 0.50, note=note,
        figures={"pm_events_per_s": pm_rates, "raw_events_per_s": raw_rates,
                 "records_alone_events_per_s": models_rates, "records_alone_vs_raw": floor,
                 **check},
    )

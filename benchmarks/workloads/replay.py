"""Replaying the log into a snapshot."""

from __future__ import annotations

import json
from typing import Any

import phase_memory as pm
from benchmarks import data, dbfiles
from benchmarks.harness import Context, Row, Timer, alternate, median, rate, ratio_of

RAW_SELECT = (
    "SELECT position, event_id, kind, profile_id, path_id, occurred_at, schema_version, payload "
    "FROM events ORDER BY position"
)


def replay(ctx: Context, sizes: dict[str, Any]) -> Row:
    """``mem.events.replay()`` vs raw: iterate the rows and ``json.loads`` each payload."""
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

    pm_rates, raw_rates = alternate(ctx.repeat, pm_side, raw_side)
    pm_rate, raw_rate = median(pm_rates), median(raw_rates)
    ratio = ratio_of(pm_rate, raw_rate)
    note = "" if not check.get("problems") else f"{check['problems']} replay problems!"
    return Row(
        name="replay", title="replay into a snapshot", n=f"{n:,}",
        pm=rate(pm_rate, "ev/s"), raw=rate(raw_rate, "ev/s"), ratio=ratio,
        target=">= 0.50x raw", met=ratio is not None and ratio >= 0.50, note=note,
        figures={"pm_events_per_s": pm_rates, "raw_events_per_s": raw_rates, **check},
    )

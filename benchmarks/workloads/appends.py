"""Appending to the event log: one big batch, and one durable commit per event."""

from __future__ import annotations

from typing import Any

import phase_memory as pm
from benchmarks import data, dbfiles
from benchmarks.harness import Context, Row, Timer, alternate, median, rate, ratio_of


def bulk_append(ctx: Context, sizes: dict[str, Any]) -> Row:
    """``events.append(all)`` in one call vs one ``executemany`` in one transaction."""
    n = sizes["events"]
    plain = data.events(n)
    models = data.event_models(plain)

    def pm_side(i: int) -> float:
        path = ctx.fresh_db(f"bulk-pm-{i}")
        with pm.open(path) as mem, Timer() as t:
            mem.events.append(models)
        dbfiles.remove_db(path)
        return n / t.seconds

    def raw_side(i: int) -> float:
        path = ctx.fresh_db(f"bulk-raw-{i}")
        conn = dbfiles.raw_connect(path)
        with Timer() as t:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(data.INSERT_EVENT, [data.event_row(e) for e in plain])
            conn.execute("COMMIT")
        conn.close()
        dbfiles.remove_db(path)
        return n / t.seconds

    pm_rates, raw_rates = alternate(ctx.repeat, pm_side, raw_side)
    pm_rate, raw_rate = median(pm_rates), median(raw_rates)
    ratio = ratio_of(pm_rate, raw_rate)
    return Row(
        name="bulk_append", title="bulk append, one events.append call", n=f"{n:,}",
        pm=rate(pm_rate, "ev/s"), raw=rate(raw_rate, "ev/s"), ratio=ratio,
        target=">= 0.70x raw", met=ratio is not None and ratio >= 0.70,
        figures={"pm_events_per_s": pm_rates, "raw_events_per_s": raw_rates},
    )


def durable_append(ctx: Context, sizes: dict[str, Any]) -> Row:
    """``events.append([e])`` per event vs one raw transaction per event (WAL, NORMAL)."""
    n = sizes["events"]
    plain = data.events(n)
    models = data.event_models(plain)

    def pm_side(i: int) -> float:
        path = ctx.fresh_db(f"durable-pm-{i}")
        with pm.open(path, synchronous="normal") as mem:
            append = mem.events.append
            with Timer() as t:
                for event in models:
                    append([event])
        dbfiles.remove_db(path)
        return n / t.seconds

    def raw_side(i: int) -> float:
        path = ctx.fresh_db(f"durable-raw-{i}")
        conn = dbfiles.raw_connect(path, synchronous="NORMAL")
        execute = conn.execute
        with Timer() as t:
            for event in plain:
                execute("BEGIN IMMEDIATE")
                execute(data.INSERT_EVENT, data.event_row(event))
                execute("COMMIT")
        conn.close()
        dbfiles.remove_db(path)
        return n / t.seconds

    pm_rates, raw_rates = alternate(ctx.repeat, pm_side, raw_side)
    pm_rate, raw_rate = median(pm_rates), median(raw_rates)
    ratio = ratio_of(pm_rate, raw_rate)
    return Row(
        name="durable_append", title="durable single appends (WAL, synchronous NORMAL)",
        n=f"{n:,}", pm=rate(pm_rate, "appends/s"), raw=rate(raw_rate, "appends/s"), ratio=ratio,
        target=">= 0.60x raw", met=ratio is not None and ratio >= 0.60,
        figures={"pm_appends_per_s": pm_rates, "raw_appends_per_s": raw_rates},
    )

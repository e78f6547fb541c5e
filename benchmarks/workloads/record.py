"""Recording ``node.saved``: ``mem.save_node`` one call each (event + projection, atomic)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import phase_memory as pm
from benchmarks import data, dbfiles
from benchmarks.harness import Context, Row, Timer, alternate, median, rate, ratio_of


def record_node_saved(ctx: Context, sizes: dict[str, Any]) -> Row:
    """``mem.save_node(node)`` vs raw: event insert + node upsert in one transaction."""
    n = sizes["nodes"]
    plain = list(data.nodes(n))
    models = [pm.MemoryNode.model_validate({**node, "version": 0}) for node in plain]
    profile = pm.Profile.model_validate(data.profile())

    def pm_side(i: int) -> float:
        path = ctx.fresh_db(f"record-pm-{i}")
        with pm.open(path) as mem:
            mem.save_profile(profile)
            save = mem.save_node
            with Timer() as t:
                for node in models:
                    save(node)
        dbfiles.remove_db(path)
        return n / t.seconds

    def raw_side(i: int) -> float:
        path = ctx.fresh_db(f"record-raw-{i}")
        conn = dbfiles.raw_connect(path)
        conn.execute(data.INSERT_PROFILE, data.profile_row(data.profile()))
        execute = conn.execute
        with Timer() as t:
            for k, node in enumerate(plain):
                now = datetime.now(UTC)
                event = {
                    "event_id": data.event_id(k, 1), "kind": "node.saved",
                    "profile_id": node["profile_id"], "path_id": None, "occurred_at": now,
                    "payload": {"node": node}, "schema_version": 1, "actor": "system",
                    "causation_id": None,
                }
                execute("BEGIN IMMEDIATE")
                execute(data.INSERT_EVENT, data.event_row(event))
                execute(data.UPSERT_NODE, data.node_row(node))
                execute("COMMIT")
        conn.close()
        dbfiles.remove_db(path)
        return n / t.seconds

    pm_rates, raw_rates = alternate(ctx.repeat, pm_side, raw_side)
    pm_rate, raw_rate = median(pm_rates), median(raw_rates)
    ratio = ratio_of(pm_rate, raw_rate)
    return Row(
        name="record_node_saved", title="record node.saved (mem.save_node), one call each",
        n=f"{n:,}", pm=rate(pm_rate, "rec/s"), raw=rate(raw_rate, "rec/s"), ratio=ratio,
        target=">= 0.50x raw", met=ratio is not None and ratio >= 0.50,
        figures={"pm_records_per_s": pm_rates, "raw_records_per_s": raw_rates},
    )

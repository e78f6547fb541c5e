"""``await mem.save_node(...)`` on the async runtime beside ``mem.save_node`` on the sync one.

Both sides save the same nodes one call each into a fresh SQLite file; the
async side awaits each call from one task (a worker thread runs it), which is
what an async agent does. The ratio is async over sync: what the thread hop
of every call costs.
"""

from __future__ import annotations

from typing import Any

import anyio

import phase_memory as pm
from benchmarks import data, dbfiles
from benchmarks.harness import Context, Row, Timer, alternate, median, rate, ratio_of


def async_record(ctx: Context, sizes: dict[str, Any]) -> Row:
    """10,000 ``await mem.save_node(node)`` vs 10,000 ``mem.save_node(node)``."""
    n = sizes["nodes"]
    models = [pm.MemoryNode.model_validate({**node, "version": 0}) for node in data.nodes(n)]
    profile = pm.Profile.model_validate(data.profile())

    def async_side(i: int) -> float:
        path = ctx.fresh_db(f"async-record-{i}")

        async def run() -> float:
            async with pm.open_async(path) as mem:
                await mem.save_profile(profile)
                save = mem.save_node
                with Timer() as t:
                    for node in models:
                        await save(node)
            return n / t.seconds

        per_second = anyio.run(run)
        dbfiles.remove_db(path)
        return per_second

    def sync_side(i: int) -> float:
        path = ctx.fresh_db(f"sync-record-{i}")
        with pm.open(path) as mem:
            mem.save_profile(profile)
            save = mem.save_node
            with Timer() as t:
                for node in models:
                    save(node)
        dbfiles.remove_db(path)
        return n / t.seconds

    async_rates, sync_rates = alternate(ctx.repeat, async_side, sync_side)
    async_rate, sync_rate = median(async_rates), median(sync_rates)
    ratio = ratio_of(async_rate, sync_rate)
    return Row(
        name="async_record", title="await mem.save_node on pm.open_async, one call each",
        n=f"{n:,}", pm=rate(async_rate, "rec/s"), raw=rate(sync_rate, "rec/s") + " (sync)",
        ratio=ratio, target=">= 0.70x sync runtime", met=ratio is not None and ratio >= 0.70,
        note="raw column: the sync runtime's mem.save_node on the same nodes",
        figures={"async_records_per_s": async_rates, "sync_records_per_s": sync_rates},
    )

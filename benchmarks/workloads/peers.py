"""Optional peers: eventsourcing's SQLite recorder and LangGraph's SqliteSaver.

They run only when the packages import (``pip install -e '.[bench]'``);
otherwise the row says "peer not installed". Here the "raw" column is the
peer library, and the ratio is phase-memory's throughput over the peer's.
"""

from __future__ import annotations

import uuid
from typing import Any

import phase_memory as pm
from benchmarks import data, dbfiles
from benchmarks.harness import Context, Row, Timer, alternate, median, rate, ratio_of

BATCH = 100


def _not_installed(name: str, title: str, target: str, package: str) -> Row:
    return Row(name=name, title=title, n="-", pm="peer not installed", raw="-", ratio=None,
               target=target, met=None, note=f"peer not installed: pip install {package}")


def eventsourcing_batches(ctx: Context, sizes: dict[str, Any]) -> Row:
    """``events.append`` of 100 events at a time vs ``SQLiteAggregateRecorder.insert_events``."""
    title, target = "eventsourcing SQLite recorder, batches of 100", ">= 1.00x peer"
    try:
        from eventsourcing.persistence import StoredEvent
        from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteDatastore
    except ImportError:
        return _not_installed("peer_eventsourcing", title, target, "eventsourcing")
    n = sizes["events"]
    plain = data.events(n)
    models = data.event_models(plain)
    batches = [models[i : i + BATCH] for i in range(0, n, BATCH)]
    # The same events as the peer stores them: one aggregate per profile, the
    # event's JSON (payload and metadata) as its state. As for the raw side of
    # every workload, turning the plain data into what is stored (here the
    # StoredEvent and its JSON state, the work of the peer's mapper) is timed;
    # phase-memory's side likewise encodes its events' JSON inside the timed call.
    originator = uuid.UUID(int=1)
    plain_batches = [list(enumerate(plain))[i : i + BATCH] for i in range(0, n, BATCH)]

    def stored(batch: list[tuple[int, dict[str, Any]]]) -> list[Any]:
        return [
            StoredEvent(originator_id=originator, originator_version=k, topic=e["kind"],
                        state=data.dumps({**e, "occurred_at": data.ts_text(e["occurred_at"])})
                        .encode("utf-8"))
            for k, e in batch
        ]

    def pm_side(i: int) -> float:
        path = ctx.fresh_db(f"peer-es-pm-{i}")
        with pm.open(path) as mem, Timer() as t:
            for batch in batches:
                mem.events.append(batch)
        dbfiles.remove_db(path)
        return n / t.seconds

    def peer_side(i: int) -> float:
        path = ctx.workdir / f"peer-es-{i}.db"
        dbfiles.remove_db(path)
        datastore = SQLiteDatastore(str(path))
        # The same synchronous setting as phase-memory's default (NORMAL, WAL).
        create = datastore.pool._create_connection

        def normal_sync() -> Any:
            connection = create()
            connection._sqlite_conn.execute("PRAGMA synchronous = NORMAL")
            return connection

        datastore.pool._create_connection = normal_sync  # type: ignore[method-assign]
        recorder = SQLiteAggregateRecorder(datastore)
        recorder.create_table()
        with Timer() as t:
            for plain_batch in plain_batches:
                recorder.insert_events(stored(plain_batch))
        datastore.close()
        dbfiles.remove_db(path)
        return n / t.seconds

    pm_rates, peer_rates = alternate(ctx.repeat, pm_side, peer_side)
    pm_rate, peer_rate = median(pm_rates), median(peer_rates)
    ratio = ratio_of(pm_rate, peer_rate)
    return Row(
        name="peer_eventsourcing", title=title, n=f"{n:,}", pm=rate(pm_rate, "ev/s"),
        raw=f"eventsourcing {rate(peer_rate, 'ev/s')}", ratio=ratio, target=target,
        met=ratio is not None and ratio >= 1.0,
        figures={"pm_events_per_s": pm_rates, "peer_events_per_s": peer_rates},
    )


def langgraph_put(ctx: Context, sizes: dict[str, Any]) -> Row:
    """``events.append([e])`` of one checkpoint-sized event vs ``SqliteSaver.put`` (WAL, NORMAL).

    The issue's durable-single-append row names this peer: one event appended
    and committed per call. ``mem.record`` of the same events (append plus the
    runtime's checks, one transaction) is reported beside it, not judged.
    """
    title, target = "LangGraph SqliteSaver.put, same synchronous", ">= 0.80x peer"
    try:
        from langgraph.checkpoint.base import empty_checkpoint
        from langgraph.checkpoint.sqlite import SqliteSaver
    except ImportError:
        return _not_installed("peer_langgraph", title, target, "langgraph-checkpoint-sqlite")
    n = sizes["puts"]
    # A checkpoint holding a small conversation state; phase-memory records the same
    # state as an event payload.
    states = [{"messages": [f"turn {k}", "a reply of a few words"], "step": k} for k in range(n)]
    profile = pm.Profile.model_validate(data.profile())

    def events_of(run: int) -> list[Any]:
        return [
            pm.MemoryEvent.model_construct(
                event_id=data.event_id(k, run), kind="agent.checkpoint",
                profile_id=data.PROFILE_ID, path_id=None, occurred_at=data.moment(k),
                payload={"thread_id": "t1", "channel_values": state}, schema_version=1,
                actor="bench", causation_id=None, position=None)
            for k, state in enumerate(states)
        ]

    def pm_side(i: int) -> float:
        path = ctx.fresh_db(f"peer-lg-pm-{i}")
        with pm.open(path, synchronous="normal") as mem:
            mem.save_profile(profile)
            events = events_of(5)
            append = mem.events.append
            with Timer() as t:
                for event in events:
                    append([event])
        dbfiles.remove_db(path)
        return n / t.seconds

    def record_side(i: int) -> float:
        path = ctx.fresh_db(f"peer-lg-record-{i}")
        with pm.open(path, synchronous="normal") as mem:
            mem.save_profile(profile)
            events = events_of(6)
            with Timer() as t:
                for event in events:
                    mem.record(event)
        dbfiles.remove_db(path)
        return n / t.seconds

    def peer_side(i: int) -> float:
        path = ctx.workdir / f"peer-lg-{i}.db"
        dbfiles.remove_db(path)
        conn = dbfiles.peer_connect(path)  # WAL + synchronous NORMAL, as phase-memory
        conn.isolation_level = ""  # SqliteSaver commits through the sqlite3 module
        saver = SqliteSaver(conn)
        saver.setup()
        conn.execute("PRAGMA synchronous = NORMAL")
        config: Any = {"configurable": {"thread_id": "t1", "checkpoint_ns": ""}}
        checkpoints = []
        for state in states:
            checkpoint = empty_checkpoint()
            checkpoint["channel_values"] = state
            checkpoints.append(checkpoint)
        with Timer() as t:
            for checkpoint in checkpoints:
                config = saver.put(config, checkpoint, {"source": "loop", "step": 1}, {})
        conn.close()
        dbfiles.remove_db(path)
        return n / t.seconds

    def raw_side(i: int, drop_indexes: tuple[str, ...] = ()) -> float:
        # For context: raw sqlite3 storing the same events in phase-memory's
        # events table (its indexes), one transaction each, no library at all.
        # With drop_indexes, the same without those indexes: what each index
        # costs a one-event commit (every b-tree is a page written per commit).
        path = ctx.fresh_db(f"peer-lg-raw-{i}-{len(drop_indexes)}")
        conn = dbfiles.raw_connect(path, synchronous="NORMAL")
        for index in drop_indexes:
            conn.execute(f"DROP INDEX {index}")
        conn.execute(data.INSERT_PROFILE, data.profile_row(data.profile()))
        plain = [
            {"event_id": data.event_id(k, 5), "kind": "agent.checkpoint",
             "profile_id": data.PROFILE_ID, "path_id": None, "occurred_at": data.moment(k),
             "payload": {"thread_id": "t1", "channel_values": state}, "schema_version": 1,
             "actor": "bench", "causation_id": None}
            for k, state in enumerate(states)
        ]
        execute = conn.execute
        with Timer() as t:
            for event in plain:
                execute("BEGIN IMMEDIATE")
                execute(data.INSERT_EVENT, data.event_row(event))
                execute("COMMIT")
        conn.close()
        dbfiles.remove_db(path)
        return n / t.seconds

    pm_rates, peer_rates = alternate(ctx.repeat, pm_side, peer_side)
    raw_rates = [raw_side(i) for i in range(ctx.repeat)]
    record_rates = [record_side(i) for i in range(ctx.repeat)]
    secondary = ("ix_events_kind_position", "ix_events_path_id_position",
                 "ix_events_profile_id_position")
    bare_rates = [raw_side(i, secondary) for i in range(ctx.repeat)]
    pm_rate, peer_rate = median(pm_rates), median(peer_rates)
    raw_ratio = ratio_of(median(raw_rates), peer_rate)
    record_ratio = ratio_of(median(record_rates), peer_rate)
    ratio = ratio_of(pm_rate, peer_rate)
    notes = []
    if raw_ratio is not None:
        notes.append(f"raw sqlite3 on phase-memory's events table: "
                     f"{rate(median(raw_rates), 'puts/s')} = {raw_ratio:.2f}x peer")
    bare_ratio = ratio_of(median(bare_rates), peer_rate)
    if bare_ratio is not None:
        notes.append(f"the same without the events table's 3 secondary indexes: "
                     f"{rate(median(bare_rates), 'puts/s')} = {bare_ratio:.2f}x peer")
    if record_ratio is not None:
        notes.append(f"mem.record (not judged): {rate(median(record_rates), 'puts/s')} = "
                     f"{record_ratio:.2f}x peer")
    return Row(
        note="; ".join(notes),
        name="peer_langgraph", title=title, n=f"{n:,}", pm=rate(pm_rate, "appends/s"),
        raw=f"langgraph {rate(peer_rate, 'puts/s')}", ratio=ratio, target=target,
        met=ratio is not None and ratio >= 0.8,
        figures={"pm_appends_per_s": pm_rates, "peer_puts_per_s": peer_rates,
                 "raw_puts_per_s": raw_rates, "pm_record_per_s": record_rates,
                 "raw_without_secondary_indexes_puts_per_s": bare_rates},
    )

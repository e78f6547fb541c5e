"""PhaseMemorySaver beside LangGraph's SqliteSaver: put, get_tuple of the latest, list.

Both savers run on SQLite in WAL mode with ``synchronous=NORMAL`` (phase-memory's
default; set on SqliteSaver's connection too), in the same run, sides alternating.
The "raw" note of each row is plain ``sqlite3`` doing the same statements against
phase-memory's own tables (the event row insert of a put, the latest-checkpoint
and writes lookups of a get_tuple, the path listing of a list), the bound for any
library storing a thread as events on paths; the judged ratio is against
SqliteSaver, with the ratio to raw sqlite3 beside it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import phase_memory as pm
from benchmarks import dbfiles
from benchmarks.harness import Context, Row, Timer, alternate, median, rate, ratio_of

TARGET = ">= 0.80x peer"
THREAD = "bench-thread"


def _missing(name: str, title: str) -> Row:
    return Row(name=name, title=title, n="-", pm="peer not installed", raw="-", ratio=None,
               target=TARGET, met=None,
               note="peer not installed: pip install -e '.[bench,langgraph]'")


def _peer_installed() -> bool:
    """Whether LangGraph's SqliteSaver (extra ``bench``) and the saver (``langgraph``) import."""
    try:
        import langgraph.checkpoint.sqlite  # noqa: F401

        import phase_memory.langgraph  # noqa: F401
    except ImportError:
        return False
    return True


def _checkpoints(n: int) -> list[dict[str, Any]]:
    """Checkpoint-sized states (a short conversation and a few channels, ~2 KB each)."""
    from langgraph.checkpoint.base import empty_checkpoint

    made = []
    for k in range(n):
        checkpoint: Any = empty_checkpoint()
        checkpoint["channel_values"] = {
            "messages": [
                {"role": "user" if i % 2 == 0 else "assistant",
                 "content": f"turn {k}.{i}: " + "a sentence of an ordinary reply. " * 4}
                for i in range(8)
            ],
            "step": k,
            "summary": "the conversation so far, in a few words " * 3,
        }
        checkpoint["channel_versions"] = {"messages": k + 1, "step": k + 1, "summary": 1}
        made.append(checkpoint)
    return made


def _peer(path: Path) -> Any:
    from langgraph.checkpoint.sqlite import SqliteSaver

    dbfiles.remove_db(path)
    conn = dbfiles.raw_connect(path)  # WAL + synchronous NORMAL, as phase-memory
    conn.isolation_level = ""  # SqliteSaver commits through the sqlite3 module
    saver = SqliteSaver(conn)
    saver.setup()
    conn.execute("PRAGMA synchronous = NORMAL")
    return saver


def _fill(saver: Any, checkpoints: list[dict[str, Any]]) -> Any:
    """Put the checkpoints as one thread, each the child of the one before."""
    config: Any = {"configurable": {"thread_id": THREAD, "checkpoint_ns": ""}}
    for k, checkpoint in enumerate(checkpoints):
        config = saver.put(config, checkpoint, {"source": "loop", "step": k}, {})
    return config


def _pm_side(ctx: Context, name: str, work: Callable[[Any], int]) -> Callable[[int], float]:
    from phase_memory.langgraph import PhaseMemorySaver

    def side(i: int) -> float:
        path = ctx.fresh_db(f"{name}-pm-{i}")
        with pm.open(path, synchronous="normal") as mem:
            done, seconds = _timed(work, PhaseMemorySaver(mem))
        dbfiles.remove_db(path)
        return done / seconds

    return side


def _peer_side(ctx: Context, name: str, work: Callable[[Any], int]) -> Callable[[int], float]:
    def side(i: int) -> float:
        path = ctx.workdir / f"{name}-peer-{i}.db"
        saver = _peer(path)
        done, seconds = _timed(work, saver)
        saver.conn.close()
        dbfiles.remove_db(path)
        return done / seconds

    return side


def _timed(work: Callable[[Any], Any], saver: Any) -> tuple[int, float]:
    # ``work`` does its own set-up and returns (count, Timer) of the timed part.
    count, timer = work(saver)
    return count, timer.seconds


def _raw_side(ctx: Context, name: str, build: Callable[[Any], None],
              work: Callable[[Any], Any]) -> Callable[[int], float]:
    """Plain sqlite3 on a database phase-memory made: ``build`` fills it, ``work`` is timed."""
    from phase_memory.langgraph import PhaseMemorySaver

    def side(i: int) -> float:
        path = ctx.fresh_db(f"{name}-raw-{i}")
        with pm.open(path, synchronous="normal") as mem:
            build(PhaseMemorySaver(mem))
        conn = dbfiles.raw_connect(path)
        count, timer = work(conn)
        conn.close()
        dbfiles.remove_db(path)
        return count / timer.seconds

    return side


def _row(name: str, title: str, n: str, unit: str, pm_rates: list[float],
         peer_rates: list[float], raw_rates: list[float]) -> Row:
    pm_rate, peer_rate, raw_rate = median(pm_rates), median(peer_rates), median(raw_rates)
    ratio = ratio_of(pm_rate, peer_rate)
    raw_ratio = ratio_of(pm_rate, raw_rate)
    note = (f"raw sqlite3, the same statements on phase-memory's tables: {rate(raw_rate, unit)}; "
            f"PhaseMemorySaver = {raw_ratio:.2f}x raw" if raw_ratio is not None else "")
    return Row(name=name, title=title, n=n, pm=rate(pm_rate, unit),
               raw=f"SqliteSaver {rate(peer_rate, unit)}", ratio=ratio, target=TARGET,
               met=ratio is not None and ratio >= 0.8, note=note,
               figures={"pm_per_s": pm_rates, "peer_per_s": peer_rates, "raw_per_s": raw_rates})


# --- put ---------------------------------------------------------------------------------


def put(ctx: Context, sizes: dict[str, Any]) -> Row:
    """``put`` of checkpoint-sized states, each the child of the one before, one commit each."""
    name, title = "lg_saver_put", "LangGraph put: PhaseMemorySaver vs SqliteSaver"
    if not _peer_installed():
        return _missing(name, title)
    checkpoints = _checkpoints(sizes["puts"])
    n = len(checkpoints)

    def work(saver: Any) -> tuple[int, Timer]:
        with Timer() as t:
            _fill(saver, checkpoints)
        return n, t

    def raw_work(conn: Any) -> tuple[int, Timer]:
        rows = conn.execute(
            "SELECT event_id, kind, profile_id, path_id, occurred_at, payload, schema_version, "
            "actor, causation_id FROM events WHERE kind = 'langgraph.checkpoint' ORDER BY position"
        ).fetchall()
        conn.execute("DELETE FROM events WHERE kind = 'langgraph.checkpoint'")
        payloads = [json.loads(row[5]) for row in rows]
        insert = ("INSERT INTO events (event_id, kind, profile_id, path_id, occurred_at, "
                  "payload, schema_version, actor, causation_id) VALUES (?,?,?,?,?,?,?,?,?)")
        execute = conn.execute
        with Timer() as t:
            for row, payload in zip(rows, payloads, strict=True):
                execute("BEGIN IMMEDIATE")
                execute(insert, (*row[:5], json.dumps(payload), *row[6:]))
                execute("COMMIT")
        return n, t

    pm_rates, peer_rates = alternate(ctx.repeat, _pm_side(ctx, name, work),
                                     _peer_side(ctx, name, work))
    raw_rates = [_raw_side(ctx, name, lambda s: _fill(s, checkpoints), raw_work)(i)
                 for i in range(ctx.repeat)]
    return _row(name, title, f"{n:,}", "puts/s", pm_rates, peer_rates, raw_rates)


# --- get_tuple of the latest ---------------------------------------------------------------


def get_tuple(ctx: Context, sizes: dict[str, Any]) -> Row:
    """``get_tuple`` of a thread's latest checkpoint (no checkpoint id), thread of N checkpoints."""
    name, title = "lg_saver_get_tuple", "LangGraph get_tuple (latest): vs SqliteSaver"
    if not _peer_installed():
        return _missing(name, title)
    checkpoints = _checkpoints(sizes["thread"])
    lookups = sizes["lookups"]
    latest: Any = {"configurable": {"thread_id": THREAD, "checkpoint_ns": ""}}

    def work(saver: Any) -> tuple[int, Timer]:
        _fill(saver, checkpoints)
        get = saver.get_tuple
        with Timer() as t:
            for _ in range(lookups):
                assert get(latest) is not None
        return lookups, t

    def raw_work(conn: Any) -> tuple[int, Timer]:
        execute = conn.execute
        with Timer() as t:
            for _ in range(lookups):
                row = execute(
                    "SELECT position, payload FROM events WHERE path_id = ? AND kind = ? "
                    "ORDER BY position DESC LIMIT 1", ("lg:" + THREAD, "langgraph.checkpoint")
                ).fetchone()
                json.loads(row[1])
                execute("SELECT payload FROM events WHERE path_id = ? AND kind = ? "
                        "AND position > ? ORDER BY position",
                        ("lg:" + THREAD, "langgraph.writes", row[0])).fetchall()
        return lookups, t

    pm_rates, peer_rates = alternate(ctx.repeat, _pm_side(ctx, name, work),
                                     _peer_side(ctx, name, work))
    raw_rates = [_raw_side(ctx, name, lambda s: _fill(s, checkpoints), raw_work)(i)
                 for i in range(ctx.repeat)]
    n = f"{lookups:,} on {len(checkpoints):,}"
    return _row(name, title, n, "gets/s", pm_rates, peer_rates, raw_rates)


# --- list of a whole thread ----------------------------------------------------------------


def list_thread(ctx: Context, sizes: dict[str, Any]) -> Row:
    """``list`` of every checkpoint of a 1,000-checkpoint thread, read to the end."""
    name, title = "lg_saver_list", "LangGraph list (whole thread): vs SqliteSaver"
    if not _peer_installed():
        return _missing(name, title)
    checkpoints = _checkpoints(sizes["thread"])
    lists = sizes["lists"]
    thread: Any = {"configurable": {"thread_id": THREAD}}
    size = len(checkpoints)

    def work(saver: Any) -> tuple[int, Timer]:
        _fill(saver, checkpoints)
        with Timer() as t:
            for _ in range(lists):
                assert sum(1 for _ in saver.list(thread)) == size
        return lists * size, t

    def raw_work(conn: Any) -> tuple[int, Timer]:
        execute = conn.execute
        with Timer() as t:
            for _ in range(lists):
                tree = execute("SELECT id FROM paths WHERE tree_id = ?",
                               ("lg:" + THREAD,)).fetchall()
                found = []
                for (path_id,) in tree:
                    found.extend(json.loads(p) for (p,) in execute(
                        "SELECT payload FROM events WHERE path_id = ? AND kind IN (?, ?) "
                        "ORDER BY position",
                        (path_id, "langgraph.checkpoint", "langgraph.writes")))
                assert len(found) == size
        return lists * size, t

    pm_rates, peer_rates = alternate(ctx.repeat, _pm_side(ctx, name, work),
                                     _peer_side(ctx, name, work))
    raw_rates = [_raw_side(ctx, name, lambda s: _fill(s, checkpoints), raw_work)(i)
                 for i in range(ctx.repeat)]
    n = f"{lists:,} x {size:,}"
    return _row(name, title, n, "tuples/s", pm_rates, peer_rates, raw_rates)

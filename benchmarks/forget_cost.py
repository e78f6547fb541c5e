"""What erasing on disk costs: ``python -m benchmarks.forget_cost [--nodes N]``.

Prints, for a memory of N nodes (~300 bytes of content each, one event each):

- ordinary writes: updating 500 nodes' content, one transaction each, through
  raw ``sqlite3`` on a copy of the library's file, with ``secure_delete=FAST``
  (what the library used before) and ``ON`` (what it uses now);
- updating 100 nodes of 40 KB content (each update frees ~10 overflow
  pages), ``FAST`` against ``ON``;
- one approved ``forget`` through the library (median of 9), and its parts
  measured alone on a copy: the FTS5 ``optimize``, the WAL checkpoint, and
  the sweep of free pages on a file with 1,000 nodes deleted (``FAST``).

``--forget-only`` prints the forget line alone (to run against another
version of the library).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import phase_memory as pm

PROFILE = "bench"
WORDS = ["tea", "garden", "train", "Lisbon", "piano", "coffee", "river", "bicycle"]


def _content(i: int) -> str:
    return " ".join(f"{WORDS[(i * j) % len(WORDS)]}{(i + j) % 101}" for j in range(40))


def _build(db: Path, nodes: int) -> None:
    with pm.open(db) as mem:
        mem.save_profile(pm.Profile(id=PROFILE))
        for i in range(nodes):
            mem.save_node(pm.MemoryNode(
                id=f"n{i:06d}", profile_id=PROFILE, kind="fact", label=f"fact {i}",
                content=_content(i), attributes={"source": f"chat {i}"},
            ))


def _raw_updates(db: Path, mode: str, count: int) -> float:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(f"PRAGMA secure_delete = {mode}")
    conn.execute("PRAGMA synchronous = NORMAL")
    started = time.perf_counter()
    for i in range(count):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "UPDATE nodes SET content = ? WHERE id = ?", (_content(i + 7) + " updated", f"n{i:06d}")
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def _big_updates(db: Path, mode: str) -> float:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(f"PRAGMA secure_delete = {mode}")
    big = " ".join(f"word{j}" for j in range(6000))
    for i in range(100):
        conn.execute("UPDATE nodes SET content = ? WHERE id = ?", (big, f"n{i:06d}"))
    started = time.perf_counter()
    for i in range(100):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE nodes SET content = ? WHERE id = ?", (f"{big} {i}", f"n{i:06d}"))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def _sweep_seconds(db: Path) -> tuple[int, float]:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA secure_delete = FAST")
    conn.execute("DELETE FROM edges")
    conn.execute("DELETE FROM nodes WHERE rowid IN (SELECT rowid FROM nodes LIMIT 1000)")
    conn.execute("PRAGMA secure_delete = ON")
    free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO runtime_metadata (key, value, updated_at) VALUES ('s', zeroblob(?), 'x')",
        (free * size,),
    )
    conn.execute("DELETE FROM runtime_metadata WHERE key = 's'")
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return free, elapsed


def _forget_times(db: Path, runs: int) -> list[float]:
    times: list[float] = []
    with pm.open(db) as mem:
        for i in range(runs):
            action = pm.LifecycleAction(
                kind=pm.LifecycleKind.FORGET, profile_id=PROFILE, targets=[f"n{i * 11:06d}"],
                approval=pm.Approval(approved_by="bench", note="benchmark"),
            )
            started = time.perf_counter()
            mem.apply([action])
            times.append(time.perf_counter() - started)
    return times


def _raw_seconds(db: Path, sql: str) -> float:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA secure_delete = ON")
    started = time.perf_counter()
    conn.execute(sql).fetchall()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def main() -> None:
    """Build a memory, measure, print one line per figure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=2000)
    parser.add_argument("--forget-only", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base.db"
        _build(base, args.nodes)
        print(f"memory: {args.nodes} nodes, {base.stat().st_size / 1e6:.1f} MB")
        if args.forget_only:
            _print_forget(_forget_times(base, 9))
            return
        for mode in ("FAST", "ON"):
            copy = Path(tmp) / f"big-{mode}.db"
            shutil.copy(base, copy)
            seconds = _big_updates(copy, mode)
            print(f"100 updates of 40 KB content, secure_delete={mode}: {seconds * 1000:.0f} ms")
        copy = Path(tmp) / "sweep.db"
        shutil.copy(base, copy)
        free, seconds = _sweep_seconds(copy)
        print(f"clearing {free} free pages: {seconds * 1000:.1f} ms")
        for mode in ("FAST", "ON"):
            copy = Path(tmp) / f"{mode}.db"
            shutil.copy(base, copy)
            seconds = _raw_updates(copy, mode, 500)
            print(f"500 content updates, secure_delete={mode}: {seconds * 1000:.0f} ms "
                  f"({seconds / 500 * 1e6:.0f} us each)")
        copy = Path(tmp) / "parts.db"
        shutil.copy(base, copy)
        optimize = _raw_seconds(copy, "INSERT INTO nodes_fts(nodes_fts) VALUES ('optimize')")
        checkpoint = _raw_seconds(copy, "PRAGMA wal_checkpoint(TRUNCATE)")
        print(f"FTS5 optimize alone: {optimize * 1000:.1f} ms; "
              f"WAL checkpoint alone: {checkpoint * 1000:.1f} ms")
        _print_forget(_forget_times(base, 9))


def _print_forget(times: list[float]) -> None:
    median = statistics.median(times) * 1000
    print(f"approved forget through the library: median {median:.1f} ms"
          f" (min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f})")


if __name__ == "__main__":
    main()

"""Worker threads or SQLAlchemy's asyncio extension? The measurement behind the choice.

Run: ``python -m benchmarks.measure_async_choice`` (needs ``aiosqlite``, which
phase-memory itself does not use: ``pip install aiosqlite greenlet``). It times
transactions of one and of four statements (a ``save_node`` is a lookup, an
event insert and a row upsert, and more) into an SQLite WAL file, three ways:
sync SQLAlchemy on the calling thread (no event loop, the floor), sync
SQLAlchemy run by ``anyio.to_thread.run_sync`` once per transaction (what
``pm.open_async`` does), and SQLAlchemy's asyncio engine over ``aiosqlite``
(one thread hop per statement). Figures: runtime/async_runtime.py's docstring.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import anyio
import anyio.to_thread
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, event, select
from sqlalchemy.ext.asyncio import create_async_engine

TRANSACTIONS = 2_000
metadata = MetaData()
rows = Table("rows", metadata, Column("id", Integer, primary_key=True), Column("text", String))


def _wal(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _statements(conn: object, i: int, per: int) -> list[object]:
    work = [rows.insert().values(id=i, text=f"row {i}")]
    work += [select(rows.c.text).where(rows.c.id == i)] * (per - 1)
    return work


def sync_side(path: Path, per: int, hop: bool) -> float:
    engine = create_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", _wal)
    metadata.create_all(engine)

    def one(i: int) -> None:
        with engine.begin() as conn:
            for statement in _statements(conn, i, per):
                conn.execute(statement)  # type: ignore[call-overload]

    async def hopping() -> None:
        limiter = anyio.CapacityLimiter(1)
        for i in range(TRANSACTIONS):
            await anyio.to_thread.run_sync(one, i, limiter=limiter)

    start = time.perf_counter()
    if hop:
        anyio.run(hopping)
    else:
        for i in range(TRANSACTIONS):
            one(i)
    seconds = time.perf_counter() - start
    engine.dispose()
    return TRANSACTIONS / seconds


def async_side(path: Path, per: int) -> float:
    async def run() -> float:
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
        event.listen(engine.sync_engine, "connect", _wal)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        start = time.perf_counter()
        for i in range(TRANSACTIONS):
            async with engine.begin() as conn:
                for statement in _statements(conn, i, per):
                    await conn.execute(statement)  # type: ignore[call-overload]
        seconds = time.perf_counter() - start
        await engine.dispose()
        return TRANSACTIONS / seconds

    return anyio.run(run)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for per in (1, 4):
            figures = {
                "sync, calling thread": sync_side(Path(tmp, f"a{per}.db"), per, hop=False),
                "sync via anyio.to_thread": sync_side(Path(tmp, f"b{per}.db"), per, hop=True),
                "asyncio ext + aiosqlite": async_side(Path(tmp, f"c{per}.db"), per),
            }
            shown = ", ".join(f"{name}: {rate:,.0f} tx/s" for name, rate in figures.items())
            print(f"{per} statement(s) per transaction: {shown}", file=sys.stdout)


if __name__ == "__main__":
    main()

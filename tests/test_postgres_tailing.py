"""PostgreSQL: a reader tailing the log with ``after=`` sees every event exactly once.

Four writer processes append at once (single events and small batches, each
in a transaction that lingers a moment before it commits) while this process
tails ``events.list(after=last)``. Positions must come strictly increasing
and without a gap at every poll: an event that committed later with a
smaller position than one already read would show up as a gap, and would
never be seen by a tailing reader.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from sqlalchemy.engine import URL

from phase_memory.sql import open_sql_store

pytestmark = pytest.mark.postgres

WRITERS = 4
EVENTS_PER_WRITER = 120

_WRITER = r"""
import random, sys, time
from datetime import UTC, datetime
from phase_memory.models import MemoryEvent
from phase_memory.sql import open_sql_store

url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(name)
store = open_sql_store(url)
written = 0
while written < count:
    size = min(rng.choice((1, 1, 1, 2, 3)), count - written)
    batch = [
        MemoryEvent(event_id=f"{name}-{written + i}", kind="chat.turn", profile_id="p1",
                    payload={"writer": name, "n": written + i},
                    occurred_at=datetime.now(UTC))
        for i in range(size)
    ]
    with store.transaction():
        store.events.append(batch)
        time.sleep(rng.random() / 500)  # hold the transaction open a moment before committing
    written += size
store.close()
"""


def test_a_tailing_reader_sees_every_event_once_in_order(postgres_url: URL) -> None:
    url = postgres_url.render_as_string(hide_password=False)
    reader = open_sql_store(url)  # creates nothing: the schema is migrated already
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, url, f"w{n}", str(EVENTS_PER_WRITER)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WRITERS)
    ]
    seen: list[str] = []
    last = 0
    polls = 0
    try:
        deadline = time.monotonic() + 300
        while True:
            running = any(w.poll() is None for w in writers)
            for event in reader.events.list(after=last):
                assert event.position == last + 1, (
                    f"after position {last} the reader got {event.position}: "
                    "an event was skipped (or will commit later with a smaller position)"
                )
                last = event.position
                seen.append(event.event_id)
            polls += 1
            if not running:
                break
            assert time.monotonic() < deadline, "the writers did not finish in time"
        for writer in writers:
            _, errors = writer.communicate()
            assert writer.returncode == 0, errors
        # One more poll after every writer exited: nothing may appear behind the tail.
        assert reader.events.list(after=last) == []
        expected = {f"w{n}-{i}" for n in range(WRITERS) for i in range(EVENTS_PER_WRITER)}
        assert len(seen) == len(expected), "an event was seen twice or missed"
        assert set(seen) == expected
        assert reader.events.last_position() == last == len(expected)
        assert polls > 1, "the reader must have tailed while the writers wrote"
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
        reader.close()

"""``events.payloads`` reads back only JSON objects: a row edited by hand into something else is
reported as an IntegrityError (the conformance spec holds it to ``list`` on every adapter)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import phase_memory as pm
from phase_memory.errors import IntegrityError
from phase_memory.models import MemoryEvent, Profile


def test_a_payload_edited_into_a_json_array_is_an_integrity_error(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    with pm.open(db) as mem:
        mem.save_profile(Profile(id="p1", name="one"))
        mem.events.append([MemoryEvent(event_id="e1", kind="chat.turn", profile_id="p1",
                                       payload={"text": "hello"})])
        [ok] = mem.events.payloads(kinds=["chat.turn"])
        assert ok.payload == {"text": "hello"} and ok.event_id == "e1"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE events SET payload = '[1, 2]' WHERE event_id = 'e1'")
    with pm.open(db) as mem, pytest.raises(IntegrityError, match=r"'e1'.*not a JSON object"):
        mem.events.payloads(kinds=["chat.turn"])

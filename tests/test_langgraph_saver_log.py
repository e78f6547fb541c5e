"""PhaseMemorySaver keeps the event log append-only: a re-put appends, nothing is rewritten.

LangGraph's savers overwrite a checkpoint put again under the same id. Here the
first event stays as it was stored, the new content is a
``langgraph.checkpoint.replaced`` event after it, and every read (by id, the
latest, ``list``) gives the newest content. The same on SQLite, PostgreSQL and
the in-memory adapter.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import empty_checkpoint
from sqlalchemy.engine import URL

import phase_memory as pm
from phase_memory.langgraph import PhaseMemorySaver
from phase_memory.langgraph.threads import CHECKPOINT_KIND, REPLACED_KIND, WRITES_KIND, ThreadKey
from phase_memory.models.events import REDACTION_KEY

THREAD = "t-1"


@pytest.fixture(params=["sqlite", "memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PhaseMemorySaver]:
    if request.param == "sqlite":
        target = str(tmp_path / "memory.db")
    elif request.param == "memory":
        target = ":memory:"
    else:
        url: URL = request.getfixturevalue("postgres_url")
        target = url.render_as_string(hide_password=False)
    with pm.open(target) as mem:
        yield PhaseMemorySaver(mem)


def _checkpoint(step: int, note: str) -> Any:
    checkpoint: Any = empty_checkpoint()
    checkpoint["channel_values"] = {"step": step, "note": note}
    checkpoint["channel_versions"] = {"step": step + 1, "note": step + 1}
    return checkpoint


def _put(saver: PhaseMemorySaver, checkpoint: Any, parent: str | None = None) -> Any:
    configurable = {"thread_id": THREAD, "checkpoint_ns": ""}
    if parent is not None:
        configurable["checkpoint_id"] = parent
    return saver.put({"configurable": configurable}, checkpoint, {"source": "loop"}, {})


def _by_id(checkpoint_id: str) -> Any:
    return {"configurable": {"thread_id": THREAD, "checkpoint_ns": "",
                             "checkpoint_id": checkpoint_id}}


LATEST: Any = {"configurable": {"thread_id": THREAD, "checkpoint_ns": ""}}


def _events(saver: PhaseMemorySaver, *kinds: str) -> list[Any]:
    return saver.mem.events.list(kinds=list(kinds))


def test_a_re_put_appends_and_leaves_the_first_event_as_stored(saver: PhaseMemorySaver) -> None:
    first = _checkpoint(1, "first draft")
    _put(saver, first)
    first_id = ThreadKey(THREAD).checkpoint_event_id(first["id"])
    stored_before = saver.mem.events.get(first_id)
    again = {**first, "channel_values": {"step": 1, "note": "second draft"}}
    _put(saver, again)

    assert saver.mem.events.get(first_id) == stored_before  # untouched, payload and all
    [replaced] = _events(saver, REPLACED_KIND)
    assert replaced.event_id == ThreadKey(THREAD).replaced_event_id(first["id"], 1)
    assert replaced.path_id == stored_before.path_id
    assert replaced.position > stored_before.position
    assert replaced.payload["checkpoint"]["channel_values"]["note"] == "second draft"
    for config in (_by_id(first["id"]), LATEST):
        got = saver.get_tuple(config)
        assert got is not None and got.checkpoint["channel_values"]["note"] == "second draft"
    listed = list(saver.list({"configurable": {"thread_id": THREAD}}))
    assert [t.checkpoint["channel_values"]["note"] for t in listed] == ["second draft"]


def test_a_re_put_of_the_same_content_stores_nothing(saver: PhaseMemorySaver) -> None:
    checkpoint = _checkpoint(1, "same")
    _put(saver, checkpoint)
    last = saver.mem.events.last_position()
    _put(saver, checkpoint)
    assert saver.mem.events.last_position() == last
    assert _events(saver, REPLACED_KIND) == []


def test_re_putting_an_older_checkpoint_keeps_the_newest_as_latest(
    saver: PhaseMemorySaver,
) -> None:
    older, newer = _checkpoint(1, "older"), _checkpoint(2, "newer")
    _put(saver, older)
    _put(saver, newer, parent=older["id"])
    _put(saver, {**older, "channel_values": {"step": 1, "note": "older, revised"}})
    _put(saver, {**older, "channel_values": {"step": 1, "note": "older, revised twice"}})

    latest = saver.get_tuple(LATEST)
    assert latest is not None and latest.checkpoint["id"] == newer["id"]
    revised = saver.get_tuple(_by_id(older["id"]))
    assert revised is not None
    assert revised.checkpoint["channel_values"]["note"] == "older, revised twice"
    assert [e.event_id for e in _events(saver, REPLACED_KIND)] == [
        ThreadKey(THREAD).replaced_event_id(older["id"], n) for n in (1, 2)
    ]
    notes = [t.checkpoint["channel_values"]["note"]
             for t in saver.list({"configurable": {"thread_id": THREAD}})]
    assert notes == ["newer", "older, revised twice"]
    # A re-put is no new checkpoint on the path: the next child does not fork.
    child = _checkpoint(3, "child")
    _put(saver, child, parent=newer["id"])
    assert {e.path_id for e in _events(saver, CHECKPOINT_KIND)} == {f"lg:{THREAD}"}


def test_a_thread_put_again_after_deletion_is_live_and_the_erased_events_stay_erased(
    saver: PhaseMemorySaver,
) -> None:
    checkpoint = _checkpoint(1, "before deletion")
    config = _put(saver, checkpoint)
    saver.put_writes(config, [("note", "a write")], task_id="task-1")
    saver.delete_thread(THREAD)
    assert saver.get_tuple(LATEST) is None

    config = _put(saver, {**checkpoint, "channel_values": {"step": 1, "note": "put again"}})
    saver.put_writes(config, [("note", "a write")], task_id="task-1")

    erased = [e for e in _events(saver, CHECKPOINT_KIND, WRITES_KIND)
              if REDACTION_KEY in e.payload]
    assert len(erased) == 2  # the first checkpoint event and the first writes event
    got = saver.get_tuple(LATEST)
    assert got is not None and got.checkpoint["channel_values"]["note"] == "put again"
    assert got.pending_writes == [("task-1", "note", "a write")]
    assert len(_events(saver, REPLACED_KIND)) == 1
    assert len(_events(saver, WRITES_KIND)) == 2
    saver.delete_thread(THREAD)
    assert saver.get_tuple(LATEST) is None
    assert list(saver.list({"configurable": {"thread_id": THREAD}})) == []


def test_only_a_checkpoint_of_plain_values_is_marked_plain(saver: PhaseMemorySaver) -> None:
    plain = _checkpoint(1, "plain")
    _put(saver, plain)
    tagged = _checkpoint(2, "tagged")
    tagged["channel_values"]["messages"] = [HumanMessage("hi", id="m1")]
    _put(saver, tagged, parent=plain["id"])

    stored = {e.payload["checkpoint_id"]: e.payload for e in _events(saver, CHECKPOINT_KIND)}
    assert stored[plain["id"]].get("plain") is True
    assert "plain" not in stored[tagged["id"]]
    got = saver.get_tuple(_by_id(tagged["id"]))
    assert got is not None
    assert got.checkpoint["channel_values"]["messages"] == [HumanMessage("hi", id="m1")]
    again = saver.get_tuple(_by_id(plain["id"]))
    assert again is not None and again.checkpoint["channel_values"] == {"step": 1, "note": "plain"}


def test_a_channel_named_like_the_encoding_tag_reads_back(saver: PhaseMemorySaver) -> None:
    checkpoint = _checkpoint(1, "tagged channel name")
    checkpoint["channel_values"]["$lg"] = {"kept": True}
    checkpoint["channel_values"]["messages"] = [HumanMessage("hi", id="m1")]
    _put(saver, checkpoint)
    got = saver.get_tuple(LATEST)
    assert got is not None
    assert got.checkpoint["channel_values"] == {
        "step": 1, "note": "tagged channel name", "$lg": {"kept": True},
        "messages": [HumanMessage("hi", id="m1")],
    }
    [listed] = saver.list({"configurable": {"thread_id": THREAD}})
    assert listed.checkpoint["channel_values"]["$lg"] == {"kept": True}


def test_the_latest_is_found_when_writes_of_an_older_checkpoint_come_after_it(
    saver: PhaseMemorySaver,
) -> None:
    # LangGraph may store a task's writes for a checkpoint after the checkpoint
    # that task produced: the thread's newest event is then a writes event.
    first = _checkpoint(1, "first")
    first_config = _put(saver, first)
    second = _checkpoint(2, "second")
    _put(saver, second, parent=first["id"])
    saver.put_writes(first_config, [("note", "late")], task_id="task-1")
    saver.put_writes(_by_id(second["id"]), [("note", "pending")], task_id="task-2")
    newest = saver.mem.events.list(newest_first=True, limit=1)
    assert newest[0].kind == WRITES_KIND
    got = saver.get_tuple(LATEST)
    assert got is not None and got.checkpoint["id"] == second["id"]
    assert got.pending_writes == [("task-2", "note", "pending")]
    earlier = saver.get_tuple(_by_id(first["id"]))
    assert earlier is not None and earlier.pending_writes == [("task-1", "note", "late")]

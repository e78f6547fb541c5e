"""Bad input to the LangGraph saver and store: a phase-memory error naming it, nothing written.

Found by feeding both hostile values beside LangGraph's in-memory ones (which
accept them and may hand back something else, a lone surrogate read back as
``?``): text with no UTF-8 form in an id, values that are not a JSON object,
keys and values beyond the input limits. Before the fix, ids with a lone
surrogate raised ``UnicodeEncodeError`` and the store's over-limit items
pydantic's ``ValidationError``. Reads of such ids find nothing. ``mem`` is the
conformance suite's fixture: every adapter.
"""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.base import empty_checkpoint

from phase_memory.errors import PhaseMemoryError, ValidationError
from phase_memory.langgraph import PhaseMemorySaver, PhaseMemoryStore
from phase_memory.models.limits import MAX_STRING_LENGTH
from phase_memory.runtime import PhaseMemoryRuntime

LONE = "\ud800"


def _config(thread_id: str, checkpoint_ns: str = "") -> Any:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns}}


# --- the saver -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("thread_id", "checkpoint_ns", "checkpoint_id", "named"),
    [
        (f"t{LONE}", "", "c1", "thread_id"),
        ("t", f"n{LONE}", "c1", "checkpoint_ns"),
        ("t", "", f"c{LONE}", "checkpoint id"),
    ],
    ids=["thread_id", "checkpoint_ns", "checkpoint_id"],
)
def test_an_id_with_a_lone_surrogate_is_refused_and_read_as_absent(
    mem: PhaseMemoryRuntime, thread_id: str, checkpoint_ns: str, checkpoint_id: str, named: str
) -> None:
    saver = PhaseMemorySaver(mem)
    before = mem.events.last_position()
    checkpoint: Any = {**empty_checkpoint(), "id": checkpoint_id}
    with pytest.raises(ValidationError, match=named) as refused:
        saver.put(_config(thread_id, checkpoint_ns), checkpoint, {}, {})
    assert "surrogate" in str(refused.value)
    assert mem.events.last_position() == before
    assert saver.get_tuple(_config(thread_id, checkpoint_ns)) is None
    assert list(saver.list(_config(thread_id))) == []
    saver.delete_thread(thread_id)  # nothing to erase: no error
    assert mem.events.last_position() == before


def test_writes_whose_task_id_has_a_lone_surrogate_are_refused(mem: PhaseMemoryRuntime) -> None:
    saver = PhaseMemorySaver(mem)
    stored = saver.put(_config("t"), empty_checkpoint(), {}, {})
    before = mem.events.last_position()
    with pytest.raises(ValidationError, match="task_id"):
        saver.put_writes(stored, [("channel", 1)], f"task{LONE}")
    assert mem.events.last_position() == before


def test_a_channel_value_with_a_lone_surrogate_is_refused(mem: PhaseMemoryRuntime) -> None:
    saver = PhaseMemorySaver(mem)
    before = mem.events.last_position()
    checkpoint: Any = {**empty_checkpoint(), "channel_values": {"text": f"a{LONE}b"}}
    with pytest.raises(ValidationError):
        saver.put(_config("t"), checkpoint, {}, {})
    assert mem.events.last_position() == before
    assert saver.get_tuple(_config("t")) is None


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


# --- the store -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["text", ["a", "list"], 7], ids=["str", "list", "int"])
def test_a_value_that_is_not_a_json_object_is_refused(mem: PhaseMemoryRuntime, value: Any) -> None:
    store = PhaseMemoryStore(mem)
    with pytest.raises(ValidationError, match=r"'k'.*must be a dict"):
        store.put(("docs",), "k", value)
    assert store.get(("docs",), "k") is None


@pytest.mark.parametrize(
    ("namespace", "key", "named"),
    [((f"a{LONE}",), "k", "namespace"), (("a",), f"k{LONE}", "key")],
    ids=["namespace", "key"],
)
def test_a_namespace_or_key_with_a_lone_surrogate_is_refused_and_read_as_absent(
    mem: PhaseMemoryRuntime, namespace: tuple[str, ...], key: str, named: str
) -> None:
    store = PhaseMemoryStore(mem)
    before = mem.events.last_position()
    with pytest.raises(ValidationError, match=f"{named}.*surrogate"):
        store.put(namespace, key, {"x": 1})
    assert mem.events.last_position() == before
    assert store.get(namespace, key) is None
    store.delete(namespace, key)  # nothing to delete: no error
    assert store.search(namespace) == []


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("k" * (MAX_STRING_LENGTH + 1), {"x": 1}, "key"),
        ("k", {"x": "y" * (MAX_STRING_LENGTH + 1)}, "value"),
        ("k", {"x": f"a{LONE}b"}, "value"),
        ("k", {"x": _nested(100)}, "value"),
    ],
    ids=["key-too-long", "string-too-long", "lone-surrogate", "nested-too-deep"],
)
def test_an_item_beyond_the_limits_is_refused_naming_it(
    mem: PhaseMemoryRuntime, key: str, value: dict[str, Any], named: str
) -> None:
    store = PhaseMemoryStore(mem)
    before = mem.events.last_position()
    with pytest.raises(PhaseMemoryError) as refused:
        store.put(("docs",), key, value)
    assert isinstance(refused.value, ValidationError)
    message = str(refused.value)
    assert "docs" in message and named in message
    assert mem.events.last_position() == before
    assert store.get(("docs",), key) is None

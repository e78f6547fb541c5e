"""A real compiled StateGraph on PhaseMemorySaver: deterministic nodes, no model.

Run, interrupt and resume, history, a fork by ``update_state`` on an earlier
checkpoint (a branch path), the async API, what ``sqlite3`` and
``phase-memory paths show`` see, ``delete_thread`` erasing the thread, and a
node writing and searching long-term memory through PhaseMemoryStore.
"""

from __future__ import annotations

import asyncio
import json
import operator
import sqlite3
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore
from langgraph.types import Command, interrupt
from typer.testing import CliRunner

import phase_memory as pm
from phase_memory.cli import app
from phase_memory.langgraph import PhaseMemorySaver, PhaseMemoryStore

SECRET = "canary-quokka-7731"


class State(TypedDict):
    log: Annotated[list[str], operator.add]
    messages: Annotated[list[AnyMessage], add_messages]


def plan(state: State) -> dict[str, Any]:
    return {"log": ["plan"], "messages": [HumanMessage(f"my code word is {SECRET}", id="m1")]}


def ask(state: State) -> dict[str, Any]:
    reply = interrupt("approve?")
    return {"log": [f"approved:{reply}"]}


def act(state: State) -> dict[str, Any]:
    return {"log": ["act"]}


def build(saver: PhaseMemorySaver) -> CompiledStateGraph[Any, Any, Any, Any]:
    builder = StateGraph(State)
    builder.add_node("plan", plan)
    builder.add_node("ask", ask)
    builder.add_node("act", act)
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "ask")
    builder.add_edge("ask", "act")
    builder.add_edge("act", END)
    return builder.compile(checkpointer=saver)


def config(thread_id: str) -> Any:
    return {"configurable": {"thread_id": thread_id}}


def test_run_interrupt_resume_history_and_fork(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    with pm.open(db) as mem:
        graph = build(PhaseMemorySaver(mem))
        first = graph.invoke({"log": ["start"]}, config("t1"))
        assert first["log"] == ["start", "plan"]
        assert [i.value for i in first["__interrupt__"]] == ["approve?"]
        assert graph.get_state(config("t1")).next == ("ask",)

        done = graph.invoke(Command(resume="yes"), config("t1"))
        assert done["log"] == ["start", "plan", "approved:yes", "act"]
        assert done["messages"][0].content == f"my code word is {SECRET}"

        history = list(graph.get_state_history(config("t1")))
        assert [h.metadata["step"] for h in history if h.metadata] == [3, 2, 1, 0, -1]
        assert history[0].values["log"] == done["log"]

        # Time travel: edit the state as it was before "ask", then go on from there.
        before_ask = next(h for h in history if h.next == ("ask",))
        forked = graph.update_state(before_ask.config, {"log": ["edited"]})
        assert graph.get_state(config("t1")).values["log"] == ["start", "plan", "edited"]
        again = graph.invoke(None, forked)
        assert "__interrupt__" in again
        finished = graph.invoke(Command(resume="no"), forked)
        assert finished["log"] == ["start", "plan", "edited", "approved:no", "act"]
        # The original line of the thread is untouched.
        assert graph.get_state(history[0].config).values["log"] == done["log"]

        paths = {p.id: p for p in mem.paths.list("langgraph")}
        fork_id = f"lg:t1/fork:{forked['configurable']['checkpoint_id']}"
        assert set(paths) == {"lg:t1", fork_id}
        assert paths[fork_id].parent_path_id == "lg:t1"
        fork_event = mem.events.get(paths[fork_id].fork_event_id or "")
        assert fork_event.payload["checkpoint_id"] == before_ask.config["configurable"][
            "checkpoint_id"
        ]

    # sqlite3 sees the thread: one event per checkpoint on the root path, readable JSON.
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT payload FROM events WHERE kind = 'langgraph.checkpoint' AND path_id = 'lg:t1' "
            "ORDER BY position"
        ).fetchall()
        steps = [json.loads(p)["metadata"]["step"] for (p,) in rows]
        assert steps == [-1, 0, 1, 2, 3]
        last = json.loads(rows[-1][0])["checkpoint"]["channel_values"]
        assert last["log"] == done["log"]  # plain JSON, no base64
        message = last["messages"]["v"][0]  # a LangChain message: its fields readable
        assert message["$lg.ext"] == 5 and message["v"][2]["content"].endswith(SECRET)
    finally:
        conn.close()

    shown = CliRunner().invoke(app, ["--db", str(db), "paths", "show", fork_id, "--json"])
    assert shown.exit_code == 0, shown.output
    lineage = json.loads(shown.output)["lineage"]
    assert lineage == ["lg:t1", fork_id]


def test_delete_thread_erases_it_from_the_file_and_audits(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    with pm.open(db) as mem:
        saver = PhaseMemorySaver(mem)
        graph = build(saver)
        graph.invoke({"log": ["start"]}, config("doomed"))
        graph.invoke(Command(resume="yes"), config("doomed"))
        graph.invoke({"log": ["start"]}, config("kept"))
        assert _mentions_secret(db), "the secret must be stored before the thread is deleted"
        saver.delete_thread("doomed")
        assert graph.get_state(config("doomed")).values == {}
        assert list(saver.list(config("doomed"))) == []
        assert graph.get_state(config("kept")).values["log"] == ["start", "plan"]
        [audit] = mem.audit.list(operation="langgraph.delete_thread")
        assert audit.subject_ids == ["lg:doomed"] and audit.details["events_erased"] > 0
        assert SECRET not in json.dumps(audit.model_dump(mode="json"))
        assert _mentions_secret(db), "the other thread is kept"
        saver.delete_thread("kept")
        assert not _mentions_secret(db)
    conn = sqlite3.connect(db)
    try:
        dumped = "\n".join(conn.iterdump())
        assert SECRET not in dumped
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
    finally:
        conn.close()
    for file in tmp_path.iterdir():
        assert SECRET.encode() not in file.read_bytes(), file.name


def _mentions_secret(db: Path) -> bool:
    conn = sqlite3.connect(db)
    try:
        return SECRET in "\n".join(conn.iterdump())
    finally:
        conn.close()


def test_async_graph_runs_on_the_async_twins(tmp_path: Path) -> None:
    async def run() -> list[str]:
        with pm.open(tmp_path / "memory.db") as mem:
            graph = build(PhaseMemorySaver(mem))
            await graph.ainvoke({"log": ["start"]}, config("a1"))
            done = await graph.ainvoke(Command(resume="ok"), config("a1"))
            history = [h async for h in graph.aget_state_history(config("a1"))]
            assert len(history) == 5
            return list(done["log"])

    assert asyncio.run(run()) == ["start", "plan", "approved:ok", "act"]


class Notes(TypedDict):
    fact: str
    recalled: list[str]


def remember(state: Notes, *, store: BaseStore) -> dict[str, Any]:
    store.put(("users", "u1", "facts"), f"fact-{len(state['fact'])}", {"text": state["fact"]})
    return {}


def recall(state: Notes, *, store: BaseStore) -> dict[str, Any]:
    found = store.search(("users", "u1"), query="which tea do I like")
    return {"recalled": [item.value["text"] for item in found]}


def test_a_node_writes_and_searches_long_term_memory(tmp_path: Path) -> None:
    with pm.open(tmp_path / "memory.db") as mem:
        builder = StateGraph(Notes)
        builder.add_node("remember", remember)
        builder.add_node("recall", recall)
        builder.add_edge(START, "remember")
        builder.add_edge("remember", "recall")
        builder.add_edge("recall", END)
        graph = builder.compile(checkpointer=PhaseMemorySaver(mem), store=PhaseMemoryStore(mem))
        graph.invoke({"fact": "I never drink coffee", "recalled": []}, config("n1"))
        out = graph.invoke({"fact": "I like green tea", "recalled": []}, config("n2"))
        # Ranked by full-text activation, no embeddings: the tea fact first.
        assert out["recalled"][0] == "I like green tea"
        nodes = mem.graph.list_nodes("langgraph-store", kind="users/u1/facts")
        texts = sorted(n.content or "" for n in nodes)
        assert texts == ["I like green tea", "I never drink coffee"]
        plans = mem.graph.list_activation_plans("langgraph-store")
        assert [p.query for p in plans] == ["which tea do I like"] * 2

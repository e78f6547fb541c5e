"""Every ```sql block of docs/sql-inspection.md runs against a database the library built."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from phase_memory.models import (
    ActivationItem,
    ActivationPlan,
    AuditOutcome,
    MemoryEvent,
    PathStatus,
)
from phase_memory.replay import LoggedEvent, PutActivationPlan, effects_of
from phase_memory.sql import SqlStore, open_sql_store
from phase_memory.testing.builders import (
    T0,
    audit,
    edge,
    edge_saved,
    event,
    node,
    node_saved,
    path,
    path_opened,
    profile,
    profile_saved,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "sql-inspection.md"
_BLOCK = re.compile(r"^```sql\n(.*?)^```", re.S | re.M)


def sql_blocks() -> list[str]:
    return _BLOCK.findall(DOC.read_text(encoding="utf-8"))


def statements(block: str) -> Iterator[str]:
    """The statements of a block, split where SQLite says a statement is complete."""
    pending = ""
    for line in block.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    assert not pending.strip(), f"unterminated statement in the docs: {pending!r}"


def record(store: SqlStore, *events: MemoryEvent) -> None:
    with store.transaction():
        positions = store.events.append(events)
        for made, position in zip(events, positions, strict=True):
            store.graph.apply(effects_of(LoggedEvent.of(made, position), store.graph))


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A memory with every kind of record the doc's examples look at."""
    path_ = tmp_path_factory.mktemp("docs") / "memory.db"
    main = path("main", active=True)
    with open_sql_store(path_) as store:
        record(
            store,
            profile_saved(profile(), event_id="e-profile"),
            path_opened(main, event_id="e-main"),
            node_saved(
                node(
                    "tea",
                    label="Green tea",
                    content="drinks green tea in the morning",
                    attributes={"source": "chat", "tags": ["drink", "tea"]},
                    version=1,
                ),
                event_id="e-tea",
                path_id="main",
            ),
            node_saved(
                node("cafe", label="Café", content="coffee on Mondays", version=1),
                event_id="e-cafe",
            ),
            edge_saved(
                edge("tea-cafe", "tea", "cafe", kind="unlike", weight=0.5), event_id="e-edge"
            ),
            event("chat.turn", {"text": "secret plans"}, event_id="e-chat", path_id="main"),
        )
        branch = path("branch", parent_path_id="main", root_path_id="main", fork_event_id="e-tea")
        gone = path("gone", parent_path_id="main", root_path_id="main", fork_event_id="e-tea")
        record(
            store, path_opened(branch, event_id="e-branch"), path_opened(gone, event_id="e-gone")
        )
        record(
            store,
            event(
                "path.merged",
                {"source_path_id": "branch", "target_path_id": "main"},
                event_id="e-merge",
                path_id="main",
            ),
            event(
                "path.abandoned",
                {"path_id": "gone", "reason": "dead end"},
                event_id="e-abandon",
                path_id="gone",
            ),
        )
        store.events.replace_payloads({"e-chat": {"redacted": {"node_ids": ["tea"]}}})
        plan = ActivationPlan(
            id="plan-1",
            profile_id="p1",
            path_id="main",
            query="tea?",
            budget=5,
            created_at=T0,
            items=[
                ActivationItem(
                    node_id="tea",
                    rank=1,
                    score=0.9,
                    reasons=["text match"],
                    label="Green tea",
                    content="drinks green tea",
                )
            ],
        )
        store.graph.apply([PutActivationPlan(plan)])
        store.audit.record(audit("audit-1", subject_ids=["tea"]))
        store.audit.record(
            audit(
                "audit-2",
                "lifecycle.apply",
                AuditOutcome.DENIED,
                subject_ids=["cafe"],
                details={"reason": "needs review"},
            )
        )
        assert store.graph.get_path("branch").status is PathStatus.MERGED
        store.checkpoint()
    return path_


def test_the_doc_has_sql_examples() -> None:
    assert len(sql_blocks()) >= 10


@pytest.mark.parametrize("index", range(len(sql_blocks())))
def test_every_sql_example_runs(db: Path, index: int) -> None:
    block = sql_blocks()[index]
    uri = f"file:{db}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        for statement in statements(block):
            try:
                conn.execute(statement).fetchall()
            except sqlite3.Error as exc:  # pragma: no cover - shows which example broke
                pytest.fail(f"docs example failed: {exc}\n{statement}")


def _query(db: Path, sql: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def test_the_views_show_what_the_doc_says(db: Path) -> None:
    degrees = _query(db, "SELECT id, in_degree, out_degree FROM graph_nodes_view ORDER BY id")
    assert degrees == [("cafe", 1, 0), ("tea", 0, 1)]
    lineage = _query(
        db, "SELECT path_id, root_path_id, depth FROM path_lineage_view ORDER BY path_id"
    )
    assert lineage == [("branch", "main", 1), ("gone", "main", 1), ("main", "main", 0)]
    [(payload,)] = _query(db, "SELECT payload FROM events_view WHERE event_id = 'e-tea'")
    assert '"label":"Green tea"' in str(payload)


def test_the_full_text_examples_find_nodes(db: Path) -> None:
    found = _query(
        db,
        "SELECT n.id FROM nodes_fts JOIN nodes n ON n.node_seq = nodes_fts.rowid "
        "WHERE nodes_fts MATCH '\"cafe\"'",
    )
    assert found == [("cafe",)]  # accents folded

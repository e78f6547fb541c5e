"""Forgetting on SQLite leaves no trace: every table and column, read with raw sqlite3."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import phase_memory as pm
from phase_memory.testing.builders import P1
from phase_memory.testing.spec_review import SECRETS, action, write_secret_history

# The full-text index stores terms lower-cased, split at punctuation. (Only the
# words: the digit groups could turn up by chance inside generated hex ids.)
TOKENS = ("zanzibar", "quokka", "marmalade", "ocelot")


def _scan(db: Path) -> list[str]:
    """Every (table.column) of the database holding a secret or one of its index terms."""
    found: list[str] = []
    conn = sqlite3.connect(db)
    try:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        assert {"nodes", "events", "activation_plans", "audit_records"} <= set(tables)
        for table in tables:
            columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                for (value,) in conn.execute(f'SELECT "{column}" FROM "{table}"'):
                    if value is None:
                        continue
                    raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
                    lowered = raw.lower()
                    needles = [s.encode() for s in SECRETS] + [t.encode() for t in TOKENS]
                    if any(needle.lower() in lowered for needle in needles):
                        found.append(f"{table}.{column}")
        if "nodes_fts" in tables:
            conn.execute("CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, nodes_fts, 'row')")
            terms = {term for (term,) in conn.execute("SELECT term FROM temp.vocab")}
            found.extend(f"nodes_fts term {t}" for t in TOKENS if t in terms)
    finally:
        conn.close()
    return found


def test_forget_leaves_no_trace_in_any_table_or_column(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    with pm.open(db) as mem:
        write_secret_history(mem)
    assert _scan(db), "the scan must see the secret before it is forgotten"
    with pm.open(db) as mem:
        mem.apply([action("forget", "secret", approved=True, reason="user asked")])
        result = mem.events.replay()
        assert result.report.problems == []
        assert result.snapshot.same_records(mem.graph.snapshot())
        assert mem.store.integrity_findings() == []
    assert _scan(db) == []
    # Not even in free pages or the write-ahead log (closed: checkpointed).
    for file in tmp_path.iterdir():
        data = file.read_bytes().lower()
        assert not [s for s in (*SECRETS, *TOKENS) if s.lower().encode() in data], file


def test_forget_survives_reopening_and_activation_ignores_the_node(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    with pm.open(db) as mem:
        write_secret_history(mem)
        mem.apply([action("forget", "secret", approved=True)])
    with pm.open(db) as mem:
        node = mem.graph.get_node("secret")
        assert (node.state, node.label, node.content, node.attributes) == (
            pm.NodeState.FORGOTTEN, "", None, {},
        )
        plan = mem.activate(P1, "Zanzibar vault phrase quokka marmalade")
        assert all(item.node_id != "secret" for item in plan.items)


@pytest.mark.parametrize("approved", [False])
def test_denied_forget_on_sqlite_keeps_the_denial(tmp_path: Path, approved: bool) -> None:
    db = tmp_path / "memory.db"
    with pm.open(db) as mem:
        write_secret_history(mem)
        with pytest.raises(pm.ReviewRequiredError):
            mem.apply([action("forget", "secret", approved=approved)])
    with pm.open(db) as mem:
        denied = mem.audit.list(operation="lifecycle.forget", outcome=pm.AuditOutcome.DENIED)
        assert len(denied) == 1
        assert mem.graph.get_node("secret").state is pm.NodeState.ACTIVE

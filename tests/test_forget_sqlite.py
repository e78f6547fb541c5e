"""Forgetting on SQLite leaves no trace: every table and column, read with raw sqlite3."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import phase_memory as pm
from phase_memory.sql.free_pages import dirty_free_pages
from phase_memory.testing.builders import P1
from phase_memory.testing.raw_files import scan, sqlite_files
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


# --- below the rows: freed pages, old index segments, the write-ahead log -------------------

BIG_WORD = "wombatquill"


def _big_secret_node(mem: pm.PhaseMemoryRuntime) -> None:
    """A node of ~40 KB content (overflow pages), saved twice (the first copy is freed)."""
    content = " ".join(f"{BIG_WORD}{i:05d}" for i in range(3500))
    assert len(content) > 40_000
    mem.save_profile(pm.Profile(id=P1))
    node = pm.MemoryNode(
        id="big", profile_id=P1, kind="fact", label="Gravlax-5150 label",
        content=content, attributes={"pin": "Kestrel-2468"},
    )
    mem.save_node(node)
    mem.save_node(node.model_copy(update={"salience": 0.8}))


def test_forget_of_overflowing_content_leaves_no_byte_on_freed_pages(tmp_path: Path) -> None:
    """Finding 1: ~40 KB forgotten; the file keeps none of it (freed pages are zeroed)."""
    db = tmp_path / "memory.db"
    secrets = ("Gravlax-5150", "Kestrel-2468", BIG_WORD)
    with pm.open(db) as mem:
        _big_secret_node(mem)
        mem.store.checkpoint()  # type: ignore[attr-defined]
        assert scan(sqlite_files(db), secrets, words=False)
        mem.apply([action("forget", "big", approved=True)])
        # While still open: the forget's own checkpoint emptied the write-ahead log.
        traces = scan(sqlite_files(db), secrets, words=False)
        assert traces == [], [str(t) for t in traces]
        assert dirty_free_pages(db) == 0
        assert mem.verify_forgotten("big").ok
    traces = scan(sqlite_files(db), secrets, words=False)
    assert traces == [], [str(t) for t in traces]


WORDS = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot",
    "golf", "hotel", "india", "juliet", "kilo", "lima",
]


def _other_node(i: int) -> pm.MemoryNode:
    content = " ".join(f"{WORDS[(i * j) % len(WORDS)]}{(i * 31 + j) % 997}" for j in range(40))
    return pm.MemoryNode(
        id=f"other-{i:04d}", profile_id=P1, kind="fact", label=f"note {i}", content=content
    )


def test_forget_after_full_text_merges_leaves_no_term_in_any_file(tmp_path: Path) -> None:
    """Finding 2: a few hundred other nodes make FTS5 merge segments before the forget."""
    db = tmp_path / "memory.db"
    secrets = ("Pangolin", "Quetzal", "Xylophone")
    with pm.open(db) as mem:
        mem.save_profile(pm.Profile(id=P1))
        mem.save_node(pm.MemoryNode(
            id="word", profile_id=P1, kind="fact", label="Pangolin Quetzal",
            content="Xylophone in the attic", attributes={},
        ))
        for i in range(300):
            mem.save_node(_other_node(i))
        mem.store.checkpoint()  # type: ignore[attr-defined]
        assert scan(sqlite_files(db), secrets, words=False)
        mem.apply([action("forget", "word", approved=True)])
        traces = scan(sqlite_files(db), secrets, words=False)
        assert traces == [], [str(t) for t in traces]
        assert dirty_free_pages(db) == 0
        assert mem.verify_forgotten("word").ok
        for i in range(300, 500):  # later merges must not bring anything back
            mem.save_node(_other_node(i))
        assert mem.graph.search_text(P1, ["pangolin", "xylophone"], 10) == []
        mem.store.checkpoint()  # type: ignore[attr-defined]
        traces = scan(sqlite_files(db), secrets, words=False)
        assert traces == [], [str(t) for t in traces]
        assert dirty_free_pages(db) == 0
        assert mem.verify_forgotten("word").ok


def test_forget_clears_pages_freed_before_secure_delete_was_on(tmp_path: Path) -> None:
    """Pages another writer freed with ``secure_delete=FAST`` (earlier versions) are cleared too."""
    db = tmp_path / "memory.db"
    secrets = ("Gravlax-5150", "Kestrel-2468", BIG_WORD)
    with pm.open(db) as mem:
        _big_secret_node(mem)
    raw = sqlite3.connect(db, isolation_level=None)
    try:
        raw.execute("PRAGMA secure_delete = FAST")
        # What an earlier version did on an update: the old overflow pages are
        # freed without being zero-filled.
        raw.execute("UPDATE nodes SET content = 'short now' WHERE id = 'big'")
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert int(raw.execute("PRAGMA freelist_count").fetchone()[0]) > 5
    finally:
        raw.close()
    assert scan(sqlite_files(db), secrets, words=False)
    assert dirty_free_pages(db) > 5
    with pm.open(db) as mem:
        result = mem.apply([action("forget", "big", approved=True)])
        assert result.forgotten[0].pages_cleared > 5
        assert result.forgotten[0].wal_checkpointed is True
        traces = scan(sqlite_files(db), secrets, words=False)
        assert traces == [], [str(t) for t in traces]
        assert dirty_free_pages(db) == 0
        assert mem.verify_forgotten("big").ok


def test_doctor_forgotten_finds_free_pages_that_still_hold_data(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    with pm.open(db) as mem:
        _big_secret_node(mem)
        mem.save_node(pm.MemoryNode(id="other", profile_id=P1, kind="fact", label="other",
                                    content="x" * 30_000))
        mem.apply([action("forget", "big", approved=True)])
        assert mem.verify_forgotten("big").ok
    raw = sqlite3.connect(db, isolation_level=None)
    try:
        raw.execute("PRAGMA secure_delete = FAST")  # another program, freeing pages as they are
        raw.execute("UPDATE nodes SET content = 'short' WHERE id = 'other'")
    finally:
        raw.close()
    with pm.open(db, read_only=True) as mem:
        report = mem.verify_forgotten("big")
    assert "forget.free_pages_not_cleared" in report.codes()
    assert not report.ok


def test_forget_without_a_write_ahead_log_leaves_no_byte_either(tmp_path: Path) -> None:
    """``journal_mode="delete"`` (network file systems): no WAL to empty, nothing left."""
    db = tmp_path / "memory.db"
    secrets = ("Gravlax-5150", "Kestrel-2468", BIG_WORD)
    with pm.open(db, journal_mode="delete") as mem:
        _big_secret_node(mem)
        result = mem.apply([action("forget", "big", approved=True)])
        assert result.forgotten[0].wal_checkpointed is None
        assert not db.with_name("memory.db-wal").exists()
        traces = scan(sqlite_files(db), secrets, words=False)
        assert traces == [], [str(t) for t in traces]
        assert mem.verify_forgotten("big").ok

"""Lifecycle (review gate, audit, forget) and activation specs, run against every adapter."""

from __future__ import annotations

from pathlib import Path

import phase_memory as pm
from phase_memory.testing.spec_activation import *  # noqa: F403
from phase_memory.testing.spec_activation import SAM, load_corpus
from phase_memory.testing.spec_forgetting import *  # noqa: F403
from phase_memory.testing.spec_review import *  # noqa: F403
from phase_memory.testing.spec_review_queue import *  # noqa: F403

QUERIES = [
    "How do I like my coffee, with milk?",
    "is Sam allergic to anything like peanuts",
    "when is Alex's birthday?",
    "what's the status of the Atlas migration",
    "what is the office door code?",
    "tea in the evening",
    "jazz hatchback",
    "Elm Road",
]


def test_memory_and_sqlite_agree_on_the_top_hit(tmp_path: Path) -> None:
    with pm.open(":memory:") as memory, pm.open(tmp_path / "memory.db") as sqlite:
        load_corpus(memory)
        load_corpus(sqlite)
        for query in QUERIES:
            top_memory = memory.activate(SAM, query).items[0]
            top_sqlite = sqlite.activate(SAM, query).items[0]
            assert top_memory.node_id == top_sqlite.node_id, query
            assert top_memory.redacted == top_sqlite.redacted

"""Deterministic test data: nodes, edges and events, as plain dicts.

Both sides of a workload start from the same plain data. The phase-memory
side turns it into models *outside* the timed region (the API's input type);
the raw side formats it for ``sqlite3`` *inside* the timed region (that
formatting is part of the work a program using ``sqlite3`` directly does).

Text is drawn from a small synthetic vocabulary grouped into topics, so that
two-word queries are "topical": their words occur together in some nodes.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

PROFILE_ID = "bench"
TOPICS = 60
WORDS_PER_TOPIC = 40
COMMON_WORDS = 200
NODE_KINDS = ("fact", "preference", "episode", "note")
BASE_TIME = datetime(2024, 5, 1, tzinfo=UTC)

_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def dumps(value: Any) -> str:
    """Compact JSON, as the library stores JSON columns."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@cache
def vocabulary() -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """(common words, words of each topic): pronounceable, distinct pseudo-words."""
    rng = random.Random(7)
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < COMMON_WORDS + TOPICS * WORDS_PER_TOPIC:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    common = tuple(words[:COMMON_WORDS])
    rest = words[COMMON_WORDS:]
    topics = tuple(
        tuple(rest[t * WORDS_PER_TOPIC : (t + 1) * WORDS_PER_TOPIC]) for t in range(TOPICS)
    )
    return common, topics


def _uuid_like(prefix: str, n: int) -> str:
    # UUIDv7-shaped (36 characters, like the library's generated ids), sorted by n.
    return f"{prefix}-0000-7000-8000-{n:012x}"


def node_id(n: int) -> str:
    return _uuid_like("0190a000", n)


def edge_id(n: int) -> str:
    return _uuid_like("0190b000", n)


def event_id(n: int, run: int = 0) -> str:
    return _uuid_like(f"0190c{run:03x}", n)


def moment(n: int) -> datetime:
    return BASE_TIME + timedelta(milliseconds=n)


def ts_text(value: datetime) -> str:
    """A timestamp as the library stores it (UTC, microseconds, ``Z``)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def ts_json(value: datetime) -> str:
    """A timestamp as pydantic dumps it in JSON mode."""
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def _sentence(rng: random.Random, topic: tuple[str, ...], common: tuple[str, ...], k: int) -> str:
    return " ".join(rng.choice(topic) if rng.random() < 0.7 else rng.choice(common)
                    for _ in range(k))


def node(n: int, rng: random.Random) -> dict[str, Any]:
    """A node record as JSON data (``version`` 1)."""
    common, topics = vocabulary()
    topic_no = rng.randrange(TOPICS)
    topic = topics[topic_no]
    at = ts_json(moment(n))
    return {
        "id": node_id(n),
        "profile_id": PROFILE_ID,
        "kind": NODE_KINDS[n % len(NODE_KINDS)],
        "label": _sentence(rng, topic, common, 3),
        "content": _sentence(rng, topic, common, 12),
        "attributes": {"topic": topic_no, "source": "bench"},
        "salience": round(rng.random(), 3),
        "sensitivity": "internal",
        "state": "active",
        "created_at": at,
        "updated_at": at,
        "version": 1,
    }


def edge(n: int, n_nodes: int, rng: random.Random) -> dict[str, Any]:
    """An edge between two of the first ``n_nodes`` nodes."""
    at = ts_json(moment(n))
    return {
        "id": edge_id(n),
        "profile_id": PROFILE_ID,
        "source_id": node_id(rng.randrange(n_nodes)),
        "target_id": node_id(rng.randrange(n_nodes)),
        "kind": "relates_to",
        "weight": round(rng.random(), 3),
        "attributes": {},
        "created_at": at,
        "updated_at": at,
    }


def nodes(count: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for n in range(count):
        yield node(n, rng)


def edges(count: int, n_nodes: int, seed: int = 2) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for n in range(count):
        yield edge(n, n_nodes, rng)


def profile() -> dict[str, Any]:
    """The benchmark profile as JSON data (the library's defaults)."""
    from phase_memory import Profile

    return Profile(id=PROFILE_ID, name="Benchmarks", created_at=BASE_TIME,
                   updated_at=BASE_TIME).model_dump(mode="json")


def events(count: int, run: int = 0) -> list[dict[str, Any]]:
    """``count`` replayable events: one ``profile.saved``, then 3 ``node.saved``
    for every ``edge.saved`` (edges join nodes saved earlier)."""
    rng = random.Random(3)
    out: list[dict[str, Any]] = [_event(0, run, "profile.saved", {"profile": profile()})]
    n_nodes = n_edges = 0
    for n in range(1, count):
        if n % 4 == 0 and n_nodes > 1:
            payload = {"edge": edge(n_edges, n_nodes, rng)}
            n_edges += 1
            out.append(_event(n, run, "edge.saved", payload))
        else:
            out.append(_event(n, run, "node.saved", {"node": node(n_nodes, rng)}))
            n_nodes += 1
    return out


def _event(n: int, run: int, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": event_id(n, run),
        "kind": kind,
        "profile_id": PROFILE_ID,
        "path_id": None,
        "occurred_at": moment(n),
        "payload": payload,
        "schema_version": 1,
        "actor": "bench",
        "causation_id": None,
    }


def event_models(plain: list[dict[str, Any]]) -> list[Any]:
    """The same events as ``MemoryEvent`` models (trusted data: no re-validation)."""
    from phase_memory import MemoryEvent

    return [MemoryEvent.model_construct(**e, position=None) for e in plain]


def event_row(e: dict[str, Any]) -> tuple[Any, ...]:
    """An ``events`` row (without position: SQLite assigns the rowid)."""
    return (
        e["event_id"], e["kind"], e["profile_id"], e["path_id"], ts_text(e["occurred_at"]),
        dumps(e["payload"]), e["schema_version"], e["actor"], e["causation_id"],
    )


INSERT_EVENT = (
    "INSERT INTO events (event_id, kind, profile_id, path_id, occurred_at, payload, "
    "schema_version, actor, causation_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

NODE_COLUMNS = ("id", "profile_id", "kind", "label", "content", "attributes", "salience",
                "sensitivity", "state", "created_at", "updated_at", "version")
EDGE_COLUMNS = ("id", "profile_id", "source_id", "target_id", "kind", "weight", "attributes",
                "created_at", "updated_at")

INSERT_NODE = (
    f"INSERT INTO nodes ({', '.join(NODE_COLUMNS)}) VALUES ({', '.join('?' * len(NODE_COLUMNS))})"
)
UPSERT_NODE = INSERT_NODE + " ON CONFLICT (id) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in NODE_COLUMNS if c != "id"
)
INSERT_EDGE = (
    f"INSERT INTO edges ({', '.join(EDGE_COLUMNS)}) VALUES ({', '.join('?' * len(EDGE_COLUMNS))})"
)
INSERT_PROFILE = (
    "INSERT INTO profiles (id, name, description, policy, attributes, created_at, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _stored_ts(text: str) -> str:
    return ts_text(datetime.fromisoformat(text))


def node_row(n: dict[str, Any]) -> tuple[Any, ...]:
    """A ``nodes`` row of a node record (JSON as text, timestamps as stored)."""
    return (
        n["id"], n["profile_id"], n["kind"], n["label"], n["content"], dumps(n["attributes"]),
        n["salience"], n["sensitivity"], n["state"], _stored_ts(n["created_at"]),
        _stored_ts(n["updated_at"]), n["version"],
    )


def edge_row(e: dict[str, Any]) -> tuple[Any, ...]:
    """An ``edges`` row of an edge record."""
    return (
        e["id"], e["profile_id"], e["source_id"], e["target_id"], e["kind"], e["weight"],
        dumps(e["attributes"]), _stored_ts(e["created_at"]), _stored_ts(e["updated_at"]),
    )


def profile_row(p: dict[str, Any]) -> tuple[Any, ...]:
    return (p["id"], p["name"], p["description"], dumps(p["policy"]), dumps(p["attributes"]),
            _stored_ts(p["created_at"]), _stored_ts(p["updated_at"]))


def queries(count: int, seed: int = 4) -> list[str]:
    """Two-word topical queries (both words from one topic)."""
    _, topics = vocabulary()
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        topic = rng.choice(topics)
        first, second = rng.sample(topic, 2)
        out.append(f"{first} {second}")
    return out

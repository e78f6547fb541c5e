"""PhaseMemorySaver: a LangGraph checkpointer that keeps threads on conversational paths.

A thread is a conversation tree, each checkpoint an event on a path, and a
fork (``update_state`` on an earlier checkpoint) a branch path, so
``phase-memory paths show lg:<thread id>`` and ``sqlite3`` show a thread's
history. ``delete_thread``, ``prune`` and ``delete_for_runs`` erase the
payloads the way forgetting does and leave an audit record.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from operator import attrgetter
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_serializable_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from phase_memory.langgraph.checkpoint_log import CheckpointLog, StoredCheckpoint, events_of
from phase_memory.langgraph.encoding import TAG, decode, encode, encode_values
from phase_memory.langgraph.threads import ThreadKey, root_path_id, thread_key
from phase_memory.langgraph.worker import in_worker
from phase_memory.models import JsonObject, new_id
from phase_memory.models.limits import check_text
from phase_memory.protocols import EventPayload
from phase_memory.runtime import PhaseMemoryRuntime
from phase_memory.runtime import open as open_memory

DEFAULT_PROFILE = "langgraph"
"""The profile the saver keeps its threads in unless told otherwise."""
PRUNE_STRATEGIES = ("keep_latest", "delete")
PLAIN = "plain"
"""Payload key of a checkpoint whose values are all stored as themselves (no tag to decode)."""
_CHECKPOINT_ID = attrgetter("checkpoint_id")


class PhaseMemorySaver(BaseCheckpointSaver[int]):
    """A LangGraph checkpointer on a phase-memory runtime (SQLite, PostgreSQL or in memory).

    ``mem`` is an open runtime (:func:`phase_memory.open`); the saver does not
    close it. Threads live in profile ``profile_id`` (created when missing).
    """

    def __init__(
        self,
        mem: PhaseMemoryRuntime,
        *,
        profile_id: str = DEFAULT_PROFILE,
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(serde=serde)
        self.mem = mem
        self.log = CheckpointLog(mem, profile_id)

    @classmethod
    @contextmanager
    def from_conn_string(
        cls, target: str, *, profile_id: str = DEFAULT_PROFILE, **open_options: Any
    ) -> Iterator[PhaseMemorySaver]:
        """Open ``target`` (a path, an SQLAlchemy URL or ``:memory:``) for the block's length."""
        with open_memory(target, **open_options) as mem:
            yield cls(mem, profile_id=profile_id)

    # --- writing ---------------------------------------------------------------------

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint on its thread's path (a new branch when it forks)."""
        key = _written_key(config)
        check_text("checkpoint id", checkpoint["id"])
        parent_id = get_checkpoint_id(config)
        serde = self.serde
        stored_checkpoint, tagged = encode_values(
            serde, {k: v for k, v in checkpoint.items() if k != "channel_values"}
        )
        channel_values, tagged_values = encode_values(serde, checkpoint["channel_values"])
        stored_checkpoint["channel_values"] = channel_values
        stored_metadata, tagged_metadata = encode_values(
            serde, get_serializable_checkpoint_metadata(config, metadata)
        )
        payload: JsonObject = {
            "thread_id": key.thread_id,
            "checkpoint_ns": key.checkpoint_ns,
            "checkpoint_id": checkpoint["id"],
            "parent_checkpoint_id": parent_id,
            "checkpoint": stored_checkpoint,
            "metadata": stored_metadata,
        }
        # A channel named like the tag makes the stored values look tagged: not plain.
        if not (tagged or tagged_values or tagged_metadata or TAG in channel_values):
            payload[PLAIN] = True  # every value is stored as itself: reading decodes nothing
        self.log.put_checkpoint(key, checkpoint["id"], parent_id, payload)
        return _config(key.thread_id, key.checkpoint_ns, checkpoint["id"])

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's writes for a checkpoint; storing the same writes again changes nothing.

        Special writes (errors, interrupts) replace earlier ones of their kind, as
        in LangGraph's own savers.
        """
        key = _written_key(config)
        checkpoint_id = get_checkpoint_id(config)
        if checkpoint_id is None:
            raise ValueError("put_writes needs a config with a checkpoint_id")
        check_text("task_id", task_id)
        check_text("task_path", task_path)
        indexed = [
            (WRITES_IDX_MAP.get(channel, index), channel, value)
            for index, (channel, value) in enumerate(writes)
        ]
        special = bool(indexed) and all(channel in WRITES_IDX_MAP for _, channel, _ in indexed)
        indexes = tuple(index for index, _, _ in indexed)
        event_id = key.writes_event_id(
            checkpoint_id, task_id, indexes, salt=new_id() if special else ""
        )
        payload: JsonObject = {
            "thread_id": key.thread_id,
            "checkpoint_ns": key.checkpoint_ns,
            "checkpoint_id": checkpoint_id,
            "task_id": task_id,
            "task_path": task_path,
            "writes": [
                {"idx": index, "channel": channel, "value": encode(self.serde, value)}
                for index, channel, value in indexed
            ],
        }
        self.log.put_writes(key, checkpoint_id, event_id, payload)

    # --- reading ---------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint named by ``config``, or the thread namespace's latest."""
        key = _key(config)
        checkpoint_id = get_checkpoint_id(config)
        if checkpoint_id:
            stored = self.log.checkpoint(key, str(checkpoint_id))
        else:
            stored = self.log.latest(key)
        return None if stored is None else self._tuple(stored)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first (by checkpoint id), filtered by metadata, ``before``, ``limit``.

        Without ``checkpoint_ns`` in ``config`` every namespace of the thread is
        listed; without ``config``, every thread.
        """
        configurable = config.get("configurable", {}) if config else {}
        thread_id = configurable.get("thread_id")
        with self.mem.store.read_transaction():  # the thread's paths and events agree
            stored = self.log.thread_checkpoints(
                str(thread_id) if thread_id is not None else None,
                configurable.get("checkpoint_ns"),
            )
        wanted_id = configurable.get("checkpoint_id")
        before_id = get_checkpoint_id(before) if before else None
        if wanted_id:
            stored = [s for s in stored if s.checkpoint_id == wanted_id]
        if before_id:
            stored = [s for s in stored if s.checkpoint_id < before_id]
        stored.sort(key=_CHECKPOINT_ID, reverse=True)
        count = 0
        for item in stored:
            if limit is not None and count >= limit:
                return
            if filter and not self._matches(item.payload, filter):
                continue
            count += 1
            yield self._tuple(item)

    # --- deleting, copying, pruning --------------------------------------------------

    def delete_thread(self, thread_id: str) -> None:
        """Erase every checkpoint and write of the thread (as forgetting does); audited."""
        events = self.log.thread_events(thread_id)
        if events:
            self.log.erase(
                events,
                operation="langgraph.delete_thread",
                subject_ids=[root_path_id(thread_id)],
                details={"thread_id": thread_id},
            )

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Erase the checkpoints (and their writes) whose metadata names one of ``run_ids``."""
        if not run_ids:
            return
        stored = self.log.checkpoints_of_runs({str(run_id) for run_id in run_ids})
        if stored:
            self.log.erase(
                events_of(stored),
                operation="langgraph.delete_for_runs",
                subject_ids=sorted({root_path_id(str(s.payload["thread_id"])) for s in stored}),
                details={"run_ids": _strings(run_ids)},
            )

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint and write of a thread (forks included) to another thread."""
        check_text("thread_id", target_thread_id)
        stored = self.log.thread_checkpoints(source_thread_id)
        stored.sort(key=lambda s: (str(s.payload["checkpoint_ns"]), s.checkpoint_id))
        with self.mem.store.transaction():
            for item in stored:
                self._copy(item, target_thread_id)

    def _copy(self, item: StoredCheckpoint, target_thread_id: str) -> None:
        payload = {**item.payload, "thread_id": target_thread_id}
        key = ThreadKey(target_thread_id, str(payload["checkpoint_ns"]))
        parent_id = payload.get("parent_checkpoint_id")
        self.log.put_checkpoint(
            key, item.checkpoint_id, str(parent_id) if parent_id else None, payload,
            check_first=True,
        )
        for writes in item.writes:
            copied = {**writes.payload, "thread_id": target_thread_id}
            event_id = key.writes_event_id(
                item.checkpoint_id, str(copied["task_id"]), (), salt=writes.event_id
            )
            self.log.put_writes(key, item.checkpoint_id, event_id, copied, check_first=True)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Erase all but each namespace's latest checkpoint (``keep_latest``) or all."""
        if strategy not in PRUNE_STRATEGIES:
            raise ValueError(
                f"unknown prune strategy {strategy!r}; use one of {', '.join(PRUNE_STRATEGIES)}"
            )
        victims: builtins.list[EventPayload] = []
        for thread_id in thread_ids:
            if strategy == "delete":
                victims.extend(self.log.thread_events(thread_id))
                continue
            latest: dict[str, StoredCheckpoint] = {}
            stored = self.log.thread_checkpoints(thread_id)
            for item in stored:
                ns = str(item.payload["checkpoint_ns"])
                if ns not in latest or item.checkpoint_id > latest[ns].checkpoint_id:
                    latest[ns] = item
            kept = {id(item) for item in latest.values()}
            victims.extend(events_of(item for item in stored if id(item) not in kept))
        if victims:
            self.log.erase(
                victims,
                operation="langgraph.prune",
                subject_ids=sorted({root_path_id(str(t)) for t in thread_ids}),
                details={"strategy": strategy, "thread_ids": _strings(thread_ids)},
            )

    # --- async twins (worker threads: see worker.py) ---------------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """Async :meth:`get_tuple`."""
        return await in_worker(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """Async :meth:`list`."""

        def listed() -> builtins.list[CheckpointTuple]:
            return list(self.list(config, filter=filter, before=before, limit=limit))

        for item in await in_worker(listed):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Async :meth:`put`."""
        return await in_worker(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Async :meth:`put_writes`."""
        await in_worker(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        """Async :meth:`delete_thread`."""
        await in_worker(self.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Async :meth:`delete_for_runs`."""
        await in_worker(self.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Async :meth:`copy_thread`."""
        await in_worker(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Async :meth:`prune`."""
        await in_worker(self.prune, thread_ids, strategy=strategy)

    # --- encoding --------------------------------------------------------------------

    def _decoded(self, stored: Any, raw: str | None = None) -> dict[str, Any]:
        # Plain JSON values are stored as themselves: only a tagged one needs decoding.
        # ``raw`` names an entry stored as a plain mapping of encoded values (a
        # checkpoint's channel_values): it is no tagged value, whatever its keys
        # (a channel may be named like the tag).
        for key, value in stored.items():
            if type(value) is dict and TAG in value and key != raw:
                return {
                    k: v if k == raw else decode(self.serde, v) for k, v in stored.items()
                }
        return dict(stored)

    def _matches(self, payload: JsonObject, wanted: dict[str, Any]) -> bool:
        metadata = payload.get("metadata")
        if not isinstance(metadata, dict):
            return False
        return all(
            key in metadata and decode(self.serde, metadata[key]) == value
            for key, value in wanted.items()
        )

    def _tuple(self, stored: StoredCheckpoint) -> CheckpointTuple:
        # Runs for every checkpoint read (a list of a long thread: thousands).
        p = stored.payload
        thread_id, ns = str(p["thread_id"]), str(p["checkpoint_ns"])
        checkpoint_id = str(p["checkpoint_id"])
        stored_checkpoint: Any = p["checkpoint"]
        plain = p.get(PLAIN) is True
        decoded: Any = dict if plain else self._decoded
        checkpoint: Any = dict(stored_checkpoint) if plain else self._decoded(
            stored_checkpoint, raw="channel_values"
        )
        checkpoint["channel_values"] = decoded(stored_checkpoint["channel_values"])
        parent_id = p.get("parent_checkpoint_id")
        return CheckpointTuple(
            {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns,
                              "checkpoint_id": checkpoint_id}},
            checkpoint,
            decoded(p["metadata"]),
            {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns,
                              "checkpoint_id": str(parent_id)}} if parent_id else None,
            self._pending_writes(stored.writes) if stored.writes else [],
        )

    def _pending_writes(
        self, events: Sequence[EventPayload]
    ) -> builtins.list[tuple[str, str, Any]]:
        # Regular writes: the first stored for (task, idx) stands; special ones: the last.
        chosen: dict[tuple[str, int], tuple[str, str, int, str, Any]] = {}
        for event in events:
            p = event.payload
            task_id, task_path = str(p["task_id"]), str(p.get("task_path", ""))
            stored_writes: Any = p["writes"]
            for write in stored_writes:
                idx = int(write["idx"])
                if idx >= 0 and (task_id, idx) in chosen:
                    continue
                chosen[(task_id, idx)] = (task_path, task_id, idx, write["channel"], write["value"])
        ordered = sorted(chosen.values(), key=lambda w: writes_sort_key(w[0], w[1], w[2]))
        return [(task_id, channel, decode(self.serde, value))
                for _, task_id, _, channel, value in ordered]


def _strings(values: Sequence[object]) -> builtins.list[Any]:
    """Sorted text of ``values``, for an audit record's details."""
    return sorted(str(value) for value in values)


def _key(config: RunnableConfig) -> ThreadKey:
    configurable = config["configurable"]
    return thread_key(str(configurable["thread_id"]), str(configurable.get("checkpoint_ns", "")))


def _written_key(config: RunnableConfig) -> ThreadKey:
    """:func:`_key` of a config a write names: its ids must be text a store can hold."""
    key = _key(config)
    check_text("thread_id", key.thread_id)
    check_text("checkpoint_ns", key.checkpoint_ns)
    return key


def _config(thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> RunnableConfig:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": checkpoint_ns,
            "checkpoint_id": checkpoint_id,
        }
    }


__all__ = ["DEFAULT_PROFILE", "PhaseMemorySaver"]

"""Where a LangGraph thread lives in phase-memory: path ids and event ids.

A thread is one conversation tree. Its root path holds the checkpoints of the
root namespace (``checkpoint_ns == ""``); each subgraph namespace gets a branch
of the root (``<root>/ns:<hash>``), and a fork (a checkpoint whose parent is
not the newest checkpoint of its path, as ``update_state`` on an earlier
checkpoint makes) opens a branch ``<namespace path>/fork:<checkpoint id>``.
The ids are derived from the thread id, so ``phase-memory paths show
lg:<thread id>`` finds a thread; ids that are not short, plain identifiers are
replaced by a hash.

Checkpoint and write events get ids derived from (thread, namespace,
checkpoint id): a checkpoint is one primary-key lookup away.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property, lru_cache

from phase_memory.models.ids import check_identifier
from phase_memory.models.limits import has_utf8_form

CHECKPOINT_KIND = "langgraph.checkpoint"
"""Event kind of a stored checkpoint."""
WRITES_KIND = "langgraph.writes"
"""Event kind of the pending writes of one ``put_writes`` call."""
REPLACED_KIND = "langgraph.checkpoint.replaced"
"""Event kind of a checkpoint put again with other content (a checkpoint reads as its newest)."""

_READABLE_LENGTH = 100


def _digest(*parts: str, size: int = 20) -> str:
    # "surrogatepass": an id with a lone surrogate still hashes, so a read finds
    # nothing; writing one is refused (check_text) before anything is stored.
    joined = "\x00".join(parts).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(joined, digest_size=size).hexdigest()


@lru_cache(maxsize=4096)  # thread ids repeat on every call of the saver
def _readable(value: str) -> str:
    """``value`` when it is a short plain identifier, else a hash of it."""
    if len(value) <= _READABLE_LENGTH and "/" not in value:
        try:
            check_identifier(value)
        except ValueError:
            pass
        else:
            if has_utf8_form(value):  # else no path id can hold it
                return value
    return "sha-" + _digest(value, size=16)


@dataclass(frozen=True)
class ThreadKey:
    """One namespace of one thread, and the ids derived from it."""

    thread_id: str
    checkpoint_ns: str = ""

    # Cached: a key is made once per (thread, namespace) by thread_key and its
    # path ids read on every call of the saver.
    @cached_property
    def root_path_id(self) -> str:
        """The thread's conversation tree (the root namespace's own path)."""
        return root_path_id(self.thread_id)

    @cached_property
    def namespace_path_id(self) -> str:
        """The path of this namespace's checkpoints (until a fork)."""
        if not self.checkpoint_ns:
            return self.root_path_id
        return f"{self.root_path_id}/ns:{_digest(self.checkpoint_ns, size=8)}"

    def fork_path_id(self, checkpoint_id: str) -> str:
        """The branch a fork opens for its first checkpoint ``checkpoint_id``."""
        return f"{self.namespace_path_id}/fork:{_readable(checkpoint_id)}"

    def owns_path(self, path_id: str) -> bool:
        """Whether ``path_id`` holds checkpoints of this namespace."""
        own = self.namespace_path_id
        return path_id == own or path_id.startswith(f"{own}/fork:")

    @lru_cache(maxsize=1024)  # noqa: B019 (keys are few and kept by thread_key anyway)
    def checkpoint_event_id(self, checkpoint_id: str) -> str:
        """The id of the event holding checkpoint ``checkpoint_id``."""
        # Cached: each put asks for its checkpoint's id, and the next put for it again
        # (as the parent's).
        return "lgc-" + _digest(self.thread_id, self.checkpoint_ns, checkpoint_id)

    def replaced_event_id(self, checkpoint_id: str, number: int) -> str:
        """The id of the ``number``-th (1, 2, ...) re-put of checkpoint ``checkpoint_id``."""
        return f"{self.checkpoint_event_id(checkpoint_id)}.{number}"

    def writes_event_id(
        self, checkpoint_id: str, task_id: str, indexes: tuple[int, ...], salt: str = ""
    ) -> str:
        """The id of the event of a ``put_writes`` call (the same call twice: the same id).

        ``salt`` tells apart calls that must all be kept (special writes, copies).
        """
        marks = ",".join(str(i) for i in indexes)
        parts = (self.thread_id, self.checkpoint_ns, checkpoint_id, task_id, marks, salt)
        return "lgw-" + _digest(*parts)


@lru_cache(maxsize=4096)
def thread_key(thread_id: str, checkpoint_ns: str = "") -> ThreadKey:
    """The :class:`ThreadKey` of a thread's namespace (the same object for the same ids)."""
    return ThreadKey(thread_id, checkpoint_ns)


def root_path_id(thread_id: str) -> str:
    """The root path of thread ``thread_id``."""
    return f"lg:{_readable(thread_id)}"


__all__ = [
    "CHECKPOINT_KIND", "REPLACED_KIND", "WRITES_KIND", "ThreadKey", "root_path_id", "thread_key",
]

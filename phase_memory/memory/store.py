"""The in-memory store: the three in-memory adapters sharing one transaction."""

from __future__ import annotations

from contextlib import AbstractContextManager

from phase_memory.errors import StoreUnavailableError
from phase_memory.memory.audit import InMemoryAuditSink
from phase_memory.memory.event_log import InMemoryEventLog
from phase_memory.memory.graph_store import InMemoryGraphStore
from phase_memory.memory.state import SharedState
from phase_memory.models import GraphSnapshot
from phase_memory.protocols import MalformedRow, StoreCapabilities


class InMemoryStore:
    """:class:`~phase_memory.protocols.MemoryStore` held in this process's memory."""

    capabilities = StoreCapabilities()

    def __init__(self) -> None:
        self._shared = SharedState()
        self.graph = InMemoryGraphStore(self._shared)
        self.events = InMemoryEventLog(self._shared)
        self.audit = InMemoryAuditSink(self._shared)

    def transaction(self) -> AbstractContextManager[None]:
        """A transaction over graph, events and audit; rolled back on error."""
        return self._shared.transaction()

    def read_transaction(self) -> AbstractContextManager[None]:
        """Reads inside see one state (writers wait); writing inside is refused."""
        return self._shared.read_transaction()

    def integrity_findings(self) -> list[str]:
        """Nothing to check below the Python objects."""
        return []

    def readable_graph(self) -> tuple[GraphSnapshot, list[MalformedRow]]:
        """The snapshot: records held as validated models cannot be malformed."""
        return self.graph.snapshot(), []

    def close(self) -> None:
        """Refuse every later call (StoreUnavailableError), as the SQL store does.

        Every read, write and transaction of the in-memory adapters enters the
        shared lock first; a closed store's lock refuses to be entered.
        """
        self._shared.lock = _ClosedLock()  # type: ignore[assignment]


class _ClosedLock:
    """The lock of a closed in-memory store: entering it raises StoreUnavailableError."""

    def __enter__(self) -> None:
        raise StoreUnavailableError("the store is closed")

    def __exit__(self, *exc: object) -> None:  # pragma: no cover - never entered
        return None

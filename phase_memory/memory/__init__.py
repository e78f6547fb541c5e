"""In-memory adapters: reference semantics, tests and ephemeral use."""

from phase_memory.memory.audit import InMemoryAuditSink
from phase_memory.memory.event_log import InMemoryEventLog
from phase_memory.memory.graph_store import InMemoryGraphStore
from phase_memory.memory.store import InMemoryStore

__all__ = ["InMemoryAuditSink", "InMemoryEventLog", "InMemoryGraphStore", "InMemoryStore"]

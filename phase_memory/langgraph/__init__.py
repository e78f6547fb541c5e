"""LangGraph on phase-memory (extra ``phase-memory[langgraph]``).

:class:`PhaseMemorySaver` is a checkpointer whose threads are conversation
trees of paths; :class:`PhaseMemoryStore` is a long-term store on the memory
graph whose ``search(query=...)`` ranks with the full-text activation of
``mem.activate``. Both use the public runtime only.
"""

from phase_memory.langgraph.saver import DEFAULT_PROFILE, PhaseMemorySaver
from phase_memory.langgraph.store import DEFAULT_STORE_PROFILE, PhaseMemoryStore

__all__ = ["DEFAULT_PROFILE", "DEFAULT_STORE_PROFILE", "PhaseMemorySaver", "PhaseMemoryStore"]

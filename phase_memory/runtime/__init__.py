"""The runtime: :class:`PhaseMemoryRuntime` and :func:`open`."""

from phase_memory.runtime.open import open
from phase_memory.runtime.paths import PathsAPI
from phase_memory.runtime.runtime import PhaseMemoryRuntime

__all__ = ["PathsAPI", "PhaseMemoryRuntime", "open"]

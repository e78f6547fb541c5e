"""The runtime: PhaseMemoryRuntime and pm.open."""

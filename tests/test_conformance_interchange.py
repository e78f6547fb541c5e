"""The packaged interchange and diagnostics specs, run against every adapter of ``conftest.py``."""

from phase_memory.testing.spec_diagnostics import *  # noqa: F403
from phase_memory.testing.spec_interchange import *  # noqa: F403
from phase_memory.testing.spec_mcp_memory import *  # noqa: F403

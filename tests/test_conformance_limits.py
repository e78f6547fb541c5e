"""The packaged limits spec (phase_memory.testing.spec_limits), run against every adapter."""

from phase_memory.testing.spec_limits import *  # noqa: F403

"""The packaged runtime conformance suite, run against every adapter of ``conftest.py``."""

from phase_memory.testing.spec_paths import *  # noqa: F403
from phase_memory.testing.spec_runtime import *  # noqa: F403
from phase_memory.testing.spec_runtime_properties import *  # noqa: F403
from phase_memory.testing.spec_valid_time import *  # noqa: F403
from phase_memory.testing.spec_valid_time_interchange import *  # noqa: F403
from phase_memory.testing.spec_valid_time_properties import *  # noqa: F403
from phase_memory.testing.spec_write_properties import *  # noqa: F403
from phase_memory.testing.spec_write_rules import *  # noqa: F403

"""The packaged conformance suite, run against every adapter of ``conftest.py``."""

from phase_memory.testing.spec_audit import *  # noqa: F403
from phase_memory.testing.spec_closing import *  # noqa: F403
from phase_memory.testing.spec_events import *  # noqa: F403
from phase_memory.testing.spec_graph import *  # noqa: F403
from phase_memory.testing.spec_properties import *  # noqa: F403
from phase_memory.testing.spec_replay import *  # noqa: F403
from phase_memory.testing.spec_transactions import *  # noqa: F403

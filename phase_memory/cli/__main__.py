"""``python -m phase_memory.cli``: the same as the ``phase-memory`` command."""

import sys

from phase_memory.cli.app import main

sys.exit(main())

"""The one writer: build, check, append, apply the fold's effects, audit; one transaction.

- :mod:`~phase_memory.recorder.recorder`: :class:`Recorder`;
- :mod:`~phase_memory.recorder.checks`: :func:`check_writable` (policy, paths, the gate);
- :mod:`~phase_memory.recorder.review_gate`: the review gate every event passes.

Below the runtime, the importers and the integrations; above the adapters and
the fold (:mod:`phase_memory.replay`), whose effects it applies.
"""

from phase_memory.recorder.checks import EventView, check_writable
from phase_memory.recorder.recorder import (
    REFUSED_OPERATION,
    EffectsOf,
    Recorder,
    StoreParts,
    complete_payload,
    positioned,
)
from phase_memory.recorder.review_gate import GATED_KINDS, check_event, needs_review

__all__ = [
    "GATED_KINDS",
    "REFUSED_OPERATION",
    "EffectsOf",
    "EventView",
    "Recorder",
    "StoreParts",
    "check_event",
    "check_writable",
    "complete_payload",
    "needs_review",
    "positioned",
]

"""Domain models: pydantic v2, frozen, unknown fields rejected."""

from phase_memory.models.activation import ActivationItem, ActivationPlan
from phase_memory.models.audit import AuditRecord
from phase_memory.models.base import (
    AuditOutcome,
    CompactionStatus,
    DomainModel,
    JsonObject,
    LifecycleKind,
    NodeState,
    PathStatus,
    Sensitivity,
)
from phase_memory.models.events import (
    PAYLOAD_MODELS,
    REPLAYABLE_KINDS,
    ActivationPlanned,
    EdgeDeleted,
    EdgeSaved,
    GraphImported,
    LifecycleApplied,
    MemoryEvent,
    NodeDeleted,
    NodeSaved,
    NodesMerged,
    NodeStateChanged,
    PathAbandoned,
    PathActivated,
    PathCompacted,
    PathMerged,
    PathOpened,
    ProfileSaved,
)
from phase_memory.models.graph import NAME_ATTRIBUTE, MemoryEdge, MemoryNode
from phase_memory.models.ids import Identifier, new_id, utc_now
from phase_memory.models.lifecycle import Approval, LifecycleAction
from phase_memory.models.paths import MemoryPath
from phase_memory.models.profile import Profile, ProfilePolicy
from phase_memory.models.snapshot import GraphSnapshot, ReplayProblem, ReplayReport, ReplayResult

__all__ = [
    "NAME_ATTRIBUTE",
    "PAYLOAD_MODELS",
    "REPLAYABLE_KINDS",
    "ActivationItem",
    "ActivationPlan",
    "ActivationPlanned",
    "Approval",
    "AuditOutcome",
    "AuditRecord",
    "CompactionStatus",
    "DomainModel",
    "EdgeDeleted",
    "EdgeSaved",
    "GraphImported",
    "GraphSnapshot",
    "Identifier",
    "JsonObject",
    "LifecycleAction",
    "LifecycleApplied",
    "LifecycleKind",
    "MemoryEdge",
    "MemoryEvent",
    "MemoryNode",
    "MemoryPath",
    "NodeDeleted",
    "NodeSaved",
    "NodeState",
    "NodeStateChanged",
    "NodesMerged",
    "PathAbandoned",
    "PathActivated",
    "PathCompacted",
    "PathMerged",
    "PathOpened",
    "PathStatus",
    "Profile",
    "ProfilePolicy",
    "ProfileSaved",
    "ReplayProblem",
    "ReplayReport",
    "ReplayResult",
    "Sensitivity",
    "new_id",
    "utc_now",
]

"""Export a profile as the MCP memory server's ``memory.jsonl``, so the server can take over.

The file is what the server itself writes: one compact JSON object per line,
keys in the server's order, text as is (no ``\\u`` escapes for non-ASCII),
entities first, then relations::

    {"type":"entity","name":"Ada","entityType":"person","observations":["..."]}
    {"type":"relation","from":"Ada","to":"Babbage","relationType":"worked with"}

Only the profile's active nodes are written (archived and forgotten ones are
not in the memory the server should see), and the relations between them.
What an MCP import kept is written back as it came: the entity's name, the
original ``entityType`` / ``relationType`` strings and the observations list
in its order. Other nodes are written too: the label as the name (a name
already taken gets `` (<node id>)`` appended, so names stay unique, as the
server needs), the kind as ``entityType``, the content's lines as
observations, the edge kind as ``relationType``.

Entities come in the order they were first recorded (``created_at``), then
by name; relations likewise. Each line ends with a newline (the server's own
files have none after the last line; both read the same). The file is
written atomically.
"""

from __future__ import annotations

import json
import os
from typing import Any

from phase_memory.errors import NotFoundError
from phase_memory.interchange.atomic_write import atomic_text_file
from phase_memory.interchange.common import audit_export, resolved
from phase_memory.interchange.mcp_format import (
    ENTITY_TYPE_KEY,
    NAME_KEY,
    OBSERVATIONS_KEY,
    RELATION_TYPE_KEY,
    McpEntity,
    McpRelation,
    is_entity_node,
)
from phase_memory.interchange.progress import Progress, ProgressCallback
from phase_memory.interchange.results import ExportResult
from phase_memory.models import MemoryEdge, MemoryNode, NodeState
from phase_memory.recorder import Recorder

FORMAT = "mcp-memory"


def export_mcp_memory(
    recorder: Recorder,
    out: str | os.PathLike[str],
    *,
    profile_id: str = "default",
    progress: ProgressCallback | None = None,
) -> ExportResult:
    """Write ``profile_id`` as an MCP memory server ``memory.jsonl`` (see the module docstring).

    Raises :class:`~phase_memory.errors.NotFoundError` when the profile does
    not exist (nothing is written).
    """
    with Progress(progress) as bar, recorder.store.read_transaction():
        graph = recorder.graph
        if graph.find_profile(profile_id) is None:
            raise NotFoundError(f"profile {profile_id!r} does not exist")
        bar.stage(f"Exporting profile {profile_id!r}")
        nodes = sorted(
            (n for n in graph.iter_nodes(profile_id) if n.state is NodeState.ACTIVE),
            key=lambda n: (n.created_at, n.label, n.id),
        )
        names = _entity_names(nodes)
        entities = [_entity(node, names[node.id]) for node in nodes]
        edges = sorted(
            (e for e in graph.iter_edges(profile_id)
             if e.source_id in names and e.target_id in names),
            key=lambda e: (e.created_at, names[e.source_id], names[e.target_id], e.id),
        )
        relations: dict[tuple[str, str, str], McpRelation] = {}
        for edge in edges:
            relation = _relation(edge, names)
            relations.setdefault(relation.key, relation)  # the server keeps one of each
        with atomic_text_file(out) as handle:
            for line in [*(e.line() for e in entities), *(r.line() for r in relations.values())]:
                handle.write(server_line(line))
                bar.advance()
    counts = {"entities": len(entities), "relations": len(relations)}
    target = resolved(out)
    audit_export(recorder, FORMAT, target, counts, [profile_id])
    return ExportResult(format=FORMAT, target=target, counts=counts, files=[target])


def server_line(value: dict[str, Any]) -> str:
    """One line as the server's ``JSON.stringify`` writes it, plus a newline.

    Python's encoder with these options escapes exactly what ``JSON.stringify``
    escapes (quotes, backslashes, control characters, with the same short
    forms and lowercase ``\\u00xx``), and keeps the key order given.
    """
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


def _entity_names(nodes: list[MemoryNode]) -> dict[str, str]:
    """The entity name of each node: its MCP name, else its label, unique in the file."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for node in nodes:
        name = node.attributes.get(NAME_KEY)
        if is_entity_node(node) and name not in taken:  # the oldest of a name keeps it
            names[node.id] = str(name)
            taken.add(names[node.id])
    for node in nodes:
        if node.id in names:
            continue
        name = node.label if node.label.strip() else node.id
        if name in taken:
            name = f"{node.label} ({node.id})".strip()
        names[node.id] = name
        taken.add(name)
    return names


def _entity(node: MemoryNode, name: str) -> McpEntity:
    entity_type = node.attributes.get(ENTITY_TYPE_KEY)
    kept = node.attributes.get(OBSERVATIONS_KEY)
    if isinstance(kept, list) and all(isinstance(o, str) for o in kept):
        observations = tuple(str(o) for o in kept)
    else:
        observations = tuple(node.content.split("\n")) if node.content else ()
    return McpEntity(
        name=name,
        entityType=entity_type if isinstance(entity_type, str) else node.kind,
        observations=observations,
    )


def _relation(edge: MemoryEdge, names: dict[str, str]) -> McpRelation:
    relation_type = edge.attributes.get(RELATION_TYPE_KEY)
    return McpRelation(
        source=names[edge.source_id],
        target=names[edge.target_id],
        relationType=relation_type if isinstance(relation_type, str) else edge.kind,
    )

"""``nodes history ID`` and ``edges history ID``: a fact's versions on both time axes."""

from __future__ import annotations

from phase_memory.cli.output import print_jsonl, table, when
from phase_memory.models import FactVersion, MemoryEdge


def _what(version: FactVersion) -> str:
    if version.removed:
        return "removed"
    if version.superseded_by is not None:
        by = f"superseded by {version.superseded_by}"
        return f"{by} (correction)" if version.correction else by
    record = version.record
    if isinstance(record, MemoryEdge):
        return f"{record.source_id} -{record.kind}-> {record.target_id}"
    return "" if record is None else f"{record.kind}: {record.label}"


def show_history(title: str, versions: list[FactVersion], as_json: bool) -> None:
    """Print the versions: one row each, when recorded and when valid."""
    if as_json:
        print_jsonl(versions)
        return
    table(
        title,
        ["position", "recorded", "event", "valid from", "valid to", "what"],
        (
            [
                v.position,
                when(v.recorded_at),
                v.event_kind,
                when(v.valid_from),
                when(v.valid_to) if v.valid_to is not None else ("" if v.removed else "open"),
                _what(v),
            ]
            for v in versions
        ),
    )

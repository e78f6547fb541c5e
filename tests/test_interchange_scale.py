"""Interchange streams: 200,000 nodes and 200,000 edges in and out with bounded memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="ru_maxrss is a Unix figure"),
]

RECORDS = 200_000
MAX_RSS_MB = 300

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    import phase_memory as pm

    root, count = Path(sys.argv[1]), int(sys.argv[2])
    stamp = "2024-01-01T00:00:00Z"
    source = root / "big.json"
    with open(source, "w", encoding="utf-8") as out:   # written streaming, like a real export
        out.write('{"envelope": "markitect.graph", "schema_version": 1, "generator": "t",')
        profile = {"id": "p", "created_at": stamp, "updated_at": stamp}
        out.write('"profiles": [' + json.dumps(profile) + '],')
        out.write('"nodes": [\\n')
        for i in range(count):
            out.write(("," if i else "") + json.dumps({
                "id": f"n{i:07d}", "profile_id": "p", "kind": "note", "label": f"node {i}",
                "content": "some words about node %d" % i, "created_at": stamp,
                "updated_at": stamp, "version": 1}) + "\\n")
        out.write('],"edges": [\\n')
        for i in range(count):
            out.write(("," if i else "") + json.dumps({
                "id": f"e{i:07d}", "profile_id": "p", "source_id": f"n{i:07d}",
                "target_id": f"n{(i * 7 + 1) % count:07d}", "kind": "rel",
                "created_at": stamp, "updated_at": stamp}) + "\\n")
        out.write('],"paths": []}\\n')
    with pm.open(root / "memory.db") as mem:
        imported = mem.import_envelope(source)
        exported = mem.export_envelope(root / "out.json")
    # VmHWM is this program's own peak: ru_maxrss survives exec on Linux, so a
    # child forked from a big pytest process would report the parent's size.
    try:
        status = Path("/proc/self/status").read_text()
        peak = int(next(l for l in status.splitlines() if l.startswith("VmHWM:")).split()[1])
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"imported": imported.counts, "exported": exported.counts,
                      "peak_kb": peak}))
    """
)


def test_import_and_export_of_400k_records_stay_under_300_mb(tmp_path: Path) -> None:
    pytest.importorskip("phase_memory.sql")
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path), str(RECORDS)],
        capture_output=True, text=True, check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["imported"]["nodes"] == result["exported"]["nodes"] == RECORDS
    assert result["imported"]["edges"] == result["exported"]["edges"] == RECORDS
    peak_mb = result["peak_kb"] / 1024  # Linux reports kilobytes
    if sys.platform == "darwin":
        peak_mb /= 1024  # macOS reports bytes
    assert peak_mb < MAX_RSS_MB, f"peak RSS {peak_mb:.0f} MB"
    with open(tmp_path / "out.json", encoding="utf-8") as handle:
        head = handle.read(400)
    assert head.startswith('{\n  "edges": [\n    {\n      "attributes": {},')

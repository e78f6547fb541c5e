"""An envelope import killed midway (SIGKILL) leaves the SQLite database unchanged."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import phase_memory as pm
from phase_memory.testing.builders import P1, node, profile

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")

CHILD = textwrap.dedent(
    """
    import sys
    import phase_memory as pm
    from phase_memory.interchange import common

    flush = common.EventWriter.flush

    def announce(self):
        if self.pending:
            print("writing", flush=True)
        flush(self)

    common.EventWriter.flush = announce
    with pm.open(sys.argv[1]) as mem:
        mem.import_envelope(sys.argv[2])
    print("done", flush=True)
    """
)


def _envelope(path: Path, count: int) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write('{"envelope": "markitect.graph", "schema_version": 1, "nodes": [\n')
        for i in range(count):
            record = node(f"imported-{i:06d}", label=f"imported {i}").model_dump(mode="json")
            handle.write(("," if i else "") + json.dumps(record) + "\n")
        handle.write("]}\n")


def test_killed_envelope_import_leaves_the_database_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "memory.db"
    with pm.open(db) as mem:
        mem.save_profile(profile())
        mem.save_node(node("before"))
        before = (mem.events.list(), mem.graph.snapshot(), mem.audit.list())
    _envelope(tmp_path / "big.json", 25_000)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(tmp_path / "big.json")],
        stdout=subprocess.PIPE, text=True,
    )
    assert child.stdout is not None
    try:
        for flushes, line in enumerate(child.stdout, start=1):
            if line.strip() == "done":
                pytest.fail("the import finished before it could be killed")
            if flushes == 2:  # batches of graph.imported events are being written
                os.kill(child.pid, signal.SIGKILL)
                break
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    with pm.open(db) as mem:
        assert mem.store.integrity_findings() == []
        assert (mem.events.list(), mem.graph.snapshot(), mem.audit.list()) == before
        assert mem.graph.counts(P1)["nodes"] == 1
        assert mem.diagnose().ok

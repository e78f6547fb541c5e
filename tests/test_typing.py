"""User code that builds models with only the required fields type-checks under mypy --strict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

USER_CODE = '''
import phase_memory as pm

with pm.open(":memory:") as mem:
    mem.save_profile(pm.Profile(id="alice"))
    node = mem.save_node(pm.MemoryNode(profile_id="alice", kind="note", label="tea"))
    edge = pm.MemoryEdge(profile_id="alice", source_id=node.id, target_id=node.id, kind="self")
    event = pm.MemoryEvent(kind="turn.user", profile_id="alice")
    archive = pm.LifecycleKind.ARCHIVE
    action = pm.LifecycleAction(kind=archive, profile_id="alice", targets=[node.id])
    position: int | None = mem.record(event).position

async def agent() -> None:
    async with pm.open_async(":memory:") as amem:
        await amem.save_profile(pm.Profile(id="bob"))
        nodes: list[pm.MemoryNode] = await amem.graph.list_nodes("bob")
        async for recorded in amem.events.list(profile_id="bob"):
            at: int | None = recorded.position
'''

ROOT = Path(__file__).resolve().parent.parent


def test_models_with_generated_ids_and_timestamps_type_check(tmp_path: Path) -> None:
    script = tmp_path / "user_code.py"
    script.write_text(USER_CODE)
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", str(ROOT / "pyproject.toml"),
         str(script)],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr

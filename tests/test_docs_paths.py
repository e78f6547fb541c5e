"""Every ```python block of docs/paths.md runs as it is, each in a fresh namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "paths.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
BLOCKS = _BLOCK.findall(DOC.read_text(encoding="utf-8"))


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block-{n}" for n in range(len(BLOCKS))])
def test_python_block_runs(block: str) -> None:
    exec(compile(block, str(DOC), "exec"), {"__name__": "docs_paths"})

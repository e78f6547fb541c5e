"""No file of the project keeps a merge's conflict markers (a README once shipped them)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXT_SUFFIXES = {".py", ".md", ".toml", ".ini", ".json", ".cfg", ".txt", ".yml", ".yaml", ""}
SKIPPED_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", "build", "dist"}
MARKERS = ("<<<<<<< ", ">>>>>>> ")


def _project_files() -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT)
        if any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in relative.parts):
            continue
        if path.is_file() and path.suffix in TEXT_SUFFIXES and path.stat().st_size < 2_000_000:
            found.append(path)
    return found


def test_no_file_keeps_conflict_markers() -> None:
    files = _project_files()
    assert any(p.name == "README.md" for p in files)
    marked = []
    for path in files:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            continue
        marked += [
            f"{path.relative_to(ROOT)}:{number}"
            for number, line in enumerate(lines, 1)
            if line.startswith(MARKERS)
        ]
    assert marked == []

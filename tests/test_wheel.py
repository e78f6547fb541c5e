"""The wheel ships the migrations: a database opens from an installed package.

Builds the wheel with ``python -m build --wheel``, installs it with
``--no-deps`` into a fresh virtualenv that sees this interpreter's installed
dependencies (a ``.pth`` file naming their directories), and creates a new
database from that install.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _run(*command: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--wheel", "--outdir", out, REPO, cwd=REPO)
    [built] = out.glob("phase_memory-*.whl")
    return built


def test_the_wheel_contains_the_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "phase_memory/_migrations/env.py" in names
    assert "phase_memory/_migrations/alembic.ini" in names
    assert "phase_memory/_migrations/script.py.mako" in names
    assert any(n.startswith("phase_memory/_migrations/versions/") for n in names)
    assert "phase_memory/sql/store.py" in names


def test_a_database_opens_from_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    _run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel)

    # The dependencies come from this interpreter's site-packages; its .pth
    # files (an editable phase_memory among them) are not processed from
    # there, so phase_memory itself is the installed wheel.
    site = Path(
        _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    )
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_host_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")

    db = tmp_path / "fresh.db"
    script = (
        "import sqlite3, sys\n"
        "import phase_memory\n"
        "from phase_memory.sql import open_sql_store\n"
        "from phase_memory.sql.migrate import migrations_dir\n"
        "print(phase_memory.__file__)\n"
        "print(migrations_dir())\n"
        "with open_sql_store(sys.argv[1]) as store:\n"
        "    print(store.revision())\n"
        "conn = sqlite3.connect(sys.argv[1])\n"
        "rows = conn.execute(\"SELECT name FROM sqlite_master WHERE type IN ('table', 'view')\")\n"
        "print(','.join(sorted(name for (name,) in rows)))\n"
    )
    module_file, migrations, revision, names = (
        _run(python, "-c", script, db, cwd=tmp_path).strip().splitlines()
    )
    assert Path(module_file).is_relative_to(env_dir)
    assert Path(migrations) == Path(module_file).parent / "_migrations"
    from phase_memory.sql.migrate import head_revision

    assert revision == head_revision()
    assert set(names.split(",")) >= {
        "profiles",
        "nodes",
        "edges",
        "paths",
        "events",
        "activation_plans",
        "activation_items",
        "audit_records",
        "runtime_metadata",
        "alembic_version",
        "nodes_fts",
        "graph_nodes_view",
        "path_lineage_view",
        "events_view",
    }

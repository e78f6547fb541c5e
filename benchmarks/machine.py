"""Facts about the machine a run happened on (printed and saved with the results)."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
from importlib import metadata
from typing import Any


def _memory_total_mb() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_facts() -> dict[str, Any]:
    """nproc, RAM, Python, SQLite and the versions of the libraries in play."""
    return {
        "nproc": os.cpu_count(),
        "ram_mb": _memory_total_mb(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "phase_memory": _version("phase-memory"),
        "sqlalchemy": _version("SQLAlchemy"),
        "pydantic": _version("pydantic"),
        "eventsourcing": _version("eventsourcing"),
        "langgraph_checkpoint_sqlite": _version("langgraph-checkpoint-sqlite"),
    }


def describe(facts: dict[str, Any]) -> str:
    """One line for the report header."""
    ram = facts.get("ram_mb")
    ram_text = f"{ram / 1024:.1f} GiB RAM" if ram else "RAM unknown"
    return (
        f"{facts['nproc']} cores, {ram_text}, Python {facts['python']}, "
        f"SQLite {facts['sqlite']}, SQLAlchemy {facts['sqlalchemy']}, "
        f"pydantic {facts['pydantic']} ({facts['platform']})"
    )

"""Parent-side helpers of the reliability suite: run workers, kill them, inspect databases."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

WORKER = Path(__file__).with_name("reliability_worker.py")
READY_TIMEOUT = 60.0


@dataclass
class Worker:
    """A running worker process whose stdout lines are collected by a thread."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    _reader: threading.Thread | None = None

    def start_reading(self) -> None:
        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.lines.append(line.rstrip("\n"))
                if line.startswith("ready"):
                    self.ready.set()
            self.ready.set()  # the process ended (or never got ready)

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()

    def wait_ready(self) -> None:
        assert self.ready.wait(READY_TIMEOUT), "the worker never printed 'ready'"

    def kill(self) -> None:
        """SIGKILL, then collect every line printed before the kill."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.finish()

    def finish(self, timeout: float = 300) -> int:
        code = self.process.wait(timeout=timeout)
        if self._reader is not None:
            self._reader.join(timeout=30)
        return code

    @property
    def stderr(self) -> str:
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def acknowledged(self, tag: str = "ack") -> list[str]:
        """Ids on complete ``tag`` lines (a line cut by the kill has no newline and no entry)."""
        found: list[str] = []
        for line in self.lines:
            parts = line.split(" ")
            if parts[0] == tag:
                found.extend(parts[1:])
        return found


def spawn(*args: str, cwd: Path | None = None) -> Worker:
    """Start ``reliability_worker.py`` with ``args``."""
    process = subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    worker = Worker(process)
    worker.start_reading()
    return worker


def integrity(path: Path) -> list[str]:
    """``PRAGMA integrity_check`` and ``foreign_key_check`` of a database file, raw sqlite3."""
    conn = sqlite3.connect(str(path))
    try:
        found = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        problems = [] if found == ["ok"] else found
        problems += [repr(row) for row in conn.execute("PRAGMA foreign_key_check")]
        return problems
    finally:
        conn.close()


def tables(path: Path) -> set[str]:
    conn = sqlite3.connect(str(path))
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


def wait_until(predicate: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.005)
    return False

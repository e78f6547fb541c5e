"""PostgreSQL for the test run: one schema per run, emptied between tests.

``PHASE_MEMORY_TEST_POSTGRES_URL`` names a database
(``postgresql+psycopg://postgres@127.0.0.1:5432/test``). The run creates a
schema of its own in it (``pm_test_<pid>_<random>``), migrates it once, hands
every PostgreSQL test a store whose URL selects that schema through
``?options=-csearch_path%3D...``, empties every table before each test
(``DELETE`` in foreign-key order: for the handful of rows a test leaves it is
much faster than ``TRUNCATE`` or a new migration), and drops the schema at
the end of the session. A test holding two stores at once gets a second
schema (``pm_test_<pid>_<random>_1``), reused the same way.

Without the variable PostgreSQL tests are skipped with :data:`SKIP_REASON`.
With ``PHASE_MEMORY_REQUIRE_POSTGRES=1`` (CI) an unreachable server fails
the run at session start instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

from phase_memory.sql import SqlStore, open_sql_store
from phase_memory.sql import tables as t

URL_VARIABLE = "PHASE_MEMORY_TEST_POSTGRES_URL"
REQUIRE_VARIABLE = "PHASE_MEMORY_REQUIRE_POSTGRES"
SKIP_REASON = f"set {URL_VARIABLE} to run PostgreSQL tests"


def configured_url() -> str | None:
    """The database URL the tests may use, if any."""
    return os.environ.get(URL_VARIABLE) or None


def required() -> bool:
    """Whether PostgreSQL must be reachable (CI): then an unreachable server fails the run."""
    return os.environ.get(REQUIRE_VARIABLE) == "1"


def with_schema(url: str | URL, schema: str) -> URL:
    """``url`` with its connections' ``search_path`` set to ``schema``."""
    parsed = make_url(url) if isinstance(url, str) else url
    options = parsed.query.get("options")
    existing = options if isinstance(options, str) else " ".join(options or ())
    search_path = f"-csearch_path={schema}"
    return parsed.update_query_dict({"options": f"{existing} {search_path}".strip()})


def unreachable_reason(url: str) -> str | None:
    """Why the server at ``url`` cannot be used (None when it answers)."""
    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:  # any failure to connect is the reason
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        shown = make_url(url).render_as_string(hide_password=True)
        return f"PostgreSQL at {shown} is unreachable: {first}"
    finally:
        engine.dispose()
    return None


_EMPTY_ALL = "; ".join(f"DELETE FROM {table.name}" for table in reversed(t.metadata.sorted_tables))


class _Slot:
    """One migrated schema of the run, and what holds it now."""

    def __init__(self, name: str, url: URL) -> None:
        self.name = name
        self.url = url
        self.store: SqlStore | None = None
        self.held = False

    def free(self) -> bool:
        return not self.held and (self.store is None or self.store.closed)


class PostgresRun:
    """The schemas of this test run: created and migrated on first use, emptied for reuse.

    Most tests use one store at a time, so one schema serves the whole run;
    a test holding several stores at once (an export from one memory
    imported into another) gets another schema, kept for later tests.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.prefix = f"pm_test_{os.getpid()}_{secrets.token_hex(4)}"
        self._slots: list[_Slot] = []
        self._by_directory: dict[Path, _Slot] = {}

    @cached_property
    def _engine(self) -> Engine:
        return create_engine(self.base_url, pool_size=1)

    def _claim(self) -> _Slot:
        slot = next((slot for slot in self._slots if slot.free()), None)
        if slot is None:
            name = self.prefix if not self._slots else f"{self.prefix}_{len(self._slots)}"
            with self._engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{name}"'))
            slot = _Slot(name, with_schema(self.base_url, name))
            self._slots.append(slot)
            open_sql_store(slot.url).close()  # migrate once
        else:
            with self._engine.begin() as conn:
                conn.exec_driver_sql(f'SET LOCAL search_path = "{slot.name}"')
                conn.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
                conn.exec_driver_sql(_EMPTY_ALL)
        slot.store = None
        return slot

    def fresh_store(self, directory: Path) -> SqlStore:
        """A store over an empty schema, remembered for :meth:`reopen` of ``directory``."""
        slot = self._claim()
        slot.store = open_sql_store(slot.url)
        self._by_directory[directory] = slot
        return slot.store

    def reopen(self, directory: Path) -> SqlStore:
        """The schema :meth:`fresh_store` gave ``directory``, as it is."""
        slot = self._by_directory[directory]
        slot.store = open_sql_store(slot.url)
        return slot.store

    @contextmanager
    def fresh_url(self) -> Iterator[URL]:
        """The URL of an empty schema, held for the block (for ``pm.open`` and subprocesses)."""
        slot = self._claim()
        slot.held = True
        try:
            yield slot.url
        finally:
            slot.held = False

    def drop(self) -> None:
        """Drop every schema of the run."""
        if not self._slots:
            return
        with self._engine.begin() as conn:
            for slot in self._slots:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{slot.name}" CASCADE'))
        self._slots.clear()
        self._engine.dispose()

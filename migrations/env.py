"""Alembic environment of phase-memory.

Called two ways:

- **from the library** (``phase_memory.sql.migrate``): the library passes an
  open connection, already inside a write transaction that holds the
  migration lock, as ``config.attributes["connection"]``; the migration runs
  in that transaction and logging is left alone;
- **from the ``alembic`` command** in the repository root: the database URL
  comes from ``-x url=...``, else ``sqlalchemy.url`` in ``alembic.ini``, else
  ``$PHASE_MEMORY_DB``, else ``./phase-memory.db``; the engine gets the
  library's SQLite settings (pragmas, ``BEGIN IMMEDIATE`` write transaction).

SQLite ALTERs run in batch mode. The full-text index and the inspection views
are created by the migrations but are not part of the table metadata, so they
are kept out of autogenerate comparisons.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from phase_memory.sql.tables import include_in_autogenerate as include_object
from phase_memory.sql.tables import metadata

config = context.config
target_metadata = metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        include_object=include_object,
        compare_type=True,
    )


def _url() -> str:
    from phase_memory.sql.engine import to_url

    url = (
        context.get_x_argument(as_dictionary=True).get("url")
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get("PHASE_MEMORY_DB")
        or "phase-memory.db"
    )
    return to_url(url).render_as_string(hide_password=False)


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it (``alembic upgrade --sql``)."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the library's connection, or on a new engine."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return

    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    from phase_memory.sql import dialect
    from phase_memory.sql.engine import WRITE_OPTION, EngineSettings, make_engine, to_url

    engine = make_engine(to_url(_url()), EngineSettings())
    try:
        with engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                dialect.lock_schema(conn)
                _configure(conn)
                with context.begin_transaction():
                    context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

"""The SQL adapter: SQLAlchemy Core on SQLite (the default) and PostgreSQL.

>>> from phase_memory.sql import open_sql_store
>>> store = open_sql_store("memory.db")          # doctest: +SKIP

The schema is owned by the Alembic migrations shipped with the package (see
:mod:`phase_memory.sql.migrate`); every dialect difference lives in
:mod:`phase_memory.sql.dialect`.
"""

from phase_memory.sql.migrate import history as migration_history
from phase_memory.sql.store import (
    SqlStore,
    database_revision,
    downgrade_database,
    open_sql_store,
    upgrade_database,
)

__all__ = [
    "SqlStore",
    "database_revision",
    "downgrade_database",
    "migration_history",
    "open_sql_store",
    "upgrade_database",
]

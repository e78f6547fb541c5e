"""The SQL adapter: SQLAlchemy Core on SQLite (the default) and PostgreSQL.

>>> from phase_memory.sql import open_sql_store
>>> store = open_sql_store("memory.db")          # doctest: +SKIP

The schema is owned by the Alembic migrations shipped with the package (see
:mod:`phase_memory.sql.migrate`); every dialect difference lives in
:mod:`phase_memory.sql.dialect`.
"""

from phase_memory.sql.store import SqlStore, open_sql_store

__all__ = ["SqlStore", "open_sql_store"]

"""phase-memory benchmarks: the library beside raw ``sqlite3`` doing the same work.

Run ``python -m benchmarks`` from the repository root (``--quick`` for the
small run CI executes, ``--only NAME`` to pick workloads, ``--repeat N``).
Every workload runs phase-memory and the standard library's ``sqlite3`` on an
identical schema (both open copies of one empty database file made by
``pm.open``) in the same run, and reports medians of the repeats. See
``docs/performance.md`` for the results on the reference machine.
"""

"""The ``phase-memory`` command line (Typer + Rich), thin over :mod:`phase_memory.runtime`.

:data:`app` is the Typer application; :func:`main` is the console-script entry point.
"""

from phase_memory.cli.app import app, main

__all__ = ["app", "main"]

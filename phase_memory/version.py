"""The version of phase-memory (kept here so any layer can name it)."""

__version__ = "0.1.0"

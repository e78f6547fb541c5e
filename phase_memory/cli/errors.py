"""Turning exceptions into the one line the command line prints."""

from __future__ import annotations

import json

import pydantic
import typer

from phase_memory.errors import PhaseMemoryError

FAILURE = 1
"""Exit status of a command that failed (a refused write, a missing database, ...)."""
USAGE = 2
"""Exit status of a command line that could not be parsed."""


class CliError(Exception):
    """A failure to report as one line on stderr, exit status 1."""

    exit_code = FAILURE


class CliUsageError(CliError):
    """Options that do not go together, or a bad value: exit status 2."""

    exit_code = USAGE


def describe(exc: BaseException) -> str:
    """One line saying what went wrong, for a person (no traceback, no repr noise)."""
    if isinstance(exc, typer.TyperException):  # a command line Typer could not parse
        return _one_line(exc.format_message())
    if isinstance(exc, CliError):  # already the sentence to print
        return _one_line(str(exc))
    if isinstance(exc, PhaseMemoryError):
        return _one_line(str(exc) or type(exc).__name__)
    if isinstance(exc, pydantic.ValidationError):
        return _one_line(describe_validation(exc))
    if isinstance(exc, json.JSONDecodeError):
        return _one_line(f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc) or type(exc).__name__
        where = f": {exc.filename}" if exc.filename else ""
        return _one_line(f"{reason}{where}")
    text = str(exc)
    return _one_line(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def describe_validation(exc: pydantic.ValidationError, what: str | None = None) -> str:
    """A pydantic error as ``invalid Model: field: message; ...`` (at most three shown)."""
    errors = exc.errors(include_url=False)
    shown = []
    for error in errors[:3]:
        where = ".".join(str(part) for part in error["loc"])
        shown.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return f"invalid {what or exc.title}: " + "; ".join(shown) + more


def _one_line(text: str) -> str:
    return " ".join(text.split())

"""The ``phase-memory`` Typer application and its entry point.

Global options come before the command: ``phase-memory --db memory.db nodes list``.
Every failure is one line on stderr (``error: ...``) with exit status 1; a
command line that cannot be parsed exits with status 2. ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated, Any

import pydantic
import typer
from typer.core import TyperGroup

from phase_memory import __version__
from phase_memory.cli import (
    activate,
    apply,
    audit,
    db,
    demo,
    doctor,
    edges,
    events,
    interchange,
    mcp,
    nodes,
    paths,
    review,
    setup,
)
from phase_memory.cli.context import DEFAULT_DB, ENV_DB, CliState
from phase_memory.cli.errors import FAILURE, CliError, describe
from phase_memory.cli.output import error_line
from phase_memory.errors import PhaseMemoryError

PROG = "phase-memory"


class PhaseMemoryGroup(TyperGroup):
    """The root command: turns every failure into one line and an exit status."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException, CliError):
            raise
        except (PhaseMemoryError, OSError, pydantic.ValidationError) as exc:
            if _debug(ctx):
                raise
            raise CliError(describe(exc)) from exc
        except Exception as exc:
            if _debug(ctx):
                raise
            raise CliError(
                f"unexpected {describe(exc)} (run with --debug for the traceback)"
            ) from exc

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command; print one line per failure; exit 0, 1 or 2 (or return, if asked)."""
        try:
            result = super().main(
                args=args,
                prog_name=prog_name or PROG,
                complete_var=complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
            code = result if isinstance(result, int) and not isinstance(result, bool) else 0
        except CliError as exc:
            code = exc.exit_code
            error_line(describe(exc))
        except typer.TyperException as exc:  # the command line could not be parsed
            code = exc.exit_code
            message = describe(exc)
            if message:  # (a group given no command printed its help instead)
                command = getattr(exc, "ctx", None)  # the command a usage error is about
                hint = f" (see `{command.command_path} --help`)" if command is not None else ""
                error_line(f"{message}{hint}")
        except typer.Abort:
            code = FAILURE
            error_line("aborted")
        if not standalone_mode:
            return code
        sys.exit(code)


def _debug(ctx: typer.Context) -> bool:
    obj = ctx.find_root().obj
    return isinstance(obj, CliState) and obj.debug


def _version(value: bool) -> None:
    if value:
        typer.echo(f"phase-memory {__version__}")
        raise typer.Exit()


app = typer.Typer(
    name=PROG,
    cls=PhaseMemoryGroup,
    help=(
        "Durable, inspectable memory for conversational agents: a memory graph, "
        "an event log and conversational paths in one SQLite file."
    ),
    epilog=(
        f"The database is --db, else ${ENV_DB}, else ./{DEFAULT_DB}. "
        "Failures print one line and exit 1; usage errors exit 2."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _global_options(
    ctx: typer.Context,
    database: Annotated[
        str,
        typer.Option(
            "--db",
            metavar="PATH|URL",
            envvar=ENV_DB,
            show_envvar=True,
            help=(
                "Memory database: a file path, an SQLAlchemy URL "
                "(sqlite:///..., postgresql+psycopg://...) or :memory:."
            ),
        ),
    ] = DEFAULT_DB,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of a failure.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Durable, inspectable memory for conversational agents."""
    ctx.obj = CliState(db=database, debug=debug)


app.command("demo")(demo.demo)
app.command("init")(setup.init)
app.command("info")(setup.info)
app.command("import")(interchange.import_)
app.command("export")(interchange.export)
app.add_typer(events.app, name="events")
app.add_typer(paths.app, name="paths")
app.add_typer(nodes.app, name="nodes")
app.add_typer(edges.app, name="edges")
app.command("activate")(activate.activate)
app.command("apply")(apply.apply)
app.add_typer(review.app, name="review")
app.command("mcp")(mcp.mcp)
app.command("doctor")(doctor.doctor)
app.add_typer(audit.app, name="audit")
app.add_typer(db.app, name="db")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``phase-memory`` console script; returns the exit status."""
    command = typer.main.get_command(app)
    code = command.main(args=argv, prog_name=PROG, standalone_mode=False)
    return code if isinstance(code, int) else 0

"""Generate the command reference of ``docs/cli.md`` from the Typer app.

``python -m phase_memory.cli.docgen docs/cli.md`` rewrites the part of the file
between the two markers; ``tests/test_docs.py`` checks that it is up to date.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import typer.main
from typer.core import TyperCommand, TyperGroup

from phase_memory.cli.app import PROG, app

BEGIN = "<!-- BEGIN GENERATED REFERENCE (python -m phase_memory.cli.docgen docs/cli.md) -->"
END = "<!-- END GENERATED REFERENCE -->"


Command = TyperGroup | TyperCommand
"""A command of the app: a group of commands or a runnable one."""


def root_command() -> TyperGroup:
    """The command group behind the Typer app."""
    command = typer.main.get_command(app)
    assert isinstance(command, TyperGroup)
    return command


def command_paths(command: Command | None = None, prefix: tuple[str, ...] = ()) -> Iterator[
    tuple[tuple[str, ...], Command]
]:
    """Every runnable command as (``("events", "append")``, command), in help order."""
    command = command or root_command()
    children: dict[str, Command] | None = getattr(command, "commands", None)
    if not children:
        yield prefix, command
        return
    for name, child in children.items():
        yield from command_paths(child, (*prefix, name))


def _markdown(text: str) -> str:
    return text.replace("``", "`").strip()


def _choices(param: Any) -> list[str]:
    descriptor = getattr(param, "type_descriptor", None)
    choices = getattr(descriptor, "choices", None) or ()
    return [c.value if isinstance(c, Enum) else str(c) for c in choices]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _param_rows(command: Command) -> list[tuple[str, str]]:
    rows = []
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        help_text = _markdown(getattr(param, "help", None) or "")
        choices = _choices(param)
        if choices:
            help_text += f" One of: {', '.join(f'`{c}`' for c in choices)}."
        if param.param_type_name == "argument":
            name = f"`{param.metavar or (param.name or '').upper()}`"
            if param.required:
                help_text += " Required."
        else:
            opts = ", ".join([*param.opts, *param.secondary_opts])
            metavar = param.metavar
            flag = getattr(param, "is_flag", False)
            name = _cell(f"`{opts} {metavar}`" if metavar and not flag else f"`{opts}`")
            if param.required:
                help_text += " Required."
            default = param.default
            if (
                default not in (None, False, (), [], "")
                and not getattr(param, "is_flag", False)
                and not param.is_eager
            ):
                shown = default.value if isinstance(default, Enum) else default
                help_text += f" Default: `{shown}`."
            envvar = getattr(param, "envvar", None)
            if envvar:
                help_text += f" Environment: `{envvar}`."
        rows.append((name, _cell(help_text.strip())))
    return rows


def _usage(path: tuple[str, ...], command: Command) -> str:
    pieces = [PROG, "[GLOBAL OPTIONS]", *path]
    if any(p.param_type_name == "option" for p in command.params):
        pieces.append("[OPTIONS]")
    for param in command.params:
        if param.param_type_name != "argument":
            continue
        metavar = param.metavar or (param.name or "").upper()
        pieces.append(metavar if param.required or metavar.startswith("[") else f"[{metavar}]")
    return " ".join(pieces)


def _table(rows: list[tuple[str, str]], header: str) -> list[str]:
    if not rows:
        return []
    lines = [f"| {header} | description |", "|---|---|"]
    lines += [f"| {name} | {text} |" for name, text in rows]
    return [*lines, ""]


def render_reference() -> str:
    """The Markdown reference: global options, then every command."""
    root = root_command()
    lines = ["## Global options", "", "They come before the command.", ""]
    lines += _table(_param_rows(root), "option")
    lines += ["## Commands", ""]
    for path, command in command_paths(root):
        lines += [f"### `{PROG} {' '.join(path)}`", ""]
        lines += [_markdown(command.help or ""), ""]
        lines += ["```text", _usage(path, command), "```", ""]
        lines += _table(_param_rows(command), "argument / option")
    return "\n".join(lines).rstrip() + "\n"


def replace_reference(document: str) -> str:
    """``document`` with the text between the markers replaced by a fresh reference."""
    start = document.index(BEGIN) + len(BEGIN)
    stop = document.index(END)
    return document[:start] + "\n\n" + render_reference() + "\n" + document[stop:]


def main(argv: list[str] | None = None) -> int:
    """Rewrite the reference in the Markdown files named on the command line."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        sys.stdout.write(render_reference())
        return 0
    for name in args:
        path = Path(name)
        text = path.read_text(encoding="utf-8")
        path.write_text(replace_reference(text), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

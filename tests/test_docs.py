"""The docs harness: every example in README.md and docs/*.md runs.

Rules (also stated in docs/cli.md, "Examples are tested"):

- ```python blocks are executed in this process; ```bash / ```shell / ```sh
  blocks run through ``bash -e -o pipefail`` with this Python's bin directory
  first on PATH (so ``phase-memory`` is the one under test); in ```console
  blocks the lines starting with ``$ `` are the commands, lines starting with
  ``sqlite> `` are fed to the command before them, the rest is output.
- The blocks of one file run in order, in one temporary directory, and the
  python blocks share one namespace: a later block may use an earlier one's
  names and files. ``PHASE_MEMORY_DB`` is unset, so the default database is
  ``./phase-memory.db`` in that directory.
- Skipped: blocks containing ``pip install`` (the README's set-up commands,
  which install the package this suite is already running), ```sql blocks
  (``test_sql_docs`` runs them), blocks that need a ``sqlite3`` command line
  when there is none, and any block right after a ``<!-- docs-test: skip -->``
  comment. Other languages (```text, ```json, ...) are not code.
"""

from __future__ import annotations

import doctest
import os
import re
import shutil
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

PYTHON = {"python", "py", "pycon"}
SHELL = {"bash", "shell", "sh"}
CONSOLE = {"console", "shell-session"}
SKIP_MARK = "<!-- docs-test: skip -->"
REPL_PROMPTS = ("sqlite> ",)
SETUP_MARK = "pip install"

KNOWN_FAILURES: dict[str, str] = {
    # "file:line" of a block's opening fence -> why it fails (reported to its author).
}
"""Blocks excused for now: the rest of their document still runs and must pass."""

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown file."""

    file: Path
    line: int
    """Line number of the opening fence (1-based)."""
    language: str
    code: str
    skip_marked: bool

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"


def blocks_of(path: Path) -> list[Block]:
    """Every fenced code block, with its language and whether a skip comment precedes it."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        fence, info = match["fence"], match["info"].strip()
        language = info.split()[0].lower() if info else ""
        previous = next((ln.strip() for ln in reversed(lines[:index]) if ln.strip()), "")
        body: list[str] = []
        start = index
        index += 1
        while index < len(lines) and not (
            lines[index].strip().startswith(fence[0] * len(fence))
            and lines[index].strip().strip(fence[0]) == ""
        ):
            body.append(lines[index])
            index += 1
        index += 1
        found.append(
            Block(path, start + 1, language, "\n".join(body) + "\n", previous == SKIP_MARK)
        )
    return found


def skip_reason(block: Block) -> str | None:
    """Why a block is not run (None: it runs)."""
    if block.skip_marked:
        return "marked with " + SKIP_MARK
    if block.language == "sql":
        return "SQL examples are run by test_sql_docs"
    if block.language not in PYTHON | SHELL | CONSOLE:
        return "not code"
    if SETUP_MARK in block.code:
        return "a set-up command (pip install)"
    if block.language not in PYTHON and shutil.which("sqlite3") is None and re.search(
        r"(^|[\s|;&(])sqlite3\s", block.code
    ):
        return "needs the sqlite3 command line, which is not installed"
    return None


def console_commands(code: str) -> str:
    """The commands of a console transcript.

    ``$ `` lines (and their ``\\`` continuations) are commands; lines after a
    command that start with an interactive prompt (``sqlite> ``) are fed to it
    as standard input; everything else is output.
    """
    commands: list[str] = []
    inputs: list[str] = []
    continuing = False

    def close_inputs() -> None:
        if inputs:
            commands[-1] += " <<'DOCS_TEST_INPUT'"
            commands.extend([*inputs, "DOCS_TEST_INPUT"])
            inputs.clear()

    for line in code.splitlines():
        if line.startswith("$ "):
            close_inputs()
            commands.append(line[2:])
            continuing = line.endswith("\\")
        elif continuing:
            commands.append(line)
            continuing = line.endswith("\\")
        elif commands and any(line.startswith(p) for p in REPL_PROMPTS):
            prompt = next(p for p in REPL_PROMPTS if line.startswith(p))
            inputs.append(line[len(prompt):])
    close_inputs()
    return "\n".join(commands) + "\n"


def shell_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PHASE_MEMORY_DB"}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env["COLUMNS"] = "160"
    env.setdefault("PYTHONIOENCODING", "utf-8")
    return env


def run_shell(block: Block, directory: Path) -> None:
    script = console_commands(block.code) if block.language in CONSOLE else block.code
    done = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=directory,
        stdin=subprocess.DEVNULL,
        env=shell_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(
            f"{block.where}: {block.language} block exited with {done.returncode}\n"
            f"--- script\n{script}--- stdout\n{done.stdout}--- stderr\n{done.stderr}",
            pytrace=False,
        )
    assert "Traceback" not in done.stderr, f"{block.where}: traceback\n{done.stderr}"


def run_python(block: Block, namespace: dict[str, Any]) -> None:
    source = block.code
    try:
        if source.lstrip().startswith(">>>"):
            test = doctest.DocTestParser().get_doctest(
                source, namespace, block.where, str(block.file), block.line
            )
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
            runner.run(test, clear_globs=False)
            if runner.failures:
                raise AssertionError(f"{runner.failures} doctest example(s) failed")
        else:
            # Padding keeps the line numbers of tracebacks those of the Markdown file.
            # dont_inherit: this module's ``from __future__ import annotations`` must not
            # leak into the docs (LangGraph reads a TypedDict state's annotations).
            code = compile(
                "\n" * block.line + source, str(block.file), "exec", dont_inherit=True
            )
            exec(code, namespace)
    except Exception:
        pytest.fail(
            f"{block.where}: python block failed\n{source}\n{traceback.format_exc()}",
            pytrace=False,
        )


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_run(doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every runnable block of one document, in order, in one temporary directory."""
    runnable = [b for b in blocks_of(doc) if skip_reason(b) is None]
    if not runnable:
        pytest.skip(f"{doc.name} has no runnable examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PHASE_MEMORY_DB", raising=False)
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    excused: list[str] = []
    for block in runnable:
        try:
            if block.language in PYTHON:
                run_python(block, namespace)
            else:
                run_shell(block, tmp_path)
        except pytest.fail.Exception:
            if block.where not in KNOWN_FAILURES:
                raise
            excused.append(f"{block.where}: {KNOWN_FAILURES[block.where]}")
    if excused:
        pytest.xfail("; ".join(excused))


def test_readme_keeps_its_two_setup_commands() -> None:
    """The README's set-up commands are the ones a fresh machine needs, word for word."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert (
        "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/phase-memory demo"
        in readme
    )
    assert (
        "python3 -m venv .venv && .venv/bin/pip install -e '.[dev,postgres,langgraph,mcp]' "
        "&& .venv/bin/python -m pytest" in readme
    )
    setup = [b for b in blocks_of(ROOT / "README.md") if SETUP_MARK in b.code]
    assert len(setup) == 2


def test_the_harness_reads_fences_and_skips_by_its_rules(tmp_path: Path) -> None:
    doc = tmp_path / "x.md"
    doc.write_text(
        "text\n\n```python\nx = 1\n```\n\n<!-- docs-test: skip -->\n```bash\nexit 1\n```\n"
        "```sql\nSELECT 1;\n```\n````console\n$ echo a \\\n  b\na b\n````\n"
        "```bash\npip install foo\n```\n```text\nplain\n```\n",
        encoding="utf-8",
    )
    blocks = blocks_of(doc)
    assert [b.language for b in blocks] == ["python", "bash", "sql", "console", "bash", "text"]
    assert [skip_reason(b) is None for b in blocks] == [True, False, False, True, False, False]
    assert console_commands(blocks[3].code) == "echo a \\\n  b\n"
    session = "$ sqlite3 m.db\nsqlite> .tables\nnodes\nsqlite> SELECT 1;\n1\n$ ls\n"
    assert console_commands(session) == (
        "sqlite3 m.db <<'DOCS_TEST_INPUT'\n.tables\nSELECT 1;\nDOCS_TEST_INPUT\nls\n"
    )
    assert blocks[0].line == 3


# --- docs/cli.md against the Typer app ------------------------------------------------

CLI_DOC = ROOT / "docs" / "cli.md"
_INVOCATION = re.compile(r"(?:^|[\s;|&(`])phase-memory((?:[ \t]+[^\s;|&)`#]+)*)")
_GLOBAL_WITH_VALUE = {"--db"}
_GLOBAL_FLAGS = {"--debug", "--version", "--help", "-h"}


def app_commands() -> set[str]:
    from phase_memory.cli.docgen import command_paths

    return {" ".join(path) for path, _ in command_paths()}


def invoked_command(arguments: str, groups: set[str]) -> str | None:
    """The command an invocation names (``events append``), skipping global options."""
    words = arguments.split()
    while words and words[0].startswith("-"):
        option = words.pop(0)
        if option in _GLOBAL_WITH_VALUE and words:
            words.pop(0)
        elif option not in _GLOBAL_FLAGS and "=" not in option:
            return f"<unknown global option {option}>"
    if not words:
        return None
    if words[0] in groups and len(words) > 1:
        return f"{words[0]} {words[1]}"
    return words[0]


def test_cli_reference_is_generated_from_the_app() -> None:
    from phase_memory.cli.docgen import replace_reference

    text = CLI_DOC.read_text(encoding="utf-8")
    assert replace_reference(text) == text, (
        "docs/cli.md is out of date: run python -m phase_memory.cli.docgen docs/cli.md"
    )


def test_cli_doc_and_app_name_the_same_commands() -> None:
    text = CLI_DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"^### `phase-memory ([a-z ]+)`$", text, flags=re.M))
    assert documented == app_commands()


def test_every_command_used_in_the_docs_exists() -> None:
    commands = app_commands()
    groups = {c.split()[0] for c in commands if " " in c}
    unknown = []
    for doc in DOCS:
        for block in blocks_of(doc):
            if block.language not in SHELL | CONSOLE:
                continue
            for match in _INVOCATION.finditer(block.code):
                named = invoked_command(match[1], groups)
                if named is not None and named not in commands and named not in groups:
                    unknown.append(f"{block.where}: phase-memory{match[1]}")
    assert not unknown, "commands that do not exist:\n" + "\n".join(unknown)

"""The command lines quoted in README.md, docs/*.md and the benchmarks' usage docstrings.

A snippet is a fenced shell line (a trailing backslash continues it) or an inline code span;
:func:`commands_in` finds the ``fastscan SUB ...``, ``python benchmarks/NAME.py ...`` and
``python -m fastscan.X ...`` commands in one. Nothing here runs a command.
"""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BENCHMARKS = REPO / "benchmarks"

#: Inline code that starts like a command but quotes a program's output line.
MESSAGES = (
    "fastscan service stopped",
    "fastscan service listening",
    "fastscan serve:",
    "python -m fastscan.sim.ioc stopped",
)
#: Shell words that end one command (the next may start after them).
SEPARATORS = {"&&", "||", ";", "|", "&", "(", ")", ">", ">>", "2>", "2>&1", "<"}


@dataclass(frozen=True)
class Command:
    """One command line found in a document."""

    where: str  # "README.md:123"
    program: str  # "fastscan", "benchmarks/bench_fly.py" or "-m fastscan.sim.ioc"
    args: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.where}: {self.program} {' '.join(self.args)}".rstrip()


def snippets(text: str) -> Iterator[tuple[int, str]]:
    """(line number, shell text) of each fenced shell line and each inline code span.

    Fenced ``python`` blocks are skipped; a fenced line ending in a backslash continues on the
    next line. Inline spans may wrap over lines, as Markdown allows.
    """
    prose = []
    fence: str | None = None
    lines = text.splitlines()
    pending, pending_line = "", 0
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = None if fence is not None else (stripped[3:].strip() or "text")
            prose.append("")
            continue
        if fence is None:
            prose.append(line)
            continue
        prose.append("")
        if fence == "python":
            continue
        if not pending:
            pending_line = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        yield pending_line, pending + stripped
        pending = ""
    body = "\n".join(prose)
    for match in re.finditer(r"(?<!`)`([^`]+)`(?!`)", body):
        yield body.count("\n", 0, match.start()) + 1, " ".join(match.group(1).split())


def words(shell: str) -> list[str]:
    """The shell words of ``shell``, comments dropped (plain split if the quotes don't pair)."""
    try:
        lexer = shlex.shlex(shell, posix=True, punctuation_chars=False)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        return list(lexer)
    except ValueError:  # an inline span cut off mid-quote
        return shell.split()


def _program_at(tokens: list[str], i: int) -> tuple[str, int] | None:
    """The program starting at ``tokens[i]`` and the index of its first argument, or None."""
    token = tokens[i]
    if token == "fastscan":
        return "fastscan", i + 1
    if token in ("python", "python3") and i + 1 < len(tokens):
        nxt = tokens[i + 1]
        if nxt == "-m" and i + 2 < len(tokens) and tokens[i + 2].startswith("fastscan."):
            if tokens[i + 2].endswith("."):  # `python -m fastscan...`: any module
                return None
            return f"-m {tokens[i + 2]}", i + 3
        if re.fullmatch(r"benchmarks/[A-Z_]+\.py", nxt):  # `benchmarks/NAME.py`: any benchmark
            return None
        if nxt.startswith("benchmarks/") and nxt.endswith(".py"):
            return nxt, i + 2
        return None
    name = token.removeprefix("benchmarks/")
    if name.endswith(".py") and "/" not in name and (BENCHMARKS / name).is_file():
        if i == 0 or tokens[i - 1] not in ("python", "python3"):  # `bench_x.py --flag` in prose
            return f"benchmarks/{name}", i + 1
    return None


def commands_in(shell: str, where: str) -> Iterator[Command]:
    """The commands in one snippet of shell text."""
    if shell.startswith(MESSAGES):
        return
    tokens = words(shell)
    i = 0
    while i < len(tokens):
        found = _program_at(tokens, i)
        if found is None:
            i += 1
            continue
        program, start = found
        end = start
        while end < len(tokens) and tokens[end] not in SEPARATORS:
            end += 1
        yield Command(where, program, tuple(tokens[start:end]))
        i = end


def docstring_snippets(doc: str) -> Iterator[str]:
    """Shell text of a module docstring: indented command lines and ````code```` spans."""
    pending = ""
    for line in doc.splitlines():
        stripped = line.strip()
        if line.startswith("    ") and (pending or re.match(r"(python3? |fastscan )", stripped)):
            if stripped.endswith("\\"):
                pending += stripped[:-1] + " "
                continue
            yield pending + stripped
        pending = ""
    for match in re.finditer(r"``([^`]+)``", doc):
        yield " ".join(match.group(1).split())


def doc_commands() -> list[Command]:
    """Every command in README.md and docs/*.md."""
    found = []
    for path in DOCS:
        for line, shell in snippets(path.read_text(encoding="utf-8")):
            found.extend(commands_in(shell, f"{path.relative_to(REPO)}:{line}"))
    return found


def usage_commands() -> list[Command]:
    """Every command in the module docstrings of the benchmarks, the packages and examples/."""
    found = []
    for folder in ("benchmarks", "fastscan", "sim", "plans", "devices", "examples"):
        for path in sorted((REPO / folder).rglob("*.py")):
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            for shell in docstring_snippets(doc):
                found.extend(commands_in(shell, str(path.relative_to(REPO))))
    return found

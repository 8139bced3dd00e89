"""The command lines in README.md and docs/*.md use only flags their programs accept.

Every ``fastscan SUB ...``, ``python benchmarks/NAME.py ...`` and ``python -m fastscan.X ...``
in a fenced block or an inline code span is split into words, its program's argparse parser is
built in this process (``build_parser()``; nothing is run) and each ``--flag`` (and each
sub-command name) is looked up in it; a value is checked only where the parser lists the
values an option or positional argument takes (``choices``). Placeholders (``PATH``, ``DIR``,
``...``) are not checked. A flag the parser only accepts as an abbreviation counts as wrong:
the next option with the same prefix would break the copied line. The benchmarks' usage
docstrings are checked the same way.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import re
import shlex
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest

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
#: ``python -m`` modules whose parser lives in another module.
MODULE_PARSERS = {
    "fastscan.sim.ioc": "fastscan.sim.ioc_cli",
    "fastscan.service": "fastscan.service.cli",
}


@dataclass(frozen=True)
class Command:
    """One command line found in a document."""

    where: str  # "README.md:123"
    program: str  # "fastscan", "benchmarks/bench_fly.py" or "-m fastscan.sim.ioc"
    args: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.where}: {self.program} {' '.join(self.args)}".rstrip()


# -- finding the commands ---------------------------------------------------------------------


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
    """Every command in the docstrings of the benchmarks and of the ``python -m`` modules."""
    found = []
    for folder in ("benchmarks", "fastscan", "sim", "plans"):
        for path in sorted((REPO / folder).rglob("*.py")):
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            for shell in docstring_snippets(doc):
                found.extend(commands_in(shell, str(path.relative_to(REPO))))
    return found


# -- the parsers ------------------------------------------------------------------------------


def _benchmark_module(name: str) -> ModuleType:
    """``benchmarks/NAME`` imported under a private name (``main`` is not run)."""
    path = BENCHMARKS / name
    module_name = f"_docs_benchmark_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up while it loads
    path_before = list(sys.path)
    sys.path.insert(0, str(BENCHMARKS))  # as for a script: they import each other
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[module_name]
        sys.path[:] = path_before
    return module


@cache
def parser_for(program: str) -> argparse.ArgumentParser:
    """The parser ``program`` parses its command line with, built without running it."""
    if program == "fastscan":
        from fastscan.cli import build_parser

        return build_parser()
    if program.startswith("-m "):
        name = program[3:]
        module = importlib.import_module(MODULE_PARSERS.get(name, name))
    else:
        module = _benchmark_module(program.removeprefix("benchmarks/"))
    factory: Callable[[], argparse.ArgumentParser] | None = getattr(module, "build_parser", None)
    if factory is None:
        raise AssertionError(f"{program} has no build_parser(): the docs' flags can't be checked")
    return factory()


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


#: Benchmarks that hand their arguments on to another program (see :func:`_wrapped`).
WRAPPERS = ("benchmarks/evaluate_default_model.py", "benchmarks/evaluate_noise_cost.py")


def _wrapped(program: str, args: tuple[str, ...]) -> tuple[str, tuple[str, ...]] | None:
    """The program and arguments a wrapper benchmark hands its arguments on to."""
    if program == WRAPPERS[0]:  # MODEL [--late NAME@C] EVALUATE-ARGS
        rest = args[1:]
        rest = rest[2:] if [t.strip("[") for t in rest[:1]] == ["--late"] else rest
        return "fastscan", ("evaluate", *rest)
    if program == WRAPPERS[1]:  # COST EVALUATE-ARGS | COST --xrf XRF-ARGS
        rest = args[1:]
        if rest[:1] == ("--xrf",):
            return "benchmarks/bench_xrf.py", rest[1:]
        return "fastscan", ("evaluate", *rest)
    return None


def _flag_names(token: str) -> list[str]:
    """The option names in one word: ``--a=1`` -> ``--a``; ``[--a|--b]`` -> both."""
    token = token.strip("[](),")
    names = []
    for part in token.split("|"):
        name = part.split("=", 1)[0]
        if re.fullmatch(r"--[A-Za-z][\w-]*|-[A-Za-z]", name):
            names.append(name)
    return names


def _bad_choice(action: argparse.Action, value: str) -> str | None:
    """Why ``value`` (``a|b``: either) is not among ``action``'s choices, or None if it is."""
    if action.choices is None:
        return None
    name = action.option_strings[0] if action.option_strings else action.dest
    for alternative in value.strip("[](),").split("|"):
        if not alternative or "..." in alternative or re.fullmatch(r"[A-Z][A-Z0-9_]*", alternative):
            continue  # a placeholder
        converted = action.type(alternative) if action.type in (int, float) else alternative
        if converted not in action.choices:
            allowed = ", ".join(map(str, action.choices))
            return f"{name} {alternative!r} is not one of {allowed}"
    return None


def problems(command: Command) -> list[str]:
    """What in ``command`` its program's parser would not accept (empty: nothing).

    Checked: sub-command names, option names, and an option's or a positional argument's
    value where the parser lists the values it takes (argparse ``choices``).
    """
    program, args = command.program, command.args
    wrapped = _wrapped(program, args)
    if wrapped is not None:
        program, args = wrapped
    if program.startswith("benchmarks/") and not (REPO / program).is_file():
        return [f"{program}: no such benchmark"]
    if program.startswith("-m ") and importlib.util.find_spec(program[3:]) is None:
        return [f"python {program}: no such module"]
    parser = parser_for(program)
    label = program
    found = []
    subcommand_chosen = False
    expects: argparse.Action | None = None  # the option whose value comes next
    positionals = _positionals(parser)  # None once an option of several values leaves it open
    for token in args:
        names = _flag_names(token)
        if not names:
            subs = _subcommands(parser)
            bare = token.strip("[](),")
            if expects is not None:
                why = _bad_choice(expects, token)
            elif subs and not subcommand_chosen and not token.startswith("-") and bare != "...":
                if bare not in subs:
                    found.append(f"{label}: no sub-command {bare!r} (has {', '.join(subs)})")
                    return found
                parser, label, subcommand_chosen = subs[bare], f"{label} {bare}", True
                positionals, why = _positionals(parser), None
            elif positionals:  # the next positional argument
                why = _bad_choice(positionals.pop(0), token)
                positionals = positionals if not why else None
            else:
                why = None
            found.extend([f"{label}: {why}"] if why else [])
            expects = None
            continue
        expects = None
        for name in names:
            if name not in parser._option_string_actions:
                found.append(f"{label}: no option {name}")
                continue
            action = parser._option_string_actions[name]
            if "=" in token:
                why = _bad_choice(action, token.split("=", 1)[1])
                found.extend([f"{label}: {why}"] if why else [])
            elif action.nargs is None and len(names) == 1:
                expects = action
            elif action.nargs != 0:
                positionals = None
    return found


def _positionals(parser: argparse.ArgumentParser) -> list[argparse.Action] | None:
    """The positional arguments of one value each, up to the first of any other count."""
    out = []
    for action in parser._positionals._group_actions:
        if isinstance(action, argparse._SubParsersAction) or action.nargs is not None:
            break
        out.append(action)
    return out


# -- the tests --------------------------------------------------------------------------------

COMMANDS = doc_commands()
USAGES = usage_commands()


def test_the_docs_hold_commands_of_each_kind():
    programs = {c.program for c in COMMANDS}
    assert "fastscan" in programs
    assert "benchmarks/bench_beamtime.py" in programs
    assert "-m fastscan.sim.ioc" in programs
    assert len(COMMANDS) > 200


@pytest.mark.parametrize(
    "program", sorted({c.program for c in COMMANDS}), ids=lambda p: p.replace("/", "-")
)
def test_every_flag_in_the_docs_is_accepted(program):
    wrong = [f"{c}\n    -> {'; '.join(p)}" for c in COMMANDS if c.program == program
             for p in [problems(c)] if p]  # fmt: skip
    assert not wrong, "\n".join(wrong)


def test_every_flag_in_a_usage_docstring_is_accepted():
    assert len(USAGES) > 100
    wrong = [f"{c}\n    -> {'; '.join(p)}" for c in USAGES for p in [problems(c)] if p]
    assert not wrong, "\n".join(wrong)


#: Programs of other projects whose flags the docs quote.
EXTERNAL = {"pip", "ruff", "start-re-manager", "qserver"}
#: Options of the wrapper benchmarks (``evaluate_default_model.py``, ``evaluate_noise_cost.py``).
WRAPPER_OPTIONS = {"--late", "--xrf"}


def every_option() -> set[str]:
    """Every option of every program the docs name, sub-commands' included."""
    names = set(WRAPPER_OPTIONS)
    todo = [parser_for(p) for p in {c.program for c in COMMANDS} if p not in WRAPPERS]
    while todo:
        parser = todo.pop()
        names.update(parser._option_string_actions)
        todo.extend(_subcommands(parser).values())
    return names


def unknown_options(shell: str, known: set[str]) -> list[str]:
    """The ``--options`` in a snippet that names no program, that no program has."""
    tokens = [w for w in words(shell) if not re.fullmatch(r"[A-Z_]+=\S*", w)]
    if not tokens or tokens[0] in EXTERNAL or list(commands_in(shell, "")):
        return []
    return [n for w in tokens for n in _flag_names(w) if n.startswith("--") and n not in known]


def test_every_option_named_without_its_program_exists():
    known = every_option()
    wrong = [f"{path.relative_to(REPO)}:{line}: {name} in `{shell}`"
             for path in DOCS for line, shell in snippets(path.read_text(encoding="utf-8"))
             for name in unknown_options(shell, known)]  # fmt: skip
    assert not wrong, "\n".join(wrong)


def test_an_option_no_program_has_is_caught():
    known = every_option()
    assert unknown_options("--max-coverage 0.5", known) == []
    assert unknown_options("--max-covrage 0.5", known) == ["--max-covrage"]
    assert unknown_options("ruff format --check .", known) == []


def test_a_made_up_flag_is_caught():
    line = "Run `fastscan simulate --phantom flakes --no-such-flag 3 --out DIR` first."
    (command,) = [c for _, s in snippets(line) for c in commands_in(s, "fake.md:1")]
    assert command.program == "fastscan"
    assert problems(command) == ["fastscan simulate: no option --no-such-flag"]


def test_a_made_up_flag_in_a_fenced_benchmark_line_is_caught():
    text = "```bash\npython benchmarks/bench_fly.py --size 256 \\\n  --decisons 80   # typo\n```\n"
    (command,) = [c for _, s in snippets(text) for c in commands_in(s, "fake.md:2")]
    assert command.args == ("--size", "256", "--decisons", "80")
    assert problems(command) == ["benchmarks/bench_fly.py: no option --decisons"]


def test_a_value_the_option_does_not_take_is_caught():
    (command,) = commands_in("fastscan evaluate --set validaton --seeds 0,1", "fake.md:1")
    (problem,) = problems(command)
    assert problem.startswith("fastscan evaluate: --set 'validaton' is not one of test, ")
    (either,) = commands_in("python benchmarks/bench_fly.py --threads on|off", "fake.md:1")
    (placeholder,) = commands_in("fastscan evaluate --set NAME", "fake.md:1")
    assert problems(either) == problems(placeholder) == []
    (positional,) = commands_in("python benchmarks/bench_quality.py clasic --seed 0", "fake.md:1")
    assert problems(positional) == [
        "benchmarks/bench_quality.py: which 'clasic' is not one of wse2, others, classic"
    ]


def test_an_abbreviated_flag_counts_as_wrong():
    (command,) = commands_in("fastscan evaluate --strat fast", "fake.md:1")
    assert problems(command) == ["fastscan evaluate: no option --strat"]


def test_a_missing_program_is_caught_and_a_placeholder_is_not_a_program():
    (bench,) = commands_in("python benchmarks/bench_nothing.py --out DIR", "fake.md:1")
    (module,) = commands_in("python -m fastscan.nothing --out DIR", "fake.md:1")
    assert problems(bench) == ["benchmarks/bench_nothing.py: no such benchmark"]
    assert problems(module) == ["python -m fastscan.nothing: no such module"]
    assert list(commands_in("python benchmarks/NAME.py ... or python -m fastscan...", "")) == []


def test_a_made_up_sub_command_is_caught():
    (command,) = commands_in("fastscan replay --out DIR", "fake.md:1")
    assert problems(command)[0].startswith("fastscan: no sub-command 'replay'")


def test_a_wrapper_benchmark_is_checked_against_the_program_it_runs():
    good = "python benchmarks/evaluate_default_model.py l2 --late l1@0.1 --set wse2 --out OUT"
    bad = "python benchmarks/evaluate_noise_cost.py 0 --xrf --only quality --no-such 1"
    assert problems(next(commands_in(good, "fake.md:1"))) == []
    assert problems(next(commands_in(bad, "fake.md:1"))) == [
        "benchmarks/bench_xrf.py: no option --no-such"
    ]


def test_quoted_output_and_python_blocks_are_not_commands():
    text = (
        "`fastscan service stopped (SIGTERM); 2 sessions saved`\n\n"
        "```python\nfrom fastscan import Sampler\n```\n"
    )
    assert [c for _, s in snippets(text) for c in commands_in(s, "fake.md:1")] == []

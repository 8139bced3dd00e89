"""What in a quoted command its program's argparse parser would not accept.

Each program's parser is built in this process from its ``build_parser()`` (``fastscan`` from
:func:`fastscan.cli.build_parser`); nothing is run. :func:`problems` checks sub-command names,
option names (an abbreviation counts as wrong: the next option with the same prefix would
break the copied line) and, where the parser lists them (``choices``), the values of options and
positional arguments. Placeholders (``PATH``, ``DIR``, ``...``) are not checked.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Callable
from functools import cache
from types import ModuleType

from doc_snippets import BENCHMARKS, REPO, Command

#: ``python -m`` modules whose parser lives in another module.
MODULE_PARSERS = {
    "fastscan.sim.ioc": "fastscan.sim.ioc_cli",
    "fastscan.service": "fastscan.service.cli",
}


def _benchmark_module(name: str) -> ModuleType:
    """``benchmarks/NAME`` imported under a private name (``main`` is not run)."""
    path = BENCHMARKS / name
    module_name = f"_docs_benchmark_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up while it loads
    path_before = list(sys.path)
    environ_before = dict(os.environ)
    sys.path.insert(0, str(BENCHMARKS))  # as for a script: they import each other
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[module_name]
        sys.path[:] = path_before
        # restored: the EPICS benchmarks set their Channel Access settings at import (ophyd
        # starts pyepics' CA context when it is imported), and subprocesses that later tests
        # start (the queue server, IOCs) inherit os.environ
        os.environ.clear()
        os.environ.update(environ_before)
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


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
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


def flag_names(token: str) -> list[str]:
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
        names = flag_names(token)
        if not names:
            subs = subcommands(parser)
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

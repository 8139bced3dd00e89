"""The command lines in README.md and docs/*.md use only flags their programs accept.

Every ``fastscan SUB ...``, ``python benchmarks/NAME.py ...`` and ``python -m fastscan.X ...``
in a fenced block or an inline code span (:mod:`doc_snippets`) is checked against its
program's argparse parser, built in this process (:mod:`doc_parsers`; nothing is run): each
``--flag``, each sub-command name, and a value where the parser lists the values it takes
(``choices``). Placeholders (``PATH``, ``DIR``, ``...``) are not checked; an abbreviated flag
counts as wrong. The benchmarks' usage docstrings are checked the same way.
"""

from __future__ import annotations

import os
import re

import pytest
from doc_parsers import WRAPPERS, _benchmark_module, flag_names, parser_for, problems, subcommands
from doc_snippets import DOCS, REPO, commands_in, doc_commands, snippets, usage_commands, words

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
        todo.extend(subcommands(parser).values())
    return names


def unknown_options(shell: str, known: set[str]) -> list[str]:
    """The ``--options`` in a snippet that names no program, that no program has."""
    tokens = [w for w in words(shell) if not re.fullmatch(r"[A-Z_]+=\S*", w)]
    if not tokens or tokens[0] in EXTERNAL or list(commands_in(shell, "")):
        return []
    return [n for w in tokens for n in flag_names(w) if n.startswith("--") and n not in known]


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


def test_reading_a_parser_leaves_the_environment_alone():
    # bench_bluesky sets its EPICS settings at import; later subprocess tests (the queue
    # server, IOCs) inherit os.environ and must keep this session's settings
    before = dict(os.environ)
    _benchmark_module("bench_bluesky.py")
    assert dict(os.environ) == before

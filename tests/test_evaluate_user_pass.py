"""Leftovers of ux24's pass over ``fastscan evaluate`` (helper ux24b): one seed, huge sizes.

Each test is one thing a new user met: a single seed printed as ``±0.0000`` (and written
as a std of 0) as if the seeds agreed, and ``--size`` without an upper bound (a huge size
builds huge phantoms before anything else happens).
"""

from __future__ import annotations

import csv
import json
import math

import pytest

from fastscan.compare.evaluate_report import curves_title, format_summary, spread
from fastscan.compare.verdicts import reference_verdicts, summarize


def _rows(seeds: tuple[int, ...]) -> list[dict]:
    """Rows of one validation image at one coverage, fast against halton and random."""
    return [
        {"image": "brick", "kind": "texture", "strategy": name, "seed": seed, "coverage": 0.2,
         "n_measured": 100, "nrmse": base + 0.01 * seed, "nrmse_own": base, "seconds": 1.0}
        for name, base in (("fast", 0.2), ("halton", 0.3), ("random", 0.35))
        for seed in seeds
    ]  # fmt: skip


# ---------------------------------------------------------------- one seed: no fake spread
def test_one_seed_has_no_spread_rather_than_a_std_of_zero() -> None:
    line = summarize(_rows((0,)))[0]
    assert line["n_seeds"] == 1
    assert math.isnan(line["fast_std"]) and math.isnan(line["halton_std"])
    assert math.isnan(line["ratio_fast_std"]) and line["ratio_fast_seeds"] == [pytest.approx(2 / 3)]
    two = summarize(_rows((0, 1)))[0]  # two seeds do have a spread
    assert two["fast_std"] == pytest.approx(0.01 / math.sqrt(2))


def test_the_table_says_n1_instead_of_plus_minus_zero() -> None:
    text = format_summary(summarize(_rows((0,))))
    assert "±" not in text.split("\n", 1)[1]  # only the title's 'mean±std' is left
    assert "0.0000" not in text and "0.000 " not in text
    assert text.splitlines()[1] == (
        "(n=1): a single seed has no spread over seeds; give --seeds two or more to see one"
    )
    row = next(ln for ln in text.splitlines() if ln.startswith("brick"))
    assert row.split() == ["brick", "20%", "0.2000", "(n=1)", "0.3000", "(n=1)", "0.3500",
                           "(n=1)", "halton", "0.667", "(n=1)", "ok"]  # fmt: skip
    matrix = text.splitlines()[text.splitlines().index("") + 3]
    assert matrix.split() == ["brick", "texture", "0.667", "(n=1)"]
    two = format_summary(summarize(_rows((0, 1))))
    assert "(n=1)" not in two and "0.2050±0.0071" in two and "0.672±0.008 ok" in two


def test_the_reference_line_and_the_figure_titles_say_one_seed() -> None:
    one = summarize([{**r, "image": "wse2"} for r in _rows((0,))])
    reference = reference_verdicts(one, {0.2: 0.5})
    text = format_summary(one, reference=reference)
    assert "  PASS  20%: 0.2000 (n=1) (FAST 0.500, target 0.400)" in text.splitlines()
    assert curves_title(one) == "NRMSE vs coverage (one seed: no band)"
    assert curves_title(summarize(_rows((0, 1)))) == (
        "NRMSE vs coverage (mean over seeds; band: seed range)"
    )
    assert spread(0.5, 0.0) == "0.5000±0.0000"  # a real zero spread (two equal seeds) stays


def test_summary_csv_leaves_the_std_of_one_seed_empty(tmp_path, capsys) -> None:
    from fastscan.cli import main
    from fastscan.compare.verdicts import write_rows

    rows = write_rows(_rows((0,)), tmp_path / "rows.csv")
    assert main(["evaluate", "--from-rows", str(rows), "--out", str(tmp_path / "out")]) == 0
    assert "(n=1)" in capsys.readouterr().out
    with (tmp_path / "out" / "summary.csv").open() as handle:
        (line,) = list(csv.DictReader(handle))
    assert line["fast_std"] == line["halton_std"] == line["ratio_fast_std"] == ""
    assert float(line["fast_mean"]) == pytest.approx(0.2)
    saved = json.loads((tmp_path / "out" / "verdicts.json").read_text())
    assert saved["summary"][0]["fast_std"] is None


# ---------------------------------------------------------------- --size: an upper bound
@pytest.mark.parametrize("value", ["2049", "100000"])
def test_evaluate_refuses_a_size_above_the_bound_naming_both(value, capsys) -> None:
    from fastscan.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "--set", "validation", "--size", value])
    assert stop.value.code == 2
    assert (
        f"argument --size: expected an integer from 32 to 2048 (pixels of the long side), "
        f"got '{value}'"
    ) in capsys.readouterr().err


def test_image_sets_refuse_a_size_above_the_bound() -> None:
    from fastscan.compare.imagesets import MAX_SIZE, image_set

    assert MAX_SIZE == 2048
    for name in ("validation", "sparse", "noisy", "noisy-check", "stop-check"):
        with pytest.raises(ValueError) as err:
            image_set(name, 4096, names=())
        assert str(err.value) == (
            "size must be an integer from 32 to 2048 (pixels of the long side), got 4096"
        )


# ---------------------------------------------------------------- a reader that goes away


def test_a_closed_pipe_ends_the_command_quietly() -> None:
    # `fastscan evaluate ... | head`: the reader leaves after one line; the command used to
    # end with 'fastscan: error: [Errno 32] Broken pipe' (exit 2)
    import subprocess
    import sys

    code = (
        "import sys, fastscan.cli as cli\n"
        "def chatty(args):\n"
        "    for i in range(200_000):\n"
        "        print(f'line {i} of a long table')\n"
        "cli._run_evaluate = chatty\n"
        "sys.exit(cli.main(['evaluate']))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().startswith("line 0")
    proc.stdout.close()
    stderr = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141
    assert "Broken pipe" not in stderr and "Traceback" not in stderr and "Exception" not in stderr

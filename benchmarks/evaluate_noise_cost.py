"""``fastscan evaluate`` (or ``bench_xrf.py``) with another ``COUNT_NOISE_COST`` (issue 12).

Usage (from the repository root; VALIDATION images only, never ``--set test``)::

    python benchmarks/evaluate_noise_cost.py 0 --set noisy --seeds 0,1,2 --jobs 1 \\
        --strategies fast --out OUT
    python benchmarks/evaluate_noise_cost.py 0 --xrf --only quality --noise poisson \\
        --seeds 1000,1001,1002

The first argument replaces :data:`fastscan.sampler.COUNT_NOISE_COST` in this process, the
weight of the net-gain noise cost of every sampler given ``noise_cost=None`` (0: off; the
default is 2.0); the rest are ``fastscan evaluate`` arguments, or after ``--xrf``
``benchmarks/bench_xrf.py`` arguments. ``--jobs 1`` keeps the patch in this process.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import fastscan.sampler as sampler
from fastscan.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_default_model import wrapper_args  # the wrappers' shared checks

USAGE = "usage: evaluate_noise_cost.py COST [fastscan evaluate args | --xrf bench_xrf args]"


def run(argv: list[str]) -> int:
    """Set ``COUNT_NOISE_COST`` to ``argv[0]`` and run the rest."""
    if not wrapper_args(argv, USAGE, __doc__):
        return 0
    try:
        cost = float(argv[0])
    except ValueError:
        cost = float("nan")
    if not cost >= 0.0:
        raise SystemExit(f"COST must be a number >= 0, got {argv[0]!r}")
    sampler.COUNT_NOISE_COST = cost
    rest = argv[1:]
    if rest[:1] == ["--xrf"]:
        sys.argv = ["bench_xrf.py", *rest[1:]]
        runpy.run_path(str(Path(__file__).with_name("bench_xrf.py")), run_name="__main__")
        return 0
    return main(["evaluate", *rest])


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))

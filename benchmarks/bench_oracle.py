"""Oracle bound of the ERD on WSe2: the sampler with the ERD replaced by the TRUE RD.

Usage (from the repository root)::

    python benchmarks/bench_oracle.py                    # L1 and L2 oracles, seed 0, 5 and 10 %
    python benchmarks/bench_oracle.py --power 2 --seeds 0,1 --coverages 0.05,0.1,0.2
    python benchmarks/bench_oracle.py --model l2         # no oracle: the model, same loop

Before every ERD batch the sampler's ERD map (and its tile maxima) is overwritten
with :func:`fastscan.erd.target.rd_target` of every unmeasured pixel, computed from
the ground truth and the sampler's current reconstruction (``power`` 1: SLADS's
L1 RD, the model's training target; 2: the L2 one). Everything else is the
default :class:`fastscan.Sampler` (1 % Halton start, batch 50, spread 0.5, no
motion model), so the figure bounds what a better ERD model alone can reach.
NRMSE is the IDW (k = 10) reconstruction from the chosen points, as in
``fastscan evaluate``. The oracle costs one RD map per batch: minutes per seed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from fastscan import Sampler
from fastscan.compare.evaluate import idw_from_points
from fastscan.compare.imagesets import wse2_image
from fastscan.erd.target import rd_target
from fastscan.metrics import nrmse
from fastscan.selection import TileMax

#: default --data: ../shared/data relative to the repository
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def oracle_erd(sampler: Sampler, truth: np.ndarray, power: float) -> None:
    """Overwrite ``sampler``'s ERD with the true RD of every unmeasured pixel."""
    unmeasured = ~np.asarray(sampler.measured_mask)
    d1 = ndimage.distance_transform_edt(unmeasured)[unmeasured]
    pixels = np.argwhere(unmeasured)
    erd = np.full(truth.shape, -1.0)
    erd[unmeasured] = rd_target(truth, sampler.reconstruction, pixels, d1, power=power)
    sampler._erd[:] = erd  # the selection reads the ERD map and its tile maxima only
    sampler._tiles = TileMax(sampler._erd)


def run(truth: np.ndarray, seed: int, coverages: list[float], power: float | None, model) -> list:
    """NRMSE at each coverage; ``power`` None runs the model (no oracle)."""
    replace = None if power is None else (lambda sampler: oracle_erd(sampler, truth, power))
    return scan_loop(truth, seed, coverages, model, replace)


def scan_loop(truth: np.ndarray, seed: int, coverages: list[float], model, replace=None) -> list:
    """NRMSE of the IDW reconstruction at each coverage of a default Sampler's scan of
    ``truth`` with ``model``; ``replace(sampler)``, if given, overwrites its ERD map before
    every batch once the map exists (an oracle, another estimator)."""
    sampler = Sampler(
        truth.shape, batch_size=50, seed=seed, max_coverage=max(coverages),
        change_tolerance=None, model=model,
    )  # fmt: skip
    scores: dict[float, float] = {}
    while not sampler.should_stop():
        if replace is not None and sampler.erd.any():
            replace(sampler)
        points = sampler.suggest()
        if len(points) == 0:
            break
        sampler.ingest(points, truth[points[:, 0], points[:, 1]])
        for c in coverages:
            if c not in scores and sampler.coverage >= c - 1e-9:
                mask = np.asarray(sampler.measured_mask)
                scores[c] = nrmse(truth, idw_from_points(mask, np.where(mask, truth, 0.0)))
    return [scores[c] for c in coverages]


def add_data_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--data``, the folder holding the WSe2 image (default :data:`DATA`).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The parser of a benchmark that scans WSe2.
    """
    parser.add_argument("--data", type=Path, default=DATA,
                        help="folder with wse2_darkfield_600x400.tif "
                        "(default ../shared/data relative to the repository)")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--power", type=float, action="append", help="oracle power(s); 1 and 2")
    parser.add_argument("--model", help="run this ERD model instead of an oracle")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--coverages", default="0.05,0.1")
    add_data_option(parser)
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    truth = np.asarray(wse2_image(args.data).truth, float)
    seeds = [int(s) for s in args.seeds.split(",")]
    coverages = sorted(float(c) for c in args.coverages.split(","))
    runs = [(f"model {args.model}", None)] if args.model else []
    if not args.model or args.power:
        runs += [(f"oracle L{p:g}", p) for p in (args.power or [1.0, 2.0])]
    for label, power in runs:
        start = time.perf_counter()
        scores = np.array([run(truth, s, coverages, power, args.model) for s in seeds])
        cells = "  ".join(
            f"{c:.0%}: {m:.4f}+-{sd:.4f}"
            for c, m, sd in zip(coverages, scores.mean(0), scores.std(0))
        )
        print(f"{label:<16} seeds {seeds}  {cells}  ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()

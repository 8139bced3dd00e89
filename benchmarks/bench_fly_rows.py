"""How many whole lines a fly scan needs to reach a fly raster's NRMSE, at best.

A diagnostic for short dwells, where every line costs about as much as its
readings and fast-fly can only win by flying fewer lines than the raster. For
each image and each target (the NRMSE of a fly raster of every 4th / every 2nd
row) it prints:

- ``oracle``: rows a greedy oracle needs, starting from fast-fly's coarse raster
  (every 8th row from row 2; every 4th for the every-2nd target) and adding, one
  at a time, the row that lowers the true error most (it sees the image: a
  bound on what choosing rows adaptively can save, not a strategy);
- ``columns``: the NRMSE of fly rasters of every k-th *column*, k = 2..8, with
  their line counts: on anisotropic images (structure varying more along the
  columns than along the rows) columns reach the row target with far fewer lines.

The error is that of linear interpolation along the columns between flown rows
(what whole rows leave to reconstruct; the targets are scored the same way);
``columns`` uses the benchmarks' best of IDW and linear.

Usage (from the repository root; validation images only, the test set is for
final figures)::

    python benchmarks/bench_fly_rows.py --images all
    python benchmarks/bench_fly_rows.py --images brick,clock --no-columns
    python benchmarks/bench_fly_rows.py --set sparse --no-columns
"""

from __future__ import annotations

import argparse
import sys
from itertools import pairwise

import numpy as np
from bench_beamtime import best_nrmse

from fastscan.compare.imagesets import image_set


def gap_error(truth: np.ndarray, above: int, below: int) -> float:
    """Squared error of linear interpolation between rows ``above`` and ``below``.

    ``above`` -1 or ``below`` n_rows: an edge run, filled with the nearest row.
    """
    n_rows = truth.shape[0]
    if above < 0:
        return float(((truth[:below] - truth[below]) ** 2).sum())
    if below >= n_rows:
        return float(((truth[above + 1 :] - truth[above]) ** 2).sum())
    if below - above < 2:
        return 0.0
    t = (np.arange(above + 1, below)[:, None] - above) / (below - above)
    fill = truth[above] + (truth[below] - truth[above]) * t
    return float(((truth[above + 1 : below] - fill) ** 2).sum())


def rows_error(truth: np.ndarray, rows: set[int]) -> float:
    ends = [-1, *sorted(rows), truth.shape[0]]
    return sum(gap_error(truth, a, b) for a, b in pairwise(ends))


def oracle_rows(truth: np.ndarray, start: set[int], target: float) -> int:
    """Rows after greedily adding the best row to ``start`` until the error <= target."""
    rows = set(start)
    n_rows = truth.shape[0]
    while rows_error(truth, rows) > target + 1e-9 and len(rows) < n_rows:
        ends = [-1, *sorted(rows), n_rows]
        best = (-1.0, -1)
        for a, b in pairwise(ends):
            base = gap_error(truth, a, b)
            for r in range(a + 1, b):
                gain = base - gap_error(truth, a, r) - gap_error(truth, r, b)
                if gain > best[0]:
                    best = (gain, r)
        rows.add(best[1])
    return len(rows)


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", default="all", help="image names (a,b,...) or all")
    p.add_argument("--set", default="validation", choices=("validation", "sparse"),
                   help="the set the images come from (never the test set)")  # fmt: skip
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--no-columns", action="store_true", help="skip the column rasters")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    names = None if args.images == "all" else tuple(args.images.split(","))
    for name, image in image_set(args.set, args.size, names=names).items():
        if image.noise != "none":
            continue
        truth = np.asarray(image.truth, float)
        n_rows, n_cols = truth.shape
        parts = []
        for k, coarse in ((4, 8), (2, 4)):
            target = rows_error(truth, set(range(0, n_rows, k)))
            need = oracle_rows(truth, set(range(2, n_rows, coarse)), target)
            parts.append(f"every {k} rows: raster {len(range(0, n_rows, k))} rows, oracle {need}")
        print(f"{name:20s} {n_rows}x{n_cols}  " + "; ".join(parts), flush=True)
        if not args.no_columns:
            rows = {}
            for k in (4, 2):
                mask = np.zeros(truth.shape, bool)
                mask[::k] = True
                rows[k] = best_nrmse(truth, mask)
            cols = []
            for k in range(2, 9):
                mask = np.zeros(truth.shape, bool)
                mask[:, ::k] = True
                cols.append(f"{k}:{best_nrmse(truth, mask):.4f}")
            print(f"{'':20s} NRMSE rows every 4th {rows[4]:.4f} ({len(range(0, n_rows, 4))} "
                  f"lines), 2nd {rows[2]:.4f}; columns every k-th ({n_cols} / k lines) "
                  + " ".join(cols), flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

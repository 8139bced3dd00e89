"""``fastscan evaluate``'s validation table with Sampler knobs changed (issue 12 tuning).

Usage (from the repository root)::

    python benchmarks/bench_initial.py                                   # the defaults
    python benchmarks/bench_initial.py --set initial_pattern=halton-lattice
    python benchmarks/bench_initial.py --set initial_pattern=halton-lattice --set lattice=6 \\
        --images brick,gravel,motorcycle,motorcycle-crop,motorcycle-corner
    python benchmarks/bench_initial.py --set initial_pattern=halton-lattice --snap-level 1

Each cell is the ``fast`` strategy's mean NRMSE over the seeds divided by the best static
pattern's (raster, random, Halton), exactly as ``fastscan evaluate --set validation`` scores
them (:func:`fastscan.compare.evaluate.evaluate_images`: motion-aware batches, IDW k = 10 of
the chosen points); ``--set KEY=VALUE`` overrides a :class:`fastscan.Sampler` argument of the
``fast`` strategy; ``--snap-level`` the lattice level the "halton-lattice" start is moved
onto (``fastscan.sampler.INITIAL_SNAP_LEVEL``, 0: the 5 % raster). The VALIDATION images
only (WSe2 resized, from ``--data``); never a test image. The last lines count the images at
or below the best static pattern per coverage and give the median and worst ratio.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import fastscan.sampler
from fastscan.compare.evaluate import DEFAULT_COVERAGES, evaluate_images
from fastscan.compare.imagesets import validation_set

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
STATIC = ("raster", "random", "halton")


def _value(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # a bare string such as halton-lattice


def knobs_from(parser: argparse.ArgumentParser, items: list[str]) -> dict[str, object]:
    """Sampler knobs from ``--set KEY=VALUE`` items (values read as JSON where they parse)."""
    knobs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set needs KEY=VALUE, got {item!r}")
        knobs[key] = _value(value)
    return knobs


def _with_knobs(knobs: dict[str, object]) -> None:
    """Make every Sampler the fast strategy builds take ``knobs`` (this process only)."""
    base = fastscan.sampler.Sampler

    class Tuned(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **{**kwargs, **knobs})

    fastscan.sampler.Sampler = Tuned  # fastscan.strategies imports it at call time


def ratio_table(rows: list[dict], coverages: tuple[float, ...]) -> dict[str, list[float]]:
    """image -> [fast mean / best static mean] per coverage (means over the seeds)."""
    means: dict[tuple[str, str, float], list[float]] = {}
    for row in rows:
        key = (row["image"], row["strategy"], round(row["coverage"], 6))
        means.setdefault(key, []).append(row["nrmse"])
    images = dict.fromkeys(row["image"] for row in rows)
    table = {}
    for image in images:
        table[image] = [
            float(np.mean(means[(image, "fast", round(c, 6))]))
            / min(float(np.mean(means[(image, s, round(c, 6))])) for s in STATIC)
            for c in coverages
        ]
    return table


def print_ratio_summary(columns: np.ndarray) -> None:
    """Per coverage (column) of an images x coverages ratio table: how many images are at
    or below the best static pattern, the median ratio and the worst."""
    print("at or below:", " ".join(f"{int((col <= 1.0).sum())}/{len(col)}" for col in columns.T))
    print("median:", " ".join(f"{v:.3f}" for v in np.median(columns, 0)))
    print("worst: ", " ".join(f"{v:.3f}" for v in columns.max(0)))


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--images", help="comma-separated validation images (default: all)")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--snap-level", type=int, help="level of the halton-lattice start")
    parser.add_argument("--json", help="write the ratio table here")
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    knobs = knobs_from(parser, args.set)
    _with_knobs(knobs)
    if args.snap_level is not None:
        fastscan.sampler.INITIAL_SNAP_LEVEL = args.snap_level
    names = None if not args.images else tuple(args.images.split(","))
    images = validation_set(args.size, data=args.data, names=names)
    seeds = tuple(int(s) for s in args.seeds.split(","))
    coverages = tuple(DEFAULT_COVERAGES)
    rows = evaluate_images(images, strategies=("fast", *STATIC), seeds=seeds, coverages=coverages)
    table = ratio_table(rows, coverages)
    print(f"knobs {knobs or 'defaults'}, seeds {list(seeds)}; fast / best static")
    print(f"{'image':20s}" + "".join(f"{c:>8.0%}" for c in coverages))
    for image, ratios in table.items():
        print(f"{image:20s}" + "".join(f"{r:8.3f}" for r in ratios))
    print_ratio_summary(np.array(list(table.values())))
    if args.json:
        Path(args.json).write_text(json.dumps({"knobs": knobs, "table": table}, indent=1))


if __name__ == "__main__":
    main()

"""The ``fast`` strategy with Sampler knobs changed, on VALIDATION images only (issue 12).

Usage (from the repository root)::

    python benchmarks/bench_erd_floor.py --set model=default --set erd_floor=0
    python benchmarks/bench_erd_floor.py --set model=l2 --set erd_floor=0 \\
        --images xrf-ti-1000,xrf-cu-1000 --coverages 0.05,0.1,0.2,0.3,0.4,0.5
    python benchmarks/bench_erd_floor.py --set model=l2 --set erd_floor=0.5 --images wse2
    python benchmarks/bench_erd_floor.py --wse2 --set model=l2   # the native 600 x 400 image
    python benchmarks/bench_erd_floor.py --image-set sparse --set erd_floor='"auto"'

Scored exactly as ``fastscan evaluate --set validation`` scores (motion-aware batches, IDW
k = 10 of the chosen points, mean over the seeds): each line gives the ``fast`` strategy's
mean NRMSE per coverage and its ratio to the best static pattern (raster, random, Halton).
``--set KEY=VALUE`` overrides a :class:`fastscan.Sampler` argument of ``fast`` (``model``
included). The static patterns do not depend on the knobs, so their rows are kept in
``--static-cache`` (a JSON file) and reused, or taken from ``--static-rows`` (the rows.csv
of a ``fastscan evaluate`` run over the same images, seeds and coverages). ``--wse2`` scores
the native 600 x 400 WSe2 image (``fastscan evaluate --set wse2``), ``--image-set sparse`` the
sparse validation images (``fastscan evaluate --set sparse``); the test set is never read
here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from bench_initial import (  # the --set parsing, the knob patch and the summary lines
    STATIC,
    _with_knobs,
    knobs_from,
    print_ratio_summary,
)

from fastscan.compare.evaluate import DEFAULT_COVERAGES, evaluate_images
from fastscan.compare.imagesets import image_set, sparse_set, validation_set
from fastscan.compare.verdicts import read_rows

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def _static_rows(images: dict, seeds: tuple, coverages: tuple, cache: Path | None) -> list:
    """Rows of the static patterns, from ``cache`` where it has them."""
    stored = json.loads(cache.read_text()) if cache is not None and cache.is_file() else {}
    rows = []
    for name, image in images.items():
        for seed in seeds:
            key = f"{name}|{image.truth.shape}|{seed}|{','.join(map(str, coverages))}"
            if key not in stored:
                stored[key] = evaluate_images(
                    {name: image}, strategies=STATIC, seeds=(seed,), coverages=coverages
                )
            rows += stored[key]
    if cache is not None:
        cache.write_text(json.dumps(stored))
    return rows


def _means(rows: list, strategy: str, image: str, coverages: tuple) -> list[float]:
    out = []
    for c in coverages:
        values = [
            r["nrmse"]
            for r in rows
            if r["image"] == image and r["strategy"] == strategy and abs(r["coverage"] - c) < 1e-9
        ]
        out.append(float(np.mean(values)))
    return out


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--images", help="comma-separated validation images (default: all)")
    parser.add_argument(
        "--image-set",
        default="validation",
        choices=("validation", "sparse"),
        help="the validation set or the sparse validation images (imagesets.sparse_set)",
    )
    parser.add_argument("--wse2", action="store_true", help="the native 600 x 400 WSe2 image")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--coverages", default=",".join(map(str, DEFAULT_COVERAGES)))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--static-cache", default="bench_erd_floor_static.json")
    parser.add_argument("--static-rows", help="rows.csv of `fastscan evaluate` to take them from")
    parser.add_argument("--json", help="write the table here")
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    knobs = knobs_from(parser, args.set)
    if args.wse2:
        images = image_set("wse2", args.size, args.data)
    else:
        names = None if not args.images else tuple(args.images.split(","))
        if args.image_set == "sparse":
            images = sparse_set(args.size, names=names)
        else:
            images = validation_set(args.size, data=args.data, names=names)
    seeds = tuple(int(s) for s in args.seeds.split(","))
    coverages = tuple(float(c) for c in args.coverages.split(","))
    cache = Path(args.static_cache) if args.static_cache else None
    if args.static_rows:
        static = [r for r in read_rows(args.static_rows) if r["strategy"] in STATIC]
    else:
        static = _static_rows(images, seeds, coverages, cache)
    _with_knobs(knobs)
    rows = evaluate_images(images, strategies=("fast",), seeds=seeds, coverages=coverages)
    table = {}
    print(f"knobs {knobs or 'defaults'}, seeds {list(seeds)}; fast NRMSE (fast / best static)")
    print(f"{'image':20s}" + "".join(f"{c:>16.0%}" for c in coverages))
    for name in images:
        fast = _means(rows, "fast", name, coverages)
        best = np.min([_means(static, s, name, coverages) for s in STATIC], axis=0)
        ratios = (np.array(fast) / best).tolist()
        table[name] = {"nrmse": fast, "best_static": best.tolist(), "ratio": ratios}
        cells = "".join(f"{f:8.4f} ({r:5.3f})" for f, r in zip(fast, ratios))
        print(f"{name:20s}{cells}")
    print_ratio_summary(np.array([line["ratio"] for line in table.values()]))
    if args.json:
        Path(args.json).write_text(json.dumps({"knobs": knobs, "table": table}, indent=1))


if __name__ == "__main__":
    main()

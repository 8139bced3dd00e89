"""Validation table of the ``fast`` sampler against raster, random and Halton (issue 12).

Usage (from the repository root)::

    python benchmarks/bench_grace.py                         # every validation image, seeds 0-2
    python benchmarks/bench_grace.py --images wse2,brick --seeds 0
    python benchmarks/bench_grace.py --set fill=0 --json before.json   # a Sampler knob
    python benchmarks/bench_grace.py --compare before.json after.json  # two saved runs

Every strategy is scored the same way: NRMSE (``fastscan.metrics.nrmse``) of an
IDW reconstruction (k = 10, :func:`fastscan.reconstruction.idw_reconstruction`)
of exactly the points it chose, at 5, 10, 20 and 30 % coverage. ``fast`` is the
default :class:`fastscan.Sampler` with ERD-only batches (no motion model, as in
``bench_quality.py``); the seed is the initial-pattern / route seed and the static
patterns' random seed. The table gives mean +- std over seeds and the ratio of
fast's mean to the best static pattern's mean (< 1: fast wins).

Images: the VALIDATION set only (WSe2 at 600 x 400 from ``--data``; scikit-image
brick, cell, clock, page, coffee, gravel, shepp_logan_phantom, hubble_deep_field;
fastscan phantoms flakes, particles, grains with seed 100), grey, scaled to
[0, 100], long side 256 px (anti-aliased). Never a test image.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from bench_oracle import add_data_option  # the WSe2 benchmarks' --data

from fastscan import Sampler
from fastscan.metrics import nrmse
from fastscan.reconstruction import idw_reconstruction
from fastscan.replay import SimulatedDetector, make_sampler, replay

COVERAGES = (0.05, 0.1, 0.2, 0.3)
STATIC = ("raster", "random", "halton")
SKIMAGE = (
    "brick", "cell", "clock", "page", "coffee", "gravel", "shepp_logan_phantom",
    "hubble_deep_field",
)  # fmt: skip
PHANTOMS = ("flakes", "particles", "grains")
PHANTOM_SEED = 100
LONG_SIDE = 256


def _prepare(image: np.ndarray, long_side: int | None = LONG_SIDE) -> np.ndarray:
    """Grey (alpha dropped), long side ``long_side`` (anti-aliased), scaled to [0, 100]."""
    from skimage import color, transform

    image = np.asarray(image, float)
    if image.ndim == 3:
        image = color.rgb2gray(image[..., :3])
    if long_side is not None and max(image.shape) != long_side:
        factor = long_side / max(image.shape)
        shape = tuple(max(2, int(round(s * factor))) for s in image.shape)
        image = transform.resize(image, shape, anti_aliasing=True)
    span = image.max() - image.min()
    return 100.0 * (image - image.min()) / (span if span > 0 else 1.0)


def validation_images(names: list[str] | None, data: Path) -> dict[str, np.ndarray]:
    """The validation images by name (``wse2``, scikit-image names, phantom names)."""
    from skimage import data as skdata

    from fastscan.phantoms import make_phantom

    wanted = names or ["wse2", *SKIMAGE, *PHANTOMS]
    images = {}
    for name in wanted:
        if name == "wse2":
            import tifffile

            raw = tifffile.imread(data / "wse2_darkfield_600x400.tif")
            images[name] = _prepare(raw, None)
        elif name in SKIMAGE:
            images[name] = _prepare(getattr(skdata, name)())
        elif name in PHANTOMS:
            images[name] = _prepare(make_phantom(name, (256, 256), seed=PHANTOM_SEED))
        else:
            allowed = ["wse2", *SKIMAGE, *PHANTOMS]
            raise SystemExit(f"unknown image {name!r}; allowed: {', '.join(allowed)}")
    return images


def _score(image: np.ndarray, snapshot) -> float:
    points = np.argwhere(snapshot.measured_mask)
    recon = idw_reconstruction(image.shape, points, image[points[:, 0], points[:, 1]], k=10)
    return nrmse(image, recon)


def run_fast(image: np.ndarray, seed: int, coverages, knobs: dict) -> list[float]:
    """fast's own reconstruction: bit-identical to ``idw_reconstruction`` of its points
    (``tests/test_exact_updates.py``), so it is scored directly."""
    sampler = Sampler(
        image.shape, batch_size=50, seed=seed, max_coverage=max(coverages),
        change_tolerance=None, **knobs,
    )  # fmt: skip
    snaps = replay(sampler, SimulatedDetector(image), coverages)
    return [nrmse(image, s.reconstruction) for s in snaps]


def run_static(image: np.ndarray, name: str, seed: int, coverages) -> list[float]:
    scores = []
    runs = [[c] for c in coverages] if name == "raster" else [list(coverages)]
    for covs in runs:
        sampler = make_sampler(name, image.shape, max_coverage=max(covs), seed=seed)
        scores += [_score(image, s) for s in replay(sampler, SimulatedDetector(image), covs)]
    return scores


def _parse_knobs(items: list[str]) -> dict:
    knobs = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            knobs[key] = json.loads(value)
        except json.JSONDecodeError:
            knobs[key] = value
    return knobs


def table(results: dict, coverages) -> list[str]:
    """Lines of the table and its summary from ``{image: {strategy: [[per cov] per seed]}}``."""
    lines = []
    ratios = {c: [] for c in coverages}
    losses = []
    head = f"{'image':<20}{'cov':>5} {'fast':>15} {'best static':>22} {'ratio':>7}"
    lines.append(head)
    for name, res in results.items():
        fast = np.array(res["fast"])
        for i, c in enumerate(coverages):
            statics = {s: np.mean(np.array(res[s])[:, i]) for s in STATIC}
            best = min(statics, key=statics.get)
            ratio = fast[:, i].mean() / statics[best]
            ratios[c].append(ratio)
            if ratio > 1:
                losses.append(f"{name}@{c:.0%}")
            lines.append(
                f"{name:<20}{c:>5.0%} {fast[:, i].mean():>8.4f}+-{fast[:, i].std():.4f} "
                f"{best:>8} {statics[best]:>8.4f} {ratio:>7.3f}{' LOSS' if ratio > 1 else ''}"
            )
    lines.append("summary: ratio fast / best static (mean over seeds); < 1 wins")
    for c in coverages:
        r = np.array(ratios[c])
        lines.append(
            f"  {c:>4.0%}: median {np.median(r):.3f}  geo-mean {np.exp(np.log(r).mean()):.3f}  "
            f"worst {r.max():.3f}  median win {1 / np.median(r):.2f}x"
        )
    lines.append(f"  losses ({len(losses)}): {', '.join(losses) or 'none'}")
    return lines


def compare(before: dict, after: dict) -> list[str]:
    coverages = before["coverages"]
    lines = [f"{'image':<20}{'cov':>5} {'before':>8} {'after':>8} {'change':>8}"]
    for name in before["results"]:
        if name not in after["results"]:
            continue
        b = np.array(before["results"][name]["fast"]).mean(0)
        a = np.array(after["results"][name]["fast"]).mean(0)
        for i, c in enumerate(coverages):
            lines.append(f"{name:<20}{c:>5.0%} {b[i]:>8.4f} {a[i]:>8.4f} {a[i] / b[i] - 1:>+8.1%}")
    return lines


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", help="comma-separated names (default: all validation)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--coverages", default=",".join(str(c) for c in COVERAGES))
    parser.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE",
                        help="Sampler keyword for the fast strategy (JSON value)")  # fmt: skip
    add_data_option(parser)
    parser.add_argument("--json", type=Path, help="save the scores here")
    parser.add_argument("--static", type=Path, help="reuse the static scores of this json")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"))
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    if args.compare:
        before, after = (json.loads(p.read_text()) for p in args.compare)
        print("\n".join(compare(before, after)))
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    coverages = [float(c) for c in args.coverages.split(",")]
    knobs = _parse_knobs(args.set)
    cached = json.loads(args.static.read_text())["results"] if args.static else {}
    images = validation_images(args.images.split(",") if args.images else None, args.data)
    results = {}
    start = time.perf_counter()
    for name, image in images.items():
        res = {"fast": [run_fast(image, seed, coverages, knobs) for seed in seeds]}
        for s in STATIC:
            old = cached.get(name, {}).get(s)
            if old is not None and len(old) == len(seeds):
                res[s] = old
            else:
                res[s] = [run_static(image, s, seed, coverages) for seed in seeds]
        results[name] = res
        print(f"  {name} {image.shape} done ({time.perf_counter() - start:.0f} s)", flush=True)
    print(f"knobs {knobs or 'default'}; seeds {seeds}")
    print("\n".join(table(results, coverages)))
    if args.json:
        payload = {"knobs": knobs, "seeds": seeds, "coverages": coverages, "results": results}
        args.json.write_text(json.dumps(payload))


if __name__ == "__main__":
    main()

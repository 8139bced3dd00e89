"""Checks of the ERD's count-noise cost (issue 12; docs/erd-model.md, "the gain net of the noise").

Usage (from the repository root; validation images only)::

    python benchmarks/diagnose_noise_cost.py bands --cost 0      # fast-sum on the XRF maps
    python benchmarks/diagnose_noise_cost.py bands --cost 2
    python benchmarks/diagnose_noise_cost.py wse2 --data ../shared/data
    python benchmarks/diagnose_noise_cost.py latency --cost 0

``--cost`` sets :data:`fastscan.sampler.COUNT_NOISE_COST` (the weight of every sampler given
``noise_cost=None``; no sampler here is given one), so the same command runs on an older
checkout too (main ``94ee45a``: the division form, off at 0).

* ``bands``: ``fast-sum`` (one channel, the summed Poisson counts of ``make_xrf_maps`` seeds
  1000-1002, 200 x 300, batch 50) to 20 %: the share of the points taken after the late switch
  that fall on the Au coating bands (Au above 31 counts) and on the particles (Ca above 40 or
  Ti above 26), the share of the map each covers, and the points' mean summed counts (means
  over the seeds).
* ``wse2``: WSe2 (600 x 400, integer counts up to about 3 x 10^5) to 30 % with the cost at
  ``--cost`` and at 0: the SHA-256 of the measured points of each and whether they are equal.
* ``latency``: CPU time of each ingest of 50 Poisson readings plus the next suggest on a
  400 x 600 flakes phantom (seed 105) at 4-100 counts, from 16 to 22 % (past the switch), with
  the cost at 0 and at ``--cost``, twice each.
"""

from __future__ import annotations

import argparse
import hashlib
import time

import numpy as np

import fastscan.sampler as sampler_module
from fastscan import Sampler
from fastscan.compare.imagesets import image_set
from fastscan.phantoms import make_phantom, make_xrf_maps


def bands(cost: float) -> None:
    sampler_module.COUNT_NOISE_COST = cost
    shares = []
    for seed in (1000, 1001, 1002):
        maps, _ = make_xrf_maps((200, 300), seed=seed)
        coating = maps[4] > 31.0
        particles = (maps[1] > 40.0) | (maps[2] > 26.0)
        rng = np.random.default_rng(seed + 7)  # bench_xrf.py's noise stream
        sampler = Sampler(maps.shape[1:], seed=0, max_coverage=0.2, change_tolerance=None)
        late = []
        while len(points := sampler.suggest(min(50, 12000 - sampler.n_measured))):
            counts = rng.poisson(maps[:, points[:, 0], points[:, 1]].T).astype(float).sum(1)
            if sampler._late_done:
                late.append(points)
            sampler.ingest(points, counts)
        rows, cols = np.concatenate(late).T
        shares.append(
            (
                coating[rows, cols].mean(),
                particles[rows, cols].mean(),
                maps.sum(0)[rows, cols].mean(),
                coating.mean(),
                particles.mean(),
            )
        )
    on_bands, on_particles, counts, band_area, particle_area = np.mean(shares, 0)
    print(
        f"cost {cost:g}: points after the late switch on the Au bands {on_bands:.3f} (area "
        f"{band_area:.3f}), on the particles {on_particles:.3f} (area {particle_area:.3f}), "
        f"mean summed counts {counts:.0f}"
    )


def wse2(cost: float, data: str) -> None:
    image = image_set("wse2", data=data)["wse2"]
    hashes, points = [], []
    for value in (cost, 0.0):
        sampler_module.COUNT_NOISE_COST = value
        sampler = Sampler(image.truth.shape, seed=0, max_coverage=0.3)
        detector = image.detector(0)
        while len(batch := sampler.suggest()):
            sampler.ingest(batch, detector.measure(batch))
        points.append(sampler.measured_points)
        hashes.append(hashlib.sha256(sampler.measured_points.tobytes()).hexdigest()[:16])
        print(f"cost {value:g}: counts {sampler._counting}, points {hashes[-1]}")
    print("equal:", bool(np.array_equal(*points)))


def latency(cost: float) -> None:
    image = 4.0 + 96.0 * make_phantom("flakes", (400, 600), seed=105)
    for value in (0.0, cost, 0.0, cost):
        sampler_module.COUNT_NOISE_COST = value
        rng = np.random.default_rng(0)
        sampler = Sampler(image.shape, seed=0, max_coverage=0.3, change_tolerance=None)
        points = sampler.suggest()
        while sampler.coverage < 0.16:  # not timed
            sampler.ingest(points, rng.poisson(image[points[:, 0], points[:, 1]]).astype(float))
            points = sampler.suggest(1000 if sampler.coverage < 0.14 else 50)
        times = []
        while sampler.coverage < 0.22:
            counts = rng.poisson(image[points[:, 0], points[:, 1]]).astype(float)
            start = time.process_time()
            sampler.ingest(points, counts)
            points = sampler.suggest()
            times.append(time.process_time() - start)
        ms = 1e3 * np.array(times)
        print(
            f"cost {value:g}: {len(ms)} decisions, CPU median {np.median(ms):.2f} ms, "
            f"p95 {np.percentile(ms, 95):.2f} ms",
            flush=True,
        )


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("check", choices=("bands", "wse2", "latency"))
    parser.add_argument("--cost", type=float, default=2.0, help="COUNT_NOISE_COST to set")
    parser.add_argument("--data", default="../shared/data", help="folder holding WSe2")
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    if not (np.isfinite(args.cost) and args.cost >= 0):
        parser.error(f"--cost must be a finite number >= 0, got {args.cost!r}")
    if args.check == "bands":
        bands(args.cost)
    elif args.check == "wse2":
        wse2(args.cost, args.data)
    else:
        latency(args.cost)


if __name__ == "__main__":
    main()

"""Where the NRMSE of a noisy count image sits, by strategy and coverage (issue 12).

Usage (from the repository root; noisy VALIDATION images only)::

    python benchmarks/diagnose_noisy.py flakes-101-c25,particles-100-c100 --seed 0

For each strategy and coverage the evaluation's IDW (k = 10) error is split into the
measured pixels' part (their raw Poisson readings) and the unmeasured pixels' part, and the
latter again into interpolation (the same points with noise-free values) and noise. Also:
the share of points on edges (the top 20 % of the truth's gradient), the mean expected
counts at the points (Poisson variance = mean) and the distance of unmeasured pixels to
the nearest point. MSE parts are sums over their pixels divided by all pixels (they add up).
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy import ndimage

import fastscan.sampler as sampler_module
from fastscan.compare.evaluate import _motion, idw_from_points
from fastscan.compare.imagesets import noisy_set
from fastscan.replay import make_sampler, replay
from fastscan.strategies import STRATEGIES


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("images", help="comma-separated names of the noisy set")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--coverages", default="0.1,0.2,0.3")
    p.add_argument("--strategies", default="fast,halton,raster,random")
    p.add_argument("--cost", type=float, default=None, help="COUNT_NOISE_COST (default: as is)")
    return p


def main() -> None:
    p = build_parser()
    args = p.parse_args()
    if args.cost is not None:
        sampler_module.COUNT_NOISE_COST = args.cost
    covs = tuple(float(c) for c in args.coverages.split(","))
    for name, image in noisy_set(256, tuple(args.images.split(","))).items():
        truth = image.truth
        grad = ndimage.gaussian_gradient_magnitude(truth, 1.0)
        edge = grad > np.quantile(grad, 0.8)
        print(f"== {name}: mean {truth.mean():.1f} counts, seed {args.seed}")
        for strategy in args.strategies.split(","):
            fresh = STRATEGIES[strategy].fresh_per_coverage
            for run in [[c] for c in covs] if fresh else [list(covs)]:
                sampler = make_sampler(
                    strategy, truth.shape, max_coverage=max(run), batch_size=50,
                    seed=args.seed, model=None, motion=_motion(), coverages=covs,
                )  # fmt: skip
                for snap in replay(sampler, image.detector(args.seed), run, change_tolerance=None):
                    report(strategy, snap, truth, edge)


def report(strategy: str, snap, truth: np.ndarray, edge: np.ndarray) -> None:
    mask = snap.measured_mask
    err = (idw_from_points(mask, snap.measured_image) - truth) ** 2
    interp = (idw_from_points(mask, np.where(mask, truth, 0.0)) - truth) ** 2
    n = truth.size
    measured, unmeasured, clean = err[mask].sum() / n, err[~mask].sum() / n, interp[~mask].sum() / n
    dist = ndimage.distance_transform_edt(~mask)[~mask]
    print(
        f"{strategy:7s} {snap.coverage:.2f}  RMSE/range {np.sqrt(err.mean()) / np.ptp(truth):.4f}  "
        f"MSE measured {measured:5.2f} unmeasured {unmeasured:5.2f} (interpolation {clean:5.2f}, "
        f"noise {unmeasured - clean:5.2f})  on edges {mask[edge].sum() / mask.sum():.2f}  "
        f"counts at points {truth[mask].mean():5.1f}  distance p50/p95 "
        f"{np.median(dist):.2f}/{np.quantile(dist, 0.95):.2f}",
        flush=True,
    )


if __name__ == "__main__":
    main()

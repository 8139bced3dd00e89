"""How well can the six SLADS features rank the true L2 RD on WSe2? (issue 12 diagnostic)

Usage (from the repository root)::

    python benchmarks/bench_erd_ceiling.py                  # ranking: default, l2, in-domain fit
    python benchmarks/bench_erd_ceiling.py --models l2,my.npz --loop   # and the scan itself
    python benchmarks/bench_erd_ceiling.py --rich [--loop]  # six against fourteen inputs

States are those the ``l2`` model's own scan of WSe2 (scaled to [0, 100]) reaches
at 2, 5 and 10 % coverage (seed 1). For every unmeasured pixel the true L2 RD
(:func:`fastscan.erd.target.rd_target`, ``power=2``) is compared with each
model's prediction: Spearman's rho, and ``top1%``, the true RD of the model's
top 1 % of pixels over the true RD of the best 1 % (1 is the oracle's choice).

``in-domain`` is the ceiling of the six features: a gradient-boosted regressor
(scikit-learn) fitted ON WSe2, on the states of seed 0's ``l2`` scan (1.2 to 30 %),
with the same log1p features and L2 target. With ``--loop`` the sampler is
run (seeds 1 and 2, as ``benchmarks/bench_oracle.py`` runs it) with that
regressor as its ERD, next to ``l2``: an in-domain six-feature model in the loop.
With ``--rich`` the in-domain fit (100 boosting rounds) is made with the six
inputs and with eight more of the reconstruction (:func:`rich_inputs`), ranked
on seed 1's states; ``--loop`` then scans seed 1 to 10 % with each, the ERD map
replaced before every batch as ``bench_oracle.py`` does (slow: the inputs of
every unmeasured pixel are recomputed each batch, about 20 min on a loaded 2-core machine).
WSe2 is a validation image; nothing here is shipped.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from fastscan import Sampler
from fastscan.compare.imagesets import wse2_image
from fastscan.erd.estimator import ERDModel, load_model
from fastscan.erd.target import rd_target
from fastscan.features import compute_features

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_oracle import add_data_option, run  # the oracle benchmark's --data and scan loop


def _l2_scan_states(truth: np.ndarray, seed: int, coverages: list[float]):
    """Yield (coverage, mask, pixels, features, reconstruction, L2 RD) of the states the
    ``l2`` scan reaches at ``coverages``."""
    sampler = Sampler(
        truth.shape, batch_size=50, seed=seed, max_coverage=max(coverages) + 0.01,
        change_tolerance=None, model="l2",
    )  # fmt: skip
    left = sorted(coverages)
    while left:
        points = sampler.suggest()
        if len(points) == 0:
            break
        sampler.ingest(points, truth[points[:, 0], points[:, 1]])
        if sampler.coverage >= left[0]:
            mask = np.array(sampler.measured_mask)
            pixels, features, recon = compute_features(mask, truth)
            rd = rd_target(truth, recon, pixels, features[:, 2], power=2.0)
            yield left.pop(0), mask, pixels, features, recon, rd


def scan_states(truth: np.ndarray, seed: int, coverages: list[float]) -> list[tuple]:
    """(coverage, features, L2 RD) of the states the ``l2`` scan reaches at ``coverages``."""
    return [
        (coverage, features, rd)
        for coverage, _, _, features, _, rd in _l2_scan_states(truth, seed, coverages)
    ]


def rich_inputs(mask: np.ndarray, recon: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Eight more inputs of each pixel: the reconstruction, its Gaussian gradient magnitude
    and local deviation at sigma 2, 4 and 8, and the local sample density (15 x 15)."""
    from scipy import ndimage

    rows, cols = pixels[:, 0], pixels[:, 1]
    out = [recon[rows, cols]]
    for sigma in (2.0, 4.0, 8.0):
        out.append(ndimage.gaussian_gradient_magnitude(recon, sigma)[rows, cols])
        mean = ndimage.gaussian_filter(recon, sigma)
        var = ndimage.gaussian_filter(recon**2, sigma) - mean**2
        out.append(np.sqrt(np.maximum(var, 0.0))[rows, cols])
    out.append(ndimage.uniform_filter(mask.astype(float), 15)[rows, cols])
    return np.log1p(np.maximum(np.stack(out, 1), 0.0))


def rich_states(truth: np.ndarray, seed: int, coverages: list[float]) -> list[tuple]:
    """(coverage, six log1p inputs, eight rich inputs, L2 RD) of the ``l2`` scan's states."""
    return [
        (coverage, np.log1p(features), rich_inputs(mask, recon, pixels), rd)
        for coverage, mask, pixels, features, recon, rd in _l2_scan_states(truth, seed, coverages)
    ]


def rich_comparison(truth: np.ndarray, loop: bool) -> None:
    """Rank (and with ``loop`` scan) with in-domain fits of six and of fourteen inputs."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    from fastscan.compare.evaluate import idw_from_points
    from fastscan.metrics import nrmse
    from fastscan.selection import TileMax

    train = rich_states(truth, 0, [0.012, 0.02, 0.03, 0.05, 0.07, 0.1])
    test = rich_states(truth, 1, [0.02, 0.05, 0.1])
    for label, rich in (("six inputs", False), ("fourteen inputs", True)):

        def inputs(six: np.ndarray, more: np.ndarray, rich: bool = rich) -> np.ndarray:
            return np.hstack([six, more]) if rich else six

        x = np.concatenate([inputs(six, more) for _, six, more, _ in train])
        y = np.concatenate([rd for *_, rd in train])
        regressor = HistGradientBoostingRegressor(max_iter=100, random_state=0).fit(x, y)
        for coverage, six, more, rd in test:
            k = max(50, len(rd) // 100)
            top = np.argsort(regressor.predict(inputs(six, more)))[-k:]
            share = rd[top].sum() / np.sort(rd)[-k:].sum()
            print(f"in-domain, {label:<15} {coverage:4.0%}: top1% {share:.3f}", flush=True)
        if not loop:
            continue
        sampler = Sampler(
            truth.shape, batch_size=50, seed=1, max_coverage=0.1, change_tolerance=None,
            model="l2",
        )  # fmt: skip
        pending = [0.05, 0.1]
        while pending and not sampler.should_stop():
            if sampler.erd.any():  # the regressor's ERD of every unmeasured pixel
                mask = np.array(sampler.measured_mask)
                pixels, features, recon = compute_features(mask, truth)
                more = rich_inputs(mask, recon, pixels)
                erd = np.full(truth.shape, -1.0)
                erd[~mask] = np.maximum(regressor.predict(inputs(np.log1p(features), more)), 0)
                sampler._erd[:] = erd
                sampler._tiles = TileMax(sampler._erd)
            points = sampler.suggest()
            sampler.ingest(points, truth[points[:, 0], points[:, 1]])
            if sampler.coverage >= pending[0] - 1e-9:
                mask = np.array(sampler.measured_mask)
                score = nrmse(truth, idw_from_points(mask, np.where(mask, truth, 0.0)))
                print(f"loop in-domain, {label:<15} {pending.pop(0):4.0%}: NRMSE {score:.4f}")


def in_domain_model(truth: np.ndarray) -> ERDModel:
    """An ERDModel whose predict is a regressor fitted on WSe2's own states (seed 0)."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    states = scan_states(truth, 0, [0.012, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3])
    x = np.concatenate([np.log1p(features) for _, features, _ in states])
    y = np.concatenate([rd for _, _, rd in states])
    regressor = HistGradientBoostingRegressor(max_iter=300, random_state=0).fit(x, y)

    class InDomain(ERDModel):
        def predict(self, features: np.ndarray) -> np.ndarray:
            logged = np.log1p(np.maximum(features, 0.0))
            return np.maximum(regressor.predict(logged), 0.0)

    model = InDomain()
    model.__dict__.update(copy.deepcopy(load_model("l2").__dict__))  # grid and sparsity
    return model


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="default,l2", help="shipped names or .npz paths")
    parser.add_argument("--loop", action="store_true", help="also scan with the in-domain fit")
    parser.add_argument("--rich", action="store_true", help="six against fourteen inputs")
    add_data_option(parser)
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    truth = np.asarray(wse2_image(args.data).truth, float)
    truth = truth * (100.0 / truth.max())  # the unit the models were trained in
    if args.rich:
        rich_comparison(truth, args.loop)
        return
    models = {name: load_model(name) for name in args.models.split(",")}
    models["in-domain"] = in_domain_model(truth)
    for coverage, features, rd in scan_states(truth, 1, [0.02, 0.05, 0.1]):
        k = max(50, len(rd) // 100)
        best = np.sort(rd)[-k:].sum()
        cells = []
        for name, model in models.items():
            predicted = model.predict(features)
            top = np.argsort(predicted)[-k:]
            rho = spearmanr(predicted, rd)[0]
            cells.append(f"{Path(name).stem}: rho {rho:.3f} top1% {rd[top].sum() / best:.3f}")
        print(f"{coverage:4.0%}  " + "  ".join(cells), flush=True)
    if args.loop:
        for seed in (1, 2):
            for name in ("in-domain", "l2"):
                start = time.perf_counter()
                scores = run(truth, seed, [0.05, 0.1, 0.2], None, models.get(name, name))
                cells = "  ".join(f"{c:.0%}: {v:.4f}" for c, v in zip((0.05, 0.1, 0.2), scores))
                seconds = time.perf_counter() - start
                print(f"loop {name:<10} seed {seed}  {cells}  ({seconds:.0f} s)", flush=True)


if __name__ == "__main__":
    main()

"""Train the U-Net segmenter shipped as ``weights/unet_segmenter.pt`` (seeded, CPU, one thread).

Usage::

    python -m fastscan.models.train_segmenter --out fastscan/models/weights/unet_segmenter.pt

Data: crops of synthetic phantoms with known labels (flakes, particles,
grains; seeds 100-259, evaluation uses 1000+), at sizes from 128 to 420
pixels so features appear at many scales, under a random intensity curve and
optional read noise, measured under uniform, edge-concentrated, clustered and
real-sampler masks at 3-40 % coverage. Targets are the foreground
(label > 0) and the features' inner boundaries; the loss is binary
cross-entropy on both (boundaries weighted 3x). About 6 minutes on one idle CPU
thread with the defaults (the shipped file took 33 minutes wall on a shared,
heavily loaded 2-core machine).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fastscan.models import _data
from fastscan.models._train_cli import int_at_least, training_parser
from fastscan.models.torch_unet import DEFAULT_WEIGHTS, WEIGHTS_DIR

__all__ = ["SegmenterConfig", "build_states", "main", "segmentation_targets", "train"]


@dataclass(frozen=True)
class SegmenterConfig:
    """Everything that decides the shipped segmenter weights."""

    seed: int = 0
    n_phantoms: int = 160
    states_per_phantom: int = 5
    sampler_runs: int = 20
    state_size: int = 128
    phantom_sizes: tuple[int, int] = (128, 420)
    coverage_range: tuple[float, float] = (0.03, 0.4)
    noise_range: tuple[float, float] = (0.0, 0.03)
    val_fraction: float = 0.05
    mask_weights: tuple[float, float, float] = (0.3, 0.45, 0.25)  # uniform, edge, cluster
    boundary_weight: float = 3.0
    steps: int = 1200
    batch: int = 12
    crop: int = 96
    lr: float = 2e-3
    widths: tuple[int, int, int] = (16, 32, 48)
    first_seed: int = 100  # phantom seeds first_seed .. first_seed + n_phantoms - 1 (< 1000)


def segmentation_targets(labels: np.ndarray) -> np.ndarray:
    """(2, H, W) float32: foreground (label > 0) and the inner boundary of every feature."""
    from skimage.segmentation import find_boundaries

    foreground = labels > 0
    boundary = find_boundaries(labels, mode="inner") & foreground
    return np.stack([foreground, boundary]).astype(np.float32)


def _phantom(index: int, config: SegmenterConfig, rng: np.random.Generator):
    from fastscan.phantoms import PHANTOMS, make_phantom_with_labels

    seed = config.first_seed + index
    if seed >= min(_data.EVAL_PHANTOM_SEEDS):
        raise ValueError(f"training phantom seed {seed} would overlap the evaluation seeds")
    short = int(rng.integers(*config.phantom_sizes))
    long = int(short * rng.uniform(1.0, 1.5))
    shape = (short, long) if rng.random() < 0.5 else (long, short)
    image, labels = make_phantom_with_labels(PHANTOMS[index % len(PHANTOMS)], shape, seed=seed)
    return image, labels


def _state(truth: np.ndarray, labels: np.ndarray, mask: np.ndarray, noise: float, rng):
    measured = truth + noise * rng.standard_normal(truth.shape).astype(np.float32)
    return _data.state_inputs(measured, mask), segmentation_targets(labels)


def build_states(
    config: SegmenterConfig, log: Callable[[str], None] = print
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(inputs (N, 3, S, S), targets (N, 2, S, S), statistics) of the training states."""
    rng = np.random.default_rng([config.seed, 2])
    size = config.state_size
    weights = np.array(config.mask_weights) / np.sum(config.mask_weights)
    inputs, targets, kinds = [], [], []
    start = time.perf_counter()
    for index in range(config.n_phantoms):
        image, labels = _phantom(index, config, rng)
        p_low, p_high = np.percentile(image, [1.0, 99.0])
        for j in range(config.states_per_phantom):
            gamma = float(np.exp(rng.uniform(-0.5, 0.5)))
            both = _data.random_crop(np.stack([image, labels.astype(np.float64)]), size, rng)
            lo, hi = p_low**gamma, p_high**gamma
            truth = ((both[0] ** gamma - lo) / max(hi - lo, 1e-3)).astype(np.float32)
            crop_labels = both[1].astype(np.int32)
            noise = float(rng.uniform(*config.noise_range)) if rng.random() < 0.5 else 0.0
            if index < config.sampler_runs and j == 0:
                top = rng.uniform(0.15, config.coverage_range[1])
                covs = list(np.geomspace(config.coverage_range[0], top, 4))
                masks = _data.sampler_masks(truth, covs, seed=config.seed + index, batch_size=20)
                kind = "sampler"
            else:
                kind = str(rng.choice(_data.MASK_KINDS[:3], p=weights))
                coverage = _data.log_uniform(rng, *config.coverage_range)
                masks = [_data.random_mask(kind, truth, coverage, rng)]
            for mask in masks:
                x, t = _state(truth, crop_labels, mask, noise, rng)
                inputs.append(x), targets.append(t), kinds.append(kind)
    order = rng.permutation(len(inputs))
    stats = {
        "n_states": len(inputs),
        "mask_kinds": {k: kinds.count(k) for k in sorted(set(kinds))},
        "phantom_seeds": [config.first_seed, config.first_seed + config.n_phantoms - 1],
        "build_seconds": time.perf_counter() - start,
    }
    log(f"{len(inputs)} states in {stats['build_seconds']:.0f} s")
    return np.stack(inputs)[order], np.stack(targets)[order], stats


def _make_loss(boundary_weight: float):
    import torch
    import torch.nn.functional as F

    pos_weight = torch.tensor([1.0, boundary_weight]).view(1, 2, 1, 1)

    def loss(output, raw, inputs, targets):
        return F.binary_cross_entropy_with_logits(output, targets, pos_weight=pos_weight)

    return loss


def train(
    config: SegmenterConfig, out: Path, threads: int = 1, log: Callable[[str], None] = print
) -> dict:
    """Build the data, train and write the weights to ``out``; returns the training record."""
    import torch

    from fastscan.models._train import fit, save_trained

    torch.set_num_threads(threads)
    inputs, targets, stats = build_states(config, log)
    loss = _make_loss(config.boundary_weight)
    net, history, _ = fit(config, inputs, targets, loss, jitter_targets=False, log=log)
    return save_trained(out, net, "segmenter", config, stats, history, threads, log)


def build_parser() -> argparse.ArgumentParser:
    """The command line ``python -m fastscan.models.train_segmenter`` (``main`` parses with it)."""
    shipped = WEIGHTS_DIR / DEFAULT_WEIGHTS["segmenter"]
    parser = training_parser(
        "fastscan.models.train_segmenter", __doc__.split("\n")[0], shipped,
        steps=SegmenterConfig.steps, sampler_runs=SegmenterConfig.sampler_runs,
    )  # fmt: skip
    parser.add_argument(
        "--phantoms", type=int_at_least(1), default=SegmenterConfig.n_phantoms,
        help="labelled phantoms (default %(default)s)",
    )  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = build_parser()
    args = parser.parse_args(argv)
    config = SegmenterConfig(
        seed=args.seed, steps=args.steps, n_phantoms=args.phantoms, sampler_runs=args.sampler_runs
    )
    train(config, args.out, threads=args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Train the U-Net denoiser shipped as ``weights/unet_denoiser.pt`` (seeded, CPU, one thread).

Usage::

    python -m fastscan.models.train_denoiser --out fastscan/models/weights/unet_denoiser.pt

Data: crops of generic images (scikit-image sample images) and training-seed
phantoms (never the WSe2 benchmark image, never the evaluation seeds >= 1000),
under random intensity curves, measured under uniform, edge-concentrated,
clustered and real-sampler masks at 2-40 % coverage; in 40 % of the states the
readings carry Gaussian or shot-like noise. The input is the IDW
reconstruction of the readings, the target the clean truth, both normalised by
the image's 1st/99th percentiles. The network predicts a correction to the
reconstruction, weighted by a fixed activity gate (zero where the
reconstruction is locally flat); the loss is L1 + 5 * MSE on the unmeasured
pixels. See :class:`DenoiserConfig` for every setting; the weights file
stores the config and the training record. About 10 minutes on one idle CPU
thread (the shipped file took 43 minutes wall on a shared, heavily loaded
2-core machine).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fastscan.models import _data
from fastscan.models._train_cli import int_at_least, training_parser
from fastscan.models.torch_unet import DEFAULT_WEIGHTS, WEIGHTS_DIR

__all__ = ["DenoiserConfig", "build_states", "main", "make_loss", "train"]


@dataclass(frozen=True)
class DenoiserConfig:
    """Everything that decides the shipped denoiser weights."""

    seed: int = 0
    n_states: int = 1500
    sampler_runs: int = 40
    state_size: int = 128
    val_fraction: float = 0.05
    mask_weights: tuple[float, float, float] = (0.3, 0.45, 0.25)  # uniform, edge, cluster
    gamma_log_range: tuple[float, float] = (-0.7, 1.1)  # intensity curve v**exp(U(a, b))
    invert_probability: float = 0.15
    steps: int = 1800
    batch: int = 12
    crop: int = 96
    lr: float = 2e-3
    widths: tuple[int, int, int] = (16, 32, 48)
    gate: float = 0.02  # activity gate of the correction (nets.activity_gate); 0 for none
    mse_weight: float = 5.0  # loss = L1 + mse_weight * MSE on the unmeasured pixels
    noise_probability: float = 0.4  # states whose measured values carry detector noise
    noise_range: tuple[float, float] = (0.005, 0.05)  # its std, normalised units (log-uniform)
    phantom_seeds: tuple[int, ...] = field(default_factory=lambda: _data.TRAIN_PHANTOM_SEEDS)


def _transformed_crop(
    source: _data.Source, size: int, config: DenoiserConfig, rng: np.random.Generator
) -> np.ndarray | None:
    """A crop under a random intensity curve, normalised by the whole image's percentiles."""
    gamma = float(np.exp(rng.uniform(*config.gamma_log_range)))
    invert = rng.random() < config.invert_probability
    crop = _data.random_crop(source.image, size, rng).astype(np.float64) ** gamma
    lo, hi = source.p_low**gamma, source.p_high**gamma
    if invert:
        crop, lo, hi = 1.0 - crop, 1.0 - hi, 1.0 - lo
    if hi - lo < 1e-3 or crop.max() - crop.min() < 1e-3:
        return None
    return ((crop - lo) / (hi - lo)).astype(np.float32)


def _state(
    truth: np.ndarray, mask: np.ndarray, config: DenoiserConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Network input (IDW of the possibly noisy readings, mask, distance) and the clean truth."""
    measured = truth
    if rng.random() < config.noise_probability:
        sigma = _data.log_uniform(rng, *config.noise_range)
        # half Gaussian read noise, half shot-noise-like (grows with the signal)
        scale = np.sqrt(np.clip(truth, 0.0, None) + 0.05) if rng.random() < 0.5 else 1.0
        measured = truth + (sigma * scale * rng.standard_normal(truth.shape)).astype(np.float32)
    return _data.state_inputs(measured, mask), truth[None]


def build_states(
    config: DenoiserConfig, log: callable = print
) -> tuple[np.ndarray, np.ndarray, dict]:
    """(inputs (N, 3, S, S), targets (N, 1, S, S), statistics) of the training states."""
    rng = np.random.default_rng([config.seed, 1])
    sources = _data.load_sources(min_size=config.state_size, phantom_seeds=config.phantom_seeds)
    log(f"{len(sources)} source images (with scales)")
    inputs, targets, kinds, coverages = [], [], [], []
    size = config.state_size
    start = time.perf_counter()
    for run in range(config.sampler_runs):
        truth = None
        while truth is None:
            truth = _transformed_crop(sources[rng.integers(len(sources))], size, config, rng)
        top = rng.uniform(0.15, 0.4)
        targets_cov = list(np.geomspace(_data.COVERAGE_RANGE[0], top, 5))
        for mask in _data.sampler_masks(truth, targets_cov, seed=config.seed + run, batch_size=20):
            x, t = _state(truth, mask, config, rng)
            inputs.append(x), targets.append(t), kinds.append("sampler")
            coverages.append(float(mask.mean()))
    log(f"{len(inputs)} sampler states in {time.perf_counter() - start:.0f} s")
    weights = np.array(config.mask_weights) / np.sum(config.mask_weights)
    while len(inputs) < config.n_states:
        truth = _transformed_crop(sources[rng.integers(len(sources))], size, config, rng)
        if truth is None:
            continue
        kind = str(rng.choice(_data.MASK_KINDS[:3], p=weights))
        coverage = _data.log_uniform(rng, *_data.COVERAGE_RANGE)
        mask = _data.random_mask(kind, truth, coverage, rng)
        x, t = _state(truth, mask, config, rng)
        inputs.append(x), targets.append(t), kinds.append(kind)
        coverages.append(float(mask.mean()))
    order = rng.permutation(len(inputs))
    stats = {
        "n_states": len(inputs),
        "mask_kinds": {k: kinds.count(k) for k in sorted(set(kinds))},
        "coverage_median": float(np.median(coverages)),
        "sources": [s.name for s in sources],
        "build_seconds": time.perf_counter() - start,
    }
    log(f"{len(inputs)} states in {stats['build_seconds']:.0f} s")
    return np.stack(inputs)[order], np.stack(targets)[order], stats


def make_loss(gate: float, mse_weight: float):
    """L1 + ``mse_weight`` * MSE of the gated correction on the unmeasured pixels."""
    from fastscan.models.nets import activity_gate

    def loss(output, raw, inputs, targets):
        correction = output * activity_gate(inputs[:, :1], gate) if gate > 0 else output
        unmeasured = 1.0 - inputs[:, 1:2]
        error = (raw + correction - targets) * unmeasured
        per_pixel = error.abs() + mse_weight * error * error
        return per_pixel.sum() / unmeasured.sum().clamp_min(1.0)

    return loss


def train(config: DenoiserConfig, out: Path, threads: int = 1, log: callable = print) -> dict:
    """Build the data, train and write the weights to ``out``; returns the training record."""
    import torch

    from fastscan.models._train import evaluate, fit, save_trained

    torch.set_num_threads(threads)
    inputs, targets, stats = build_states(config, log)
    loss = make_loss(config.gate, config.mse_weight)
    net, history, val = fit(config, inputs, targets, loss, jitter_targets=True, log=log)

    class _Zero(torch.nn.Module):
        def forward(self, x):
            return torch.zeros_like(x[:, :1])

    history["val_idw"] = evaluate(_Zero(), *val, loss)
    log(f"validation L1: U-Net {history['train'][-1]['val']:.5f} vs IDW {history['val_idw']:.5f}")
    gate = config.gate
    return save_trained(out, net, "denoiser", config, stats, history, threads, log, gate=gate)


def build_parser() -> argparse.ArgumentParser:
    """The command line ``python -m fastscan.models.train_denoiser`` (``main`` parses with it)."""
    shipped = WEIGHTS_DIR / DEFAULT_WEIGHTS["denoiser"]
    parser = training_parser(
        "fastscan.models.train_denoiser", __doc__.split("\n")[0], shipped,
        steps=DenoiserConfig.steps, sampler_runs=DenoiserConfig.sampler_runs,
    )  # fmt: skip
    parser.add_argument(
        "--states", type=int_at_least(1), default=DenoiserConfig.n_states,
        help="training states (image, mask, noise) (default %(default)s)",
    )  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = build_parser()
    args = parser.parse_args(argv)
    config = DenoiserConfig(
        seed=args.seed, steps=args.steps, n_states=args.states, sampler_runs=args.sampler_runs
    )
    train(config, args.out, threads=args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Build the ERD training database from generic images and fit the shipped model.

Training images are scikit-image's bundled samples and fastscan's synthetic
phantoms, never a benchmark sample. Each image is rescaled to [0, 100] and
measured under random masks at coverages spread log-uniformly over
``coverage_range``; for every state, the features and the RD target of a random
subset of unmeasured pixels become training rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np

from fastscan.erd.model import ERDModel
from fastscan.erd.target import rd_target
from fastscan.features import compute_features

__all__ = ["TrainingConfig", "build_database", "train_model", "training_images"]

SKIMAGE_IMAGES = ("camera", "coins", "moon", "text", "astronaut")
PHANTOM_SETS = (("flakes", (256, 384)), ("particles", (300, 300)), ("grains", (256, 256)))


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that decides the shipped model (stored in the model file)."""

    c: float = 2.0
    seed: int = 0
    masks_per_image: int = 12
    rows_per_state: int = 6000
    coverage_range: tuple[float, float] = (0.005, 0.6)
    max_iter: int = 50
    phantom_seeds: tuple[int, ...] = (0, 1)


def training_images(config: TrainingConfig) -> Iterator[tuple[str, np.ndarray]]:
    """(name, image in [0, 100]) pairs: scikit-image samples and synthetic phantoms."""
    from skimage import data
    from skimage.color import rgb2gray

    from fastscan.sim.phantoms import make_phantom

    for name in SKIMAGE_IMAGES:
        image = np.asarray(getattr(data, name)(), dtype=np.float64)
        if image.ndim == 3:
            image = rgb2gray(image[..., :3])
        yield name, _to_percent(image)
    for name, shape in PHANTOM_SETS:
        for seed in config.phantom_seeds:
            yield f"{name}-{seed}", _to_percent(make_phantom(name, shape, seed=seed))


def _to_percent(image: np.ndarray) -> np.ndarray:
    lo, hi = float(image.min()), float(image.max())
    return (image - lo) * (100.0 / (hi - lo)) if hi > lo else np.zeros_like(image)


def build_database(
    config: TrainingConfig, progress: Callable[[str], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows (n, 6) and RD targets (n,) for every image, mask and sampled pixel."""
    rng = np.random.default_rng(config.seed)
    lo, hi = np.log(config.coverage_range[0]), np.log(config.coverage_range[1])
    features_all, targets_all = [], []
    for name, image in training_images(config):
        for coverage in np.exp(rng.uniform(lo, hi, config.masks_per_image)):
            mask = rng.random(image.shape) < coverage
            if mask.sum() < 20 or mask.all():
                continue
            pixels, features, recon = compute_features(mask, image)
            take = rng.choice(len(pixels), min(config.rows_per_state, len(pixels)), replace=False)
            rd = rd_target(image, recon, pixels[take], features[take, 2], c=config.c)
            features_all.append(features[take])
            targets_all.append(rd)
        if progress is not None:
            progress(f"{name}: {sum(len(t) for t in targets_all)} rows so far")
    return np.concatenate(features_all), np.concatenate(targets_all)


def train_model(
    config: TrainingConfig | None = None, progress: Callable[[str], None] | None = None
) -> ERDModel:
    """Build the database, fit an :class:`ERDModel` and record how it was made in ``info_``."""
    config = config or TrainingConfig()
    start = time.perf_counter()
    features, targets = build_database(config, progress)
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(targets))
    n_train = int(np.ceil(0.8 * len(order)))
    train, test = order[:n_train], order[n_train:]
    if progress is not None:
        progress(f"fitting on {n_train} rows ({len(test)} held out)")
    model = ERDModel(max_iter=config.max_iter, random_state=1)
    model.fit(features[train], targets[train])
    model.info_ = {
        "config": asdict(config),
        "images": list(SKIMAGE_IMAGES) + [f"{n}{s}" for n, s in PHANTOM_SETS],
        "n_rows": len(targets),
        "r2_holdout": model.score(features[test], targets[test]),
        "seconds": round(time.perf_counter() - start, 1),
    }
    return model

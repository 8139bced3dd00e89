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

from fastscan.erd.estimator import ERDModel
from fastscan.erd.target import rd_target
from fastscan.features import compute_features

__all__ = [
    "CLASSIC_CONFIG",
    "TrainingConfig",
    "build_database",
    "train_model",
    "training_images",
]

SKIMAGE_IMAGES = ("camera", "coins", "moon", "text", "astronaut")
PHANTOM_SETS = (("flakes", (256, 384)), ("particles", (300, 300)), ("grains", (256, 256)))
#: A fixed sparsity-feature numerator (FAST's ``1 + pi rho**2`` of a 512 x 512 grid),
#: for ``TrainingConfig(sparsity_area=SPARSITY_AREA)``: one numerator for every grid.
SPARSITY_AREA = float(1.0 + np.pi * 15.0**2)


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that decides the shipped model (stored in the model file)."""

    c: float = 2.0
    seed: int = 0
    masks_per_image: int = 12
    rows_per_state: int = 6000
    coverage_range: tuple[float, float] = (0.005, 0.6)
    log_uniform_coverage: bool = True
    max_iter: int = 50
    phantom_seeds: tuple[int, ...] = (0, 1)
    skimage_images: tuple[str, ...] = SKIMAGE_IMAGES
    phantom_sets: tuple[tuple[str, tuple[int, int]], ...] = PHANTOM_SETS
    self_play_rounds: int = 1
    feature_transform: str = "log1p"
    gamma: float = 0.25
    self_play_coverages: tuple[float, ...] = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4)
    sparsity_area: float | None = None
    target_transform: str = "none"


def training_images(config: TrainingConfig) -> Iterator[tuple[str, np.ndarray]]:
    """(name, image in [0, 100]) pairs: scikit-image samples and synthetic phantoms."""
    from skimage import data
    from skimage.color import rgb2gray

    from fastscan.phantoms import make_phantom

    for name in config.skimage_images:
        image = np.asarray(getattr(data, name)(), dtype=np.float64)
        if image.ndim == 3:
            image = rgb2gray(image[..., :3])
        yield name, _to_percent(image)
    for name, shape in config.phantom_sets:
        for seed in config.phantom_seeds:
            yield f"{name}-{seed}", _to_percent(make_phantom(name, shape, seed=seed))


def _to_percent(image: np.ndarray) -> np.ndarray:
    lo, hi = float(image.min()), float(image.max())
    return (image - lo) * (100.0 / (hi - lo)) if hi > lo else np.zeros_like(image)


def _state_rows(
    image: np.ndarray, mask: np.ndarray, config: TrainingConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Features and RD target of a random subset of one state's unmeasured pixels."""
    pixels, features, recon = compute_features(mask, image, sparsity_area=config.sparsity_area)
    take = rng.choice(len(pixels), min(config.rows_per_state, len(pixels)), replace=False)
    return features[take], rd_target(image, recon, pixels[take], features[take, 2], c=config.c)


def _random_masks(
    image: np.ndarray, config: TrainingConfig, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    lo, hi = config.coverage_range
    if config.log_uniform_coverage:
        coverages = np.exp(rng.uniform(np.log(lo), np.log(hi), config.masks_per_image))
    else:
        coverages = rng.uniform(lo, hi, config.masks_per_image)
    for coverage in coverages:
        mask = rng.random(image.shape) < coverage
        if 20 <= mask.sum() < mask.size:
            yield mask


def _sampler_masks(
    image: np.ndarray, model: ERDModel, config: TrainingConfig, seed: int
) -> Iterator[np.ndarray]:
    """Masks that the sampler itself produces with ``model`` (the states it meets in a scan)."""
    from fastscan.sampler import Sampler

    checkpoints = sorted(config.self_play_coverages)
    sampler = Sampler(
        image.shape, model=model, seed=seed, max_coverage=checkpoints[-1], batch_size=100
    )
    while checkpoints:
        points = sampler.suggest()
        if len(points) == 0:
            break
        sampler.ingest(points, image[points[:, 0], points[:, 1]])
        if sampler.coverage >= checkpoints[0]:
            checkpoints.pop(0)
            yield np.array(sampler.measured_mask)


def build_database(
    config: TrainingConfig,
    progress: Callable[[str], None] | None = None,
    model: ERDModel | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows (n, 6) and RD targets (n,) for every image, mask and sampled pixel.

    Masks are random at log-uniform coverages; with a ``model``, the states the
    sampler reaches with that model are added (so the model learns the feature
    distribution it meets during a scan, where flat regions stay sparse).
    """
    rng = np.random.default_rng(config.seed)
    features_all, targets_all = [], []
    for index, (name, image) in enumerate(training_images(config)):
        masks = list(_random_masks(image, config, rng))
        if model is not None:
            masks += list(_sampler_masks(image, model, config, seed=config.seed + index))
        for mask in masks:
            features, rd = _state_rows(image, mask, config, rng)
            features_all.append(features)
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
    model = None
    for round_index in range(config.self_play_rounds + 1):
        features, targets = build_database(config, progress, model)
        rng = np.random.default_rng(config.seed)
        order = rng.permutation(len(targets))
        n_train = int(np.ceil(0.8 * len(order)))
        train, test = order[:n_train], order[n_train:]
        if progress is not None:
            progress(f"round {round_index}: fitting on {n_train} rows ({len(test)} held out)")
        model = ERDModel(
            max_iter=config.max_iter,
            random_state=1,
            gamma=config.gamma,
            feature_transform=config.feature_transform,
            sparsity_area=config.sparsity_area,
            target_transform=config.target_transform,
        )
        model.fit(features[train], targets[train])
    if config.sparsity_area is None:  # features on other grids are clipped to this range
        areas = [model.sparsity_numerator(image.shape) for _, image in training_images(config)]
        model.sparsity_clip = (min(areas), max(areas))
    model.info_ = {
        "config": asdict(config),
        "images": list(config.skimage_images) + [f"{n}{s}" for n, s in config.phantom_sets],
        "n_rows": len(targets),
        "r2_holdout": model.score(features[test], targets[test]),
        "seconds": round(time.perf_counter() - start, 1),
    }
    return model


#: FAST's recipe: the cameraman image only, raw features, random masks, no self-play.
CLASSIC_CONFIG = TrainingConfig(
    skimage_images=("camera",),
    phantom_sets=(),
    masks_per_image=20,
    rows_per_state=40_000,
    coverage_range=(0.01, 0.8),
    log_uniform_coverage=False,
    self_play_rounds=0,
    feature_transform="none",
    gamma=0.01,
    sparsity_area=None,
    target_transform="none",
)

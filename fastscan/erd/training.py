"""Build the ERD training database from generic images and fit the shipped model.

Training images are scikit-image's bundled samples and fastscan's synthetic
phantoms, never a benchmark sample. Each image is rescaled to [0, 100] and
measured under random masks at coverages spread log-uniformly over
``coverage_range``; for every state, the features and the RD target of a random
subset of unmeasured pixels become training rows.

Evaluation is split by image, never by row: rows of one image share its
structure and its states, so a row hold-out measures memory, not
generalisation. :func:`train_model` fits on every row of the training images
and scores the model on the *validation* images (:data:`VALIDATION_IMAGES`,
never trained on); :func:`cross_validate` gives the k-fold by-image R^2 over
the training images (each fold's model is trained without the held-out
images, self-play included). FAST's recipe is in :mod:`fastscan.erd.classic`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from fastscan.erd.estimator import ERDModel, _single_thread_blas
from fastscan.erd.target import rd_target
from fastscan.features import compute_features

__all__ = [
    "TRAINING_SETS",
    "VALIDATION_IMAGES",
    "WIDE_SKIMAGE_IMAGES",
    "WIDE_TEXTURES",
    "TrainingConfig",
    "build_database",
    "cross_validate",
    "image_groups",
    "score_images",
    "train_model",
    "training_images",
    "training_set_config",
    "validation_images",
]

SKIMAGE_IMAGES = ("camera", "coins", "moon", "text", "astronaut")
PHANTOM_SETS = (("flakes", (256, 384)), ("particles", (300, 300)), ("grains", (256, 256)))
#: A fixed sparsity-feature numerator (FAST's ``1 + pi rho**2`` of a 512 x 512 grid),
#: for ``TrainingConfig(sparsity_area=SPARSITY_AREA)``: one numerator for every grid.
SPARSITY_AREA = float(1.0 + np.pi * 15.0**2)
#: scikit-image validation images (never trained on; tuning and scoring only).
VALIDATION_IMAGES = (
    "brick", "cell", "clock", "page", "coffee", "gravel", "shepp_logan_phantom",
    "hubble_deep_field",
)  # fmt: skip
#: Phantom seeds of the validation set (training uses seeds 0 and 1).
VALIDATION_PHANTOM_SEEDS = (100,)
#: scikit-image samples of the "wide" training set: the default five plus the two
#: bundled images in no evaluation set (``checkerboard``, ``colorwheel``). Not used:
#: every test or validation image, ``cat`` (= chelsea, a test image) and the right
#: image of ``stereo_motorcycle`` (the left one is a validation image).
WIDE_SKIMAGE_IMAGES = (*SKIMAGE_IMAGES, "checkerboard", "colorwheel")
#: Phantom seeds of the "wide" training set (validation uses >= 100, the test set 12).
WIDE_PHANTOM_SEEDS = (0, 1, 2, 3, 4, 5)
#: Synthetic textures of the "wide" training set, (kind, parameter, seed) with seeds
#: 0-7 (validation uses >= 100, the test set 12) and parameters apart from the
#: validation textures' (band noise 1.5 / 4 px, 1/f^3, one Voronoi cell per 120 px),
#: so those stay a step away from anything trained on. Each is 192 x 256 pixels.
WIDE_TEXTURES = (
    ("band_noise", 1.0, 0),
    ("band_noise", 2.5, 1),
    ("band_noise", 6.0, 2),
    ("fractal_noise", 2.5, 3),
    ("fractal_noise", 3.5, 4),
    ("voronoi_cells", 60.0, 5),
    ("voronoi_cells", 250.0, 6),
    ("fibres", 14.0, 7),
)
TEXTURE_SHAPE = (192, 256)


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
    error_power: float = 1.0
    #: a shipped model (see :data:`fastscan.erd.estimator.SHIPPED_MODELS`) whose own scans
    #: add self-play states from the first round on (DAgger: the states a trained model
    #: meets); None starts from random masks only
    self_play_from: str | None = None
    #: synthetic textures trained on, (kind, parameter, seed); see :data:`WIDE_TEXTURES`
    textures: tuple[tuple[str, float, int], ...] = ()
    #: the named training set these images came from (:data:`TRAINING_SETS`)
    training_set: str = "default"


#: Named training sets: the fields of :class:`TrainingConfig` each one sets. "wide"
#: adds two scikit-image samples, phantom seeds 2-5 and eight synthetic textures
#: (33 images instead of 11) and takes 2000 instead of 6000 rows per state, so the
#: database keeps about the same size and the fit about the same time.
TRAINING_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "wide": {
        "skimage_images": WIDE_SKIMAGE_IMAGES,
        "phantom_seeds": WIDE_PHANTOM_SEEDS,
        "textures": WIDE_TEXTURES,
        "rows_per_state": 2000,
    },
}


def training_set_config(name: str, config: TrainingConfig | None = None) -> TrainingConfig:
    """``config`` (default: the default recipe) with the images of training set ``name``.

    Examples
    --------
    >>> config = training_set_config("wide")
    >>> config.training_set, len(config.textures), config.phantom_seeds
    ('wide', 8, (0, 1, 2, 3, 4, 5))
    """
    from dataclasses import replace

    if name not in TRAINING_SETS:
        raise ValueError(f"unknown training set {name!r}; choose from {', '.join(TRAINING_SETS)}")
    return replace(config or TrainingConfig(), training_set=name, **TRAINING_SETS[name])


def _texture(kind: str, parameter: float, seed: int) -> np.ndarray:
    """One synthetic texture of :mod:`fastscan.compare.textures`, in [0, 100]."""
    from fastscan.compare import textures

    if seed >= 100 or seed == 12:
        raise ValueError(f"texture seed {seed} is an evaluation seed (12, >= 100); use 0-99")
    if kind == "band_noise":
        return textures.band_noise(TEXTURE_SHAPE, parameter, seed)
    if kind == "fractal_noise":
        return textures.fractal_noise(TEXTURE_SHAPE, parameter, seed)
    if kind == "voronoi_cells":
        return textures.voronoi_cells(TEXTURE_SHAPE, int(parameter), seed)
    if kind == "fibres":
        return textures.fibres(TEXTURE_SHAPE, seed, length=parameter)
    raise ValueError(
        f"unknown texture {kind!r}; choose from band_noise, fractal_noise, voronoi_cells, fibres"
    )


def training_images(config: TrainingConfig) -> Iterator[tuple[str, np.ndarray]]:
    """(name, image in [0, 100]) pairs: scikit-image samples and synthetic phantoms."""
    from fastscan.phantoms import make_phantom

    for name in config.skimage_images:
        yield name, _skimage(name)
    for name, shape in config.phantom_sets:
        for seed in config.phantom_seeds:
            yield f"{name}-{seed}", _to_percent(make_phantom(name, shape, seed=seed))
    for kind, parameter, seed in config.textures:
        yield f"{kind}-{parameter:g}-{seed}", _texture(kind, parameter, seed)


def validation_images(config: TrainingConfig) -> Iterator[tuple[str, np.ndarray]]:
    """(name, image in [0, 100]) of the validation set: never trained on.

    scikit-image's :data:`VALIDATION_IMAGES` and the recipe's phantoms with
    seeds :data:`VALIDATION_PHANTOM_SEEDS`.
    """
    from fastscan.phantoms import make_phantom

    for name in VALIDATION_IMAGES:
        yield name, _skimage(name)
    for name, shape in config.phantom_sets:
        for seed in VALIDATION_PHANTOM_SEEDS:
            yield f"{name}-{seed}", _to_percent(make_phantom(name, shape, seed=seed))


def _skimage(name: str) -> np.ndarray:
    from skimage import data
    from skimage.color import rgb2gray

    image = np.asarray(getattr(data, name)(), dtype=np.float64)
    if image.ndim == 3:
        image = rgb2gray(image[..., :3])
    return _to_percent(image)


def _to_percent(image: np.ndarray) -> np.ndarray:
    lo, hi = float(image.min()), float(image.max())
    return (image - lo) * (100.0 / (hi - lo)) if hi > lo else np.zeros_like(image)


def _state_rows(
    image: np.ndarray, mask: np.ndarray, config: TrainingConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Features and RD target of a random subset of one state's unmeasured pixels."""
    pixels, features, recon = compute_features(mask, image, sparsity_area=config.sparsity_area)
    take = rng.choice(len(pixels), min(config.rows_per_state, len(pixels)), replace=False)
    rd = rd_target(
        image, recon, pixels[take], features[take, 2], c=config.c, power=config.error_power
    )
    return features[take], rd


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
    images: Iterable[tuple[str, np.ndarray]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows (n, 6) and RD targets (n,) for every image, mask and sampled pixel.

    Masks are random at log-uniform coverages; with a ``model``, the states the
    sampler reaches with that model are added (so the model learns the feature
    distribution it meets during a scan, where flat regions stay sparse).
    ``images`` (default: :func:`training_images`) are (name, image) pairs.
    """
    rng = np.random.default_rng(config.seed)
    features_all, targets_all = [], []
    chosen = training_images(config) if images is None else images
    for index, (name, image) in enumerate(chosen):
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


def _fit(
    config: TrainingConfig,
    images: list[tuple[str, np.ndarray]],
    progress: Callable[[str], None] | None,
) -> tuple[ERDModel, int]:
    """The recipe on ``images`` (self-play rounds included): the model and its row count."""
    model = None if config.self_play_from is None else _start_model(config.self_play_from)
    n_rows = 0
    for round_index in range(config.self_play_rounds + 1):
        features, targets = build_database(config, progress, model, images)
        n_rows = len(targets)
        if progress is not None:
            progress(f"round {round_index}: fitting on {n_rows} rows of {len(images)} images")
        model = ERDModel(
            max_iter=config.max_iter,
            random_state=1,
            gamma=config.gamma,
            feature_transform=config.feature_transform,
            sparsity_area=config.sparsity_area,
            target_transform=config.target_transform,
        )
        with _single_thread_blas():  # the weights do not depend on the core count
            model.fit(features, targets)
    if config.sparsity_area is None:  # features on other grids are clipped to this range
        areas = [model.sparsity_numerator(image.shape) for _, image in images]
        model.sparsity_clip = (min(areas), max(areas))
    return model, n_rows


def _start_model(name: str) -> ERDModel:
    """The shipped model ``name`` whose scans give the first round's self-play states."""
    from fastscan.erd.estimator import SHIPPED_MODELS, load_model

    if name not in SHIPPED_MODELS:
        raise ValueError(
            f"self_play_from must be a shipped model ({', '.join(SHIPPED_MODELS)}), got {name!r}"
        )
    return load_model(name)


def score_images(
    model: ERDModel,
    config: TrainingConfig,
    images: Iterable[tuple[str, np.ndarray]],
    with_self_play: bool = False,
) -> dict[str, Any]:
    """R^2 of ``model`` on the rows of ``images`` (made like the training rows).

    Returns ``{"r2": pooled R^2, "by_image": {name: R^2}, "n_rows": n}``. With
    ``with_self_play`` the states the sampler reaches with ``model`` are added
    (as in training); otherwise random masks only.
    """
    by_image, xs, ys = {}, [], []
    for name, image in images:
        x, y = build_database(config, None, model if with_self_play else None, [(name, image)])
        by_image[name] = round(model.score(x, y), 4)
        xs.append(x)
        ys.append(y)
    x, y = np.concatenate(xs), np.concatenate(ys)
    return {"r2": round(model.score(x, y), 4), "by_image": by_image, "n_rows": len(y)}


def train_model(
    config: TrainingConfig | None = None,
    progress: Callable[[str], None] | None = None,
    validate: bool = True,
) -> ERDModel:
    """Fit an :class:`ERDModel` on every training row; record how it was made in ``info_``.

    With ``validate``, ``info_["r2_validation_images"]`` is the R^2 on the
    validation images (random masks; :func:`validation_images`), image-held-out
    by construction. The k-fold by-image R^2 over the training images is
    :func:`cross_validate` (it trains k more models).
    """
    config = config or TrainingConfig()
    images = list(training_images(config))
    model, n_rows = _fit(config, images, progress)
    model.info_ = {
        "config": asdict(config),
        "images": [name for name, _ in images],
        "split": "by image: fit on every row of the training images",
        "n_rows": n_rows,
    }
    if config.self_play_from is not None:  # the states depend on that model's weights
        model.info_["self_play_from_sha256"] = _start_model(config.self_play_from).sha256
    if validate:
        scores = score_images(model, config, validation_images(config))
        model.info_["r2_validation_images"] = scores["r2"]
        model.info_["r2_by_validation_image"] = scores["by_image"]
    return model


def image_groups(config: TrainingConfig) -> list[list[str]]:
    """Training images grouped for cross-validation: each scikit-image sample alone,
    every phantom family (all its seeds) together, so no fold sees a sibling."""
    groups = [[name] for name in config.skimage_images]
    groups += [
        [f"{name}-{seed}" for seed in config.phantom_seeds] for name, _ in config.phantom_sets
    ]
    kinds = dict.fromkeys(kind for kind, _, _ in config.textures)
    groups += [[f"{k}-{p:g}-{s}" for k, p, s in config.textures if k == kind] for kind in kinds]
    return groups


def cross_validate(
    config: TrainingConfig | None = None,
    folds: int = 4,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """k-fold cross-validation by image over the training images.

    The groups of :func:`image_groups` are dealt round-robin into ``folds``
    folds. For each fold the whole recipe (self-play included) is trained
    without the fold's images and scored on their rows, states made as in
    training (random masks plus the states the fold's model reaches on them).
    Nothing is written; the shipped model is not touched. With
    ``config.self_play_from`` the held-out images' states come from a model that
    was trained on them (their targets never are), so the figure is slightly
    optimistic.

    Returns ``{"folds": [{"held_out": [...], "r2": ..., "by_image": {...}}],
    "r2_mean": ..., "r2_by_image": {...}}``.
    """
    config = config or TrainingConfig()
    groups = image_groups(config)
    if not 2 <= folds <= len(groups):
        raise ValueError(f"folds must be in [2, {len(groups)}] (image groups), got {folds}")
    images = dict(training_images(config))
    results = []
    for fold in range(folds):
        held = [name for group in groups[fold::folds] for name in group]
        train = [(name, image) for name, image in images.items() if name not in held]
        if progress is not None:
            progress(f"fold {fold + 1}/{folds}: holding out {', '.join(held)}")
        model, _ = _fit(config, train, progress)
        held_images = [(name, images[name]) for name in held]
        scores = score_images(
            model, config, held_images, with_self_play=config.self_play_rounds > 0
        )
        results.append({"held_out": held, "r2": scores["r2"], "by_image": scores["by_image"]})
        if progress is not None:
            progress(f"fold {fold + 1}/{folds}: image-held-out R^2 {scores['r2']:.3f}")
    return {
        "folds": results,
        "r2_mean": round(float(np.mean([r["r2"] for r in results])), 4),
        "r2_by_image": {k: v for r in results for k, v in r["by_image"].items()},
    }

"""Training data for the U-Nets: generic images and phantoms under simulated sparse scans.

Sources are scikit-image sample images that ship with the package and
fastscan's synthetic phantoms (training seeds only, see :data:`TRAIN_PHANTOM_SEEDS`);
never the WSe2 benchmark image. A training *state* is a square crop with a
measured mask at a coverage drawn log-uniformly from 2-40 %, the IDW
reconstruction of the measured pixels (``fastscan.idw_reconstruction``, k = 10,
1/d^2; the sampler's definition) and the truth, all normalised the way the
models normalise a live frame.

Masks mix four kinds: uniform random; edge-concentrated (density grows with the
truth's gradient, as the ERD sampler's does); clustered (a smooth random
density); and snapshots of a real :class:`fastscan.Sampler` run on the crop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from fastscan.reconstruction import idw_reconstruction

__all__ = [
    "EVAL_PHANTOM_SEEDS",
    "MASK_KINDS",
    "TRAIN_PHANTOM_SEEDS",
    "Source",
    "idw_from_mask",
    "load_sources",
    "random_mask",
    "sampler_masks",
    "state_inputs",
]

SKIMAGE_NAMES = (
    "camera", "coins", "moon", "text", "astronaut", "page", "horse", "checkerboard", "cell",
    "brick", "grass", "gravel", "clock", "coffee", "chelsea", "rocket", "hubble_deep_field",
    "immunohistochemistry", "shepp_logan_phantom", "microaneurysms",
)  # fmt: skip
PHANTOM_NAMES = ("flakes", "particles", "grains")
TRAIN_PHANTOM_SEEDS = tuple(range(100, 124))  # seeds 1000+ are kept for evaluation
EVAL_PHANTOM_SEEDS = (1000, 1001)
MASK_KINDS = ("uniform", "edge", "cluster", "sampler")
COVERAGE_RANGE = (0.02, 0.4)


@dataclass(frozen=True)
class Source:
    """A training image in [0, 1] with its 1st/99th percentiles (for frame-like normalisation)."""

    name: str
    image: np.ndarray  # float32
    p_low: float
    p_high: float


def _grey01(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3:
        image = image[..., :3] @ np.array([0.2125, 0.7154, 0.0721])
    lo, hi = image.min(), image.max()
    return ((image - lo) / (hi - lo if hi > lo else 1.0)).astype(np.float32)


def _source(name: str, image: np.ndarray) -> Source:
    p_low, p_high = np.percentile(image, [1.0, 99.0])
    return Source(name, image, float(p_low), float(p_high))


def load_sources(
    min_size: int = 128,
    scales: tuple[float, ...] = (1.0, 0.6, 0.35),
    phantom_seeds: tuple[int, ...] = TRAIN_PHANTOM_SEEDS,
    phantom_shape: tuple[int, int] = (256, 384),
) -> list[Source]:
    """Generic training images at several scales (only those at least ``min_size`` on a side)."""
    from skimage import data
    from skimage.transform import rescale

    from fastscan.phantoms import make_phantom

    images = []
    for name in SKIMAGE_NAMES:
        try:
            images.append((name, _grey01(getattr(data, name)())))
        except Exception:  # an image that needs a download (pooch) is skipped
            continue
    for i, seed in enumerate(phantom_seeds):
        name = PHANTOM_NAMES[i % len(PHANTOM_NAMES)]
        images.append((f"{name}-{seed}", _grey01(make_phantom(name, phantom_shape, seed=seed))))
    sources = []
    for name, image in images:
        for scale in scales:
            scaled = image if scale == 1.0 else rescale(image, scale, anti_aliasing=True)
            if min(scaled.shape) >= min_size:
                sources.append(_source(f"{name}@{scale:g}", np.asarray(scaled, np.float32)))
    return sources


def random_crop(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random ``size`` x ``size`` crop of the last two axes, randomly flipped/transposed."""
    r = int(rng.integers(0, image.shape[-2] - size + 1))
    c = int(rng.integers(0, image.shape[-1] - size + 1))
    crop = image[..., r : r + size, c : c + size]
    if rng.random() < 0.5:
        crop = crop.swapaxes(-1, -2)
    return np.ascontiguousarray(crop[..., :: rng.choice([-1, 1]), :: rng.choice([-1, 1])])


def _choose(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    p = weights.ravel() / weights.sum()
    flat = rng.choice(p.size, size=n, replace=False, p=p)
    mask = np.zeros(weights.size, bool)
    mask[flat] = True
    return mask.reshape(weights.shape)


def random_mask(
    kind: str, truth: np.ndarray, coverage: float, rng: np.random.Generator
) -> np.ndarray:
    """A measured mask of ``kind`` ("uniform", "edge", "cluster") with about ``coverage``."""
    n = max(12, round(coverage * truth.size))
    if kind == "uniform":
        weights = np.ones(truth.shape)
    elif kind == "edge":
        grad = ndimage.gaussian_gradient_magnitude(truth.astype(np.float64), rng.uniform(0.7, 2.0))
        weights = grad / (grad.mean() + 1e-9) + rng.uniform(0.05, 0.5)
        weights = weights ** rng.uniform(0.7, 1.5)
    elif kind == "cluster":
        field = ndimage.gaussian_filter(rng.standard_normal(truth.shape), rng.uniform(4, 16))
        weights = np.exp(rng.uniform(1.0, 3.0) * field / (field.std() + 1e-9))
    else:
        raise ValueError(f"mask kind must be one of uniform, edge, cluster, got {kind!r}")
    return _choose(weights, n, rng)


def sampler_masks(
    truth: np.ndarray, coverages: list[float], seed: int, batch_size: int = 10
) -> list[np.ndarray]:
    """Masks of a real ERD-sampler run on ``truth``, taken as it passes each coverage."""
    from fastscan.sampler import Sampler

    targets = sorted(coverages)
    sampler = Sampler(truth.shape, batch_size=batch_size, seed=seed, max_coverage=targets[-1])
    values = truth.astype(np.float64)
    masks = []
    while not sampler.should_stop() and len(masks) < len(targets):
        points = sampler.suggest()
        if len(points) == 0:
            break
        sampler.ingest(points, values[points[:, 0], points[:, 1]])
        while len(masks) < len(targets) and sampler.coverage >= targets[len(masks)]:
            masks.append(sampler.measured_mask.copy())
    return masks


def idw_from_mask(truth: np.ndarray, mask: np.ndarray, k: int = 10) -> np.ndarray:
    """IDW reconstruction (k nearest, 1/d^2) from the truth's values at the measured pixels."""
    points = np.argwhere(mask)
    values = truth[mask].astype(np.float64)
    return idw_reconstruction(truth.shape, points, values, k=k).astype(np.float32)


def state_inputs(measured: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The (3, S, S) float32 network input of a training state.

    Channels as :func:`fastscan.models.torch_unet.network_inputs` builds them for a
    live frame, except that the reconstruction is not clipped here (the training
    loop clips it after its intensity jitter).

    Parameters
    ----------
    measured : (S, S) float32 array
        The readings (the truth, possibly with noise); only the pixels in ``mask`` are used.
    mask : (S, S) bool array
        The measured pixels.

    Returns
    -------
    (3, S, S) float32 array
        The IDW reconstruction of the readings (:func:`idw_from_mask`), the mask (0/1) and
        tanh(d / 8) with d the distance to the nearest measured pixel.
    """
    idw = idw_from_mask(measured, mask)
    distance = ndimage.distance_transform_edt(~mask)
    return np.stack([idw, mask.astype(np.float32), np.tanh(distance / 8.0).astype(np.float32)])


def log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """One draw, log-uniform on [lo, hi]."""
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))

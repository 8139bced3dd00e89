"""Deterministic synthetic samples for replay, tests and training.

Each phantom is a float64 image in [0, 1] with an integer label image that marks
the features a scientist would outline (0 = background). They imitate what a
nanoprobe sees: flat substrate, a few large flakes with bubbles and cracks,
sparse particles, or a polycrystalline film.

Examples
--------
>>> from fastscan.phantoms import make_phantom
>>> image = make_phantom("flakes", shape=(120, 160), seed=1)
>>> image.shape, float(image.min()) >= 0.0, float(image.max()) <= 1.0
((120, 160), True, True)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage
from skimage.draw import disk, line_aa, polygon

__all__ = ["PHANTOMS", "XRF_ELEMENTS", "make_phantom", "make_phantom_with_labels", "make_xrf_maps"]

Shape = tuple[int, int]


def _random_polygon(
    rng: np.random.Generator, center: tuple[float, float], radius: float, n_vertices: int
) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (rows, cols) of an irregular star-shaped polygon, faceted like a flake."""
    angles = np.sort(rng.uniform(0.0, 2.0 * np.pi, n_vertices))
    radii = radius * rng.uniform(0.7, 1.0, n_vertices)
    return center[0] + radii * np.sin(angles), center[1] + radii * np.cos(angles)


def _flakes(shape: Shape, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n_rows, n_cols = shape
    scale = min(shape)
    image = np.full(shape, 0.08)
    labels = np.zeros(shape, dtype=np.int32)
    n_flakes = int(rng.integers(3, 7))
    for label in range(1, n_flakes + 1):
        center = (rng.uniform(0.1, 0.9) * n_rows, rng.uniform(0.1, 0.9) * n_cols)
        radius = rng.uniform(0.15, 0.35) * scale
        rr, cc = polygon(*_random_polygon(rng, center, radius, int(rng.integers(5, 9))), shape)
        level = rng.uniform(0.35, 1.0)
        image[rr, cc] = level
        labels[rr, cc] = label
        # thicker terraces inside the flake
        if rng.random() < 0.7:
            rr2, cc2 = polygon(*_random_polygon(rng, center, radius * 0.45, 6), shape)
            inside = labels[rr2, cc2] == label
            image[rr2[inside], cc2[inside]] = min(1.0, level + rng.uniform(0.1, 0.3))
        # bubbles: small dark discs inside the flake
        for _ in range(int(rng.integers(1, 5))):
            br = center[0] + rng.uniform(-0.6, 0.6) * radius
            bc = center[1] + rng.uniform(-0.6, 0.6) * radius
            rr3, cc3 = disk((br, bc), rng.uniform(0.01, 0.035) * scale, shape=shape)
            inside = labels[rr3, cc3] == label
            image[rr3[inside], cc3[inside]] *= 0.55
        # a crack: a thin dark line across the flake
        if rng.random() < 0.8:
            a = rng.uniform(0, np.pi)
            dr, dc = np.sin(a) * radius, np.cos(a) * radius
            r0, c0 = np.clip([center[0] - dr, center[1] - dc], 0, [n_rows - 1, n_cols - 1])
            r1, c1 = np.clip([center[0] + dr, center[1] + dc], 0, [n_rows - 1, n_cols - 1])
            rr4, cc4, val = line_aa(int(r0), int(c0), int(r1), int(c1))
            inside = labels[rr4, cc4] == label
            image[rr4[inside], cc4[inside]] *= 1.0 - 0.7 * val[inside]
    return image, labels


def _particles(shape: Shape, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    scale = min(shape)
    image = np.full(shape, 0.05)
    labels = np.zeros(shape, dtype=np.int32)
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    n_particles = int(rng.integers(12, 30))
    for label in range(1, n_particles + 1):
        r0, c0 = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        sigma = rng.uniform(0.006, 0.025) * scale
        blob = rng.uniform(0.3, 1.0) * np.exp(
            -((rows - r0) ** 2 + (cols - c0) ** 2) / (2 * sigma**2)
        )
        image += blob
        labels[(blob > 0.15) & (labels == 0)] = label
    return np.clip(image, 0.0, 1.0), labels


def _grains(shape: Shape, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n_seeds = int(rng.integers(15, 40))
    seeds = rng.uniform(0, 1, (n_seeds, 2)) * np.array(shape)
    markers = np.zeros(shape, dtype=np.int32)
    markers[seeds[:, 0].astype(int), seeds[:, 1].astype(int)] = np.arange(1, n_seeds + 1)
    _, (ri, ci) = ndimage.distance_transform_edt(markers == 0, return_indices=True)
    labels = markers[ri, ci]
    levels = np.concatenate([[0.0], rng.uniform(0.2, 1.0, n_seeds)])
    image = levels[labels]
    # thin dark grain boundaries
    boundaries = ndimage.morphological_gradient(labels, size=2) > 0
    image = np.where(boundaries, image * 0.5, image)
    return image, labels.astype(np.int32)


_GENERATORS: dict[str, Callable[[Shape, np.random.Generator], tuple[np.ndarray, np.ndarray]]] = {
    "flakes": _flakes,
    "particles": _particles,
    "grains": _grains,
}
PHANTOMS: tuple[str, ...] = tuple(_GENERATORS)


def make_phantom_with_labels(
    name: str = "flakes", shape: Shape = (200, 300), seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Make a phantom image in [0, 1] and its integer feature labels.

    Parameters
    ----------
    name : str
        One of :data:`PHANTOMS` ("flakes", "particles", "grains").
    shape : tuple of int
        (n_rows, n_cols), each at least 16.
    seed : int
        Seed; the same (name, shape, seed) always gives the same phantom.

    Returns
    -------
    image : (n_rows, n_cols) float64 array in [0, 1]
    labels : (n_rows, n_cols) int32 array, 0 for background
    """
    if name not in _GENERATORS:
        raise ValueError(f"unknown phantom {name!r}; choose one of {', '.join(PHANTOMS)}")
    if len(shape) != 2 or min(shape) < 16:
        raise ValueError(f"phantom shape must be (n_rows, n_cols) with both >= 16, got {shape}")
    shape = (int(shape[0]), int(shape[1]))
    rng = np.random.default_rng([seed, PHANTOMS.index(name)])
    image, labels = _GENERATORS[name](shape, rng)
    image = ndimage.gaussian_filter(image, 0.7)  # finite optical resolution
    lo, hi = image.min(), image.max()
    return (image - lo) / (hi - lo), labels


def make_phantom(name: str = "flakes", shape: Shape = (200, 300), seed: int = 0) -> np.ndarray:
    """Make a phantom image in [0, 1]; see :func:`make_phantom_with_labels`."""
    return make_phantom_with_labels(name, shape, seed)[0]


#: Element channels of :func:`make_xrf_maps`, in order, with their role in the sample.
XRF_ELEMENTS: tuple[str, ...] = ("Fe", "Ca", "Ti", "Cu", "Au")
_XRF_ROLES = {
    "Fe": "matrix: smooth, bright, with holes where the particles sit",
    "Ca": "particle phase A: round grains",
    "Ti": "particle phase B: small faceted grains",
    "Cu": "trace: a few tiny hot spots on a near-zero background",
    "Au": "coating: thin bands",
}


def _xrf_channels(shape: Shape, rng: np.random.Generator) -> np.ndarray:
    """Expected counts per element (C, H, W) before blurring, at ``counts=1``."""
    n_rows, n_cols = shape
    scale = min(shape)
    rows, cols = np.mgrid[0:n_rows, 0:n_cols].astype(float)
    # particle phase A: round grains
    phase_a = np.zeros(shape, bool)
    for _ in range(int(rng.integers(8, 16))):
        center = (rng.uniform(0, n_rows), rng.uniform(0, n_cols))
        rr, cc = disk(center, rng.uniform(0.03, 0.08) * scale, shape=shape)
        phase_a[rr, cc] = True
    # particle phase B: small faceted grains, not on top of phase A
    phase_b = np.zeros(shape, bool)
    for _ in range(int(rng.integers(15, 30))):
        center = (rng.uniform(0, n_rows), rng.uniform(0, n_cols))
        radius = rng.uniform(0.015, 0.035) * scale
        rr, cc = polygon(*_random_polygon(rng, center, radius, int(rng.integers(4, 7))), shape)
        phase_b[rr, cc] = True
    phase_b &= ~phase_a
    # coating: two or three thin wavy bands
    coating = np.zeros(shape)
    for _ in range(int(rng.integers(2, 4))):
        angle = rng.uniform(0, np.pi)
        offset = rng.uniform(0.2, 0.8) * np.array(shape)
        along = (rows - offset[0]) * np.sin(angle) + (cols - offset[1]) * np.cos(angle)
        across = (rows - offset[0]) * np.cos(angle) - (cols - offset[1]) * np.sin(angle)
        wave = rng.uniform(0.01, 0.04) * scale * np.sin(along / (rng.uniform(0.1, 0.3) * scale))
        width = rng.uniform(1.0, 2.0)
        coating = np.maximum(coating, np.exp(-0.5 * ((across - wave) / width) ** 2))
    # trace element: a few tiny hot spots (some inside the particles)
    trace = np.zeros(shape)
    for _ in range(int(rng.integers(4, 9))):
        r0, c0 = rng.uniform(0, n_rows), rng.uniform(0, n_cols)
        sigma = rng.uniform(1.0, 2.5)
        trace += rng.uniform(0.5, 1.0) * np.exp(
            -((rows - r0) ** 2 + (cols - c0) ** 2) / (2 * sigma**2)
        )
    # matrix: smooth large-scale variation, displaced by the particles
    matrix = ndimage.gaussian_filter(rng.normal(size=shape), 0.15 * scale, mode="wrap")
    matrix = 0.75 + 0.25 * matrix / (np.abs(matrix).max() + 1e-12)
    matrix = np.where(phase_a | phase_b, 0.15 * matrix, matrix)
    return np.stack(
        [
            200.0 * matrix,  # Fe: hundreds of counts
            3.0 + 80.0 * phase_a,  # Ca
            2.0 + 50.0 * phase_b,  # Ti
            0.5 + 40.0 * np.minimum(trace, 1.0),  # Cu: tens of counts at most
            1.0 + 60.0 * coating,  # Au
        ]
    )


def make_xrf_maps(
    shape: Shape = (200, 300), seed: int = 0, counts: float = 1.0
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Make X-ray fluorescence element maps: expected counts per element and pixel.

    Five elements of different structure and count level (see
    :data:`XRF_ELEMENTS`): a bright Fe matrix (about 200 counts), two particle
    phases (Ca round grains, 80 counts; Ti faceted grains, 50 counts), a weak Cu
    trace element with a few hot spots of a few pixels (at most 40 counts on a
    0.5-count background) and thin Au coating bands (60 counts). The values are
    expected counts per dwell, so a Poisson detector (``noise="poisson"``) gives
    realistic counting statistics; ``counts`` scales every channel (lower means
    noisier).

    Parameters
    ----------
    shape : (n_rows, n_cols)
        Each at least 16.
    seed : int
        The same (shape, seed, counts) always gives the same maps.
    counts : float
        Multiplier of all expected counts, > 0.

    Returns
    -------
    maps : (5, n_rows, n_cols) float64 array of expected counts (>= 0)
    names : tuple of str, the element of each channel

    Examples
    --------
    >>> maps, names = make_xrf_maps((64, 96), seed=1)
    >>> maps.shape, names
    ((5, 64, 96), ('Fe', 'Ca', 'Ti', 'Cu', 'Au'))
    >>> bool(maps.min() >= 0.0) and bool(maps[3].max() <= 45.0)
    True
    """
    if len(shape) != 2 or min(shape) < 16:
        raise ValueError(f"XRF map shape must be (n_rows, n_cols) with both >= 16, got {shape}")
    if not (np.isfinite(counts) and counts > 0):
        raise ValueError(f"counts must be a positive number, got {counts!r}")
    shape = (int(shape[0]), int(shape[1]))
    rng = np.random.default_rng([seed, 0x5846])  # "XF": a stream apart from the 2-D phantoms
    maps = _xrf_channels(shape, rng)
    maps = ndimage.gaussian_filter(maps, (0, 0.7, 0.7))  # finite beam size
    return np.maximum(maps, 0.0) * float(counts), XRF_ELEMENTS

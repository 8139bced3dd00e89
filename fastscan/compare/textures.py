"""Synthetic textures for the validation set (issue 12: never worse than a static pattern).

Images with structure everywhere and no sparse edges, where the best static
pattern (a raster or Halton) is hard to beat: the texture band of
:mod:`fastscan._structure`. Each is seeded (seeds from 100 on; the training
phantoms use 0 and 1, the test images 12), built offline in well under a
second at 256 px and min-max scaled to [0, 100].

* :func:`band_noise`: white noise smoothed by a Gaussian of ``sigma`` pixels
  (band-limited, isotropic; fine grain at 1.5 px, coarse at 4 px);
* :func:`fractal_noise`: 1/f^``beta`` noise (fractal, scale-free, like terrain or
  clouds);
* :func:`voronoi_cells`: Voronoi cells of random grey levels with thin dark
  boundaries (a foam or polycrystal);
* :func:`fibres`: many short blurred strokes in a smoothly varying direction
  (a fibrous, fur- or hair-like texture).

Examples
--------
>>> image = fibres((48, 64), seed=100)
>>> image.shape, float(image.min()), round(float(image.max()), 9)
((48, 64), 0.0, 100.0)
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["band_noise", "fibres", "fractal_noise", "voronoi_cells"]


def _stretch(image: np.ndarray) -> np.ndarray:
    low, high = float(image.min()), float(image.max())
    return np.clip(100.0 * (image - low) / (high - low), 0.0, 100.0)


def _check(shape: tuple[int, int]) -> tuple[int, int]:
    if len(shape) != 2 or min(shape) < 8:
        raise ValueError(f"shape must be (n_rows, n_cols), both >= 8, got {shape!r}")
    return int(shape[0]), int(shape[1])


def band_noise(shape: tuple[int, int], sigma: float, seed: int) -> np.ndarray:
    """White noise smoothed by a Gaussian of ``sigma`` pixels, in [0, 100].

    Examples
    --------
    >>> band_noise((32, 40), 2.0, seed=100).shape
    (32, 40)
    """
    shape = _check(shape)
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0 pixels, got {sigma!r}")
    noise = np.random.default_rng(seed).standard_normal(shape)
    return _stretch(ndimage.gaussian_filter(noise, sigma, mode="wrap"))


def fractal_noise(shape: tuple[int, int], beta: float, seed: int) -> np.ndarray:
    """Noise of power spectrum ``1 / f ** beta`` (radial frequency ``f``), in [0, 100].

    Examples
    --------
    >>> fractal_noise((32, 40), 2.0, seed=100).shape
    (32, 40)
    """
    shape = _check(shape)
    rng = np.random.default_rng(seed)
    f_row = np.fft.fftfreq(shape[0])[:, None]
    f_col = np.fft.rfftfreq(shape[1])[None, :]
    freq = np.hypot(f_row, f_col)
    freq[0, 0] = np.inf  # no mean
    amplitude = freq ** (-beta / 2.0)
    phase = rng.standard_normal(amplitude.shape) + 1j * rng.standard_normal(amplitude.shape)
    return _stretch(np.fft.irfft2(amplitude * phase, s=shape))


def voronoi_cells(shape: tuple[int, int], n_cells: int, seed: int) -> np.ndarray:
    """``n_cells`` Voronoi cells of random grey levels, dark boundaries, in [0, 100].

    Examples
    --------
    >>> voronoi_cells((32, 40), 20, seed=100).shape
    (32, 40)
    """
    from scipy.spatial import cKDTree

    shape = _check(shape)
    rng = np.random.default_rng(seed)
    sites = rng.uniform((0, 0), shape, size=(int(n_cells), 2))
    grid = np.indices(shape).reshape(2, -1).T + 0.5
    dist, nearest = cKDTree(sites).query(grid, k=2)
    levels = rng.uniform(0.3, 1.0, int(n_cells))[nearest[:, 0]]
    edge = np.clip((dist[:, 1] - dist[:, 0]) / 1.5, 0.0, 1.0)  # 0 on a boundary
    image = (levels * (0.4 + 0.6 * edge)).reshape(shape)
    return _stretch(ndimage.gaussian_filter(image, 0.7))


def fibres(
    shape: tuple[int, int], seed: int, density: float = 0.04, length: float = 14.0
) -> np.ndarray:
    """Short bright and dark strokes along a slowly turning direction field, in [0, 100].

    About ``density`` strokes per pixel, each ``length`` pixels long, blurred by
    0.8 px; the direction field is smooth noise over a few tens of pixels (fur).
    """
    shape = _check(shape)
    rng = np.random.default_rng(seed)
    angle_field = np.pi * ndimage.gaussian_filter(
        rng.standard_normal(shape), min(shape) / 6.0, mode="wrap"
    )
    angle_field *= 1.5 / max(float(np.abs(angle_field).max()), 1e-12)
    n = int(density * shape[0] * shape[1])
    starts = rng.uniform((0, 0), shape, size=(n, 2))
    signs = rng.choice((-1.0, 1.0), n) * rng.uniform(0.5, 1.0, n)
    image = np.zeros(shape)
    steps = np.arange(int(length))[None, :]
    angles = angle_field[starts[:, 0].astype(int), starts[:, 1].astype(int)][:, None]
    rows = np.round(starts[:, :1] + steps * np.sin(angles)).astype(np.int64) % shape[0]
    cols = np.round(starts[:, 1:] + steps * np.cos(angles)).astype(np.int64) % shape[1]
    np.add.at(image, (rows.ravel(), cols.ravel()), np.repeat(signs, steps.size))
    return _stretch(ndimage.gaussian_filter(image, 0.8, mode="wrap"))

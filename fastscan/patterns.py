"""Static point sets: the quasi-random initial pattern and the baselines' patterns.

All functions return (n, 2) int64 arrays of distinct (row, col).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import qmc

__all__ = ["halton_points", "random_points", "raster_points", "serpentine_order"]


def _check_n(shape: tuple[int, int], n: int) -> int:
    n = int(n)
    if not 0 <= n <= shape[0] * shape[1]:
        raise ValueError(f"number of points must be in [0, {shape[0] * shape[1]}], got {n}")
    return n


def halton_points(shape: tuple[int, int], n: int, seed: int | None = 0) -> np.ndarray:
    """First ``n`` distinct pixels of a scrambled 2-D Halton sequence.

    Examples
    --------
    >>> pts = halton_points((40, 60), 24, seed=1)
    >>> pts.shape, len({tuple(p) for p in pts.tolist()})
    ((24, 2), 24)
    """
    n = _check_n(shape, n)
    sampler = qmc.Halton(d=2, scramble=True, seed=seed)
    chosen: dict[int, None] = {}
    while len(chosen) < n:
        u = sampler.random(max(2 * (n - len(chosen)), 16))
        rows = np.minimum((u[:, 0] * shape[0]).astype(np.int64), shape[0] - 1)
        cols = np.minimum((u[:, 1] * shape[1]).astype(np.int64), shape[1] - 1)
        for flat in (rows * shape[1] + cols).tolist():
            chosen.setdefault(flat)
            if len(chosen) == n:
                break
    flat = np.fromiter(chosen, np.int64, count=n)
    return np.stack(np.divmod(flat, shape[1]), 1)


def random_points(shape: tuple[int, int], n: int, seed: int | None = 0) -> np.ndarray:
    """``n`` distinct pixels drawn uniformly at random."""
    n = _check_n(shape, n)
    flat = np.random.default_rng(seed).choice(shape[0] * shape[1], n, replace=False)
    return np.stack(np.divmod(flat.astype(np.int64), shape[1]), 1)


def raster_points(shape: tuple[int, int], n: int) -> np.ndarray:
    """About ``n`` pixels on a regular grid with the image's aspect ratio (serpentine order)."""
    n = _check_n(shape, n)
    if n == 0:
        return np.zeros((0, 2), np.int64)
    step = np.sqrt(shape[0] * shape[1] / n)
    n_r = max(1, min(shape[0], round(shape[0] / step)))
    n_c = max(1, min(shape[1], int(np.ceil(n / n_r))))
    rows = ((np.arange(n_r) + 0.5) * shape[0] / n_r).astype(np.int64)
    cols = ((np.arange(n_c) + 0.5) * shape[1] / n_c).astype(np.int64)
    grid = np.stack(np.meshgrid(rows, cols, indexing="ij"), -1)
    grid[1::2] = grid[1::2, ::-1]
    return grid.reshape(-1, 2)[:n]


def serpentine_order(points: np.ndarray, band: int) -> np.ndarray:
    """Permutation visiting ``points`` in horizontal bands of ``band`` rows, boustrophedon."""
    points = np.asarray(points, np.int64).reshape(-1, 2)
    band_index = points[:, 0] // max(int(band), 1)
    direction = np.where(band_index % 2 == 0, 1, -1)
    return np.lexsort((points[:, 0], direction * points[:, 1], band_index))

"""A nested hierarchy of square and diagonal lattices over the pixel grid.

Level ``k`` (any integer) is a lattice of density ``base * 2 ** k`` points per
pixel, and every level contains all coarser ones: the even levels are square
lattices of spacing ``a_k = base ** -0.5 / 2 ** (k / 2)``, and the odd level
between two of them is the coarser square lattice plus the centres of its
cells (a square lattice turned by 45 degrees). The point ``o + g * (i, m)`` (row,
col; ``g`` the finer square spacing, ``i + m`` even on odd levels) lands on the
pixel ``floor``; ``o = a_0 / 2``, so level 0 is the step raster of
:func:`fastscan.patterns.raster_points` at density ``base`` (up to how the
raster fits its last row and column), and with the default base of 1/20 the
levels pass through 1.25, 2.5, 5, 10, 20 and 40 % coverage.

:func:`lattice_levels` gives each pixel the coarsest level it belongs to.
Measuring pixels in order of that level, coarse to fine, keeps the measured set
an even lattice at every one of those coverages (the texture branch of
:mod:`fastscan._structure`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["LATTICE_BASE", "lattice_levels", "snap_to_lattice"]

#: density (points per pixel) of level 0
LATTICE_BASE = 0.05


def _level_points(shape: tuple[int, int], base: float, level: int) -> np.ndarray:
    """(n, 2) pixels (row, col), possibly repeated, of the lattice ``level``."""
    a0 = base**-0.5
    spacing = a0 / 2.0 ** -(-level // 2)  # the square lattice the level is drawn on
    offset = a0 / 2.0
    axes = []
    for size in shape:
        first = int(np.ceil(-offset / spacing))
        last = int(np.floor((size - offset) / spacing - 1e-9))
        axes.append(np.arange(first, last + 1))
    i, m = np.meshgrid(*axes, indexing="ij")
    i, m = i.ravel(), m.ravel()
    if level % 2:  # the coarser square plus its cells' centres
        keep = (i + m) % 2 == 0
        i, m = i[keep], m[keep]
    rows = np.floor(offset + spacing * i).astype(np.int64)
    cols = np.floor(offset + spacing * m).astype(np.int64)
    inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    return np.stack([rows[inside], cols[inside]], 1)


def snap_to_lattice(
    points: np.ndarray, shape: tuple[int, int], level: int = 0, base: float = LATTICE_BASE
) -> np.ndarray:
    """Each (row, col) moved to the nearest pixel of the lattice ``level`` (repeats possible).

    The lattice (:func:`lattice_levels`) is nested, so a pattern snapped to level
    0 can later be completed to exactly that level's lattice (the 5 % step raster).

    Examples
    --------
    >>> snapped = snap_to_lattice(np.array([[0, 0], [13, 30], [39, 39]]), (40, 40), 0, 1 / 16)
    >>> snapped.tolist()
    [[2, 2], [14, 30], [38, 38]]
    >>> bool((lattice_levels((40, 40), 1 / 16)[snapped[:, 0], snapped[:, 1]] <= 0).all())
    True
    """
    from scipy.spatial import cKDTree

    lattice = np.unique(_level_points(shape, base, level), axis=0)
    points = np.asarray(points, np.int64).reshape(-1, 2)
    _, nearest = cKDTree(lattice).query(points)
    return lattice[nearest]


def lattice_levels(
    shape: tuple[int, int], base: float = LATTICE_BASE, finest: int | None = None
) -> np.ndarray:
    """Coarsest lattice level of each pixel, (H, W) int8 (level 0 has density ``base``).

    Levels run from the coarsest that puts a point on the grid (negative) up to
    ``finest`` (default: the first whose spacing is below half a pixel); a pixel
    no lattice point up to there lands on gets ``finest + 1``. Cost and memory
    grow with the number of points of level ``finest``.

    Examples
    --------
    >>> levels = lattice_levels((40, 40), base=1 / 16)
    >>> int((levels <= 0).sum()), int((levels <= 1).sum()), int((levels <= 2).sum())
    (100, 200, 400)
    >>> bool((levels[2::4, 2::4] <= 0).all())
    True
    >>> int(lattice_levels((40, 40), base=1 / 16, finest=0).max())
    1
    """
    if not 0.0 < base <= 1.0:
        raise ValueError(f"base must be a density in (0, 1], got {base!r}")
    a0 = base**-0.5
    # coarsest: spacing at least the long side (one point or a few); finest: below 1/2 pixel
    coarsest = -2 * int(np.ceil(np.log2(max(max(shape) / a0, 1.0))))
    if finest is None:
        finest = 2 * int(np.ceil(np.log2(2.0 * a0)))
    finest = max(int(finest), coarsest)
    if not -127 <= coarsest <= finest < 127:
        raise ValueError(f"levels {coarsest}..{finest} of grid {shape} do not fit int8")
    levels = np.full(shape, finest + 1, np.int8)
    for level in range(finest, coarsest - 1, -1):  # fine to coarse: the coarsest write wins
        points = _level_points(shape, base, level)
        levels[points[:, 0], points[:, 1]] = level
    return levels

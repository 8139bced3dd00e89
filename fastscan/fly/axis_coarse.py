"""Rows or columns, read off the coarse raster alone: an axis test that costs no extra line.

A fly scan's coarse raster of every ``s``-th row (``s = 8`` by default) holds both
axes' rasters at coarse spacings, measured on the same points: the lattice of
every ``s``-th pixel of every coarse row.

- Along each coarse row, keeping every ``k``-th lattice pixel and interpolating
  linearly is what a raster of every ``k s``-th *column* leaves at the lattice
  pixels in between.
- Down each lattice column, the coarse rows *are* a raster of rows of spacing
  ``s``: keeping every ``k``-th of them and interpolating is what a raster of every
  ``k s``-th *row* leaves on the coarse rows dropped.

Both are :func:`fastscan.fly.axis_grid.line_raster_errors` of the lattice (a
Riemann estimate of each raster's mean squared error, the kept lattice pixels
counting 0), once along and once across. On a square grid an image and its
transpose swap the two exactly. :func:`coarse_time_ratio` compares the beam time
each axis's rasters need to reach both axes' errors, line costs included
(:func:`fastscan.fly.axis_grid.grid_time_ratio`).

Examples
--------
>>> import numpy as np
>>> from fastscan.fly.axis_coarse import coarse_raster_errors
>>> image = np.add.outer(np.zeros(64), np.sin(np.arange(64) / 5.0))  # varies along rows
>>> row_errors, column_errors = coarse_raster_errors(image[None, 2::8], 8, origin=2)
>>> bool(row_errors.max() == 0 < column_errors.min())
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fastscan.fly.axis_grid import grid_time_ratio, line_raster_errors

__all__ = ["COARSE_STEPS", "coarse_raster_errors", "coarse_time_ratio"]

#: Raster spacings measured, in lattice spacings (coarse to fine), per test level:
#: level 0, on the coarse raster (every 8th row): rasters of every 32nd and 16th
#: line of either axis; level 1, once the first bisection level is in (every 4th
#: row, a lattice of spacing 4): every 32nd, 16th and 8th.
COARSE_STEPS = ((4, 2), (8, 4, 2))


def coarse_raster_errors(
    lines: np.ndarray,
    spacing: int,
    *,
    origin: int = 0,
    steps: Sequence[int] = COARSE_STEPS[0],
    gains: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Errors of rasters of both axes at spacings ``steps x spacing``, from coarse lines alone.

    Parameters
    ----------
    lines : (C, n_lines, n) array
        Channel values of the coarse raster's whole lines (every ``spacing``-th
        line of the grid, in order), as rows.
    spacing : int
        The coarse raster's spacing (>= 1); the lattice keeps pixels
        ``origin + j spacing`` of each line.
    origin : int
        First lattice pixel along the lines (0 <= origin < n).
    steps : sequence of int
        Raster spacings in units of ``spacing`` (>= 1), coarse to fine.
    gains : (C,) array or None
        Weight of each channel's squared error (None: 1 each).

    Returns
    -------
    across, along : (len(steps),) arrays
        Mean squared error on the lattice of a raster of every ``step x spacing``-th
        line *parallel* to the coarse lines (``across``: measured across them) and
        of lines *across* them (``along``: measured along them).

    Examples
    --------
    >>> import numpy as np
    >>> lines = np.zeros((1, 5, 40)); lines[0, 1] = 1.0  # one bright coarse line
    >>> across, along = coarse_raster_errors(lines, 8, steps=(2,))
    >>> float(across[0]), float(along[0])  # every 16th line misses it; columns do not
    (0.2, 0.0)
    """
    lines = np.asarray(lines, float)
    if lines.ndim != 3:
        raise ValueError(f"lines must be a (C, n_lines, n) array, got shape {lines.shape}")
    if not (int(spacing) == spacing and spacing >= 1):
        raise ValueError(f"spacing must be an integer >= 1, got {spacing!r}")
    n = lines.shape[2]
    if not (int(origin) == origin and 0 <= origin < max(n, 1)):
        raise ValueError(f"origin must be an integer in [0, {n}), got {origin!r}")
    for step in steps:
        if not (int(step) == step and step >= 1):
            raise ValueError(f"steps must be integers >= 1, got {step!r}")
    lattice = lines[:, :, int(origin) :: int(spacing)]
    steps = tuple(int(s) for s in steps)
    along = line_raster_errors(lattice, steps, gains)
    across = line_raster_errors(lattice.transpose(0, 2, 1), steps, gains)
    return across, along


def coarse_time_ratio(
    row_errors: np.ndarray,
    column_errors: np.ndarray,
    shape: tuple[int, int],
    line_seconds: tuple[float, float],
    ks: Sequence[int],
) -> float:
    """Column rasters' beam time over row rasters' for both axes' errors (< 1: columns win).

    ``row_errors`` and ``column_errors`` are those of rasters of every ``k``-th
    row and column for ``k`` in ``ks`` (coarse to fine, :func:`coarse_raster_errors`);
    a raster of every ``k``-th row costs ``ceil(n_rows / k)`` whole rows of
    ``line_seconds[0]`` seconds, of columns ``ceil(n_cols / k)`` of
    ``line_seconds[1]``. The targets are both axes' errors at every ``k``
    (:func:`fastscan.fly.axis_grid.grid_time_ratio`), so an image and its
    transpose get reciprocal ratios.

    Examples
    --------
    >>> import numpy as np
    >>> e = np.array([4.0, 1.0])
    >>> r = coarse_time_ratio(e, e / 8, (64, 64), (1.0, 1.0), (32, 16))
    >>> bool(r < 1), round(r * coarse_time_ratio(e / 8, e, (64, 64), (1.0, 1.0), (32, 16)), 9)
    (True, 1.0)
    """
    ks = [int(k) for k in ks]
    seconds = [
        np.array([-(-int(n) // k) * float(line) for k in ks])
        for n, line in zip(shape, line_seconds)
    ]
    row_errors = np.asarray(row_errors, float)
    column_errors = np.asarray(column_errors, float)
    if row_errors.shape != (len(ks),) or column_errors.shape != (len(ks),):
        raise ValueError(
            f"row_errors and column_errors must have one value per k ({len(ks)}), "
            f"got shapes {row_errors.shape} and {column_errors.shape}"
        )
    return grid_time_ratio(row_errors, column_errors, *seconds, ks, ks)

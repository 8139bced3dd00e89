"""Rows or columns, read off a coarse grid of both: what each raster would cost, measured.

A fly scan that starts with every ``2 s``-th row *and* every ``2 s``-th column
holds whole lines of both directions. A whole column shows exactly what a raster
of every ``k``-th *row* would leave there: take every ``k``-th of its pixels,
interpolate linearly in between, and compare with the pixels left out. Whole rows
show the same for a raster of columns. No model of the image is needed:
:func:`line_raster_errors` measures the error of each spacing on the lines, and
:func:`grid_time_ratio` compares the beam time each axis needs to reach the same
errors, line costs included (:func:`fastscan.fly.sampler.line_costs`).

Examples
--------
>>> import numpy as np
>>> from fastscan.fly.axis_grid import line_raster_errors
>>> lines = np.sin(np.arange(64.0) / 3.0)[None, None, :]  # one channel, one line
>>> errors = line_raster_errors(lines, (8, 4, 2))
>>> bool(errors[0] > errors[1] > errors[2] > 0)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["RASTER_KS", "TARGET_KS", "grid_time_ratio", "line_raster_errors", "time_to_error"]

#: Raster spacings measured on the coarse lines (coarse to fine).
RASTER_KS = (16, 8, 4, 2)
#: Spacings whose errors are the targets the two axes are compared at (the fly
#: raster's every 4th and every 2nd line, as the beam-time benchmark's targets).
TARGET_KS = (4, 2)


def line_raster_errors(
    lines: np.ndarray,
    ks: Sequence[int] = RASTER_KS,
    gains: np.ndarray | None = None,
    origin: int = 0,
) -> np.ndarray:
    """Mean squared error of rebuilding whole lines from every ``k``-th pixel of each.

    Parameters
    ----------
    lines : (C, n_lines, n) array
        Channel values of whole measured lines (a raster of every ``k``-th line
        across them keeps pixels ``origin + i k`` of each).
    ks : sequence of int
        Spacings (>= 1).
    gains : (C,) array or None
        Weight of each channel's squared error (None: 1 each).
    origin : int
        First kept pixel; pixels before it and after the last kept one take the
        nearest kept value.

    Returns
    -------
    numpy.ndarray
        (len(ks),) mean over lines and pixels of the gain-weighted squared error.

    Examples
    --------
    >>> import numpy as np
    >>> ramp = np.arange(9.0)[None, None, :]
    >>> line_raster_errors(ramp, (4, 2)).tolist()  # linear interpolation is exact on a ramp
    [0.0, 0.0]
    """
    lines = np.asarray(lines, float)
    if lines.ndim != 3:
        raise ValueError(f"lines must be a (C, n_lines, n) array, got shape {lines.shape}")
    n = lines.shape[2]
    gains = np.ones(lines.shape[0]) if gains is None else np.asarray(gains, float)
    if gains.shape != (lines.shape[0],):
        raise ValueError(f"gains must have one value per channel ({lines.shape[0]}), got {gains}")
    out = np.zeros(len(ks))
    if lines.shape[1] == 0 or n == 0:
        return out
    x = np.arange(n, dtype=float)
    flat = lines.reshape(-1, n)
    weight = np.repeat(gains, lines.shape[1])
    for i, k in enumerate(ks):
        if int(k) != k or k < 1:
            raise ValueError(f"ks must be integers >= 1, got {k!r}")
        kept = np.arange(min(int(origin), n - 1), n, int(k))
        sq = np.array([((np.interp(x, kept, row[kept]) - row) ** 2).mean() for row in flat])
        out[i] = float((weight * sq).sum()) / lines.shape[1]
    return out


def time_to_error(errors: np.ndarray, seconds: np.ndarray, target: float) -> float:
    """Beam time a raster needs for ``target`` error, between measured spacings.

    ``errors`` and ``seconds`` are per spacing, coarse to fine (seconds
    increasing); a whole raster (error 0) costs twice the finest. The error is
    made non-increasing in time, and log time is interpolated linearly in the
    error between the two spacings around ``target``.

    Examples
    --------
    >>> import numpy as np
    >>> time_to_error(np.array([4.0, 2.0, 1.0]), np.array([1.0, 2.0, 4.0]), 2.0)
    2.0
    >>> round(time_to_error(np.array([4.0, 2.0, 1.0]), np.array([1.0, 2.0, 4.0]), 3.0), 3)
    1.414
    """
    errs = np.minimum.accumulate(np.append(np.asarray(errors, float), 0.0))
    logs = np.log(np.append(np.asarray(seconds, float), 2.0 * float(seconds[-1])))
    if target >= errs[0]:
        return float(np.exp(logs[0]))
    j = int(np.argmax(errs <= target))  # first spacing that reaches it (the last one does)
    span = errs[j - 1] - errs[j]
    share = 1.0 if span <= 0 else (errs[j - 1] - target) / span
    return float(np.exp(logs[j - 1] + share * (logs[j] - logs[j - 1])))


def grid_time_ratio(
    row_errors: np.ndarray,
    column_errors: np.ndarray,
    row_seconds: np.ndarray,
    column_seconds: np.ndarray,
    ks: Sequence[int] = RASTER_KS,
    target_ks: Sequence[int] = TARGET_KS,
) -> float:
    """Column rasters' beam time over row rasters' for the same errors (< 1: columns win).

    The targets are the errors of *both* axes at each of ``target_ks``, so an
    image and its transpose get reciprocal ratios; the ratio is the geometric
    mean over the targets of :func:`time_to_error` of the columns over the rows'.

    Parameters
    ----------
    row_errors, column_errors : (len(ks),) arrays
        Errors of a raster of every ``k``-th row (measured down whole columns)
        and of columns (along whole rows), :func:`line_raster_errors`.
    row_seconds, column_seconds : (len(ks),) arrays
        Beam time of those rasters.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([1.0, 2.0, 4.0, 8.0])
    >>> e = np.array([8.0, 4.0, 2.0, 1.0])
    >>> grid_time_ratio(e, e / 4, t, t) < 1 < grid_time_ratio(e / 4, e, t, t)
    True
    """
    ks = list(ks)
    logs = []
    for k in target_ks:
        for target in (row_errors[ks.index(k)], column_errors[ks.index(k)]):
            rows = time_to_error(row_errors, row_seconds, float(target))
            columns = time_to_error(column_errors, column_seconds, float(target))
            logs.append(math.log(columns / rows))
    return float(math.exp(np.mean(logs)))

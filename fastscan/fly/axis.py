"""Which axis a fly scan should refine along: rows or columns, from its first readings.

A raster of every ``k``-th row leaves pixels up to ``k / 2`` rows from a reading,
so its error comes from how much the image changes *down* the columns over
``k / 2`` pixels; a raster of every ``k``-th column, from how much it changes
*along* the rows. Both are directional variograms,

    gamma_x(l) = mean (f(r, c + l) - f(r, c)) ** 2,
    gamma_y(l) = mean (f(r + l, c) - f(r, c)) ** 2,

over pairs of measured pixels. A fly scan's coarse raster of rows measures
``gamma_x`` at every lag, and a few probe columns measure ``gamma_y``; the
squared error of a raster of every ``k``-th line is then modelled as the
across-line variogram at lag ``k / 2`` (on the validation images the square
root of ``gamma_y(1) / gamma_x(1)`` is within 15 % of the ratio of the row and
the column raster's NRMSE at ``k = 2``). :func:`axis_time_ratio` compares the
beam time each axis needs for the same modelled error, line costs included
(:func:`fastscan.fly.sampler.line_costs`: at short dwells a line's fixed cost
makes the axis with fewer, longer lines cheaper).

Examples
--------
>>> import numpy as np
>>> from fastscan.fly.axis import directional_variograms
>>> image = np.add.outer(np.zeros(6), np.arange(8.0))  # changes along the rows only
>>> gamma_x, gamma_y = directional_variograms(image[None], np.ones((6, 8), bool), 2)
>>> gamma_x.tolist(), gamma_y.tolist()
([1.0, 4.0], [0.0, 0.0])
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["axis_time_ratio", "directional_variograms", "lag_for"]


def directional_variograms(
    values: np.ndarray, measured: np.ndarray, max_lag: int, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean squared difference of measured pixel pairs ``l`` apart, along rows and down columns.

    Parameters
    ----------
    values : (C, n_rows, n_cols) float
        Readings per channel (anything where not measured).
    measured : (n_rows, n_cols) bool
    max_lag : int
        Lags ``1 .. max_lag`` (>= 1).
    weights : (C,) float or None
        Channel weights (None: all 1); the variograms are their weighted sums.

    Returns
    -------
    gamma_x, gamma_y : (max_lag,) float
        ``gamma_x[l - 1]`` over pairs ``(r, c), (r, c + l)``; ``gamma_y[l - 1]``
        over pairs ``(r, c), (r + l, c)``; NaN at a lag with no measured pair.
    """
    values = np.asarray(values, float)
    measured = np.asarray(measured, bool)
    if values.ndim != 3 or values.shape[1:] != measured.shape:
        raise ValueError(
            f"values must be (C, n_rows, n_cols) over measured {measured.shape}, got {values.shape}"
        )
    if int(max_lag) != max_lag or max_lag < 1:
        raise ValueError(f"max_lag must be an integer >= 1, got {max_lag!r}")
    weights = np.ones(len(values)) if weights is None else np.asarray(weights, float)
    out = np.full((2, int(max_lag)), np.nan)
    for axis in (0, 1):  # 0: along rows (x), 1: down columns (y)
        for lag in range(1, int(max_lag) + 1):
            if axis == 0:
                both = measured[:, lag:] & measured[:, :-lag]
                diffs = [(v[:, lag:] - v[:, :-lag])[both] for v in values]
            else:
                both = measured[lag:] & measured[:-lag]
                diffs = [(v[lag:] - v[:-lag])[both] for v in values]
            if both.any():
                out[axis, lag - 1] = sum(w * float(np.mean(d**2)) for w, d in zip(weights, diffs))
    return out[0], out[1]


def lag_for(gamma: np.ndarray, target: float) -> float:
    """Lag (in pixels, > 0) at which the variogram ``gamma`` (lags 1, 2, ...) reaches ``target``.

    Log-log interpolation between the measured lags of the running maximum of
    ``gamma``, a power law beyond them (its exponent from the two end lags,
    clipped to [0.1, 2]); inf where ``gamma`` is flat at 0 or never grows.

    Examples
    --------
    >>> import numpy as np
    >>> gamma = np.array([1.0, 4.0, 9.0, 16.0])  # l ** 2
    >>> [round(lag_for(gamma, target), 6) for target in (6.25, 0.25, 64.0)]
    [2.5, 0.5, 8.0]
    """
    g = np.maximum.accumulate(np.nan_to_num(np.asarray(gamma, float), nan=0.0))
    lags = np.arange(1, len(g) + 1, dtype=float)
    if not target > 0:
        return 0.0
    if g[-1] <= 0:
        return math.inf
    keep = g > 0
    g, lags = g[keep], lags[keep]
    if len(g) == 1:
        slope_lo = slope_hi = 1.0
    else:
        slope_lo = math.log(g[1] / g[0]) / math.log(lags[1] / lags[0])
        slope_hi = math.log(g[-1] / g[-2]) / math.log(lags[-1] / lags[-2])
    slope_lo, slope_hi = (min(max(s, 0.1), 2.0) for s in (slope_lo, slope_hi))
    if target <= g[0]:
        return float(lags[0] * (target / g[0]) ** (1.0 / slope_lo))
    if target >= g[-1]:
        return float(lags[-1] * (target / g[-1]) ** (1.0 / slope_hi))
    i = int(np.searchsorted(g, target))  # g[i - 1] < target <= g[i]
    if g[i] == g[i - 1]:
        return float(lags[i])
    t = math.log(target / g[i - 1]) / math.log(g[i] / g[i - 1])
    return float(lags[i - 1] * (lags[i] / lags[i - 1]) ** t)


def axis_time_ratio(
    gamma_along: np.ndarray,
    gamma_across: np.ndarray,
    line_seconds: tuple[float, float],
    n_lines: tuple[int, int],
    spacings: tuple[int, ...] = (2, 4),
) -> float:
    """Beam time of lines of the *other* axis over that of the current one, for equal error.

    The current axis flies lines along which ``gamma_along`` was measured
    (every ``k``-th line: squared error ``gamma_across(k / 2)``); the other axis
    flies lines across them (every ``k'``-th: ``gamma_along(k' / 2)``). For each
    ``k`` in ``spacings`` the other axis's ``k'`` giving the same modelled error
    is found (:func:`lag_for`), and the times ``n_lines / k * line_seconds``
    compared; the result is the geometric mean of those ratios (< 1: the other
    axis is cheaper). ``line_seconds`` and ``n_lines`` are (current, other).

    Examples
    --------
    >>> import numpy as np
    >>> lags = np.arange(1.0, 9.0)
    >>> # the image changes 4x as fast (in gamma) across the current lines as along them
    >>> round(axis_time_ratio(lags, 4 * lags, (1.0, 1.0), (100, 100)), 3)
    0.25
    """
    ratios = []
    for k in spacings:
        target = float(np.interp(k / 2.0, np.arange(1, len(gamma_across) + 1), gamma_across))
        k_other = max(2.0 * lag_for(gamma_along, target), 1.0)  # at most every line
        t_now = n_lines[0] / k * line_seconds[0]
        t_other = n_lines[1] / k_other * line_seconds[1] if math.isfinite(k_other) else 0.0
        ratios.append(max(t_other, 1e-300) / t_now)
    return float(np.exp(np.mean(np.log(ratios))))

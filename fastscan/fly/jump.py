"""How much the readings bounding a pixel's gap disagree: a line value for the fine levels.

``FlySampler(line_jump=...)`` (short-dwell sweeps, opt-in). Late in a fly scan the
candidate lines lie in gaps of one or three lines between measured ones, and what
measuring such a line gains is what linear filling across the gap gets wrong there.
Where the readings on both sides agree the fill is nearly right; where they differ
(an edge or a particle passes between them) it is not. :func:`jump_map` gives each
unmeasured pixel the difference of the nearest readings above and below it (at most
``reach`` rows away, each channel divided by its span, the root mean square over the
channels, at most 1); 0 where either side has none. :func:`jump_line_scale` turns it
into a factor per line for the planner's ERD per second: :data:`JUMP_FLOOR` plus the
mean over the line's candidate pixels, so a line's ERD still says where along it the
value lies (and the line is flown whole where the ERD is flat), while the jump ranks
the lines.

Examples
--------
>>> import numpy as np
>>> from fastscan.fly.jump import jump_map
>>> values = np.zeros((5, 3, 1)); values[4, 1, 0] = 1.0
>>> measured = np.zeros((5, 3), bool); measured[[0, 4]] = True
>>> jump_map(values, measured, reach=4, span=np.ones(1))[2].tolist()
[0.0, 1.0, 0.0]
>>> jump_map(values, measured, reach=4, span=np.ones(1), box=(1, 3, 1, 2)).tolist()
[[1.0], [1.0]]
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fastscan.fly.lattice import _checked_values, _reach_and_box

__all__ = ["JUMP_FLOOR", "jump_line_scale", "jump_map"]

#: A line's factor where the readings bounding its candidates all agree (or it has none):
#: such lines keep this share of their ERD per second, so the ERD still orders them
JUMP_FLOOR = 0.01


def jump_line_scale(
    values: np.ndarray,
    measured: np.ndarray,
    candidates: np.ndarray,
    *,
    reach: int,
    span: np.ndarray,
    axes: tuple[int, ...] = (0, 1),
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Per axis (0: rows, 1: columns), each line's factor: :data:`JUMP_FLOOR` plus the mean
    :func:`jump_map` (across the line) over its unmeasured ``candidates``; None for an
    axis not in ``axes``.

    Examples
    --------
    >>> import numpy as np
    >>> values = np.zeros((5, 3, 1)); values[4, 1, 0] = 1.0
    >>> measured = np.zeros((5, 3), bool); measured[[0, 4]] = True
    >>> rows, cols = jump_line_scale(values, measured, ~measured, reach=4, span=np.ones(1),
    ...                              axes=(0,))
    >>> rows.round(4).tolist(), cols
    ([0.01, 0.3433, 0.3433, 0.3433, 0.01], None)
    """
    candidates = np.asarray(candidates, bool) & ~np.asarray(measured, bool)
    out: list[np.ndarray | None] = [None, None]
    for axis in axes:
        if axis == 0:
            jump, cand = jump_map(values, measured, reach=reach, span=span), candidates
        else:
            jump = jump_map(values.transpose(1, 0, 2), measured.T, reach=reach, span=span)
            cand = candidates.T
        n = cand.sum(axis=1)
        total = np.where(cand, jump, 0.0).sum(axis=1)
        out[axis] = JUMP_FLOOR + np.divide(total, n, out=np.zeros(len(n)), where=n > 0)
    return out[0], out[1]


def jump_map(
    values: np.ndarray,
    measured: np.ndarray,
    *,
    reach: int,
    span: np.ndarray,
    box: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """Disagreement of the readings bounding each unmeasured pixel across the rows.

    Parameters
    ----------
    values : (n_rows, n_cols, C) float
        Readings (only measured pixels are read); pass the transposes for columns.
    measured : (n_rows, n_cols) bool
        Pixels measured.
    reach : int
        Farthest row (>= 1) a bounding reading may lie from the pixel.
    span : (C,) float
        Each channel's scale (a span of 0 or less counts as 1).
    box : (row_start, row_stop, col_start, col_stop) or None
        Compute only these pixels (the answer has the box's shape); None: the grid.

    Returns
    -------
    numpy.ndarray
        float in [0, 1]: ``sqrt(mean_c ((above_c - below_c) / span_c) ** 2)``, clipped at 1;
        0 for measured pixels and where either side has no reading within ``reach``.
        A new reading changes it only within ``reach`` rows of it, in its column.
    """
    measured = np.asarray(measured, bool)
    values, scale = _checked_values(values, measured, span)
    reach, r0, r1, c0, c1 = _reach_and_box(measured.shape, reach, box)
    out = np.zeros((max(r1 - r0, 0), max(c1 - c0, 0)))
    if out.size:
        _jump_map(values, measured, reach, scale, r0, r1, c0, c1, out)
    return out


@njit(cache=True)
def _jump_map(values, measured, reach, scale, r0, r1, c0, c1, out):
    """Each column's nearest measured rows above and below the box's pixels, one pass per
    side, then the root mean square of their readings' scaled differences."""
    n_rows = measured.shape[0]
    n_ch = values.shape[2]
    for c in range(c0, c1):
        up = np.full(r1 - r0, -1, np.int64)
        last = -1
        for r in range(max(r0 - reach, 0), r1):
            if r >= r0 and last >= 0 and r - last <= reach:
                up[r - r0] = last
            if measured[r, c]:
                last = r
        last = -1
        for r in range(min(r1 + reach, n_rows) - 1, r0 - 1, -1):
            if r < r1:
                u = up[r - r0]
                if measured[r, c] or u < 0 or last < 0 or last - r > reach:
                    out[r - r0, c - c0] = 0.0
                else:
                    total = 0.0
                    for ch in range(n_ch):
                        d = (values[u, c, ch] - values[last, c, ch]) / scale[ch]
                        total += d * d
                    out[r - r0, c - c0] = min(np.sqrt(total / n_ch), 1.0)
            if measured[r, c]:
                last = r

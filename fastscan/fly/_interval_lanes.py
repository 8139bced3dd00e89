"""Best segments of many rows, four rows at a time (the planner's rescoring kernel).

The best interval of a line (:func:`fastscan.fly._kernels._best_interval`:
Dinkelbach's method over Kadane's pass) costs a pass for the hint's sum and one
Kadane pass per iteration; after an update the hint is usually still the best,
so one iteration. Each pass is a chain of dependent additions, pixel after pixel,
which leaves most of a core idle; here four rows share one loop, four chains side
by side (2.2 times faster on WSe2's 600 x 400 level map).

Each lane does the additions and comparisons of ``_best_interval`` on its row in
the same order, so the results are the same bit for bit; the rows left over
from the groups of four, and the rows whose first pass finds a better interval
(more iterations), continue one at a time with the kernels of
:mod:`fastscan.fly._kernels`. ``tests/test_fly_interval_lanes.py`` checks the lanes
against ``_best_intervals`` (one line at a time) bit for bit and against brute force.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fastscan.fly._kernels import _best_intervals, _dinkelbach, _hint, _hint_ratio, _kadane_step

_LANES = 4  # rows per group


@njit(cache=True, nogil=True, inline="always")
def _hint_sum(w, i, a, b, total):
    """``total + w`` while ``a <= i <= b`` (the hint's sum, added in row order), else ``total``."""
    return total + w if a <= i <= b else total


@njit(cache=True, nogil=True)
def _four_rows(weights, l0, l1, l2, l3, fixed, pixel_time, ratio, start, end):
    """:func:`_best_interval` of rows ``l0..l3`` of ``weights``, seeded by ``start``/``end``."""
    n = weights.shape[1]
    r0, r1, r2, r3 = weights[l0], weights[l1], weights[l2], weights[l3]
    a0, b0 = _hint(start[l0], end[l0], n)
    a1, b1 = _hint(start[l1], end[l1], n)
    a2, b2 = _hint(start[l2], end[l2], n)
    a3, b3 = _hint(start[l3], end[l3], n)
    t0 = t1 = t2 = t3 = 0.0
    for i in range(min(a0, a1, a2, a3), max(b0, b1, b2, b3) + 1):
        t0 = _hint_sum(r0[i], i, a0, b0, t0)
        t1 = _hint_sum(r1[i], i, a1, b1, t1)
        t2 = _hint_sum(r2[i], i, a2, b2, t2)
        t3 = _hint_sum(r3[i], i, a3, b3, t3)
    q0, a0, b0 = _hint_ratio(t0, a0, b0, fixed, pixel_time)
    q1, a1, b1 = _hint_ratio(t1, a1, b1, fixed, pixel_time)
    q2, a2, b2 = _hint_ratio(t2, a2, b2, fixed, pixel_time)
    q3, a3, b3 = _hint_ratio(t3, a3, b3, fixed, pixel_time)
    p0, p1, p2, p3 = q0 * pixel_time, q1 * pixel_time, q2 * pixel_time, q3 * pixel_time
    # Kadane's first pass, four running states (current, its weight, its start) and bests
    c0 = c1 = c2 = c3 = 0.0
    w0 = w1 = w2 = w3 = 0.0
    s0 = s1 = s2 = s3 = 0
    m0 = m1 = m2 = m3 = -np.inf
    f0 = f1 = f2 = f3 = -1
    g0 = g1 = g2 = g3 = -1
    h0 = h1 = h2 = h3 = 0.0
    for i in range(n):
        c0, w0, s0, m0, f0, g0, h0 = _kadane_step(r0[i], p0, i, c0, w0, s0, m0, f0, g0, h0)
        c1, w1, s1, m1, f1, g1, h1 = _kadane_step(r1[i], p1, i, c1, w1, s1, m1, f1, g1, h1)
        c2, w2, s2, m2, f2, g2, h2 = _kadane_step(r2[i], p2, i, c2, w2, s2, m2, f2, g2, h2)
        c3, w3, s3, m3, f3, g3, h3 = _kadane_step(r3[i], p3, i, c3, w3, s3, m3, f3, g3, h3)
    ratio[l0], start[l0], end[l0] = _dinkelbach(
        weights, 0, l0, fixed, pixel_time, q0, a0, b0, f0, g0, h0
    )
    ratio[l1], start[l1], end[l1] = _dinkelbach(
        weights, 0, l1, fixed, pixel_time, q1, a1, b1, f1, g1, h1
    )
    ratio[l2], start[l2], end[l2] = _dinkelbach(
        weights, 0, l2, fixed, pixel_time, q2, a2, b2, f2, g2, h2
    )
    ratio[l3], start[l3], end[l3] = _dinkelbach(
        weights, 0, l3, fixed, pixel_time, q3, a3, b3, f3, g3, h3
    )


@njit(cache=True, nogil=True)
def _best_rows(weights, lines, fixed, pixel_time, ratio, start, end):
    """:func:`fastscan.fly._kernels._best_intervals` over rows (``axis=0``), four at a time.

    ``lines`` must not repeat a row (each lane writes its row's ratio, start, end).
    """
    n_lines = lines.shape[0]
    n_groups = n_lines // _LANES
    for g in range(n_groups):
        j = g * _LANES
        _four_rows(
            weights, lines[j], lines[j + 1], lines[j + 2], lines[j + 3],
            fixed, pixel_time, ratio, start, end,
        )  # fmt: skip
    rest = lines[n_groups * _LANES :]
    _best_intervals(weights, 0, rest, fixed, pixel_time, ratio, start, end)

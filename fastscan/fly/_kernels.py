"""Numba kernels of the fly planner, tested against brute force in tests/test_fly_planner.py.

A *line* is one row (``axis=0``) or one column (``axis=1``) of a 2-D weight map
(the ERD, 0 where nothing is to be gained). A segment over pixels ``a..b`` of a
line is worth ``sum(w[a..b]) / (fixed + (b - a + 1) * pixel_time)`` per second.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _line_value(weights, axis, line, i):
    if axis == 0:
        return weights[line, i]
    return weights[i, line]


_ITERATIONS = 64  # Dinkelbach iterations at most


@njit(cache=True, nogil=True, inline="always")
def _kadane_step(w, penalty, i, current, current_w, start, best, best_a, best_b, best_w):
    """One pixel ``i`` (weight ``w``) of :func:`_kadane`; the new running state."""
    x = w - penalty
    if i == 0 or current <= 0.0:
        current = x
        current_w = w
        start = i
    else:
        current += x
        current_w += w
    if current > best:
        best = current
        best_a = start
        best_b = i
        best_w = current_w
    return current, current_w, start, best, best_a, best_b, best_w


@njit(cache=True, nogil=True)
def _kadane(weights, axis, line, n, penalty):
    """Max over intervals [a, b] of sum(w[a..b] - penalty): (best, a, b, sum of w over it)."""
    best = -np.inf
    best_a = -1
    best_b = -1
    best_w = 0.0
    current = 0.0
    current_w = 0.0
    start = 0
    for i in range(n):
        current, current_w, start, best, best_a, best_b, best_w = _kadane_step(
            _line_value(weights, axis, line, i),
            penalty, i, current, current_w, start, best, best_a, best_b, best_w,
        )  # fmt: skip
    return best, best_a, best_b, best_w


@njit(cache=True, nogil=True, inline="always")
def _hint(a, b, n):
    """The hint ``a..b`` if it is a valid interval of a line of ``n``, else the empty (0, -1)."""
    if 0 <= a <= b < n:
        return a, b
    return 0, -1


@njit(cache=True, nogil=True, inline="always")
def _hint_ratio(total, a, b, fixed, pixel_time):
    """The ratio a hint ``a..b`` with weight ``total`` seeds the search with (0 and no
    interval if it is empty or ``total <= 0``)."""
    if b >= a and total > 0.0:
        return total / (fixed + (b - a + 1) * pixel_time), a, b
    return 0.0, -1, -1


@njit(cache=True, nogil=True)
def _dinkelbach(weights, axis, line, fixed, pixel_time, ratio, best_a, best_b, a, b, total):
    """Dinkelbach's iterations from ``ratio`` (interval ``best_a..best_b``), the first
    Kadane pass at that ratio already done (it found ``a..b`` with weight ``total``)."""
    n = weights.shape[1] if axis == 0 else weights.shape[0]
    for iteration in range(_ITERATIONS):
        if iteration > 0:
            _, a, b, total = _kadane(weights, axis, line, n, ratio * pixel_time)
        if total <= 0.0:
            break
        new_ratio = total / (fixed + (b - a + 1) * pixel_time)
        if new_ratio <= ratio * (1.0 + 1e-12):
            break
        ratio = new_ratio
        best_a = a
        best_b = b
    return ratio, best_a, best_b


@njit(cache=True, nogil=True)
def _best_interval(weights, axis, line, fixed, pixel_time, hint_a=-1, hint_b=-1):
    """Interval of one line with the most weight per second (Dinkelbach over Kadane).

    ``hint_a..hint_b`` (an earlier answer, optional) seeds the search with its
    ratio under the current weights. Returns (ratio, a, b); ratio 0 and
    a = b = -1 when the line holds no weight.
    """
    n = weights.shape[1] if axis == 0 else weights.shape[0]
    hint_a, hint_b = _hint(hint_a, hint_b, n)
    total = 0.0
    for i in range(hint_a, hint_b + 1):
        total += _line_value(weights, axis, line, i)
    ratio, best_a, best_b = _hint_ratio(total, hint_a, hint_b, fixed, pixel_time)
    _, a, b, total = _kadane(weights, axis, line, n, ratio * pixel_time)
    return _dinkelbach(weights, axis, line, fixed, pixel_time, ratio, best_a, best_b, a, b, total)


@njit(cache=True, nogil=True)
def _best_intervals(weights, axis, lines, fixed, pixel_time, ratio, start, end):
    """:func:`_best_interval` of each line in ``lines`` (seeded by ``start``/``end``)."""
    for j in range(lines.shape[0]):
        line = lines[j]
        r, a, b = _best_interval(weights, axis, line, fixed, pixel_time, start[line], end[line])
        ratio[line] = r
        start[line] = a
        end[line] = b


@njit(cache=True, nogil=True, inline="always")
def _set_logged(weights, weights_t, mirror, r, c, new, log_flat, log_old, n_log):
    """``weights[r, c] = new`` (mirrored into ``weights_t`` if ``mirror``), the old value
    logged at ``n_log``; the new log length."""
    log_flat[n_log] = r * weights.shape[1] + c
    log_old[n_log] = weights[r, c]
    weights[r, c] = new
    if mirror:
        weights_t[c, r] = new
    return n_log + 1


@njit(cache=True, nogil=True)
def _suppress(
    weights, planned, axis, line, a, b, reach, power, weights_t, mirror, log_flat, log_old
):
    """Planning a segment on ``line`` over ``a..b``: lower the weight of the pixels it serves.

    For each pixel of the segment, walk perpendicular to it in both directions up
    to the next planned pixel (at most ``reach`` steps). A pixel at distance ``d``
    from the segment whose nearest planned pixel along that walk was ``d_old``
    away keeps the fraction ``(min(d, d_old) / d_old) ** power`` of its weight.
    Marks the segment's pixels planned and zeroes their weight. Every weight it
    changes is mirrored into ``weights_t`` (the transposed copy) if ``mirror``, and
    logged, flat index and old value, in ``log_flat`` / ``log_old`` (room for
    ``(b - a + 1) * (2 * reach + 1)`` entries) for :func:`_restore`. Returns the
    lowest and highest perpendicular line index touched and the log's length.
    """
    n_perp = weights.shape[0] if axis == 0 else weights.shape[1]
    lo = line
    hi = line
    n_log = 0
    for i in range(a, b + 1):
        # nearest planned pixel before and after `line` along the perpendicular
        before = -1
        k = line - 1
        while k >= 0 and line - k <= reach:
            if planned[k, i] if axis == 0 else planned[i, k]:
                before = k
                break
            k -= 1
        after = -1
        k = line + 1
        while k < n_perp and k - line <= reach:
            if planned[k, i] if axis == 0 else planned[i, k]:
                after = k
                break
            k += 1
        first = before + 1 if before >= 0 else max(0, line - reach)
        last = after - 1 if after >= 0 else min(n_perp - 1, line + reach)
        for k in range(first, last + 1):
            if k == line:
                continue
            d_before = k - before if before >= 0 else np.inf
            d_after = after - k if after >= 0 else np.inf
            d_old = min(d_before, d_after)
            d_new = abs(k - line)
            if d_new < d_old:
                factor = 1.0 if d_old == np.inf else (d_new / d_old) ** power
                if d_old == np.inf:
                    factor = (d_new / (reach + 1.0)) ** power
                r, c = (k, i) if axis == 0 else (i, k)
                new = weights[r, c] * factor
                n_log = _set_logged(weights, weights_t, mirror, r, c, new, log_flat, log_old, n_log)
        if first < lo:
            lo = first
        if last > hi:
            hi = last
        r, c = (line, i) if axis == 0 else (i, line)
        n_log = _set_logged(weights, weights_t, mirror, r, c, 0.0, log_flat, log_old, n_log)
        planned[r, c] = True
    return lo, hi, n_log


@njit(cache=True, nogil=True)
def _restore(weights, weights_t, mirror, log_flat, log_old, n_log):
    """Undo :func:`_suppress`: put back the ``n_log`` logged weights, last first."""
    n_cols = weights.shape[1]
    for j in range(n_log - 1, -1, -1):
        r, c = log_flat[j] // n_cols, log_flat[j] % n_cols
        weights[r, c] = log_old[j]
        if mirror:
            weights_t[c, r] = log_old[j]


@njit(cache=True, nogil=True)
def _axis_time(d, v, a):
    d = abs(d)
    if d == 0.0:
        return 0.0
    if a == np.inf:
        return d / v
    if d <= v * v / a:
        return 2.0 * np.sqrt(d / a)
    return d / v + v / a


@njit(cache=True, nogil=True)
def _travel(d_row, d_col, stage):
    """Seconds both axes move together (slower decides); stage = (v_x, a_x, v_y, a_y)."""
    return max(_axis_time(d_col, stage[0], stage[1]), _axis_time(d_row, stage[2], stage[3]))


@njit(cache=True, nogil=True)
def _rates(ratio, start, end, axis, here_row, here_col, fixed, pixel_time, stage, out):
    """ERD per second of each line's best segment, the move to its nearer end included.

    ``stage`` is (v_x, a_x, v_y, a_y), or empty to count no move.
    """
    for line in range(ratio.shape[0]):
        r = ratio[line]
        if r <= 0.0:
            out[line] = 0.0
            continue
        seconds = fixed + (end[line] - start[line] + 1) * pixel_time
        gain = r * seconds
        if stage.shape[0] == 4:
            if axis == 0:
                d_line = line - here_row
                move = min(
                    _travel(d_line, start[line] - here_col, stage),
                    _travel(d_line, end[line] - here_col, stage),
                )
            else:
                d_line = line - here_col
                move = min(
                    _travel(start[line] - here_row, d_line, stage),
                    _travel(end[line] - here_row, d_line, stage),
                )
            seconds += move
        out[line] = gain / seconds


@njit(cache=True, nogil=True)
def _dyadic(lo, hi):
    """The index in ``lo..hi`` (inclusive, ``0 <= lo <= hi``) divisible by the largest power of two.

    It is unique (of two multiples of ``2**t`` in a run, one is a multiple of
    ``2**(t + 1)``); 0 if ``lo`` is 0. A raster of every ``2**j``-th line from
    line 0 thus bisects to the raster of every ``2**(j - 1)``-th line.
    """
    if lo == 0:
        return 0
    step = 1
    while True:
        first = ((lo + 2 * step - 1) // (2 * step)) * (2 * step)  # first multiple of 2 step
        if first > hi:
            return ((lo + step - 1) // step) * step
        step *= 2


@njit(cache=True, nogil=True)
def _candidate(lo, hi, origin):
    """Row of ``lo..hi`` that bisects it on the dyadic lattice of rows around ``origin``.

    Rows at or after ``origin`` count from it (:func:`_dyadic`), rows before it
    are mirrored at it; a run containing ``origin`` gets ``origin``.
    """
    if lo >= origin:
        return origin + _dyadic(lo - origin, hi - origin)
    if hi < origin:
        return origin - _dyadic(origin - hi, origin - lo)
    return origin


@njit(cache=True, nogil=True)
def _gap_midpoints(measured, out, origin):
    """Per column of ``measured``: the dyadic midpoint of each gap gets the gap's length.

    A gap is a run of unmeasured rows between two measured pixels ``r_a < r_b``
    (``r_b - r_a >= 2``); its candidate is the row strictly between them that
    lies on the coarsest dyadic lattice around ``origin`` (:func:`_candidate`:
    the midpoint when the gap is a power of two long and starts on a multiple of
    it from ``origin``), and gets ``r_b - r_a``. An edge run of ``m`` unmeasured
    rows (no measured pixel on one side) has its candidate chosen the same way
    among its rows and gets ``2 m``, once the gap on the other side of its
    measured pixel is at most twice the candidate's distance to it (the edge is
    refined at the level of its neighbour). So a raster of every ``2**j``-th row from
    ``origin`` is refined exactly onto the rows ``origin + i 2**(j - 1)``,
    whatever the grid's height. A column with nothing measured has the row
    chosen among all its rows marked with twice the column length. Every other
    pixel gets 0.
    """
    n_rows, n_cols = measured.shape
    for c in range(n_cols):
        for r in range(n_rows):
            out[r, c] = 0
        first = -1
        second = -1
        before = -1  # the measured pixel before prev
        prev = -1
        for r in range(n_rows):
            if not measured[r, c]:
                continue
            if prev < 0:
                first = r
            elif second < 0:
                second = r
            if prev >= 0 and r - prev >= 2:
                out[_candidate(prev + 1, r - 1, origin), c] = r - prev
            before = prev
            prev = r
        if prev < 0:
            out[_candidate(0, n_rows - 1, origin), c] = 2 * n_rows
            continue
        if first >= 1:
            x = _candidate(0, first - 1, origin)
            if second < 0 or second - first <= 2 * (first - x):
                out[x, c] = 2 * first
        if prev <= n_rows - 2:
            x = _candidate(prev + 1, n_rows - 1, origin)
            if before < 0 or prev - before <= 2 * (x - prev):
                out[x, c] = 2 * (n_rows - 1 - prev)


@njit(cache=True, nogil=True)
def _gap_midpoints_rows(measured, out, origin):
    """:func:`_gap_midpoints` walking a C-ordered ``measured`` row by row (same output)."""
    n_rows, n_cols = measured.shape
    first = np.full(n_cols, -1, np.int64)
    second = np.full(n_cols, -1, np.int64)
    before = np.full(n_cols, -1, np.int64)
    prev = np.full(n_cols, -1, np.int64)
    for r in range(n_rows):
        for c in range(n_cols):
            out[r, c] = 0
    for r in range(n_rows):
        for c in range(n_cols):
            if not measured[r, c]:
                continue
            p = prev[c]
            if p < 0:
                first[c] = r
            elif second[c] < 0:
                second[c] = r
            if p >= 0 and r - p >= 2:
                out[_candidate(p + 1, r - 1, origin), c] = r - p
            before[c] = p
            prev[c] = r
    for c in range(n_cols):
        p = prev[c]
        if p < 0:
            out[_candidate(0, n_rows - 1, origin), c] = 2 * n_rows
            continue
        f = first[c]
        if f >= 1:
            x = _candidate(0, f - 1, origin)
            if second[c] < 0 or second[c] - f <= 2 * (f - x):
                out[x, c] = 2 * f
        if p <= n_rows - 2:
            x = _candidate(p + 1, n_rows - 1, origin)
            if before[c] < 0 or p - before[c] <= 2 * (x - p):
                out[x, c] = 2 * (n_rows - 1 - p)


@njit(cache=True, nogil=True)
def _all_line_floors(gaps, erd, floor, along_rows, out):
    """``out[line]``: ``floor`` times the mean of ``max(erd, 0)`` over the candidates
    (``gaps > 0``) of every row (``along_rows``) or column, in one row-major pass with
    one running sum per line."""
    n_rows, n_cols = gaps.shape
    n_lines = n_rows if along_rows else n_cols
    count = np.zeros(n_lines, np.int64)
    out[:n_lines] = 0.0
    if floor > 0.0:
        for r in range(n_rows):
            for c in range(n_cols):
                if gaps[r, c] > 0:
                    line = r if along_rows else c
                    out[line] += max(erd[r, c], 0.0)
                    count[line] += 1
    for line in range(n_lines):
        out[line] = floor * (out[line] / max(count[line], 1))


@njit(cache=True, nogil=True, inline="always")
def _gap_factor(gap, n_line, gap_power):
    """``(max(gap, 1) / 2) ** gap_power``, or 1 for an empty line's candidate.

    A line with nothing measured along it (``gap`` is then twice ``n_line``, the
    length of the line the gap runs along, :func:`_gap_midpoints`) has no gap
    to bisect: its candidate's distance to the readings is set across it, so it
    gets no gap factor (it used to get ``n_line ** gap_power``, x256 on a
    256-pixel line at ``gap_power`` 1, which made every empty line's first pixel
    the best candidate).
    """
    if gap >= 2 * n_line:
        return 1.0
    return (max(gap, 1) / 2.0) ** gap_power


@njit(cache=True, nogil=True, inline="always")
def _candidate_weight(erd, floor, gap, n_line, gap_power):
    """One candidate's weight: ``max(erd, 0)`` raised to at least ``floor``, times
    :func:`_gap_factor` unless ``gap_power`` is 0."""
    w = max(max(erd, 0.0), floor)
    if gap_power != 0.0:
        w *= _gap_factor(gap, n_line, gap_power)
    return w


@njit(cache=True, nogil=True)
def _floor_weights(gaps, erd, floor, gap_power, along_rows, out):
    """Candidate weights with a floor along each line, kept in ``out`` where larger.

    ``out`` keeps the larger of its value and each candidate's weight, so
    several axes' candidates build one map (start from zeros).

    A pixel with ``gaps > 0`` gets ``max(erd, 0)``, raised to at least ``floor``
    times the mean of those values over its line (its row when ``along_rows``,
    else its column), times ``(max(gap, 1) / 2) ** gap_power``; every other pixel
    is left as it is (:func:`fastscan.fly.levels.level_weights`). Both passes walk the
    arrays row by row (C order), with one running sum per line.
    """
    n_rows, n_cols = gaps.shape
    n_gap = n_rows if along_rows else n_cols  # the length of the lines the gaps run along
    total = np.empty(n_rows if along_rows else n_cols)
    _all_line_floors(gaps, erd, floor, along_rows, total)
    for r in range(n_rows):
        for c in range(n_cols):
            gap = gaps[r, c]
            if gap > 0:
                line_floor = total[r if along_rows else c]
                w = _candidate_weight(erd[r, c], line_floor, gap, n_gap, gap_power)
                if w > out[r, c]:
                    out[r, c] = w


@njit(cache=True, nogil=True, inline="always")
def _take(erd, weights, weights_t, dirty_rows, dirty_cols, r, c, transposed):
    """Copy ``max(erd, 0)`` at (r, c) into ``weights`` if it changed, flagging its
    row and column (and mirroring into ``weights_t`` when ``transposed``)."""
    v = erd[r, c]
    if not v > 0.0:
        v = 0.0
    if v != weights[r, c]:
        weights[r, c] = v
        dirty_rows[r] = True
        dirty_cols[c] = True
        if transposed:
            weights_t[c, r] = v


@njit(cache=True, nogil=True)
def _take_region(erd, weights, weights_t, dirty_rows, dirty_cols, r0, r1, c0, c1, transposed):
    """Copy ``max(erd, 0)`` into ``weights`` over rows r0:r1, columns c0:c1.

    Only changed pixels are written (and mirrored into ``weights_t`` when
    ``transposed``); their row and column are flagged in ``dirty_rows`` /
    ``dirty_cols``.
    """
    for r in range(r0, r1):
        for c in range(c0, c1):
            _take(erd, weights, weights_t, dirty_rows, dirty_cols, r, c, transposed)


@njit(cache=True, nogil=True)
def _take_pixels(erd, weights, weights_t, dirty_rows, dirty_cols, rows, cols, transposed):
    """:func:`_take_region` at the pixels ``(rows[i], cols[i])`` instead of a box."""
    for i in range(rows.shape[0]):
        _take(erd, weights, weights_t, dirty_rows, dirty_cols, rows[i], cols[i], transposed)

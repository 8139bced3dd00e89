"""The affected-pixel search and list merge for new points that lie on a few rows.

A flown segment measures hundreds of adjacent pixels of one row at once. The
per-point search (:meth:`fastscan._neighbor_lists.NeighborLists.affected_merge`)
visits every pixel near the row once per new point within its reach, so a dense
segment costs (points x reach) pixel visits. Here each pixel near the rows is
visited once: for each row of new points (columns sorted) a binary search finds
the first point within the pixel's old k-th distance ``d_k``, and the nearest
points are merged into its list walking outwards until one no longer enters.

The result is bit for bit that of the per-point search: the same pixels, in the
same order (by the first point that reaches a pixel, then tile, row and column,
which is the order the per-point search first touches them), and the same lists.

Examples
--------
>>> import numpy as np
>>> from fastscan._row_merge import row_groups
>>> row_groups(np.array([[2, 1], [2, 5], [4, 0]]))[0].tolist()  # group starts (+ end)
[0, 2, 3]
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fastscan import _threads
from fastscan._neighbor_lists import _OFFSET_MAX, NeighborLists, _before
from fastscan._pixels import pixel_columns
from fastscan._update import _largest, _tile_gap, _tile_span

# use the row path when the new points are at least this many per row they lie on
MIN_POINTS_PER_ROW = 8


@njit(cache=True, nogil=True)
def _row_runs(rows, cols):
    """The number of runs of equal rows if (rows, cols) are strictly increasing in
    row, then column order; -1 if not."""
    runs = 1 if rows.shape[0] else 0
    for i in range(1, rows.shape[0]):
        if rows[i] < rows[i - 1] or (rows[i] == rows[i - 1] and cols[i] <= cols[i - 1]):
            return -1
        runs += rows[i] != rows[i - 1]
    return runs


def row_groups(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts of the runs of equal rows in ``points`` (sorted by row, then column), with
    ``len(points)`` appended, and the run's rows."""
    rows = np.asarray(points, np.int64).reshape(-1, 2)[:, 0]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if len(rows) else np.zeros(0, int)
    return np.r_[starts, len(rows)].astype(np.int64), rows[starts].astype(np.int64)


@njit(cache=True, nogil=True)
def _mark_tiles(tile_dk, tile, n_rows, n_cols, lines, starts, along, flip, row_lo, row_hi, marked):
    """Mark the tiles (within rows [row_lo, row_hi)) whose nearest point to some line's
    span of new points lies within the tile's bound on ``d_k`` (lines are rows, or
    columns if ``flip``)."""
    t_cols = tile_dk.shape[1]
    reach = _largest(tile_dk)
    band = (row_lo // tile, (row_hi - 1) // tile)
    for g in range(lines.shape[0]):
        first, last = along[starts[g]], along[starts[g + 1] - 1]
        if flip:  # a column: rows first..last
            r_min, r_max, c_min, c_max = first, last, lines[g], lines[g]
        else:
            r_min, r_max, c_min, c_max = lines[g], lines[g], first, last
        tr_lo = _tile_span(r_min, reach, tile, band[0], band[1])[0]
        tr_hi = _tile_span(r_max, reach, tile, band[0], band[1])[1]
        tc_lo = _tile_span(c_min, reach, tile, 0, t_cols - 1)[0]
        tc_hi = _tile_span(c_max, reach, tile, 0, t_cols - 1)[1]
        for tr in range(tr_lo, tr_hi + 1):
            gap_r = _tile_gap(tr, tile, n_rows, r_min, r_max)[2]
            for tc in range(tc_lo, tc_hi + 1):
                gap_c = _tile_gap(tc, tile, n_cols, c_min, c_max)[2]
                if np.sqrt(gap_r * gap_r + gap_c * gap_c) <= tile_dk[tr, tc]:
                    marked[tr, tc] = True


@njit(cache=True, nogil=True)
def _first_at_least(values, lo, hi, x):
    """The first index in [lo, hi) of sorted ``values`` with ``values[i] >= x`` (or hi)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True)
def _half_width(dr2, limit, cap):
    """The largest w >= 0 with ``dr2 + w * w <= limit`` (-1 if none; ``cap`` if it is
    at least that), tested exactly as the per-point search tests a squared distance
    against ``d_k**2 + 0.5``."""
    if dr2 > limit:
        return -1
    if limit - dr2 >= cap * cap:  # (also an infinite limit)
        return cap
    w = int(np.sqrt(limit - dr2))
    while w > 0 and dr2 + w * w > limit:
        w -= 1
    while dr2 + (w + 1) * (w + 1) <= limit:
        w += 1
    return min(w, cap)


@njit(cache=True, nogil=True, inline="always")
def _offset(across, d, flip):
    """The (d_row, d_col) offset of a point ``across`` lines off and ``d`` along one."""
    if flip:
        return d, across
    return across, d


@njit(cache=True, nogil=True, inline="always")
def _nearest(across, x, along, flip, left, right, lo, hi):
    """The offset of the next candidate (the left one if it sorts first), whether it is
    the left one, and whether there is one."""
    if right < hi:
        dr, dc = _offset(across, along[right] - x, flip)
        if left >= lo:
            er, ec = _offset(across, along[left] - x, flip)
            if _before(er, ec, er * er + ec * ec, dr, dc):
                return er, ec, True, True
        return dr, dc, False, True
    if left >= lo:
        dr, dc = _offset(across, along[left] - x, flip)
        return dr, dc, True, True
    return np.int64(0), np.int64(0), False, False


@njit(cache=True, nogil=True)
def _merge_row(offsets, p, across, x, along, flip, lo, mid, hi, merged):
    """Merge the new points along[lo:hi] of one line, ``across`` lines from pixel p at
    ``x`` along it (all within p's reach and int8 offsets; ``mid`` the first at >= x),
    into p's sorted list: its k first entries of the union, which is what inserting
    them one by one (in any order) leaves. ``merged`` is (k, 2) scratch space."""
    k = offsets.shape[1]
    across = np.int64(across)
    right, left = mid, mid - 1  # the next candidates on each side, nearest first
    dr, dc, is_left, have = _nearest(across, x, along, flip, left, right, lo, hi)
    last_r, last_c = np.int64(offsets[p, k - 1, 0]), np.int64(offsets[p, k - 1, 1])
    if not have or not _before(dr, dc, dr * dr + dc * dc, last_r, last_c):
        return  # the nearest new point does not enter: nothing changes
    taken = 0  # entries taken from the old list
    for n in range(k):
        er, ec = np.int64(offsets[p, taken, 0]), np.int64(offsets[p, taken, 1])
        if have and _before(dr, dc, dr * dr + dc * dc, er, ec):
            merged[n, 0], merged[n, 1] = dr, dc
            if is_left:
                left -= 1
            else:
                right += 1
            dr, dc, is_left, have = _nearest(across, x, along, flip, left, right, lo, hi)
        else:
            merged[n, 0], merged[n, 1] = er, ec
            taken += 1
    for n in range(k):
        offsets[p, n, 0] = merged[n, 0]
        offsets[p, n, 1] = merged[n, 1]


@njit(cache=True, nogil=True)
def _next_point(g_starts, q_cols, n_cols):
    """``next_q[g, c]``: the index of row g's first new point in column >= c (or the
    row's end), for c in 0..n_cols."""
    n_groups = g_starts.shape[0] - 1
    next_q = np.empty((n_groups, n_cols + 1), np.int64)
    for g in range(n_groups):
        j = g_starts[g]
        for c in range(n_cols + 1):
            while j < g_starts[g + 1] and q_cols[j] < c:
                j += 1
            next_q[g, c] = j
    return next_q


@njit(cache=True, nogil=True)
def _affected_merge_rows(
    mask, dk, tile_dk, tile, lines, starts, along, index, flip, offsets, valid, row_lo, row_hi
):
    """Unmeasured p in rows [row_lo, row_hi) within ``d_k(p)`` of a new point, in the
    per-point search's order; each new point within reach enters p's valid list.

    The new points are given per line (rows, or columns if ``flip``): line g holds
    points ``starts[g]:starts[g + 1]`` at ``along`` (sorted), whose indices in the
    per-point order are ``index`` (increasing along each line).
    """
    n_rows, n_cols = mask.shape
    t_rows, t_cols = tile_dk.shape
    n_q = along.shape[0]
    n_lines = lines.shape[0]
    n_along = n_rows if flip else n_cols
    if row_lo >= row_hi:
        return np.zeros((0, 2), np.int64)
    marked = np.zeros((t_rows, t_cols), np.bool_)
    _mark_tiles(tile_dk, tile, n_rows, n_cols, lines, starts, along, flip, row_lo, row_hi, marked)
    next_q = _next_point(starts, along, n_along)
    merged = np.empty((offsets.shape[1], 2), np.int64)
    found = np.empty((1024, 3), np.int64)  # row, col, first point reaching it
    n_found = 0
    for tr in range(t_rows):
        r_first, r_last = max(tr * tile, row_lo), min((tr + 1) * tile, n_rows, row_hi) - 1
        for tc in range(t_cols):
            if not marked[tr, tc]:
                continue
            c_first, c_last = tc * tile, min((tc + 1) * tile, n_cols) - 1
            bound = tile_dk[tr, tc]
            bound2 = bound * bound + 0.5
            for r in range(r_first, r_last + 1):
                near = flip  # (rows) a line of new points within the tile's bound of r
                for g in range(n_lines):
                    near = near or (r - lines[g]) * (r - lines[g]) <= bound2
                if not near:
                    continue
                for c in range(c_first, c_last + 1):
                    if mask[r, c]:
                        continue
                    dk_here = dk[r, c]
                    limit = dk_here * dk_here + 0.5
                    p = r * n_cols + c
                    x = r if flip else c  # p's place along the lines
                    first = n_q
                    for g in range(n_lines):
                        across = lines[g] - (c if flip else r)
                        w = _half_width(across * across, limit, n_along)
                        if w < 0:
                            continue
                        lo = next_q[g, max(x - w, 0)]
                        hi = next_q[g, min(x + w + 1, n_along)]
                        if lo == hi:
                            continue
                        first = min(first, index[lo])
                        if not valid[p]:
                            continue
                        if max(abs(across), x - along[lo], along[hi - 1] - x) > _OFFSET_MAX:
                            valid[p] = False  # as the per-point merge meeting that point
                        else:
                            mid = next_q[g, x]
                            _merge_row(offsets, p, across, x, along, flip, lo, mid, hi, merged)
                    if first == n_q:
                        continue
                    if n_found == found.shape[0]:
                        bigger = np.empty((2 * n_found, 3), np.int64)
                        bigger[:n_found] = found[:n_found]
                        found = bigger
                    found[n_found, 0], found[n_found, 1], found[n_found, 2] = r, c, first
                    n_found += 1
    # a stable counting sort by the first point reaching each pixel: tiles and pixels
    # were visited in order, so this is the order the per-point search touches them
    start = np.zeros(n_q + 1, np.int64)
    for i in range(n_found):
        start[found[i, 2] + 1] += 1
    for i in range(n_q):
        start[i + 1] += start[i]
    out = np.empty((n_found, 2), np.int64)
    for i in range(n_found):
        at = start[found[i, 2]]
        out[at, 0], out[at, 1] = found[i, 0], found[i, 1]
        start[found[i, 2]] = at + 1
    return out


def line_layout(
    changed: np.ndarray, is_new: np.ndarray
) -> tuple[bool, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """How the line path takes ``changed``: ``(flip, lines, starts, along, index)``, or
    None if it does not apply. It needs every changed pixel new, sorted by row then
    column without repeats, and at least :data:`MIN_POINTS_PER_ROW` per row (or, failing
    that, per column: ``flip``)."""
    changed = np.asarray(changed, np.int64).reshape(-1, 2)
    n = len(changed)
    if n < MIN_POINTS_PER_ROW or not np.all(is_new):
        return None
    rows, cols = pixel_columns(changed)
    runs = _row_runs(rows, cols)
    if runs < 0:
        return None
    if n >= MIN_POINTS_PER_ROW * runs:
        starts, lines = row_groups(changed)
        return False, lines, starts, cols, np.arange(n, dtype=np.int64)
    if n < MIN_POINTS_PER_ROW * len(np.unique(cols)):  # a step batch: too few per column
        return None
    index = np.lexsort((rows, cols)).astype(np.int64)  # by column, then row
    starts, lines = row_groups(changed[index][:, ::-1])  # one group per distinct column
    return True, lines, starts, np.ascontiguousarray(rows[index]), index


def affected_merge(
    lists: NeighborLists,
    mask: np.ndarray,
    dk: np.ndarray,
    tile_dk: np.ndarray,
    tile: int,
    changed: np.ndarray,
    is_new: np.ndarray,
    touched: np.ndarray,
) -> np.ndarray:
    """:meth:`NeighborLists.affected_merge` (same pixels, order and lists), one visit per
    pixel when the changed pixels are new points on a few rows or columns
    (:func:`line_layout`).

    Examples
    --------
    >>> import numpy as np
    >>> from fastscan._neighbor_lists import NeighborLists
    >>> mask = np.zeros((4, 12), bool); mask[0, ::3] = True
    >>> lists = NeighborLists(mask.shape, k=1)
    >>> dk = np.full(mask.shape, 3.0); dk[mask] = 0
    >>> new = np.array([[3, c] for c in range(12)]); mask[3] = True; dk[3] = 0
    >>> bound = np.full((1, 3), 3.0)
    >>> touched = np.zeros(mask.shape, bool)
    >>> len(affected_merge(lists, mask, dk, bound, 4, new, np.ones(12, bool), touched))
    32
    """
    layout = line_layout(changed, is_new)
    if layout is None:
        return lists.affected_merge(mask, dk, tile_dk, tile, changed, is_new, touched)
    flip, lines, starts, along, index = layout
    changed = np.asarray(changed, np.int64).reshape(-1, 2)
    n_rows = mask.shape[0]
    # the same two bands as the per-point merge (split at the median changed row)
    middle = min(max(int(np.median(changed[:, 0])), 1), n_rows)
    bands = [np.zeros((0, 2), np.int64), np.zeros((0, 2), np.int64)]

    def band(i: int, row_lo: int, row_hi: int) -> None:
        bands[i] = _affected_merge_rows(
            mask, dk, tile_dk, int(tile), lines, starts, along, index, flip, lists.offsets,
            lists.valid, row_lo, row_hi,
        )  # fmt: skip

    reach = float(tile_dk.max()) if tile_dk.size else 0.0
    work = len(lines) * 2 * reach * (reach + along.max() - along.min())  # visits, about
    _threads.run_pair(
        lambda: band(0, 0, middle), lambda: band(1, middle, n_rows), work >= _threads.MIN_ROWS
    )
    return np.concatenate(bands)

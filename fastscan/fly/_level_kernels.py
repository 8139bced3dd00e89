"""Numba kernels of :class:`fastscan.fly.level_map.LevelMap` (incremental level weights).

Each keeps one part of :func:`fastscan.fly.levels.union_level_weights` up to date
after new pixels are measured; tests/test_fly_level_map.py checks each against the
full computation (:func:`fastscan.fly._kernels._gap_midpoints` and
:func:`fastscan.fly._kernels._floor_weights`).

A *gap line* is a line along which gaps run: a column for the ``"rows"`` axis, a
row for ``"columns"``. Each axis keeps its own copy of the measured mask with its
gap lines as C-contiguous rows (``mask[line, pos]``), and per gap line ``meta``:
the first, second, second-to-last and last measured position (-1: none).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fastscan.fly._kernels import _candidate, _candidate_weight


@njit(cache=True, nogil=True)
def _line_meta(mask, meta):
    """First, second, second-to-last and last measured position of each row of ``mask``."""
    n_lines, n = mask.shape
    for line in range(n_lines):
        first = second = before = last = -1
        for pos in range(n):
            if mask[line, pos]:
                if first < 0:
                    first = pos
                elif second < 0:
                    second = pos
                before = last
                last = pos
        meta[line, 0] = first
        meta[line, 1] = second
        meta[line, 2] = before
        meta[line, 3] = last


@njit(cache=True, nogil=True)
def _zone_candidates(ms, k, lo, hi, n, meta4, origin, pos_out, val_out):
    """Candidates :func:`_gap_midpoints` gives a gap line inside ``lo..hi``.

    ``lo - 1`` and ``hi + 1`` are measured or outside the line; ``ms[:k]`` are
    the measured positions in ``lo - 1 .. hi + 1`` (ascending); ``meta4`` is the
    line's (first, second, before, last). Writes positions and gap lengths,
    returns how many.
    """
    first, second, before, last = meta4[0], meta4[1], meta4[2], meta4[3]
    count = 0
    for j in range(k - 1):
        a, b = ms[j], ms[j + 1]
        if b - a >= 2:
            pos_out[count] = _candidate(a + 1, b - 1, origin)
            val_out[count] = b - a
            count += 1
    if lo == 0:
        if first < 0:  # nothing measured: the whole line is one gap
            pos_out[count] = _candidate(0, n - 1, origin)
            val_out[count] = 2 * n
            return count + 1
        if first >= 1:
            x = _candidate(0, first - 1, origin)
            if second < 0 or second - first <= 2 * (first - x):
                pos_out[count] = x
                val_out[count] = 2 * first
                count += 1
    if hi == n - 1 and 0 <= last <= n - 2:
        x = _candidate(last + 1, n - 1, origin)
        if before < 0 or last - before <= 2 * (x - last):
            pos_out[count] = x
            val_out[count] = 2 * (n - 1 - last)
            count += 1
    return count


@njit(cache=True, nogil=True, inline="always")
def _write_candidates(
    gaps, changed, n_changed, line, transposed, pos, val, n, other_pos, other_val, n_other, clear
):
    """Write ``n`` candidates (``pos``, gap ``val``; gap 0 when ``clear``) of one line into
    ``gaps``, recording in ``changed`` each one not also in ``other``; returns the new
    count of changed cells."""
    for j in range(n):
        kept = False
        for jj in range(n_other):
            if other_pos[jj] == pos[j] and other_val[jj] == val[j]:
                kept = True
        if not kept:
            changed[n_changed, 0] = line
            changed[n_changed, 1] = pos[j]
            n_changed += 1
        value = 0 if clear else val[j]
        if transposed:
            gaps[pos[j], line] = value
        else:
            gaps[line, pos[j]] = value
    return n_changed


@njit(cache=True, nogil=True)
def _insert(mask, meta, gaps, transposed, lines, positions, origin, changed):
    """Mark ``(lines[i], positions[i])`` measured and update ``gaps`` around each.

    ``gaps`` holds :func:`_gap_midpoints`'s output for ``mask`` (indexed
    ``[line, pos]``, or ``[pos, line]`` when ``transposed``); after the call it
    holds it for the new mask. Points should come sorted by line, then position
    (consecutive points of a line then cost O(1) each). Each cell whose value
    changed is appended to ``changed`` ((line, pos) rows; at most 5 per point,
    give it room for 8); returns how many were written. Already measured points
    are skipped.

    Only the gap holding a new point changes, plus an edge run when its gating
    neighbour (the second or the second-to-last measured position) changes.
    """
    n = mask.shape[1]
    n_changed = 0
    ms = np.empty(3, np.int64)
    old_pos = np.empty(4, np.int64)
    old_val = np.empty(4, np.int64)
    new_pos = np.empty(4, np.int64)
    new_val = np.empty(4, np.int64)
    old_meta = np.empty(4, np.int64)
    last_line = -1
    last_pos = -1
    last_q = -1
    for i in range(lines.shape[0]):
        line = lines[i]
        pos = positions[i]
        if mask[line, pos]:
            continue
        first, second, before, last = meta[line, 0], meta[line, 1], meta[line, 2], meta[line, 3]
        # nearest measured positions p < pos < q (-1 and n: none)
        if first < 0 or pos < first:
            p = -1
            q = first if first >= 0 else n
        elif pos > last:
            p = last
            q = n
        else:
            if line == last_line and last_pos < pos < last_q:
                q = last_q  # the previous point of this line had the same right neighbour
            else:
                q = pos + 1
                while not mask[line, q]:
                    q += 1
            p = pos - 1
            while not mask[line, p]:
                p -= 1
        lo = 0 if (p < 0 or p == first) else p + 1
        hi = n - 1 if (q >= n or q == last) else q - 1
        # candidates inside lo..hi before the point
        for j in range(4):
            old_meta[j] = meta[line, j]
        k = 0
        if p >= 0:
            ms[k] = p
            k += 1
        if q < n:
            ms[k] = q
            k += 1
        n_old = _zone_candidates(ms, k, lo, hi, n, old_meta, origin, old_pos, old_val)
        # the point is measured: the line's meta
        mask[line, pos] = True
        if first < 0:
            meta[line, 0] = pos
            meta[line, 3] = pos
        else:
            if pos < first:
                meta[line, 1] = first
                meta[line, 0] = pos
            elif second < 0 or pos < second:
                meta[line, 1] = pos
            if pos > last:
                meta[line, 2] = last
                meta[line, 3] = pos
            elif before < 0 or pos > before:
                meta[line, 2] = pos
        k = 0
        if p >= 0:
            ms[k] = p
            k += 1
        ms[k] = pos
        k += 1
        if q < n:
            ms[k] = q
            k += 1
        n_new = _zone_candidates(ms, k, lo, hi, n, meta[line], origin, new_pos, new_val)
        # the old candidates leave (gap 0), then the new ones enter; a cell counts as
        # changed unless the same (position, gap) is on both sides
        n_changed = _write_candidates(
            gaps, changed, n_changed, line, transposed, old_pos, old_val, n_old,
            new_pos, new_val, n_new, True,
        )  # fmt: skip
        n_changed = _write_candidates(
            gaps, changed, n_changed, line, transposed, new_pos, new_val, n_new,
            old_pos, old_val, n_old, False,
        )  # fmt: skip
        last_line, last_pos, last_q = line, pos, q
    return n_changed


@njit(cache=True, nogil=True)
def _line_floors(gaps, erd, lines, floor, out, along_rows):
    """``out[line]``: ``floor`` times the mean of ``max(erd, 0)`` over the candidates
    of each row (``along_rows``) or column in ``lines``.

    The sum runs along the line in order, as in
    :func:`fastscan.fly._kernels._floor_weights` (bit for bit).
    """
    n_along = gaps.shape[1] if along_rows else gaps.shape[0]
    for j in range(lines.shape[0]):
        line = lines[j]
        total = 0.0
        count = 0
        if floor > 0.0:
            for i in range(n_along):
                r, c = (line, i) if along_rows else (i, line)
                if gaps[r, c] > 0:
                    total += max(erd[r, c], 0.0)
                    count += 1
        out[line] = floor * (total / max(count, 1))


@njit(cache=True, nogil=True)
def _transpose(src, dst):
    """``dst[:] = src.T`` in 64 x 64 blocks (a plain strided copy misses the cache)."""
    n_rows, n_cols = src.shape
    for r0 in range(0, n_rows, 64):
        for c0 in range(0, n_cols, 64):
            for c in range(c0, min(c0 + 64, n_cols)):
                for r in range(r0, min(r0 + 64, n_rows)):
                    dst[c, r] = src[r, c]


@njit(cache=True, nogil=True)
def _weight(erd, gap_row, gap_col, floor_row, floor_col, power, n_rows, n_cols):
    """Union weight of one pixel (:func:`fastscan.fly._kernels._floor_weights`, both axes).

    Scalars only (a per-pixel call with array arguments costs their reference
    counts); ``gap_row`` / ``gap_col`` are 0 for an axis not in use; ``n_rows``,
    ``n_cols`` the grid's (an empty line's gap, twice its length, gets no gap factor).
    """
    out = 0.0
    if gap_row > 0:
        w = _candidate_weight(erd, floor_row, gap_row, n_rows, power)
        if w > out:
            out = w
    if gap_col > 0:
        w = _candidate_weight(erd, floor_col, gap_col, n_cols, power)
        if w > out:
            out = w
    return out


@njit(cache=True, nogil=True)
def _weights_pixels(
    weights, erd, gaps_rows, gaps_cols, floor_rows, floor_cols, use_rows, use_cols, power,
    rows, cols,
):  # fmt: skip
    """Recompute ``weights`` at the pixels ``(rows[i], cols[i])`` (unused axes: any arrays)."""
    n_rows, n_cols = weights.shape
    for i in range(rows.shape[0]):
        r, c = rows[i], cols[i]
        gap_row = gaps_rows[r, c] if use_rows else 0
        gap_col = gaps_cols[r, c] if use_cols else 0
        weights[r, c] = _weight(
            erd[r, c], gap_row, gap_col, floor_rows[r], floor_cols[c], power, n_rows, n_cols
        )


@njit(cache=True, nogil=True)
def _weights_box(
    weights, erd, gaps_rows, gaps_cols, floor_rows, floor_cols, use_rows, use_cols, power,
    r0, r1, c0, c1,
):  # fmt: skip
    """Recompute ``weights`` over rows r0:r1, columns c0:c1 (unused axes: any arrays)."""
    n_rows, n_cols = weights.shape
    for r in range(r0, r1):
        floor_row = floor_rows[r]
        for c in range(c0, c1):
            gap_row = gaps_rows[r, c] if use_rows else 0
            gap_col = gaps_cols[r, c] if use_cols else 0
            weights[r, c] = _weight(
                erd[r, c], gap_row, gap_col, floor_row, floor_cols[c], power, n_rows, n_cols
            )


@njit(cache=True, nogil=True)
def _scan_box(
    seen, mask, gaps_rows, gaps_cols, use_rows, use_cols, r0, r1, c0, c1,
    points, candidates, counts, row_flags, col_flags,
):  # fmt: skip
    """One pass over a box: new points, candidates, and the lines whose floor may change.

    Appends to ``points`` (``counts[0]`` so far) the (row, col) of pixels set in
    ``mask`` but not in ``seen``, and marks them in ``seen`` (overlapping boxes
    give each once); to ``candidates`` (``counts[1]``) each candidate of either
    axis (once per box). Flags the row (``row_flags``) of each ``"rows"``
    candidate and the column (``col_flags``) of each ``"columns"`` candidate:
    their ERD may have changed. The gaps before the new points are inserted
    serve: a cell whose candidacy changes is listed (and its line flagged) from
    the changed cells. Each output needs room for the box's area.
    """
    n_points, n_cands = counts[0], counts[1]
    for r in range(r0, r1):
        row_flag = False
        for c in range(c0, c1):
            if mask[r, c] and not seen[r, c]:
                seen[r, c] = True
                points[n_points, 0] = r
                points[n_points, 1] = c
                n_points += 1
            candidate = False
            if use_rows and gaps_rows[r, c] > 0:
                row_flag = True
                candidate = True
            if use_cols and gaps_cols[r, c] > 0:
                col_flags[c] = True
                candidate = True
            if candidate:
                candidates[n_cands, 0] = r
                candidates[n_cands, 1] = c
                n_cands += 1
        if row_flag:
            row_flags[r] = True
    counts[0], counts[1] = n_points, n_cands

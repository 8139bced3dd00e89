"""Lattice completion for fast-fly: the regular lines a raster cannot skip, trimmed where flat.

On a sparse image with a flat background the ERD between the coarse lines is
zero wherever they saw nothing, so an ERD-driven scan never looks there and
misses the particles that lie between them -- which a regular raster, by its
regularity, cannot miss. :class:`fastscan.fly.FlySampler` with ``lattice=s``
therefore flies, right after its coarse raster, every line of the dyadic
lattice down to spacing ``s`` (coarse to fine, as a fly raster does; within a
level the lines with the most ERD first) before the ERD refines freely.

With ``lattice_trim > 0`` a lattice line skips a run of pixels only where the
readings on **both** sides of it (the nearest measured pixel above and below,
at most ``reach`` lines away, and their neighbours along the line) agree to
within ``lattice_trim`` of the range of all readings, and only where the run is
long against a segment's fixed cost (skipping an inner run costs one more
segment). At 1 ms on a 256-pixel line no run is that long, so nothing is
trimmed there.

Examples
--------
>>> from fastscan.fly.lattice import lattice_levels
>>> [(s, lines) for s, lines in lattice_levels(20, origin=2, initial_spacing=8, spacing=2)]
[(4, [6, 14]), (2, [0, 4, 8, 12, 16])]
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "flat_end_runs",
    "flat_pixel_map",
    "flat_runs",
    "fly_runs",
    "lattice_levels",
    "trim_flat_ends",
]


def lattice_levels(
    n_lines: int, *, origin: int, initial_spacing: int, spacing: int
) -> list[tuple[int, list[int]]]:
    """The lattice's lines level by level, coarse to fine: ``[(s, lines at spacing s), ...]``.

    Level ``s`` holds the lines ``L`` in ``[0, n_lines)`` with ``L = origin (mod s)``
    but not ``(mod 2 s)``: the midpoints between the lines of the level above,
    starting below the coarse raster's every ``initial_spacing``-th line.

    Examples
    --------
    >>> lattice_levels(16, origin=2, initial_spacing=8, spacing=4)
    [(4, [6, 14])]
    """
    for name, value in (("initial_spacing", initial_spacing), ("spacing", spacing)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    out = []
    s = initial_spacing // 2
    while s >= spacing:
        lines = [k for k in range(n_lines) if (k - origin) % s == 0 and (k - origin) % (2 * s)]
        out.append((s, lines))
        s //= 2
    return out


def flat_runs(
    values: np.ndarray, measured: np.ndarray, line: int, *, reach: int, tol: float
) -> np.ndarray:
    """Pixels of row ``line`` whose nearest readings above and below all agree (bool, n_cols).

    ``values`` is (n_rows, n_cols) or (n_rows, n_cols, C) (channels each scaled
    by their range); a pixel is flat when, for each side, a measured pixel lies
    at most ``reach`` rows away in its column and in both neighbouring columns,
    and those up to six readings span at most ``tol`` times the range of all
    measured readings. Pass the transposes for columns.

    Examples
    --------
    >>> import numpy as np
    >>> v = np.zeros((5, 6)); v[4, 5] = 1.0
    >>> m = np.zeros((5, 6), bool); m[[0, 4]] = True
    >>> flat_runs(v, m, 2, reach=2, tol=0.1).astype(int).tolist()
    [1, 1, 1, 1, 0, 0]
    """
    values = np.asarray(values, float)
    if values.ndim == 2:
        values = values[:, :, None]
    n_rows, n_cols, _ = values.shape
    known = values[measured]
    if known.size == 0:
        return np.zeros(n_cols, bool)
    span = known.max(axis=0) - known.min(axis=0)
    scaled = values / np.where(span > 0, span, 1.0)
    lo = np.full((n_cols, scaled.shape[2]), np.inf)
    hi = np.full((n_cols, scaled.shape[2]), -np.inf)
    ok = np.ones(n_cols, bool)
    for side in (-1, 1):
        found = np.zeros(n_cols, bool)
        near = np.zeros((n_cols, scaled.shape[2]))
        for d in range(1, reach + 1):
            r = line + side * d
            if not 0 <= r < n_rows:
                break
            new = measured[r] & ~found
            near[new] = scaled[r, new]
            found |= new
        ok &= found
        lo = np.minimum(lo, np.where(found[:, None], near, np.inf))
        hi = np.maximum(hi, np.where(found[:, None], near, -np.inf))
    # a pixel and its two neighbours along the line
    lo3, hi3, ok3 = lo.copy(), hi.copy(), ok.copy()
    for shift in (-1, 1):
        idx = np.clip(np.arange(n_cols) + shift, 0, n_cols - 1)
        lo3 = np.minimum(lo3, lo[idx])
        hi3 = np.maximum(hi3, hi[idx])
        ok3 &= ok[idx]
    return ok3 & ((hi3 - lo3).max(axis=1) <= tol)


def fly_runs(flat: np.ndarray, min_run: int) -> list[tuple[int, int]]:
    """(first, last) pixel ranges to fly: everything but flat runs of at least ``min_run``.

    Examples
    --------
    >>> import numpy as np
    >>> flat = np.array([0, 1, 1, 1, 0, 1, 0], bool)
    >>> fly_runs(flat, 3), fly_runs(flat, 4), fly_runs(np.ones(4, bool), 4)
    ([(0, 0), (4, 6)], [(0, 6)], [])
    """
    if int(min_run) != min_run or min_run < 1:
        raise ValueError(f"min_run must be an integer >= 1, got {min_run!r}")
    skip = np.zeros(len(flat), bool)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flat.astype(np.int8), [0]])))
    for a, b in zip(edges[::2], edges[1::2]):
        if b - a >= min_run:
            skip[a:b] = True
    keep = np.flatnonzero(np.diff(np.concatenate([[0], (~skip).astype(np.int8), [0]])))
    return [(int(a), int(b) - 1) for a, b in zip(keep[::2], keep[1::2])]


def min_flat_run(fixed: float, pixel_time: float) -> int:
    """Shortest flat run worth skipping: longer in readings' time than one segment's fixed cost.

    Examples
    --------
    >>> min_flat_run(0.26, 0.01), min_flat_run(0.26, 0.001)
    (27, 261)
    """
    return int(math.floor(fixed / pixel_time + 1e-9)) + 1


def trim_flat_ends(
    values: np.ndarray,
    measured: np.ndarray,
    line: int,
    first: int,
    last: int,
    *,
    reach: int,
    tol: float,
    span: np.ndarray,
) -> tuple[int, int]:
    """Pixels ``first..last`` of row ``line`` without their flat end runs: ``(first, last)``.

    A pixel is flat as in :func:`flat_runs` (readings on both sides, at most
    ``reach`` rows away, in its column and both neighbouring ones, span at most
    ``tol``), with each channel scaled by ``span`` (C,) instead of the range of
    all readings, and only the rows near ``line`` read. An end run costs no
    segment of its own, so any length is worth trimming, unlike an inner run
    (:func:`min_flat_run`). All flat: the pixels are returned unchanged (the
    line is then flat as a whole: ``flat_lines``' case, not trimmed here).
    ``values`` (n_rows, n_cols, C); pass the transposes for columns.

    Examples
    --------
    >>> import numpy as np
    >>> v = np.zeros((5, 8, 1)); v[:, 5, 0] = 1.0
    >>> m = np.zeros((5, 8), bool); m[[0, 4]] = True
    >>> trim_flat_ends(v, m, 2, 0, 7, reach=2, tol=0.1, span=np.ones(1))
    (4, 6)
    """
    values, scale = _checked_values(values, measured, span)
    if not (0 <= first <= last < measured.shape[1]):
        raise ValueError(f"need 0 <= first <= last < {measured.shape[1]}, got {first}, {last}")
    a, b = _flat_end_bounds(
        values, np.asarray(measured, bool), int(line), int(first), int(last), int(reach),
        float(tol), scale,
    )  # fmt: skip
    return int(a), int(b)


_warm = False


def warm_up_trim() -> None:
    """Call :func:`trim_flat_ends`' kernel once per process, on a tiny grid.

    Numba loads a cached kernel on its first call (about 7 ms for this one). A
    short-dwell sweep first trims in the first decision after the coarse raster,
    the one the stage waits for, so :class:`fastscan.fly.FlySampler` calls this
    when it is made instead (the same pattern as ``level_map._warm_up``).
    """
    global _warm
    if _warm:
        return
    _warm = True
    # the layouts of FlySampler's calls: readings (C, n_rows, n_cols) moved to the last
    # axis, and for columns both arrays transposed (a kernel is loaded per layout)
    measured = np.zeros((8, 8), bool)
    measured[[0, 4]] = True
    for n_channels in (1, 2):  # one channel's moved axis is contiguous, several are not
        values = np.moveaxis(np.zeros((n_channels, 8, 8)), 0, -1)
        values[:, 5] = 1.0
        span = np.ones(n_channels)
        for v, m in ((values, measured), (values.transpose(1, 0, 2), measured.T)):
            trim_flat_ends(v, m, 2, 0, 7, reach=2, tol=0.1, span=span)


def _checked_values(
    values: np.ndarray, measured: np.ndarray, span: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``values`` as float (n_rows, n_cols, C) matching ``measured``, and ``span`` as the
    per-channel scale (C,), a span of 0 or less counting as 1; ValueError otherwise."""
    scale = np.asarray(span, float).reshape(-1)
    scale = np.where(scale > 0, scale, 1.0)
    values = np.asarray(values, float)
    if values.ndim != 3 or values.shape[:2] != measured.shape or values.shape[2] != len(scale):
        raise ValueError(
            f"values must be (n_rows, n_cols, C) = {(*measured.shape, len(scale))}, "
            f"got {values.shape}"
        )
    return values, scale


def _reach_and_box(
    shape: tuple[int, int], reach: int, box: tuple[int, int, int, int] | None
) -> tuple[int, int, int, int, int]:
    """``reach`` checked (an integer >= 1) and ``box`` (row0, row1, col0, col1; None: the
    grid) clipped to ``shape``: ``(reach, r0, r1, c0, c1)``."""
    if int(reach) != reach or reach < 1:
        raise ValueError(f"reach must be an integer >= 1, got {reach!r}")
    n_rows, n_cols = shape
    r0, r1, c0, c1 = (0, n_rows, 0, n_cols) if box is None else (int(v) for v in box)
    return int(reach), max(r0, 0), min(r1, n_rows), max(c0, 0), min(c1, n_cols)


@njit(cache=True)
def _near_range(values, measured, line, col, reach, scale, lo, hi):
    """Fold the nearest reading above and below (row, ``col``) into ``lo``/``hi`` (scaled);
    False if either side has none within ``reach``."""
    n_rows = measured.shape[0]
    for side in (-1, 1):
        hit = -1
        for d in range(1, reach + 1):
            r = line + side * d
            if r < 0 or r >= n_rows:
                break
            if measured[r, col]:
                hit = r
                break
        if hit < 0:
            return False
        for k in range(values.shape[2]):
            v = values[hit, col, k] / scale[k]
            lo[k] = min(lo[k], v)
            hi[k] = max(hi[k], v)
    return True


@njit(cache=True)
def _is_flat(values, measured, line, col, reach, tol, scale):
    """:func:`flat_runs`' test for one pixel: its column and both neighbours (clipped)."""
    n_cols = measured.shape[1]
    lo = np.full(values.shape[2], np.inf)
    hi = np.full(values.shape[2], -np.inf)
    for c in (max(col - 1, 0), col, min(col + 1, n_cols - 1)):
        if not _near_range(values, measured, line, c, reach, scale, lo, hi):
            return False
    for k in range(values.shape[2]):
        if hi[k] - lo[k] > tol:
            return False
    return True


@njit(cache=True)
def _flat_end_bounds(values, measured, line, first, last, reach, tol, scale):
    """First and last pixel of ``first..last`` that is not flat, walking in from the ends
    (``(first, last)`` if every pixel is flat)."""
    a = first
    while a <= last and _is_flat(values, measured, line, a, reach, tol, scale):
        a += 1
    if a > last:
        return first, last
    b = last
    while b > a and _is_flat(values, measured, line, b, reach, tol, scale):
        b -= 1
    return a, b


def flat_pixel_map(
    values: np.ndarray,
    measured: np.ndarray,
    *,
    reach: int,
    tol: float,
    span: np.ndarray,
    box: tuple[int, int, int, int] | None = None,
) -> np.ndarray:
    """Which unmeasured pixels are flat-bounded across the rows (bool).

    The test of :func:`trim_flat_ends` for many pixels at once: the nearest
    measured pixel above and below (at most ``reach`` rows away), in the
    pixel's column and both neighbouring ones (clipped at the edges), and
    those up to six readings, each channel divided by ``span`` (C,), span at
    most ``tol``. ``values`` (n_rows, n_cols, C); pass the transposes for
    columns. ``box`` ``(row_start, row_stop, col_start, col_stop)`` computes
    only those pixels (the answer has the box's shape); None: the whole grid.
    A new reading changes the answer only within ``reach`` rows and one
    column of it. Measured pixels are False.

    Examples
    --------
    >>> import numpy as np
    >>> v = np.zeros((5, 8, 1)); v[:, 5, 0] = 1.0
    >>> m = np.zeros((5, 8), bool); m[[0, 4]] = True
    >>> flat_pixel_map(v, m, reach=2, tol=0.1, span=np.ones(1))[2].astype(int).tolist()
    [1, 1, 1, 1, 0, 0, 0, 1]
    >>> flat_pixel_map(v, m, reach=2, tol=0.1, span=np.ones(1), box=(2, 3, 6, 8)).tolist()
    [[False, True]]
    """
    measured = np.asarray(measured, bool)
    values, scale = _checked_values(values, measured, span)
    reach, r0, r1, c0, c1 = _reach_and_box(measured.shape, reach, box)
    out = np.zeros((max(r1 - r0, 0), max(c1 - c0, 0)), bool)
    if out.size:
        _flat_map(values, measured, reach, float(tol), scale, r0, r1, c0, c1, out)
    return out


@njit(cache=True)
def _flat_map(values, measured, reach, tol, scale, r0, r1, c0, c1, out):
    """:func:`_is_flat` for every unmeasured pixel of the box, with each column's nearest
    measured rows above and below found in one pass per side (-1: none within ``reach``)."""
    n_rows, n_cols = measured.shape
    n_ch = values.shape[2]
    a0, a1 = max(c0 - 1, 0), min(c1 + 1, n_cols)
    up = np.full((r1 - r0, a1 - a0), -1, np.int64)
    down = np.full((r1 - r0, a1 - a0), -1, np.int64)
    for j in range(a1 - a0):
        c = a0 + j
        last = -1
        for r in range(max(r0 - reach, 0), r1):
            if r >= r0 and last >= 0 and r - last <= reach:
                up[r - r0, j] = last
            if measured[r, c]:
                last = r
        last = -1
        for r in range(min(r1 + reach, n_rows) - 1, r0 - 1, -1):
            if r < r1 and last >= 0 and last - r <= reach:
                down[r - r0, j] = last
            if measured[r, c]:
                last = r
    lo = np.empty(n_ch)
    hi = np.empty(n_ch)
    for r in range(r0, r1):
        for c in range(c0, c1):
            if measured[r, c]:
                out[r - r0, c - c0] = False
                continue
            lo[:] = np.inf
            hi[:] = -np.inf
            ok = True
            for cc in (max(c - 1, 0), c, min(c + 1, n_cols - 1)):
                u, d = up[r - r0, cc - a0], down[r - r0, cc - a0]
                if u < 0 or d < 0:
                    ok = False
                    break
                for k in range(n_ch):
                    for v in (values[u, cc, k] / scale[k], values[d, cc, k] / scale[k]):
                        lo[k] = min(lo[k], v)
                        hi[k] = max(hi[k], v)
            if ok:
                for k in range(n_ch):
                    if hi[k] - lo[k] > tol:
                        ok = False
                        break
            out[r - r0, c - c0] = ok


def flat_end_runs(flat: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """The ``flat`` pixels of each row's end runs (bool, like ``flat``).

    Walking in from each end of a row over pixels that are measured or flat,
    up to the first unmeasured pixel that is not flat: the flat ones passed
    are the row's end runs, what :func:`trim_flat_ends` would leave out of a
    segment spanning the row. A row without such a pixel is all end run.
    Pass the transposes for columns.

    Examples
    --------
    >>> import numpy as np
    >>> flat = np.array([[1, 1, 0, 1, 0, 1, 1]], bool)
    >>> measured = np.array([[0, 0, 0, 0, 0, 1, 0]], bool)
    >>> flat_end_runs(flat, measured).astype(int).tolist()
    [[1, 1, 0, 0, 0, 0, 1]]
    """
    flat = np.asarray(flat, bool)
    measured = np.asarray(measured, bool)
    if flat.ndim != 2 or flat.shape != measured.shape:
        raise ValueError(
            f"flat and measured must be 2-D of one shape, got {flat.shape} and {measured.shape}"
        )
    out = np.zeros(flat.shape, bool)
    _end_runs(flat, measured, out)
    return out


@njit(cache=True)
def _end_run_bounds(flat, measured, r):
    """First and last pixel of row ``r`` that is neither measured nor flat, walking in
    from the ends (``a`` = n_cols if there is none): the end runs lie outside ``a..b``."""
    n_cols = flat.shape[1]
    a = 0
    while a < n_cols and (measured[r, a] or flat[r, a]):
        a += 1
    b = n_cols - 1
    while b > a and (measured[r, b] or flat[r, b]):
        b -= 1
    return a, b


@njit(cache=True)
def _end_runs(flat, measured, out):
    n_rows, n_cols = flat.shape
    for r in range(n_rows):
        a, b = _end_run_bounds(flat, measured, r)
        for c in range(n_cols):
            if c < a or c > b:
                out[r, c] = flat[r, c] and not measured[r, c]


@njit(cache=True)
def _refresh_end_runs(flat, measured, ends, other, out, lo, hi, changed):
    """Recompute ``ends`` (:func:`flat_end_runs`) on rows ``lo..hi-1``; where a pixel's
    ``ends or other`` differs from ``out``, set it and record (row, col) in ``changed``.
    Returns how many were recorded."""
    n_cols = flat.shape[1]
    n = 0
    for r in range(lo, hi):
        a, b = _end_run_bounds(flat, measured, r)
        for c in range(n_cols):
            new = flat[r, c] and not measured[r, c] and (c < a or c > b)
            if new != ends[r, c]:
                ends[r, c] = new
                both = new or other[r, c]
                if both != out[r, c]:
                    out[r, c] = both
                    changed[n, 0] = r
                    changed[n, 1] = c
                    n += 1
    return n

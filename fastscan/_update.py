"""Numba kernels for the sampler's exact local update after a batch is measured.

A measured pixel q whose value changed (a new point, or a repeat that moved the
pixel's mean) can only change the reconstruction of an unmeasured pixel p if q
is, or becomes, one of p's k nearest measured pixels. Adding points only shrinks
neighbour distances, so that needs ``|p - q| <= d_k(p)`` with ``d_k`` the k-th
neighbour distance *before* the batch. :func:`affected_pixels` finds every such
p exactly: it visits the square tiles whose nearest point to q lies within the
tile's largest ``d_k`` (:func:`tile_dk_max`, an upper bound that stays valid as
``d_k`` only decreases) and tests each unmeasured pixel of those tiles.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fastscan._pixels import pixel_columns


@njit(cache=True, nogil=True, inline="always")
def _append_pixel(out, n_out, r, c):
    """Write (r, c) at row ``n_out`` of ``out``, doubling it first when full; the array."""
    if n_out == out.shape[0]:
        bigger = np.empty((2 * out.shape[0], 2), np.int64)
        bigger[:n_out] = out[:n_out]
        out = bigger
    out[n_out, 0], out[n_out, 1] = r, c
    return out


@njit(cache=True, nogil=True)
def _release(out, n_out, touched):
    """Clear ``touched`` at the first ``n_out`` pixels of ``out``; those pixels."""
    for i in range(n_out):
        touched[out[i, 0], out[i, 1]] = False
    return out[:n_out]


@njit(cache=True, nogil=True)
def _tile_dk_max(mask, dk, tile, out, rows, cols):
    """Largest d_k over the unmeasured pixels of the tiles holding (rows, cols); all if empty."""
    n_rows, n_cols = mask.shape
    t_rows, t_cols = out.shape
    seen = np.zeros((t_rows, t_cols), np.bool_)
    n = rows.shape[0] if rows.shape[0] > 0 else t_rows * t_cols
    for i in range(n):
        if rows.shape[0] > 0:
            tr, tc = rows[i] // tile, cols[i] // tile
        else:
            tr, tc = i // t_cols, i % t_cols
        if seen[tr, tc]:
            continue
        seen[tr, tc] = True
        best = 0.0
        for r in range(tr * tile, min((tr + 1) * tile, n_rows)):
            for c in range(tc * tile, min((tc + 1) * tile, n_cols)):
                # d_k is 0 where measured, so the unmeasured pixels' largest is the
                # tile's largest (and any d_k left at a measured pixel only loosens it)
                value = dk[r, c]
                best = value if value > best else best
        out[tr, tc] = best


@njit(cache=True, nogil=True)
def _largest(values):
    """The largest entry of a 2-D array of values >= 0 (0 when empty)."""
    best = 0.0
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            best = max(best, values[i, j])
    return best


@njit(cache=True, nogil=True)
def _tile_span(x, reach, tile, first, last):
    """Tiles ``lo..hi`` (clipped to ``first..last``) within ``reach`` of coordinate ``x``."""
    lo = max(int(np.floor((x - reach) / tile)), first)
    hi = min(int(np.floor((x + reach) / tile)), last)
    return lo, hi


@njit(cache=True, nogil=True)
def _tile_gap(t, tile, n, lo, hi):
    """Pixels ``first..last`` of tile ``t`` along an axis of ``n`` pixels, and the gap
    from them to the span ``lo..hi`` (0 where they overlap): ``(first, last, gap)``."""
    first, last = t * tile, min((t + 1) * tile, n) - 1
    return first, last, max(first - hi, 0, lo - last)


@njit(cache=True, nogil=True)
def _affected_pixels(mask, dk, tile_dk, tile, q_rows, q_cols, touched):
    """Unmeasured pixels p with |p - q| <= dk[p] for some q; ``touched`` is reset after."""
    n_rows, n_cols = mask.shape
    t_rows, t_cols = tile_dk.shape
    reach = _largest(tile_dk)
    out = np.empty((1024, 2), np.int64)
    n_out = 0
    for i in range(q_rows.shape[0]):
        r0, c0 = q_rows[i], q_cols[i]
        tr_lo, tr_hi = _tile_span(r0, reach, tile, 0, t_rows - 1)
        tc_lo, tc_hi = _tile_span(c0, reach, tile, 0, t_cols - 1)
        for tr in range(tr_lo, tr_hi + 1):
            r_first, r_last, gap_r = _tile_gap(tr, tile, n_rows, r0, r0)
            for tc in range(tc_lo, tc_hi + 1):
                c_first, c_last, gap_c = _tile_gap(tc, tile, n_cols, c0, c0)
                if np.sqrt(gap_r * gap_r + gap_c * gap_c) > tile_dk[tr, tc]:
                    continue
                for r in range(r_first, r_last + 1):
                    for c in range(c_first, c_last + 1):
                        if mask[r, c] or touched[r, c]:
                            continue
                        d = np.sqrt((r - r0) * (r - r0) + (c - c0) * (c - c0))
                        if d <= dk[r, c]:
                            touched[r, c] = True
                            out = _append_pixel(out, n_out, r, c)
                            n_out += 1
    return _release(out, n_out, touched)


@njit(cache=True, nogil=True)
def _dilate_unmeasured(mask, pixels, touched):
    """``pixels`` and their 4-neighbours, unmeasured only, without repeats."""
    n_rows, n_cols = mask.shape
    out = np.empty((5 * pixels.shape[0], 2), np.int64)
    n_out = 0
    for i in range(pixels.shape[0]):
        r0, c0 = pixels[i, 0], pixels[i, 1]
        for j in range(5):
            r, c = r0, c0
            if j == 1:
                r -= 1
            elif j == 2:
                r += 1
            elif j == 3:
                c -= 1
            elif j == 4:
                c += 1
            if r < 0 or r >= n_rows or c < 0 or c >= n_cols:
                continue
            if mask[r, c] or touched[r, c]:
                continue
            touched[r, c] = True
            out[n_out, 0], out[n_out, 1] = r, c
            n_out += 1
    return _release(out, n_out, touched)


@njit(cache=True, nogil=True)
def _scatter(image, rows, cols, values):
    """image[rows, cols] = values; returns sum |new - old| (for the change monitor)."""
    change = 0.0
    for i in range(rows.shape[0]):
        change += abs(values[i] - image[rows[i], cols[i]])
        image[rows[i], cols[i]] = values[i]
    return change


@njit(cache=True, nogil=True)
def _put(image, rows, cols, values):
    """image[rows, cols] = values."""
    for i in range(rows.shape[0]):
        image[rows[i], cols[i]] = values[i]


def tile_dk_max(
    mask: np.ndarray, dk: np.ndarray, tile: int, out: np.ndarray, pixels: np.ndarray | None = None
) -> np.ndarray:
    """Refresh ``out[tr, tc]`` = max ``dk`` over unmeasured pixels of each tile (or of the
    tiles holding ``pixels``); returns ``out``."""
    if pixels is None:
        rows = cols = np.zeros(0, np.int64)
    elif len(pixels) == 0:
        return out
    else:
        rows, cols = pixel_columns(pixels)
    _tile_dk_max(mask, dk, int(tile), out, rows, cols)
    return out


def affected_pixels(
    mask: np.ndarray,
    dk: np.ndarray,
    tile_dk: np.ndarray,
    tile: int,
    changed: np.ndarray,
    touched: np.ndarray,
) -> np.ndarray:
    """(n, 2) unmeasured pixels p with ``|p - q| <= dk[p]`` for a ``changed`` pixel q.

    ``tile_dk`` must bound ``dk`` from above on each ``tile`` x ``tile`` block (see
    :func:`tile_dk_max`); ``touched`` is an all-False scratch array, left clean.
    """
    rows, cols = pixel_columns(changed)
    return _affected_pixels(mask, dk, tile_dk, int(tile), rows, cols, touched)


def dilate_unmeasured(mask: np.ndarray, pixels: np.ndarray, touched: np.ndarray) -> np.ndarray:
    """(n, 2) unmeasured pixels among ``pixels`` and their 4-neighbours, each once."""
    return _dilate_unmeasured(mask, np.asarray(pixels, np.int64).reshape(-1, 2), touched)


def scatter(image: np.ndarray, pixels: np.ndarray, values: np.ndarray) -> float:
    """Write ``values`` at ``pixels`` of ``image``; return the L1 size of the change."""
    rows, cols = pixel_columns(pixels)
    return float(_scatter(image, rows, cols, np.asarray(values, np.float64)))


def put(image: np.ndarray, pixels: np.ndarray, values: np.ndarray) -> None:
    """``image[pixels[:, 0], pixels[:, 1]] = values`` for (n, 2) ``pixels`` without repeats
    and a float64 ``image`` (one pass, no index arrays copied)."""
    pixels = np.asarray(pixels, np.int64).reshape(-1, 2)
    _put(image, pixels[:, 0], pixels[:, 1], np.asarray(values, np.float64))

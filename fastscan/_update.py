"""Numba kernels for the sampler's local update after a batch is measured.

Adding measured points can only change the k nearest neighbours of a pixel p if
a new point q lies within p's old k-th neighbour distance ``d_k(p)``. The set of
such pixels is star-shaped around q (``d_k`` is 1-Lipschitz), so a scan of
square rings around q can stop at the first ring where every unmeasured pixel is
clearly out of reach.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# a ring pixel with d_k(p) - |p - q| below this proves no pixel further out is affected
_RING_MARGIN = -2.0


@njit(cache=True)
def _affected_pixels(mask, dk, new_rows, new_cols, touched, max_ring):
    """Unmeasured pixels whose k-NN can change because of the new points.

    ``touched`` is an all-False scratch array; it is reset before returning.
    """
    n_rows, n_cols = mask.shape
    cap = 1024
    out = np.empty((cap, 2), np.int64)
    n_out = 0
    for i in range(new_rows.shape[0]):
        r0, c0 = new_rows[i], new_cols[i]
        for t in range(1, max_ring + 1):
            close = False
            any_unmeasured = False
            inside = False
            for r in range(r0 - t, r0 + t + 1):
                if r < 0 or r >= n_rows:
                    continue
                edge_row = r == r0 - t or r == r0 + t
                step = 1 if edge_row else 2 * t
                for c in range(c0 - t, c0 + t + 1, step):
                    if c < 0 or c >= n_cols:
                        continue
                    inside = True
                    if mask[r, c]:
                        continue
                    any_unmeasured = True
                    d = np.sqrt((r - r0) * (r - r0) + (c - c0) * (c - c0))
                    if dk[r, c] - d > _RING_MARGIN:
                        close = True
                    if d <= dk[r, c] and not touched[r, c]:
                        touched[r, c] = True
                        if n_out == out.shape[0]:
                            bigger = np.empty((2 * out.shape[0], 2), np.int64)
                            bigger[:n_out] = out[:n_out]
                            out = bigger
                        out[n_out, 0], out[n_out, 1] = r, c
                        n_out += 1
            if not inside or (any_unmeasured and not close):
                break
    for i in range(n_out):
        touched[out[i, 0], out[i, 1]] = False
    return out[:n_out]


@njit(cache=True)
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
    for i in range(n_out):
        touched[out[i, 0], out[i, 1]] = False
    return out[:n_out]


@njit(cache=True)
def _scatter(image, rows, cols, values):
    """image[rows, cols] = values; returns sum |new - old| (for the change monitor)."""
    change = 0.0
    for i in range(rows.shape[0]):
        change += abs(values[i] - image[rows[i], cols[i]])
        image[rows[i], cols[i]] = values[i]
    return change


def affected_pixels(
    mask: np.ndarray, dk: np.ndarray, new_points: np.ndarray, touched: np.ndarray, max_ring: int
) -> np.ndarray:
    """(n, 2) unmeasured pixels whose neighbour set may change (see module docstring)."""
    new_points = np.asarray(new_points, np.int64).reshape(-1, 2)
    return _affected_pixels(
        mask,
        dk,
        np.ascontiguousarray(new_points[:, 0]),
        np.ascontiguousarray(new_points[:, 1]),
        touched,
        int(max_ring),
    )


def dilate_unmeasured(mask: np.ndarray, pixels: np.ndarray, touched: np.ndarray) -> np.ndarray:
    """(n, 2) unmeasured pixels among ``pixels`` and their 4-neighbours, each once."""
    return _dilate_unmeasured(mask, np.asarray(pixels, np.int64).reshape(-1, 2), touched)


def scatter(image: np.ndarray, pixels: np.ndarray, values: np.ndarray) -> float:
    """Write ``values`` at ``pixels`` of ``image``; return the L1 size of the change."""
    pixels = np.asarray(pixels, np.int64).reshape(-1, 2)
    return float(
        _scatter(
            image,
            np.ascontiguousarray(pixels[:, 0]),
            np.ascontiguousarray(pixels[:, 1]),
            np.asarray(values, np.float64),
        )
    )

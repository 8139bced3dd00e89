"""Numba kernel of the sampler's bookkeeping when readings arrive (sums, counts, means, mask).

:func:`accumulate` does in one pass what :meth:`fastscan.Sampler.ingest` did with a
dozen NumPy calls (``np.add.at``, ``np.unique``, fancy indexing), each costing
tens of microseconds even for a few hundred readings: a flown line's 600
readings took about 0.3 ms, the time a streamed fly plan waits for after the
coarse raster. The arithmetic is the same, in the same order (the sums add the
readings in reading order), so the means are the same bits;
``tests/test_readings.py`` checks it against the NumPy code.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fastscan._pixels import pixel_columns


@njit(cache=True, nogil=True)
def _accumulate(sums, counts, means, mask, rows, cols, readings):
    """:func:`accumulate` of (rows, cols) points and (n, C) float64 readings."""
    n_channels, _, n_cols = sums.shape
    n = rows.shape[0]
    was_measured = np.empty(n, np.bool_)
    before = np.empty((n, n_channels))
    for i in range(n):
        was_measured[i] = mask[rows[i], cols[i]]
        for ch in range(n_channels):
            before[i, ch] = means[ch, rows[i], cols[i]]
    flat = np.empty(n, np.int64)
    for i in range(n):  # in reading order, as np.add.at
        r, c = rows[i], cols[i]
        for ch in range(n_channels):
            sums[ch, r, c] += readings[i, ch]
        counts[r, c] += 1
        flat[i] = r * n_cols + c
    unique = np.unique(flat)  # sorted
    pixels = np.empty((unique.shape[0], 2), np.int64)
    is_new = np.empty(unique.shape[0], np.bool_)
    for j in range(unique.shape[0]):
        r, c = unique[j] // n_cols, unique[j] % n_cols
        pixels[j, 0], pixels[j, 1] = r, c
        for ch in range(n_channels):
            means[ch, r, c] = sums[ch, r, c] / counts[r, c]
        is_new[j] = not mask[r, c]
    moved = np.zeros(n, np.bool_)  # a repeat of a pixel measured before that moved its mean
    n_moved = 0
    for i in range(n):
        if was_measured[i]:
            for ch in range(n_channels):
                if means[ch, rows[i], cols[i]] != before[i, ch]:
                    moved[i] = True
            n_moved += moved[i]
    moved_flat = np.empty(n_moved, np.int64)
    m = 0
    for i in range(n):
        if moved[i]:
            moved_flat[m] = flat[i]
            m += 1
    moved_flat = np.unique(moved_flat)
    moved_pixels = np.empty((moved_flat.shape[0], 2), np.int64)
    for j in range(moved_flat.shape[0]):
        moved_pixels[j, 0], moved_pixels[j, 1] = moved_flat[j] // n_cols, moved_flat[j] % n_cols
    for j in range(pixels.shape[0]):
        mask[pixels[j, 0], pixels[j, 1]] = True
    return pixels, is_new, moved_pixels


def accumulate(
    sums: np.ndarray,
    counts: np.ndarray,
    means: np.ndarray,
    mask: np.ndarray,
    points: np.ndarray,
    readings: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Add ``readings`` (n, C) at (row, col) ``points`` (n, 2), in place.

    ``sums`` (C, H, W) gets each reading added in order, ``counts`` (H, W) one per
    reading, ``means`` the new ``sums / counts`` at every pixel read and ``mask`` True
    there. Returns the distinct pixels read (u, 2), sorted by row then column, which
    of them were new (u,), and the pixels measured before whose mean moved (m, 2),
    sorted.

    Examples
    --------
    >>> import numpy as np
    >>> sums, means = np.zeros((1, 2, 3)), np.zeros((1, 2, 3))
    >>> counts, mask = np.zeros((2, 3), np.int32), np.zeros((2, 3), bool)
    >>> pts = np.array([[1, 2], [0, 1], [1, 2]])
    >>> pixels, is_new, moved = accumulate(
    ...     sums, counts, means, mask, pts, np.array([[1.0], [5.0], [2.0]]))
    >>> pixels.tolist(), is_new.tolist(), float(means[0, 1, 2]), moved.shape
    ([[0, 1], [1, 2]], [True, True], 1.5, (0, 2))
    """
    rows, cols = pixel_columns(points)
    readings = np.ascontiguousarray(readings, np.float64).reshape(len(rows), sums.shape[0])
    return _accumulate(sums, counts, means, mask, rows, cols, readings)

"""k-nearest measured pixels on a regular grid.

The search walks a table of integer (row, col) offsets sorted by distance (ties
broken by row, then col offset), so the result depends only on the measured mask,
never on the order points were measured in. A pixel's cost is about
``pi * d_k**2`` mask look-ups, where ``d_k`` is its k-th neighbour distance; this
is what makes local updates after a batch cheap.

Examples
--------
>>> import numpy as np
>>> from fastscan.neighbors import knn_gather
>>> mask = np.zeros((5, 5), bool); mask[0, 0] = mask[4, 4] = mask[2, 2] = True
>>> knn_gather(mask, np.array([[0, 1]]), k=2)[2].round(3).tolist()
[[1.0, 2.236]]
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["OffsetTable", "knn_gather"]


class OffsetTable:
    """Integer offsets within ``radius`` sorted by distance (then row, then col)."""

    def __init__(self, radius: int) -> None:
        radius = int(radius)
        if radius < 1:
            raise ValueError(f"offset radius must be >= 1, got {radius}")
        d_row, d_col = np.mgrid[-radius : radius + 1, -radius : radius + 1]
        d_row, d_col = d_row.ravel(), d_col.ravel()
        dist2 = d_row * d_row + d_col * d_col
        keep = dist2 <= radius * radius
        d_row, d_col, dist2 = d_row[keep], d_col[keep], dist2[keep]
        order = np.lexsort((d_col, d_row, dist2))
        self.radius = radius
        self.offsets = np.ascontiguousarray(np.stack([d_row[order], d_col[order]], 1), np.int32)
        self.distances = np.sqrt(dist2[order]).astype(np.float64)

    @staticmethod
    def radius_for(shape: tuple[int, int], n_measured: int, k: int) -> int:
        """A radius that holds ``k`` neighbours with a wide margin for a well-spread set."""
        n_pixels = shape[0] * shape[1]
        density = max(n_measured, 1) / n_pixels
        typical = np.sqrt(k / (np.pi * density))
        return int(min(np.ceil(3.0 * typical + 4), np.hypot(*shape) + 1))


@njit(cache=True)
def _knn_pixels(mask, rows, cols, offsets, offset_dist, k, out_rows, out_cols, out_dist):
    """Fill the k nearest measured pixels of each query; returns how many were found each."""
    n_rows, n_cols = mask.shape
    n_found = np.zeros(rows.shape[0], np.int64)
    for i in range(rows.shape[0]):
        r0, c0 = rows[i], cols[i]
        found = 0
        for j in range(offsets.shape[0]):
            if offset_dist[j] == 0.0:
                continue
            r = r0 + offsets[j, 0]
            c = c0 + offsets[j, 1]
            if r < 0 or r >= n_rows or c < 0 or c >= n_cols:
                continue
            if mask[r, c]:
                out_rows[i, found] = r
                out_cols[i, found] = c
                out_dist[i, found] = offset_dist[j]
                found += 1
                if found == k:
                    break
        n_found[i] = found
    return n_found


def _brute_force(mask, rows, cols, k, out_rows, out_cols, out_dist, which):
    """Exact fallback for queries whose neighbours lie beyond the offset table."""
    m_rows, m_cols = np.nonzero(mask)
    for i in which:
        d2 = (m_rows - rows[i]) ** 2 + (m_cols - cols[i]) ** 2
        d2 = np.where(d2 == 0, np.iinfo(np.int64).max, d2)
        kk = min(k, int(np.count_nonzero(d2 < np.iinfo(np.int64).max)))
        order = np.lexsort((m_cols - cols[i], m_rows - rows[i], d2))[:kk]
        out_rows[i, :kk] = m_rows[order]
        out_cols[i, :kk] = m_cols[order]
        out_dist[i, :kk] = np.sqrt(d2[order])


def knn_gather(
    mask: np.ndarray, pixels: np.ndarray, k: int, table: OffsetTable | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, cols and distances of the ``k`` nearest measured pixels of each query.

    Parameters
    ----------
    mask : (H, W) bool array
        True where a pixel has been measured. At least ``k`` pixels must be measured.
    pixels : (n, 2) int array
        Query pixels as (row, col). A query never counts itself as a neighbour.
    k : int
        Number of neighbours.
    table : OffsetTable, optional
        Pre-built search table; pixels whose neighbours it cannot reach are solved
        exactly by brute force.

    Returns
    -------
    rows, cols : (n, k) int64 arrays
    distances : (n, k) float64 array, ascending along axis 1
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    n_measured = int(mask.sum())
    if n_measured < k + 1:
        raise ValueError(f"need at least k + 1 = {k + 1} measured pixels, have {n_measured}")
    pixels = np.asarray(pixels, dtype=np.int64).reshape(-1, 2)
    if table is None:
        table = OffsetTable(OffsetTable.radius_for(mask.shape, n_measured, k))
    n = pixels.shape[0]
    rows, cols = np.ascontiguousarray(pixels[:, 0]), np.ascontiguousarray(pixels[:, 1])
    out_rows = np.zeros((n, k), np.int64)
    out_cols = np.zeros((n, k), np.int64)
    out_dist = np.zeros((n, k), np.float64)
    n_found = _knn_pixels(
        mask, rows, cols, table.offsets, table.distances, k, out_rows, out_cols, out_dist
    )
    short = np.flatnonzero(n_found < k)
    if short.size:
        _brute_force(mask, rows, cols, k, out_rows, out_cols, out_dist, short)
    return out_rows, out_cols, out_dist

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

from fastscan._pixels import pixel_columns

__all__ = ["CellIndex", "OffsetTable", "knn_gather"]

MAX_SIDE = 1 << 15  # largest grid side a CellIndex takes (its packed sort keys)


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


@njit(cache=True, nogil=True)
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


_BRUTE_FORCE_MAX = 16  # queries beyond the table solved by brute force (else a CellIndex)


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
    if table is None:
        table = OffsetTable(OffsetTable.radius_for(mask.shape, n_measured, k))
    return table_knn(mask, pixels, k, table)


def table_knn(
    mask: np.ndarray, pixels: np.ndarray, k: int, table: OffsetTable
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`knn_gather` without its checks (no pass over the whole mask): for callers
    that know ``mask`` is a 2-D bool array with more than ``k`` measured pixels."""
    rows, cols = pixel_columns(pixels)
    n = rows.shape[0]
    out_rows = np.zeros((n, k), np.int64)
    out_cols = np.zeros((n, k), np.int64)
    out_dist = np.zeros((n, k), np.float64)
    n_found = _knn_pixels(
        mask, rows, cols, table.offsets, table.distances, k, out_rows, out_cols, out_dist
    )
    short = np.flatnonzero(n_found < k)
    if short.size > _BRUTE_FORCE_MAX and max(mask.shape) <= MAX_SIDE:
        # many pixels far from every measurement (regions an adaptive scan skipped):
        # a cell index finds the same neighbours, ties included, in about k look-ups each
        index = CellIndex(mask, CellIndex.cell_for(mask.shape, int(mask.sum()), k))
        found = index.knn(pixels[short], k)
        out_rows[short], out_cols[short], out_dist[short] = found
    elif short.size:
        _brute_force(mask, rows, cols, k, out_rows, out_cols, out_dist, short)
    return out_rows, out_cols, out_dist


class CellIndex:
    """Measured pixels bucketed in square cells: exact k-NN that costs little when sparse.

    :func:`knn_gather` looks at every pixel within a query's k-th neighbour
    distance ``d_k`` (about ``k / density`` look-ups); this index looks only at
    the measured pixels of the cells near the query (about ``k`` of them when
    the cell side is ``d_k / 2``), which is much less early in a scan. Results
    are identical to :func:`knn_gather`, ties included.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((5, 5), bool); mask[0, 0] = mask[4, 4] = mask[2, 2] = True
    >>> CellIndex(mask, cell=2).knn(np.array([[0, 1]]), k=2)[2].round(3).tolist()
    [[1.0, 2.236]]
    """

    def __init__(self, mask: np.ndarray, cell: int) -> None:
        cell = int(cell)
        if cell < 1:
            raise ValueError(f"cell side must be >= 1, got {cell}")
        if max(mask.shape) > MAX_SIDE:
            raise ValueError(
                f"CellIndex grids must be at most {MAX_SIDE} on a side, got {mask.shape}"
            )
        self.cell = cell
        self.shape = mask.shape
        self.cell_shape = (-(-mask.shape[0] // cell), -(-mask.shape[1] // cell))
        n_cells = self.cell_shape[0] * self.cell_shape[1]
        self.counts = np.zeros(n_cells, np.int64)
        self.rows = np.empty((n_cells, cell * cell), np.int32)  # the indexed pixels of each
        self.cols = np.empty((n_cells, cell * cell), np.int32)  # cell (no divisions to decode)
        self.n_points = 0
        self.add(np.argwhere(mask))

    @staticmethod
    def cell_for(shape: tuple[int, int], n_measured: int, k: int) -> int:
        """Cell side of about the typical k-th neighbour distance.

        Any side gives the same neighbours; this one was fastest for the bounded
        searches of a sampler's local updates (``benchmarks/bench_latency.py``):
        0.5 d_k cost about 1.4x as much (more cells visited per query).
        """
        density = max(n_measured, 1) / (shape[0] * shape[1])
        return max(2, int(round(np.sqrt(k / (np.pi * density)))))

    def add(self, pixels: np.ndarray) -> None:
        """Index newly measured ``pixels`` ((n, 2) row, col; each at most once overall)."""
        pixels = np.asarray(pixels, np.int64).reshape(-1, 2)
        _cell_add(self.counts, self.rows, self.cols, self.cell, self.cell_shape[1], pixels)
        self.n_points += len(pixels)

    def knn(
        self, pixels: np.ndarray, k: int, max_dist: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows, cols and distances of the ``k`` nearest indexed pixels (as :func:`knn_gather`).

        ``max_dist`` (n,), if given, must bound each query's k-th neighbour
        distance from above (e.g. its distance before points were added); the
        search then skips everything beyond it.
        """
        if self.n_points < k + 1:
            raise ValueError(f"need at least k + 1 = {k + 1} measured pixels, have {self.n_points}")
        pixels = np.asarray(pixels, np.int64).reshape(-1, 2)
        n = pixels.shape[0]
        out_rows = np.zeros((n, k), np.int64)
        out_cols = np.zeros((n, k), np.int64)
        out_dist = np.zeros((n, k), np.float64)
        if max_dist is None:
            limit = np.full(n, np.iinfo(np.int64).max // 4, np.int64)
        else:
            limit = np.floor(np.asarray(max_dist, np.float64) ** 2 + 0.5).astype(np.int64)
        _knn_cells(
            self.counts,
            self.rows,
            self.cols,
            self.cell,
            self.cell_shape[0],
            self.cell_shape[1],
            np.ascontiguousarray(pixels[:, 0]),
            np.ascontiguousarray(pixels[:, 1]),
            k,
            limit,
            out_rows,
            out_cols,
            out_dist,
        )
        return out_rows, out_cols, out_dist


@njit(cache=True, nogil=True)
def _cell_add(counts, cell_rows, cell_cols_, cell, cell_cols, pixels):
    for i in range(pixels.shape[0]):
        r, c = pixels[i, 0], pixels[i, 1]
        j = (r // cell) * cell_cols + c // cell
        cell_rows[j, counts[j]] = r
        cell_cols_[j, counts[j]] = c
        counts[j] += 1


@njit(cache=True, nogil=True)
def _knn_cells(
    counts, pt_rows, pt_cols, cell, cell_rows, cell_cols, rows, cols, k, limit, o_r, o_c, o_d
):
    """k nearest indexed pixels of each query, ordered by (d**2, d_row, d_col).

    ``limit[i]`` bounds query i's k-th squared distance from above. Each candidate
    is one int64 key ``d2 << 32 | (d_row + 2**15) << 16 | (d_col + 2**15)``, so
    one comparison orders it (grids below 2**15 on a side; see CellIndex).
    """
    keys = np.empty(k, np.int64)
    off = np.int64(1 << 15)
    for i in range(rows.shape[0]):
        r0, c0 = rows[i], cols[i]
        pr, pc = r0 // cell, c0 // cell
        found = 0
        reach2 = limit[i]
        # worst key allowed: d2 == reach2 with any tie-break
        worst = (
            (reach2 << 32) | ((2 * off - 1) << 16) | (2 * off - 1)
            if reach2 < (np.int64(1) << 30)
            else np.int64(9223372036854775807)
        )
        t = 0
        while True:
            if t > 0:
                if pr - t < 0 and pr + t >= cell_rows and pc - t < 0 and pc + t >= cell_cols:
                    break
                bound = (t - 1) * cell + 1
                if bound * bound > reach2:
                    break
            for cr in range(max(pr - t, 0), min(pr + t, cell_rows - 1) + 1):
                edge = cr == pr - t or cr == pr + t
                gap_r = max(cr * cell - r0, 0, r0 - (cr * cell + cell - 1))
                gr2 = gap_r * gap_r
                if gr2 > reach2:
                    continue
                step = 1 if edge else 2 * t
                for cc in range(pc - t, pc + t + 1, max(step, 1)):
                    if cc < 0 or cc >= cell_cols:
                        continue
                    gap_c = max(cc * cell - c0, 0, c0 - (cc * cell + cell - 1))
                    if gr2 + gap_c * gap_c > reach2:
                        continue
                    j = cr * cell_cols + cc
                    for m in range(counts[j]):
                        dr = np.int64(pt_rows[j, m]) - r0
                        dc = np.int64(pt_cols[j, m]) - c0
                        d2 = dr * dr + dc * dc
                        if d2 == 0:
                            continue
                        key = (d2 << 32) | ((dr + off) << 16) | (dc + off)
                        if key > worst:
                            continue
                        if found == k:
                            pos = k - 1
                        else:
                            pos = found
                            found += 1
                        while pos > 0 and key < keys[pos - 1]:
                            keys[pos] = keys[pos - 1]
                            pos -= 1
                        keys[pos] = key
                        if found == k:
                            worst = keys[k - 1]
                            reach2 = min(reach2, worst >> 32)
            t += 1
        mask16 = np.int64(0xFFFF)
        for j in range(found):
            key = keys[j]
            o_r[i, j] = r0 + ((key >> 16) & mask16) - off
            o_c[i, j] = c0 + (key & mask16) - off
            o_d[i, j] = np.sqrt(np.float64(key >> 32))

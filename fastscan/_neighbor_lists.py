"""Stored k-nearest-neighbour lists of every unmeasured pixel, updated by merging.

While a scan is sparse each new point changes the neighbours of a wide disc of
pixels (about ``pi d_k**2``), and searching those neighbours again dominated a
local update. The lists make that search a merge: a new point q only enters the
list of a pixel p with ``|p - q| <= d_k(p)`` (the old k-th distance; points are
only ever added, so the lists only shrink in distance), and it enters at the
place its key ``(d**2, d_row, d_col)`` sorts to, the tie order of
:func:`fastscan.neighbors.knn_gather`. So the merged list is exactly the list a
fresh search would give.

Each entry is the (d_row, d_col) offset from p to the neighbour as two int8, so
a list costs ``2 k`` bytes per pixel; a pixel with a neighbour farther than
127 rows or columns away has no valid list and is searched instead (the
``valid`` flag), as is every pixel after a state is loaded.

Examples
--------
>>> import numpy as np
>>> from fastscan._neighbor_lists import NeighborLists
>>> mask = np.zeros((5, 5), bool); mask[0, 0] = mask[4, 4] = mask[2, 2] = True
>>> lists = NeighborLists(mask.shape, k=2)
>>> pixels = np.array([[0, 1]])
>>> lists.store(pixels, np.array([[0, 2]]), np.array([[0, 2]]))
>>> lists.gather(pixels)[2].round(3).tolist()
[[1.0, 2.236]]
"""

from __future__ import annotations

import numpy as np
from numba import njit

_OFFSET_MAX = 127  # largest |d_row| or |d_col| an int8 offset holds


@njit(cache=True, nogil=True)
def _key(dr, dc):
    """Sort key of offset (dr, dc): d**2, then d_row, then d_col (|dr|, |dc| < 2**15)."""
    return ((dr * dr + dc * dc) << 32) | ((dr + 32768) << 16) | (dc + 32768)


@njit(cache=True, nogil=True)
def _insert(offsets, valid, p, dr, dc):
    """Put offset (dr, dc) into pixel p's sorted list if it beats the k-th entry."""
    if dr > 127 or dr < -127 or dc > 127 or dc < -127:
        valid[p] = False  # an int8 cannot hold it: the pixel is searched from now on
        return
    k = offsets.shape[1]
    key = _key(np.int64(dr), np.int64(dc))
    last = _key(np.int64(offsets[p, k - 1, 0]), np.int64(offsets[p, k - 1, 1]))
    if key >= last:
        return
    pos = k - 1
    while pos > 0:
        prev = _key(np.int64(offsets[p, pos - 1, 0]), np.int64(offsets[p, pos - 1, 1]))
        if prev <= key:
            break
        offsets[p, pos, 0] = offsets[p, pos - 1, 0]
        offsets[p, pos, 1] = offsets[p, pos - 1, 1]
        pos -= 1
    offsets[p, pos, 0] = dr
    offsets[p, pos, 1] = dc


@njit(cache=True, nogil=True)
def _affected_merge(mask, dk, tile_dk, tile, q_rows, q_cols, q_new, touched, offsets, valid):
    """Unmeasured p with |p - q| <= dk[p] for some q (as ``_update._affected_pixels``,
    same order); each new q (``q_new``) also enters the valid lists it belongs to."""
    n_rows, n_cols = mask.shape
    t_rows, t_cols = tile_dk.shape
    reach = 0.0
    for tr in range(t_rows):
        for tc in range(t_cols):
            reach = max(reach, tile_dk[tr, tc])
    out = np.empty((1024, 2), np.int64)
    n_out = 0
    for i in range(q_rows.shape[0]):
        r0, c0 = q_rows[i], q_cols[i]
        new = q_new[i]
        tr_lo = max(int(np.floor((r0 - reach) / tile)), 0)
        tr_hi = min(int(np.floor((r0 + reach) / tile)), t_rows - 1)
        tc_lo = max(int(np.floor((c0 - reach) / tile)), 0)
        tc_hi = min(int(np.floor((c0 + reach) / tile)), t_cols - 1)
        for tr in range(tr_lo, tr_hi + 1):
            r_first, r_last = tr * tile, min((tr + 1) * tile, n_rows) - 1
            gap_r = max(r_first - r0, 0, r0 - r_last)
            for tc in range(tc_lo, tc_hi + 1):
                c_first, c_last = tc * tile, min((tc + 1) * tile, n_cols) - 1
                gap_c = max(c_first - c0, 0, c0 - c_last)
                if np.sqrt(gap_r * gap_r + gap_c * gap_c) > tile_dk[tr, tc]:
                    continue
                for r in range(r_first, r_last + 1):
                    for c in range(c_first, c_last + 1):
                        if mask[r, c]:
                            continue
                        d = np.sqrt((r - r0) * (r - r0) + (c - c0) * (c - c0))
                        if d > dk[r, c]:
                            continue
                        p = r * n_cols + c
                        if new and valid[p]:
                            _insert(offsets, valid, p, r0 - r, c0 - c)
                        if touched[r, c]:
                            continue
                        touched[r, c] = True
                        if n_out == out.shape[0]:
                            bigger = np.empty((2 * out.shape[0], 2), np.int64)
                            bigger[:n_out] = out[:n_out]
                            out = bigger
                        out[n_out, 0], out[n_out, 1] = r, c
                        n_out += 1
    for i in range(n_out):
        touched[out[i, 0], out[i, 1]] = False
    return out[:n_out]


@njit(cache=True, nogil=True)
def _gather(offsets, n_cols, rows, cols, out_rows, out_cols, out_dist):
    """Neighbour rows, cols and distances of pixels (rows, cols) from their lists."""
    k = offsets.shape[1]
    for i in range(rows.shape[0]):
        p = rows[i] * n_cols + cols[i]
        for j in range(k):
            dr = np.int64(offsets[p, j, 0])
            dc = np.int64(offsets[p, j, 1])
            out_rows[i, j] = rows[i] + dr
            out_cols[i, j] = cols[i] + dc
            out_dist[i, j] = np.sqrt(np.float64(dr * dr + dc * dc))


@njit(cache=True, nogil=True)
def _store(offsets, valid, n_cols, rows, cols, nbr_rows, nbr_cols):
    """Store searched neighbours as lists; a pixel with a far neighbour stays invalid."""
    k = offsets.shape[1]
    for i in range(rows.shape[0]):
        p = rows[i] * n_cols + cols[i]
        fits = True
        for j in range(k):
            dr = nbr_rows[i, j] - rows[i]
            dc = nbr_cols[i, j] - cols[i]
            if dr > 127 or dr < -127 or dc > 127 or dc < -127:
                fits = False
                break
            offsets[p, j, 0] = dr
            offsets[p, j, 1] = dc
        valid[p] = fits


@njit(cache=True, nogil=True)
def _valid_of(valid, n_cols, rows, cols, out):
    for i in range(rows.shape[0]):
        out[i] = valid[rows[i] * n_cols + cols[i]]


def _split(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pixels = np.asarray(pixels, np.int64).reshape(-1, 2)
    return np.ascontiguousarray(pixels[:, 0]), np.ascontiguousarray(pixels[:, 1])


class NeighborLists:
    """The k nearest measured pixels of every unmeasured pixel, as stored int8 offsets.

    Parameters
    ----------
    shape : (n_rows, n_cols)
        Grid size.
    k : int
        Neighbours per pixel.

    Notes
    -----
    Nothing is valid at first: :meth:`store` the result of a search, then keep
    the lists current with :meth:`affected_merge` after each batch of new points.
    """

    def __init__(self, shape: tuple[int, int], k: int) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        self.k = int(k)
        n_pixels = self.shape[0] * self.shape[1]
        self.offsets = np.zeros((n_pixels, self.k, 2), np.int8)
        self.valid = np.zeros(n_pixels, np.bool_)

    @staticmethod
    def nbytes_for(shape: tuple[int, int], k: int) -> int:
        """Memory the lists of a grid take (two int8 per neighbour and a flag per pixel)."""
        return int(shape[0]) * int(shape[1]) * (2 * int(k) + 1)

    def invalidate(self) -> None:
        """Forget every list (e.g. after a state was loaded without them)."""
        self.valid[:] = False

    def valid_of(self, pixels: np.ndarray) -> np.ndarray:
        """(n,) True where the pixel's list is valid."""
        rows, cols = _split(pixels)
        out = np.empty(len(rows), np.bool_)
        _valid_of(self.valid, self.shape[1], rows, cols, out)
        return out

    def store(self, pixels: np.ndarray, nbr_rows: np.ndarray, nbr_cols: np.ndarray) -> None:
        """Keep searched neighbours ((n, k) rows and cols, sorted) of ``pixels``."""
        rows, cols = _split(pixels)
        _store(
            self.offsets,
            self.valid,
            self.shape[1],
            rows,
            cols,
            np.asarray(nbr_rows, np.int64),
            np.asarray(nbr_cols, np.int64),
        )

    def gather(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows, cols and distances, (n, k) each, of ``pixels`` (whose lists must be valid)."""
        rows, cols = _split(pixels)
        n = len(rows)
        out_rows = np.empty((n, self.k), np.int64)
        out_cols = np.empty((n, self.k), np.int64)
        out_dist = np.empty((n, self.k), np.float64)
        _gather(self.offsets, self.shape[1], rows, cols, out_rows, out_cols, out_dist)
        return out_rows, out_cols, out_dist

    def affected_merge(
        self,
        mask: np.ndarray,
        dk: np.ndarray,
        tile_dk: np.ndarray,
        tile: int,
        changed: np.ndarray,
        is_new: np.ndarray,
        touched: np.ndarray,
    ) -> np.ndarray:
        """:func:`fastscan._update.affected_pixels`, merging the new points into the lists.

        ``changed`` (n, 2) are the pixels whose value changed, ``is_new`` (n,)
        marks those measured for the first time (already True in ``mask``);
        ``dk`` must still hold every pixel's k-th distance from before them.
        Returns the unmeasured pixels whose reconstruction may change, in the
        same order as :func:`fastscan._update.affected_pixels`.
        """
        rows, cols = _split(changed)
        return _affected_merge(
            mask,
            dk,
            tile_dk,
            int(tile),
            rows,
            cols,
            np.ascontiguousarray(is_new, np.bool_),
            touched,
            self.offsets,
            self.valid,
        )

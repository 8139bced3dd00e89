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

import sys

import numpy as np
from numba import njit

from fastscan import _threads
from fastscan._pixels import pixel_columns
from fastscan._update import _append_pixel, _largest, _release, _tile_gap, _tile_span
from fastscan.features import _gradient_pair

_OFFSET_MAX = 127  # largest |d_row| or |d_col| an int8 offset holds


@njit(cache=True, nogil=True)
def _before(dr, dc, d2, er, ec):
    """True if offset (dr, dc) of squared length d2 sorts before offset (er, ec)."""
    e2 = er * er + ec * ec
    if d2 != e2:
        return d2 < e2
    return dr < er or (dr == er and dc < ec)


# An entry's two int8 (d_row, d_col) read and moved as one int16 (:func:`_insert_packed`):
# half the loads and stores of a byte-by-byte insert
_LITTLE_ENDIAN = sys.byteorder == "little"


@njit(cache=True, nogil=True, inline="always")
def _unpack(packed):
    """(d_row, d_col) of an entry read as one int16 (``packed``)."""
    value = np.int64(packed)
    low = ((value & 0xFF) ^ 0x80) - 0x80  # the low byte, sign-extended
    high = value >> 8
    if _LITTLE_ENDIAN:
        return low, high
    return high, low


@njit(cache=True, nogil=True, inline="always")
def _pack(dr, dc):
    """The int16 whose two bytes are int8 ``dr`` then int8 ``dc`` (|dr|, |dc| <= 127)."""
    if _LITTLE_ENDIAN:
        return np.int16((dr & 0xFF) | (dc << 8))
    return np.int16((dc & 0xFF) | (dr << 8))


@njit(cache=True, nogil=True, inline="always")
def _insert_packed(packed, valid, p, dr, dc):
    """Put offset (dr, dc) into pixel p's sorted list if it beats the k-th entry (the
    lists viewed as (n_pixels, k) int16 by :func:`_packed`); shift the later ones."""
    if dr > _OFFSET_MAX or dr < -_OFFSET_MAX or dc > _OFFSET_MAX or dc < -_OFFSET_MAX:
        valid[p] = False  # an int8 cannot hold it: the pixel is searched from now on
        return
    k = packed.shape[1]
    d2 = dr * dr + dc * dc
    er, ec = _unpack(packed[p, k - 1])
    if not _before(dr, dc, d2, er, ec):
        return
    pos = k - 1
    while pos > 0:
        entry = packed[p, pos - 1]
        er, ec = _unpack(entry)
        if not _before(dr, dc, d2, er, ec):
            break
        packed[p, pos] = entry
        pos -= 1
    packed[p, pos] = _pack(dr, dc)


def _packed(offsets: np.ndarray) -> np.ndarray:
    """The (n_pixels, k, 2) int8 lists as an (n_pixels, k) int16 view (one entry each)."""
    return offsets.view(np.int16)[:, :, 0]  # a view, never a copy


@njit(cache=True, nogil=True)
def _affected_merge(
    mask, dk, tile_dk, tile, q_rows, q_cols, q_new, touched, offsets, valid, row_lo, row_hi
):
    """Unmeasured p in rows [row_lo, row_hi) with |p - q| <= dk[p] for some q (as
    ``_update._affected_pixels`` there, same order); each new q (``q_new``) also enters
    the valid lists of those rows it belongs to (``offsets`` viewed by :func:`_packed`)."""
    n_rows, n_cols = mask.shape
    t_cols = tile_dk.shape[1]
    reach = _largest(tile_dk)
    out = np.empty((1024, 2), np.int64)
    n_out = 0
    for i in range(q_rows.shape[0]):
        r0, c0 = q_rows[i], q_cols[i]
        new = q_new[i]
        tr_lo, tr_hi = _tile_span(r0, reach, tile, row_lo // tile, (row_hi - 1) // tile)
        tc_lo, tc_hi = _tile_span(c0, reach, tile, 0, t_cols - 1)
        for tr in range(tr_lo, tr_hi + 1):
            r_first, r_last, gap_r = _tile_gap(tr, tile, n_rows, r0, r0)
            r_first, r_last = max(r_first, row_lo), min(r_last, row_hi - 1)
            for tc in range(tc_lo, tc_hi + 1):
                c_first, c_last, gap_c = _tile_gap(tc, tile, n_cols, c0, c0)
                bound = tile_dk[tr, tc]
                if np.sqrt(gap_r * gap_r + gap_c * gap_c) > bound:
                    continue
                # squared distances are integers and d_k = sqrt(an integer): comparing
                # d2 <= d_k**2 + 0.5 is the same test as sqrt(d2) <= d_k, without the sqrt
                bound2 = bound * bound + 0.5
                for r in range(r_first, r_last + 1):
                    dr2 = (r - r0) * (r - r0)
                    if dr2 + gap_c * gap_c > bound2:
                        continue
                    for c in range(c_first, c_last + 1):
                        d2 = dr2 + (c - c0) * (c - c0)
                        if d2 > bound2 or mask[r, c]:
                            continue
                        dk_here = dk[r, c]
                        if d2 > dk_here * dk_here + 0.5:
                            continue
                        p = r * n_cols + c
                        if new and valid[p]:
                            _insert_packed(offsets, valid, p, r0 - r, c0 - c)
                        if touched[r, c]:
                            continue
                        touched[r, c] = True
                        out = _append_pixel(out, n_out, r, c)
                        n_out += 1
    return _release(out, n_out, touched)


@njit(cache=True, nogil=True)
def _gather(offsets, n_cols, rows, cols, out_rows, out_cols, out_dist, dist):
    """Neighbour rows, cols and distances of pixels (rows, cols) from their lists."""
    k = offsets.shape[1]
    for i in range(rows.shape[0]):
        p = rows[i] * n_cols + cols[i]
        for j in range(k):
            dr = np.int64(offsets[p, j, 0])
            dc = np.int64(offsets[p, j, 1])
            out_rows[i, j] = rows[i] + dr
            out_cols[i, j] = cols[i] + dc
            out_dist[i, j] = dist[dr * dr + dc * dc]


def _distance_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every squared offset d2 an int8 pair can have: ``d = sqrt(d2)``, ``d * d`` and
    ``1 / (d * d)``, each computed as the search-based kernels compute it (same bits)."""
    d2 = np.arange(2 * _OFFSET_MAX * _OFFSET_MAX + 1, dtype=np.float64)
    dist = np.sqrt(d2)
    squared = dist * dist
    with np.errstate(divide="ignore"):
        weight = 1.0 / squared
    return dist, squared, weight


_DIST, _SQUARED, _WEIGHT = _distance_tables()


@njit(cache=True, nogil=True)
def _update_with_features(
    offsets, n_cols, values, recon, dk, rows, cols, rho, area_term, scale, out, delta, tables
):
    """IDW estimate of each pixel from its list, written to ``recon`` (its k-th distance
    to ``dk``) as ``features._idw`` computes it, and the four neighbour features of
    ``features._features`` (weighted and root-sum-square deviations, d_1, sparsity), in
    one pass over the lists; :func:`_gradients` adds the last two once every estimate
    is in place. ``delta`` gets each pixel's |change of recon|."""
    dist, squared, weight = tables
    k = offsets.shape[1]
    nbr_d2 = np.empty(k, np.int64)
    nbr_value = np.empty(k)
    for i in range(rows.shape[0]):
        r, c = rows[i], cols[i]
        p = r * n_cols + c
        num = 0.0
        den = 0.0
        for j in range(k):
            dr = np.int64(offsets[p, j, 0])
            dc = np.int64(offsets[p, j, 1])
            d2 = dr * dr + dc * dc
            v = values[r + dr, c + dc]
            nbr_d2[j] = d2
            nbr_value[j] = v
            w = weight[d2]
            num += w * v
            den += w
        estimate = num / den
        delta[i] = abs(estimate - recon[r, c])
        recon[r, c] = estimate
        dk[r, c] = dist[nbr_d2[k - 1]]
        weighted_abs = 0.0
        sum_sq = 0.0
        n_close = 0
        for j in range(k):
            d2 = nbr_d2[j]
            dev = nbr_value[j] - estimate
            weighted_abs += abs(dev) / (squared[d2] * den)
            sum_sq += dev * dev
            if dist[d2] <= rho:
                n_close += 1
        out[i, 0] = scale * weighted_abs
        out[i, 1] = scale * np.sqrt(sum_sq)
        out[i, 2] = dist[nbr_d2[0]]
        out[i, 3] = area_term / (1.0 + n_close)


@njit(cache=True, nogil=True)
def _sum_in_order(values):
    """``values[0] + values[1] + ...`` left to right (the order one pass would add them)."""
    total = 0.0
    for i in range(values.shape[0]):
        total += values[i]
    return total


@njit(cache=True, nogil=True)
def _gradients(recon, rows, cols, scale, out):
    """Features 5 and 6, ``|dR/dcol|`` and ``|dR/drow|``, as ``features._features``."""
    for i in range(rows.shape[0]):
        r, c = rows[i], cols[i]
        g_col, g_row = _gradient_pair(recon, r, c)
        out[i, 4] = scale * abs(g_col)
        out[i, 5] = scale * abs(g_row)


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
            if dr > _OFFSET_MAX or dr < -_OFFSET_MAX or dc > _OFFSET_MAX or dc < -_OFFSET_MAX:
                fits = False
                break
            offsets[p, j, 0] = dr
            offsets[p, j, 1] = dc
        valid[p] = fits


@njit(cache=True, nogil=True)
def _valid_of(valid, n_cols, rows, cols, out):
    for i in range(rows.shape[0]):
        out[i] = valid[rows[i] * n_cols + cols[i]]


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
        rows, cols = pixel_columns(pixels)
        out = np.empty(len(rows), np.bool_)
        _valid_of(self.valid, self.shape[1], rows, cols, out)
        return out

    def store(self, pixels: np.ndarray, nbr_rows: np.ndarray, nbr_cols: np.ndarray) -> None:
        """Keep searched neighbours ((n, k) rows and cols, sorted) of ``pixels``."""
        rows, cols = pixel_columns(pixels)
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
        rows, cols = pixel_columns(pixels)
        n = len(rows)
        out_rows = np.empty((n, self.k), np.int64)
        out_cols = np.empty((n, self.k), np.int64)
        out_dist = np.empty((n, self.k), np.float64)
        _gather(self.offsets, self.shape[1], rows, cols, out_rows, out_cols, out_dist, _DIST)
        return out_rows, out_cols, out_dist

    def update(
        self,
        values: np.ndarray,
        recon: np.ndarray,
        dk: np.ndarray,
        pixels: np.ndarray,
        *,
        rho: float,
        scale: float,
        sparsity_area: float,
    ) -> tuple[float, np.ndarray]:
        """Re-estimate ``pixels`` from their lists and compute their features.

        Writes each pixel's IDW estimate into ``recon`` and its k-th neighbour
        distance into ``dk`` (as :func:`fastscan.features.idw_estimate` and
        :func:`fastscan.neighbors.knn_gather` give them), then returns the L1
        change of ``recon`` and the (n, 6) SLADS features of ``pixels``, as
        :func:`fastscan.features.slads_features` computes them on the new
        ``recon``. ``pixels`` must include every pixel whose estimate changed.
        Many pixels run in two halves on two threads (:mod:`fastscan._threads`);
        each pixel is computed on its own and the change summed in pixel order, so
        the bits are those of one pass.
        """
        if recon.shape[0] < 2 or recon.shape[1] < 2:
            raise ValueError(f"image must be at least 2 x 2, got {recon.shape}")
        rows, cols = pixel_columns(pixels)
        n = len(rows)
        out = np.empty((n, 6))
        delta = np.empty(n)
        tables = (_DIST, _SQUARED, _WEIGHT)
        rho, area, scale = float(rho), float(sparsity_area), float(scale)

        def list_pass(start: int, stop: int) -> None:
            part = slice(start, stop)
            _update_with_features(
                self.offsets, self.shape[1], values, recon, dk, rows[part], cols[part],
                rho, area, scale, out[part], delta[part], tables,
            )  # fmt: skip

        def gradients(start: int, stop: int) -> None:  # every estimate is in place now
            _gradients(recon, rows[start:stop], cols[start:stop], scale, out[start:stop])

        _threads.split_rows(list_pass, n)
        _threads.split_rows(gradients, n)
        return float(_sum_in_order(delta)), out

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
        Returns the unmeasured pixels whose reconstruction may change: those in
        the rows above the changed pixels' median row, then the others, each part
        in the order of :func:`fastscan._update.affected_pixels`. Much work runs
        as the two parts on two threads (:mod:`fastscan._threads`).
        """
        rows, cols = pixel_columns(changed)
        is_new = np.ascontiguousarray(is_new, np.bool_)
        n_rows = self.shape[0]
        # two bands of pixel rows, split at the changed pixels' median row, each merged
        # on its own thread (their lists, flags and outputs are disjoint); one thread
        # visits the bands in the same order, so the pixels come out the same either way
        middle = int(np.median(rows)) if len(rows) else n_rows
        middle = min(max(middle, 1), n_rows)
        bands = [np.zeros((0, 2), np.int64), np.zeros((0, 2), np.int64)]
        reach = float(tile_dk.max()) if tile_dk.size else 0.0
        packed = _packed(self.offsets)

        def band(i: int, row_lo: int, row_hi: int) -> None:
            bands[i] = _affected_merge(
                mask, dk, tile_dk, int(tile), rows, cols, is_new, touched, packed,
                self.valid, row_lo, row_hi,
            )  # fmt: skip

        work = len(rows) * np.pi * reach * reach  # pixels the search visits, about
        _threads.run_pair(
            lambda: band(0, 0, middle), lambda: band(1, middle, n_rows), work >= _threads.MIN_ROWS
        )
        return np.concatenate(bands)

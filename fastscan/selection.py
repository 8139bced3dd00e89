"""Batch choice: highest ERD first, spread out by local suppression.

Unmeasured pixels hold ERD >= 0 and measured ones -1. A coarse grid of tile
maxima makes each pick cost O(tiles + tile area) instead of O(pixels). After a
pick p, the ERD of nearby pixels q is multiplied by
``1 - exp(-|p - q|**2 / (2 s**2))`` with ``s = spread * d_1(p)``, where ``d_1(p)``
is p's distance to the nearest measured pixel: measuring p will remove most of
the error within about that distance, so its neighbours are worth less. The ERD
map is restored afterwards, so choosing a batch changes no state.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["TileMax", "select_batch"]


@njit(cache=True)
def _refresh_tile(erd, tile_max, tile, tr, tc):
    n_rows, n_cols = erd.shape
    best = -np.inf
    for r in range(tr * tile, min((tr + 1) * tile, n_rows)):
        for c in range(tc * tile, min((tc + 1) * tile, n_cols)):
            if erd[r, c] > best:
                best = erd[r, c]
    tile_max[tr, tc] = best


@njit(cache=True)
def _refresh_tiles_of(erd, tile_max, tile, rows, cols):
    t_rows, t_cols = tile_max.shape
    seen = np.zeros((t_rows, t_cols), np.bool_)
    for i in range(rows.shape[0]):
        tr, tc = rows[i] // tile, cols[i] // tile
        if not seen[tr, tc]:
            seen[tr, tc] = True
            _refresh_tile(erd, tile_max, tile, tr, tc)


@njit(cache=True)
def _argmax(erd, tile_max, tile):
    t_rows, t_cols = tile_max.shape
    best_t, best_r, best_c = -np.inf, 0, 0
    for tr in range(t_rows):
        for tc in range(t_cols):
            if tile_max[tr, tc] > best_t:
                best_t, best_r, best_c = tile_max[tr, tc], tr, tc
    n_rows, n_cols = erd.shape
    for r in range(best_r * tile, min((best_r + 1) * tile, n_rows)):
        for c in range(best_c * tile, min((best_c + 1) * tile, n_cols)):
            if erd[r, c] == best_t:
                return r, c, best_t
    return -1, -1, best_t


@njit(cache=True)
def _nearest_measured(mask, r0, c0, offsets, offset_dist):
    n_rows, n_cols = mask.shape
    for j in range(offsets.shape[0]):
        if offset_dist[j] == 0.0:
            continue
        r, c = r0 + offsets[j, 0], c0 + offsets[j, 1]
        if 0 <= r < n_rows and 0 <= c < n_cols and mask[r, c]:
            return offset_dist[j]
    return offset_dist[offsets.shape[0] - 1]


@njit(cache=True)
def _select(erd, mask, tile_max, tile, n, spread, offsets, offset_dist, out):
    n_rows, n_cols = erd.shape
    cap = 1 << 16
    undo_r = np.empty(cap, np.int64)
    undo_c = np.empty(cap, np.int64)
    undo_v = np.empty(cap, np.float64)
    n_undo = 0
    n_out = 0
    for _ in range(n):
        r0, c0, best = _argmax(erd, tile_max, tile)
        if r0 < 0 or best < 0.0:
            break
        out[n_out, 0], out[n_out, 1] = r0, c0
        n_out += 1
        half = 0
        s = 0.0
        if spread > 0.0:
            s = spread * _nearest_measured(mask, r0, c0, offsets, offset_dist)
            half = int(np.ceil(3.0 * s))
        for r in range(max(r0 - half, 0), min(r0 + half + 1, n_rows)):
            for c in range(max(c0 - half, 0), min(c0 + half + 1, n_cols)):
                if erd[r, c] < 0.0 and not (r == r0 and c == c0):
                    continue
                if n_undo == undo_r.shape[0]:
                    grow = undo_r.shape[0] * 2
                    undo_r = np.concatenate((undo_r, np.empty(grow - undo_r.shape[0], np.int64)))
                    undo_c = np.concatenate((undo_c, np.empty(grow - undo_c.shape[0], np.int64)))
                    undo_v = np.concatenate((undo_v, np.empty(grow - undo_v.shape[0])))
                undo_r[n_undo], undo_c[n_undo], undo_v[n_undo] = r, c, erd[r, c]
                n_undo += 1
                if r == r0 and c == c0:
                    erd[r, c] = -1.0
                else:
                    d2 = (r - r0) * (r - r0) + (c - c0) * (c - c0)
                    erd[r, c] *= 1.0 - np.exp(-d2 / (2.0 * s * s))
        for tr in range(max(r0 - half, 0) // tile, min(r0 + half, n_rows - 1) // tile + 1):
            for tc in range(max(c0 - half, 0) // tile, min(c0 + half, n_cols - 1) // tile + 1):
                _refresh_tile(erd, tile_max, tile, tr, tc)
    for i in range(n_undo - 1, -1, -1):
        erd[undo_r[i], undo_c[i]] = undo_v[i]
    _refresh_tiles_of(erd, tile_max, tile, undo_r[:n_undo], undo_c[:n_undo])
    return n_out


class TileMax:
    """Maxima of ``erd`` over square tiles, kept in step with local ERD updates."""

    def __init__(self, erd: np.ndarray, tile: int | None = None) -> None:
        n_pixels = erd.shape[0] * erd.shape[1]
        self.tile = int(tile) if tile else (16 if n_pixels <= 1_000_000 else 32)
        t_rows = -(-erd.shape[0] // self.tile)
        t_cols = -(-erd.shape[1] // self.tile)
        self.maxima = np.full((t_rows, t_cols), -np.inf)
        self.erd = erd
        self.refresh_all()

    def refresh_all(self) -> None:
        t_rows, t_cols = self.maxima.shape
        rows = (np.arange(t_rows) * self.tile).repeat(t_cols)
        cols = np.tile(np.arange(t_cols) * self.tile, t_rows)
        _refresh_tiles_of(self.erd, self.maxima, self.tile, rows, cols)

    def refresh(self, pixels: np.ndarray) -> None:
        """Recompute the maxima of the tiles that hold ``pixels`` ((n, 2) row, col)."""
        if len(pixels):
            pixels = np.asarray(pixels, np.int64)
            _refresh_tiles_of(
                self.erd,
                self.maxima,
                self.tile,
                np.ascontiguousarray(pixels[:, 0]),
                np.ascontiguousarray(pixels[:, 1]),
            )


def select_batch(
    tiles: TileMax,
    mask: np.ndarray,
    n: int,
    *,
    spread: float,
    offsets: np.ndarray,
    offset_dist: np.ndarray,
) -> np.ndarray:
    """Pick up to ``n`` unmeasured pixels (n, 2) by ERD with suppression ``spread``.

    ``tiles.erd`` is modified during the picks and restored before returning.
    ``spread = 0`` gives FAST's plain top-n.
    """
    if n < 0:
        raise ValueError(f"batch size must be >= 0, got {n}")
    if spread < 0 or not np.isfinite(spread):
        raise ValueError(f"spread must be a finite number >= 0, got {spread}")
    out = np.zeros((n, 2), np.int64)
    n_out = _select(
        tiles.erd, mask, tiles.maxima, tiles.tile, n, float(spread), offsets, offset_dist, out
    )
    return out[:n_out]

"""Batch choice: highest ERD first, spread out by local suppression.

Unmeasured pixels hold ERD >= 0 and measured ones -1. A coarse grid of tile
maxima makes each pick cost O(tiles + tile area) instead of O(pixels). After a
pick p, the ERD of nearby pixels q is multiplied by
``1 - exp(-|p - q|**2 / (2 s**2))`` with ``s = spread * d_1(p)``, where ``d_1(p)``
is p's distance to the nearest measured pixel: measuring p will remove most of
the error within about that distance, so its neighbours are worth less. The ERD
map is restored afterwards, so choosing a batch changes no state.

Motion-aware choice (:func:`select_batch_motion`): each pick maximises ERD per
second of beam time instead, ``ERD(p) / (fixed + weight * travel(q -> p))``, where
``q`` is the stage position (the previous pick), ``travel`` the trapezoidal axis
move time of the :class:`fastscan.motion.MotionModel` and ``fixed = settle +
point_overhead + dwell`` what every step point pays. The batch grows as a path
from the stage, each point the best rate from the last (cheapest insertion at the
end of the route being built); ``weight = 0`` is the ERD-only choice, ``weight =
1`` the model's true marginal time. Tiles are searched best bound first, so a pick
costs a pass over the tiles plus a few tiles' pixels.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from fastscan._route_kernels import MANHATTAN, SIMULTANEOUS, axis_time, move_time
from fastscan.motion import MotionModel

__all__ = ["TileMax", "select_batch", "select_batch_motion"]


@njit(cache=True, nogil=True)
def _refresh_tile(erd, tile_max, tile, tr, tc):
    n_rows, n_cols = erd.shape
    best = -np.inf
    for r in range(tr * tile, min((tr + 1) * tile, n_rows)):
        for c in range(tc * tile, min((tc + 1) * tile, n_cols)):
            if erd[r, c] > best:
                best = erd[r, c]
    tile_max[tr, tc] = best


@njit(cache=True, nogil=True)
def _refresh_tiles_of(erd, tile_max, tile, rows, cols):
    t_rows, t_cols = tile_max.shape
    seen = np.zeros((t_rows, t_cols), np.bool_)
    for i in range(rows.shape[0]):
        tr, tc = rows[i] // tile, cols[i] // tile
        if not seen[tr, tc]:
            seen[tr, tc] = True
            _refresh_tile(erd, tile_max, tile, tr, tc)


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
def _nearest_measured(mask, r0, c0, offsets, offset_dist):
    n_rows, n_cols = mask.shape
    for j in range(offsets.shape[0]):
        if offset_dist[j] == 0.0:
            continue
        r, c = r0 + offsets[j, 0], c0 + offsets[j, 1]
        if 0 <= r < n_rows and 0 <= c < n_cols and mask[r, c]:
            return offset_dist[j]
    return offset_dist[offsets.shape[0] - 1]


@njit(cache=True, nogil=True)
def _suppress(erd, mask, tile_max, tile, r0, c0, spread, offsets, offset_dist, undo, n_undo):
    """Take pixel (r0, c0) and damp the ERD around it; every change is logged in ``undo``.

    ``undo`` is a (cap, 3) float array of (row, col, old value); returns it (grown if
    needed) and the new count.
    """
    n_rows, n_cols = erd.shape
    half = 0
    s = 0.0
    if spread > 0.0:
        s = spread * _nearest_measured(mask, r0, c0, offsets, offset_dist)
        half = int(np.ceil(3.0 * s))
    for r in range(max(r0 - half, 0), min(r0 + half + 1, n_rows)):
        for c in range(max(c0 - half, 0), min(c0 + half + 1, n_cols)):
            if erd[r, c] < 0.0 and not (r == r0 and c == c0):
                continue
            if n_undo == undo.shape[0]:
                grown = np.empty((2 * undo.shape[0], 3))
                grown[:n_undo] = undo
                undo = grown
            undo[n_undo, 0], undo[n_undo, 1], undo[n_undo, 2] = r, c, erd[r, c]
            n_undo += 1
            if r == r0 and c == c0:
                erd[r, c] = -1.0
            else:
                d2 = (r - r0) * (r - r0) + (c - c0) * (c - c0)
                erd[r, c] *= 1.0 - np.exp(-d2 / (2.0 * s * s))
    for tr in range(max(r0 - half, 0) // tile, min(r0 + half, n_rows - 1) // tile + 1):
        for tc in range(max(c0 - half, 0) // tile, min(c0 + half, n_cols - 1) // tile + 1):
            _refresh_tile(erd, tile_max, tile, tr, tc)
    return undo, n_undo


@njit(cache=True, nogil=True)
def _restore(erd, tile_max, tile, undo, n_undo):
    for i in range(n_undo - 1, -1, -1):
        erd[int(undo[i, 0]), int(undo[i, 1])] = undo[i, 2]
    rows = undo[:n_undo, 0].astype(np.int64)
    cols = undo[:n_undo, 1].astype(np.int64)
    _refresh_tiles_of(erd, tile_max, tile, rows, cols)


@njit(cache=True, nogil=True)
def _select(erd, mask, tile_max, tile, n, spread, offsets, offset_dist, out):
    undo = np.empty((1 << 16, 3))
    n_undo = 0
    n_out = 0
    for _ in range(n):
        r0, c0, best = _argmax(erd, tile_max, tile)
        if r0 < 0 or best < 0.0:
            break
        out[n_out, 0], out[n_out, 1] = r0, c0
        n_out += 1
        undo, n_undo = _suppress(
            erd, mask, tile_max, tile, r0, c0, spread, offsets, offset_dist, undo, n_undo
        )
    _restore(erd, tile_max, tile, undo, n_undo)
    return n_out


@njit(cache=True, nogil=True)
def _travel(dr, dc, prm):
    """Axis travel seconds (no settle) for a move of (dr, dc) pixels; prm as route kernels."""
    return move_time(dc * prm[6], dr * prm[7], prm)


@njit(cache=True, nogil=True)
def _combine(t_row, t_col, dr, dc, prm):
    """Travel from the per-axis times (simultaneous: max, manhattan: sum), else exact."""
    metric = prm[5]
    if metric == SIMULTANEOUS:
        return max(t_row, t_col)
    if metric == MANHATTAN:
        return t_row + t_col
    return _travel(dr, dc, prm)


@njit(cache=True, nogil=True)
def _best_by_rate(erd, tile_max, tile, cur_r, cur_c, prm, fixed, weight, bound):
    """Unmeasured pixel with the highest ERD / (fixed + weight * travel from (cur_r, cur_c)).

    Branch and bound over tiles: a tile's bound is its maximum ERD over the travel
    to its nearest corner or edge; tiles are opened best bound first until no
    bound beats the best pixel found, and inside a tile a pixel whose ERD cannot
    beat the best is skipped. ``bound`` is scratch of tile_max's shape.
    """
    n_rows, n_cols = erd.shape
    t_rows, t_cols = tile_max.shape
    # per-axis travel to each tile's nearest row / column (one sqrt per tile row and column)
    lb_row = np.empty(t_rows)
    gap_row = np.empty(t_rows)
    for tr in range(t_rows):
        r_lo, r_hi = tr * tile, min((tr + 1) * tile, n_rows) - 1
        gap_row[tr] = max(0.0, r_lo - cur_r, cur_r - r_hi)
        lb_row[tr] = axis_time(gap_row[tr] * prm[7], prm[1], prm[3])
    lb_col = np.empty(t_cols)
    gap_col = np.empty(t_cols)
    for tc in range(t_cols):
        c_lo, c_hi = tc * tile, min((tc + 1) * tile, n_cols) - 1
        gap_col[tc] = max(0.0, c_lo - cur_c, cur_c - c_hi)
        lb_col[tc] = axis_time(gap_col[tc] * prm[6], prm[0], prm[2])
    for tr in range(t_rows):
        for tc in range(t_cols):
            if tile_max[tr, tc] < 0.0:
                bound[tr, tc] = -1.0
                continue
            lb = _combine(lb_row[tr], lb_col[tc], gap_row[tr], gap_col[tc], prm)
            bound[tr, tc] = tile_max[tr, tc] / (fixed + weight * lb)
    t_pix_r = np.empty(tile)
    t_pix_c = np.empty(tile)
    best, best_r, best_c = -1.0, -1, -1
    while True:
        top, top_r, top_c = -1.0, -1, -1
        for tr in range(t_rows):
            for tc in range(t_cols):
                if bound[tr, tc] > top:
                    top, top_r, top_c = bound[tr, tc], tr, tc
        if top_r < 0 or top <= best:
            break
        bound[top_r, top_c] = -1.0
        r_lo, r_hi = top_r * tile, min((top_r + 1) * tile, n_rows)
        c_lo, c_hi = top_c * tile, min((top_c + 1) * tile, n_cols)
        for r in range(r_lo, r_hi):
            t_pix_r[r - r_lo] = axis_time(abs(r - cur_r) * prm[7], prm[1], prm[3])
        for c in range(c_lo, c_hi):
            t_pix_c[c - c_lo] = axis_time(abs(c - cur_c) * prm[6], prm[0], prm[2])
        floor = best * (
            fixed
            + weight * _combine(lb_row[top_r], lb_col[top_c], gap_row[top_r], gap_col[top_c], prm)
        )
        for r in range(r_lo, r_hi):
            for c in range(c_lo, c_hi):
                value = erd[r, c]
                if value < 0.0 or value <= floor:
                    continue
                travel = _combine(t_pix_r[r - r_lo], t_pix_c[c - c_lo], r - cur_r, c - cur_c, prm)
                score = value / (fixed + weight * travel)
                if score > best:
                    best, best_r, best_c = score, r, c
    return best_r, best_c


@njit(cache=True, nogil=True)
def _select_motion(
    erd, mask, tile_max, tile, n, spread, offsets, offset_dist, out, start, prm, fixed, weight
):
    undo = np.empty((1 << 16, 3))
    n_undo = 0
    n_out = 0
    bound = np.empty(tile_max.shape)
    cur_r, cur_c = start[0], start[1]
    for _ in range(n):
        r0, c0 = _best_by_rate(erd, tile_max, tile, cur_r, cur_c, prm, fixed, weight, bound)
        if r0 < 0:
            break
        out[n_out, 0], out[n_out, 1] = r0, c0
        n_out += 1
        undo, n_undo = _suppress(
            erd, mask, tile_max, tile, r0, c0, spread, offsets, offset_dist, undo, n_undo
        )
        cur_r, cur_c = float(r0), float(c0)
    _restore(erd, tile_max, tile, undo, n_undo)
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


def _check_batch(n: int, spread: float) -> None:
    """The checks :func:`select_batch` and :func:`select_batch_motion` share."""
    if n < 0:
        raise ValueError(f"batch size must be >= 0, got {n}")
    if spread < 0 or not np.isfinite(spread):
        raise ValueError(f"spread must be a finite number >= 0, got {spread}")


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
    _check_batch(n, spread)
    out = np.zeros((n, 2), np.int64)
    n_out = _select(
        tiles.erd, mask, tiles.maxima, tiles.tile, n, float(spread), offsets, offset_dist, out
    )
    return out[:n_out]


def select_batch_motion(
    tiles: TileMax,
    mask: np.ndarray,
    n: int,
    *,
    spread: float,
    offsets: np.ndarray,
    offset_dist: np.ndarray,
    start: tuple[float, float] | np.ndarray,
    motion: MotionModel,
    weight: float = 1.0,
    pixel_pitch: tuple[float, float] = (1.0, 1.0),
) -> np.ndarray:
    """Pick up to ``n`` unmeasured pixels for ERD per second of beam time, from ``start``.

    ``start`` is the stage position as (row, col) pixels; ``motion`` gives the move
    times (``pixel_pitch = (x_step, y_step)`` converts pixels to motor units);
    ``weight >= 0`` scales the travel in the rate (0: ERD only). Returns (k, 2) int64
    (row, col) in the order picked, a path from ``start``. ``tiles.erd`` is
    restored before returning.
    """
    _check_batch(n, spread)
    if not (np.isfinite(weight) and weight >= 0):
        raise ValueError(f"motion weight must be a finite number >= 0, got {weight!r}")
    start_arr = np.asarray(start, float)
    if start_arr.shape != (2,) or not np.isfinite(start_arr).all():
        raise ValueError(f"start must be a finite (row, col) pair, got {start!r}")
    prm = np.concatenate([motion._params(), np.asarray(pixel_pitch, float)])
    prm[4] = 0.0  # settle is in the fixed cost
    fixed = motion.settle_time + motion.point_overhead + motion.dwell
    out = np.zeros((n, 2), np.int64)
    n_out = _select_motion(
        tiles.erd, mask, tiles.maxima, tiles.tile, n, float(spread), offsets, offset_dist,
        out, start_arr, prm, float(fixed), float(weight),
    )  # fmt: skip
    return out[:n_out]

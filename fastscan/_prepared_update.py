"""The geometry of an exact local update, made before its readings arrive.

Which pixels a flown segment measures is known when it is planned, seconds before its
readings come. The first half of :meth:`fastscan.Sampler._local_update` depends only
on which pixels are measured, not on what they read: the affected pixels (those whose
k nearest measured pixels gain a new point), the new points merged into their stored
neighbour lists, and the region whose ERD changes (the affected pixels, the new ones
and their 4-neighbours, unmeasured). :func:`prepare_merge` runs that half for planned
points on the sampler's current state and keeps what it found (the lists it wrote are
put back as they were); :func:`take` hands it to the update that ingests exactly those
points on exactly that state, which then writes the kept lists and runs only the part
that reads values. Same pixels, same order, same lists, same bits.

Only the line path of :func:`fastscan._row_merge.affected_merge` is prepared (new
points on a few rows or columns: every raster line and flown segment of at least
:data:`fastscan._row_merge.MIN_POINTS_PER_ROW` pixels); anything else, or any change
of state between the preparation and the readings, falls back to the usual update.

Examples
--------
>>> import numpy as np
>>> from fastscan._neighbor_lists import NeighborLists
>>> mask = np.zeros((6, 12), bool); mask[0, ::3] = True
>>> lists = NeighborLists(mask.shape, k=1)
>>> dk = np.full(mask.shape, 3.0); dk[mask] = 0
>>> bound = np.full((2, 3), 3.0)
>>> touched = np.zeros(mask.shape, bool)
>>> line = np.array([[3, c] for c in range(12)])
>>> prepared = prepare_merge(lists, mask, dk, bound, 4, line, touched, version=7)
>>> len(prepared.affected), bool(lists.valid.any())  # found; the lists are untouched
(56, False)
>>> take(prepared, line, version=8) is None  # the state moved on: the usual update
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fastscan import _row_merge, _update
from fastscan._neighbor_lists import NeighborLists

#: Prepare no update whose reach box holds more pixels than this (its lists are saved
#: and put back: a box this size costs a few ms, off the decision path).
MAX_BOX_PIXELS = 1 << 20


@dataclass(frozen=True)
class PreparedMerge:
    """What the geometry half of an exact update found for planned ``points``."""

    points: np.ndarray  # (n, 2) the planned new points, sorted by row then column
    version: int  # the sampler's state version it was made on
    affected: np.ndarray  # (a, 2) as the merge returns them, in its order
    region: np.ndarray  # (r, 2) the dilated region, in its order
    offsets: np.ndarray  # (a, k, 2) the affected pixels' lists after the merge
    valid: np.ndarray  # (a,) their valid flags after the merge


def prepare_merge(
    lists: NeighborLists,
    mask: np.ndarray,
    dk: np.ndarray,
    tile_dk: np.ndarray,
    tile: int,
    points: np.ndarray,
    touched: np.ndarray,
    *,
    version: int,
) -> PreparedMerge | None:
    """The affected pixels, their merged lists and the region for new ``points``.

    Parameters
    ----------
    lists, mask, dk, tile_dk, tile, touched
        The sampler's neighbour lists, measured mask, k-th distances, their tile bounds
        and size, and its all-False scratch mask, as the update would pass them. ``dk``
        is only read; ``mask`` (the planned points marked while the search runs) and
        ``lists`` are put back exactly as they were, so no other thread may use them
        meanwhile.
    points : (n, 2) int array
        The planned new points, each unmeasured, distinct.
    version : int
        The caller's state version, checked again by :func:`take`.

    Returns
    -------
    PreparedMerge or None
        None where the update would not take the line path, a planned point is
        measured or repeated, or the reach box is unbounded or over
        :data:`MAX_BOX_PIXELS`.
    """
    points = np.asarray(points, np.int64).reshape(-1, 2)
    n_rows, n_cols = mask.shape
    flat = np.unique(points[:, 0] * n_cols + points[:, 1])  # sorted, as the readings'
    if len(flat) != len(points) or len(flat) == 0 or mask.reshape(-1)[flat].any():
        return None
    points = np.stack([flat // n_cols, flat % n_cols], axis=1)
    is_new = np.ones(len(points), bool)
    if _row_merge.line_layout(points, is_new) is None:
        return None
    reach = float(tile_dk.max()) if tile_dk.size else 0.0
    if not np.isfinite(reach):
        return None
    # an affected pixel lies within sqrt(d_k**2 + 0.5) of a new point, d_k <= reach
    margin = int(np.sqrt(reach * reach + 0.5)) + 2
    r0, c0 = np.maximum(points.min(0) - margin, 0)
    r1, c1 = np.minimum(points.max(0) + margin + 1, (n_rows, n_cols))
    if (r1 - r0) * (c1 - c0) > MAX_BOX_PIXELS:
        return None
    offsets = lists.offsets.reshape(n_rows, n_cols, *lists.offsets.shape[1:])
    valid = lists.valid.reshape(n_rows, n_cols)
    saved = offsets[r0:r1, c0:c1].copy(), valid[r0:r1, c0:c1].copy()
    mask[points[:, 0], points[:, 1]] = True  # as the readings will leave it (put back below)
    try:
        affected = _row_merge.affected_merge(
            lists, mask, dk, tile_dk, tile, points, is_new, touched
        )
        inside = (
            (affected[:, 0] >= r0) & (affected[:, 0] < r1)
            & (affected[:, 1] >= c0) & (affected[:, 1] < c1)
        )  # fmt: skip
        if not inside.all():  # (cannot happen: the bound above holds) never guess
            return None
        at = affected[:, 0] * n_cols + affected[:, 1]
        merged_offsets, merged_valid = lists.offsets[at], lists.valid[at]
        region = _update.dilate_unmeasured(mask, np.concatenate([affected, points]), touched)
    finally:  # the mask and lists as they were (only affected pixels' lists can change)
        mask[points[:, 0], points[:, 1]] = False
        offsets[r0:r1, c0:c1] = saved[0]
        valid[r0:r1, c0:c1] = saved[1]
    return PreparedMerge(points, version, affected, region, merged_offsets, merged_valid)


def take(
    prepared: PreparedMerge | None, new_points: np.ndarray, *, version: int
) -> PreparedMerge | None:
    """``prepared`` if it was made for exactly these ``new_points`` (sorted by row, then
    column, as the readings' bookkeeping gives them) on state ``version``; else None."""
    if prepared is None or prepared.version != version:
        return None
    new_points = np.asarray(new_points).reshape(-1, 2)
    if not np.array_equal(new_points, prepared.points):
        return None
    return prepared


def apply_lists(lists: NeighborLists, prepared: PreparedMerge) -> None:
    """Write the prepared lists of the affected pixels (what the merge would write)."""
    n_cols = lists.shape[1]
    at = prepared.affected[:, 0] * n_cols + prepared.affected[:, 1]
    lists_rows, kept_rows = _rows(lists.offsets), _rows(prepared.offsets)
    lists_rows[at] = kept_rows  # one k x 2 byte list a pixel (3x faster than int8 items)
    lists.valid[at] = prepared.valid


def _rows(offsets: np.ndarray) -> np.ndarray:
    """A view of C-contiguous (n, k, 2) int8 ``offsets`` with one item per pixel's list."""
    width = offsets.shape[1] * offsets.shape[2]
    row = np.dtype((np.void, width * offsets.itemsize))
    return offsets.reshape(len(offsets), width).view(row)[:, 0]

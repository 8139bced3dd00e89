"""The coarse-to-fine level weights of a scan, kept up to date instead of recomputed.

:func:`fastscan.fly.levels.union_level_weights` walks the whole grid: every gap
of every line, every line's floor. After a decision only a few lines are flown,
and a new reading changes only the gap it falls in (and an edge run gated by
it), the floor of the lines whose candidates or ERD changed, and the weights
there. :class:`LevelMap` keeps the gaps, the line floors and the weights, and
updates exactly those parts: its weights are bit for bit those of
:func:`~fastscan.fly.levels.union_level_weights` on the same ERD and mask.

Examples
--------
>>> import numpy as np
>>> from fastscan.fly.level_map import LevelMap
>>> from fastscan.fly.levels import union_level_weights
>>> rng = np.random.default_rng(0)
>>> erd = rng.random((16, 12)); measured = np.zeros(erd.shape, bool); measured[2::8] = True
>>> levels = LevelMap(erd, measured, {"rows": 2, "columns": 0}, floor=0.5)
>>> measured[6, 3:9] = True; erd[4:9] = rng.random((5, 12))  # a segment and its ERD update
>>> regions, pixels = levels.update(erd, measured, [(4, 9, 0, 12)])
>>> bool((levels.weights == union_level_weights(erd, measured, levels.origins, floor=0.5)).all())
True
"""

from __future__ import annotations

import numpy as np

from fastscan.fly import _kernels as _k
from fastscan.fly import _level_kernels as _lk
from fastscan.fly.planner import SegmentPlanner

__all__ = ["LevelMap"]

Box = tuple[int, int, int, int]


class LevelMap:
    """:func:`~fastscan.fly.levels.union_level_weights`, updated where pixels were measured.

    Parameters
    ----------
    erd : (n_rows, n_cols) float
        ERD map (negative: nothing to gain).
    measured : (n_rows, n_cols) bool
        Pixels measured (or planned).
    origins : dict
        Axis ("rows", "columns") to the origin of its dyadic lattice, as in
        :func:`~fastscan.fly.levels.union_level_weights`.
    gap_power, floor : float
        As in :func:`~fastscan.fly.levels.level_weights`.

    Attributes
    ----------
    weights : numpy.ndarray
        The union level weights (do not modify).
    """

    def __init__(
        self,
        erd: np.ndarray,
        measured: np.ndarray,
        origins: dict[str, int],
        *,
        gap_power: float = 0.0,
        floor: float = 0.0,
    ) -> None:
        if not (np.isfinite(floor) and floor >= 0):
            raise ValueError(f"floor must be a finite number >= 0, got {floor!r}")
        if not (np.isfinite(gap_power) and gap_power >= 0):
            raise ValueError(f"gap_power must be a finite number >= 0, got {gap_power!r}")
        if not origins or any(axis not in ("rows", "columns") for axis in origins):
            raise ValueError(
                f"origins must map 'rows' and/or 'columns' to an origin, got {origins!r}"
            )
        erd = np.ascontiguousarray(erd, dtype=float)
        measured = np.ascontiguousarray(measured)
        if measured.ndim != 2 or measured.dtype != bool:
            raise ValueError(
                f"measured must be a 2-D bool array, got {measured.dtype} of shape {measured.shape}"
            )
        # int32 gaps (the grid's lines are far shorter than 2**30): half the memory traffic
        gaps = {}
        for axis, origin in origins.items():
            if int(origin) != origin or origin < 0:
                raise ValueError(f"origin must be an integer >= 0, got {origin!r}")
            gaps[axis] = np.empty(measured.shape, np.int32)
            if axis == "rows":  # as midpoint_gaps, into int32
                _k._gap_midpoints_rows(measured, gaps[axis], int(origin))
            else:
                _k._gap_midpoints(np.asfortranarray(measured.T), gaps[axis].T, int(origin))
        if erd.shape != measured.shape:
            raise ValueError(
                f"erd must have the shape of measured {measured.shape}, got {erd.shape}"
            )
        self.origins = dict(origins)
        self.shape = measured.shape
        self.floor = float(floor)
        self.gap_power = float(gap_power)
        n_rows, n_cols = self.shape
        self._use = ("rows" in origins, "columns" in origins)
        unused = np.zeros((1, 1), np.int32)
        self._gaps = (gaps.get("rows", unused), gaps.get("columns", unused))
        # per axis: the mask with its gap lines as rows (columns for "rows"), and their meta
        transposed = None
        if self._use[0]:
            transposed = np.empty(self.shape[::-1], bool)
            _lk._transpose(measured.astype(bool, copy=False), transposed)
        self._line_mask = (transposed, measured.copy() if self._use[1] else None)
        self._meta = []
        for mask in self._line_mask:
            meta = np.zeros((0, 4), np.int64)
            if mask is not None:
                meta = np.empty((mask.shape[0], 4), np.int64)
                _lk._line_meta(mask, meta)
            self._meta.append(meta)
        self._seen = measured.astype(bool, copy=True)
        self._floors = (np.zeros(n_rows), np.zeros(n_cols))
        if self._use[0]:
            rows = np.arange(n_rows)
            _lk._line_floors(self._gaps[0], erd, rows, self.floor, self._floors[0], True)
        if self._use[1]:
            _k._all_line_floors(self._gaps[1], erd, self.floor, False, self._floors[1])
        self.weights = np.zeros(self.shape)
        self._box(erd, (0, n_rows, 0, n_cols))
        _warm_up()

    def _args(self, erd: np.ndarray) -> tuple:
        return (self.weights, erd, *self._gaps, *self._floors, *self._use, self.gap_power)

    def _box(self, erd: np.ndarray, box: Box) -> None:
        _lk._weights_box(*self._args(erd), *box)

    def update(
        self, erd: np.ndarray, measured: np.ndarray, boxes: list[Box]
    ) -> tuple[list[Box], np.ndarray]:
        """Take the new ERD and mask; return where the weights may have changed.

        ``boxes`` (row_start, row_stop, col_start, col_stop) must hold every pixel
        measured and every ERD value changed since the last call. Returns boxes
        and (n, 2) (row, col) pixels outside which the weights are unchanged (for
        :meth:`fastscan.fly.planner.SegmentPlanner.update`).
        """
        erd = np.ascontiguousarray(erd, dtype=float)
        if erd.shape != self.shape or measured.shape != self.shape:
            raise ValueError(
                f"erd and measured must have shape {self.shape}, got {erd.shape}, {measured.shape}"
            )
        n_rows, n_cols = self.shape
        clipped = []
        for r0, r1, c0, c1 in boxes:
            r0, c0 = max(0, int(r0)), max(0, int(c0))
            r1, c1 = min(n_rows, int(r1)), min(n_cols, int(c1))
            if r0 < r1 and c0 < c1:
                clipped.append((r0, r1, c0, c1))
        area = sum((b[1] - b[0]) * (b[3] - b[2]) for b in clipped)
        points, candidates = np.empty((area, 2), np.int64), np.empty((area, 2), np.int64)
        counts = np.zeros(2, np.int64)
        # lines whose floor may change: a candidate came or went, or its ERD changed
        flags = (np.zeros(n_rows, bool), np.zeros(n_cols, bool))
        for box in clipped:
            _lk._scan_box(
                self._seen, measured, *self._gaps, *self._use, *box,
                points, candidates, counts, *flags,
            )  # fmt: skip
        points, candidates = points[: counts[0]], candidates[: counts[1]]
        changed = [self._insert(axis, points) for axis in (0, 1)]
        line_lists: list[np.ndarray] = [np.zeros(0, np.int64), np.zeros(0, np.int64)]
        if self.floor > 0:
            for axis in (0, 1):
                if not self._use[axis]:
                    continue
                flags[axis][changed[axis][:, axis]] = True
                lines = np.flatnonzero(flags[axis])
                before = self._floors[axis][lines]
                if axis == 0:
                    _lk._line_floors(self._gaps[0], erd, lines, self.floor, self._floors[0], True)
                elif len(lines) > n_cols // 16:  # strided column sums: one pass is cheaper
                    _k._all_line_floors(self._gaps[1], erd, self.floor, False, self._floors[1])
                else:
                    _lk._line_floors(self._gaps[1], erd, lines, self.floor, self._floors[1], False)
                line_lists[axis] = lines[self._floors[axis][lines] != before]
        # in the boxes only candidates (before or after) can have changed weights
        pixels = np.concatenate([*changed, candidates])
        _lk._weights_pixels(*self._args(erd), pixels[:, 0], pixels[:, 1])
        regions = []
        for axis, lines in enumerate(line_lists):
            for start, stop in _runs(lines):
                box = (start, stop, 0, n_cols) if axis == 0 else (0, n_rows, start, stop)
                self._box(erd, box)
                regions.append(box)
        return regions, pixels

    def _insert(self, axis: int, points: np.ndarray) -> np.ndarray:
        """Insert (row, col) points on one axis; the (row, col) of gap cells that changed."""
        if not self._use[axis] or len(points) == 0:
            return np.zeros((0, 2), np.int64)
        # gap lines: columns for "rows" (axis 0), rows for "columns"
        lines, positions = (points[:, 1], points[:, 0]) if axis == 0 else points.T
        order = np.lexsort((positions, lines))
        changed = np.empty((8 * len(points), 2), np.int64)
        n = _lk._insert(
            self._line_mask[axis],
            self._meta[axis],
            self._gaps[axis],
            axis == 0,
            np.ascontiguousarray(lines[order]),
            np.ascontiguousarray(positions[order]),
            int(self.origins["rows" if axis == 0 else "columns"]),
            changed,
        )
        changed = changed[:n]
        return changed[:, ::-1].copy() if axis == 0 else changed  # (line, pos) -> (row, col)


def _runs(lines: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive indices in sorted ``lines`` as (start, stop) pairs."""
    if len(lines) == 0:
        return []
    breaks = np.flatnonzero(np.diff(lines) > 1)
    starts = np.concatenate(([lines[0]], lines[breaks + 1]))
    stops = np.concatenate((lines[breaks], [lines[-1]])) + 1
    return [(int(a), int(b)) for a, b in zip(starts, stops)]


_warm = False


def _warm_up() -> None:
    """Call every kernel of an update once, on a tiny grid, with the types of a real one.

    Numba loads each cached kernel on its first call (a few ms each); the first
    map is built with a full ERD update, which this way pays for that instead
    of the first decisions.
    """
    global _warm
    if _warm:
        return
    _warm = True
    erd, measured = np.ones((8, 8)), np.zeros((8, 8), bool)
    measured[2] = True
    levels = LevelMap(erd, measured, {"rows": 2, "columns": 0}, floor=0.5)
    measured[5, 1:6] = True
    measured[0:7, 6] = True
    _, pixels = levels.update(erd, measured, [(0, 8, 0, 8)])
    lines = np.arange(8)
    _lk._line_floors(levels._gaps[0], erd, lines, 0.5, np.zeros(8), True)
    _lk._line_floors(levels._gaps[1], erd, lines, 0.5, np.zeros(8), False)
    # and the planner's (its first decision on a map compares all of it, then pixels)
    planner = SegmentPlanner((8, 8), fixed=(0.3, 0.3), pixel_time=(0.01, 0.01))
    planner.update(levels.weights)
    planner.update(levels.weights + 1.0, [(0, 8, 0, 8)], pixels)
    planner.choose(measured, max_segments=2, position=(0.0, 0.0), stage=(1.0, 1.0, 1.0, 1.0))

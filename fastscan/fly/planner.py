"""Choose and order fly segments for the most expected reduction in distortion per second.

Every row and every column of the grid is a candidate line. On a line the best
segment is the interval ``a..b`` that maximises

    sum(ERD[a..b]) / (fixed + (b - a + 1) * pixel_time)

where ``fixed`` is what any segment costs besides its pixels (settle, line
overhead, the ramps to speed and back) and ``pixel_time`` is one reading at
flying speed. The interval is found exactly by Dinkelbach's method over
Kadane's maximum-sum subarray (a few linear passes per line). Short dwells make
``fixed`` worth hundreds of pixels, so segments come out long; long dwells make
it worth less than a pixel, so segments shrink to the high-ERD runs.

A decision picks segments greedily: take the line whose best segment is worth
most per second, lower the ERD of the pixels that segment will serve (a pixel
``d`` away from it, whose nearest measured or planned pixel was ``d_old`` away,
keeps ``(d / d_old) ** power`` of its ERD), recompute only the lines that
changed, repeat until the decision's beam-time budget or segment count is
reached. The picks are then flown in the order that is cheapest from the
current stage position: nearest end first, each segment flown away from the
end the stage reaches first. Line scores are cached between decisions and
recomputed only for lines whose ERD changed.

Examples
--------
>>> import numpy as np
>>> from fastscan.fly.planner import SegmentPlanner
>>> erd = np.zeros((20, 30)); erd[10, 5:15] = 1.0
>>> planner = SegmentPlanner(erd.shape, fixed=0.26, pixel_time=0.01)
>>> planner.update(erd)
>>> picks = planner.choose(np.zeros(erd.shape, bool), max_segments=1)
>>> picks[0].segment
Segment(start=(10, 5), end=(10, 14))
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fastscan import _threads
from fastscan.fly import _kernels as _k
from fastscan.fly._interval_lanes import _best_rows
from fastscan.fly.segment import Segment

__all__ = ["AXES", "Pick", "SegmentPlanner", "order_segments", "sweep_order"]

#: Line directions the planner may fly: rows (along x) and columns (along y).
AXES = ("rows", "columns")
_RESCORE_SHARE = 0.5  # a decision rescores stale lines within this share of the best rate
_RESCORE_BATCH = 64  # at most this many per axis and round
# a rescore of at least this many line pixels (about 2 ms of work) runs in two halves on
# two threads (:mod:`fastscan._threads`); smaller ones stay on one: on the 2-core test VM
# the worker's wake-up costs 0.05-3 ms, and splitting 600 x 400's 240,000 changed row pixels
# saved no wall time there while adding 0.4 ms CPU and the odd slow decision
_SPLIT_PIXELS = 1_000_000


@dataclass(frozen=True)
class Pick:
    """One chosen segment and what it was expected to be worth."""

    segment: Segment
    erd: float  #: summed ERD of its pixels when it was picked (after suppression)
    seconds: float  #: fixed + n_pixels * pixel_time (no move)

    @property
    def rate(self) -> float:
        """Expected ERD per second of beam time."""
        return self.erd / self.seconds


class SegmentPlanner:
    """Cached best segment of every row and column, and a greedy multi-segment choice.

    Parameters
    ----------
    shape : (n_rows, n_cols)
    fixed : float or (rows, columns)
        Seconds every segment costs besides its pixels and the move to it (>= 0).
    pixel_time : float or (rows, columns)
        Seconds per reading at flying speed (> 0).
    axes : sequence of {"rows", "columns"}
        Directions considered.
    power : float
        Suppression exponent (see module docstring); 0 turns suppression off.
    reach : int or None
        Farthest line (in pixels) a segment's suppression reaches; None is 64
        (or the larger grid dimension if smaller).
    rescore_pixels : int
        Most line pixels rescored per :meth:`update` (bounds the latency on big
        grids; lines left over are rescored later, see :meth:`update`).
    """

    def __init__(
        self,
        shape: tuple[int, int],
        *,
        fixed: float | tuple[float, float],
        pixel_time: float | tuple[float, float],
        axes: tuple[str, ...] | list[str] = AXES,
        power: float = 2.0,
        reach: int | None = None,
        rescore_pixels: int = 250_000,
    ) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        fixed = _per_axis(fixed, "fixed")
        pixel_time = _per_axis(pixel_time, "pixel_time")
        if not all(t > 0 for t in pixel_time):
            raise ValueError(f"pixel_time must be seconds > 0, got {pixel_time!r}")
        axes = tuple(axes)
        if not axes or any(a not in AXES for a in axes) or len(set(axes)) != len(axes):
            raise ValueError(f"axes must be a non-empty subset of {AXES}, got {axes!r}")
        if not (math.isfinite(power) and power >= 0):
            raise ValueError(f"power must be a finite number >= 0, got {power!r}")
        self.fixed = fixed
        self.pixel_time = pixel_time
        self.axes = axes
        self.power = float(power)
        self.reach = min(max(self.shape), 64) if reach is None else int(reach)
        self._axis_ids = tuple(AXES.index(a) for a in axes)
        self._weights = np.zeros(self.shape)
        self._weights_t = np.zeros(self.shape[::-1])  # columns as contiguous rows
        n_lines = (self.shape[0], self.shape[1])
        self._ratio = [np.zeros(n) for n in n_lines]
        self._start = [np.full(n, -1, np.int64) for n in n_lines]
        self._end = [np.full(n, -1, np.int64) for n in n_lines]
        self._dirty = [np.zeros(n, bool) for n in n_lines]
        self._touched = [np.zeros(n, bool) for n in n_lines]  # dirty at a stage since update
        # scores of the lines a stage rescored, as the last update left them
        self._saved = [np.zeros(n, bool) for n in n_lines]
        self._saved_scores = [
            (np.zeros(n), np.zeros(n, np.int64), np.zeros(n, np.int64)) for n in n_lines
        ]
        self._cursor = [0, 0]
        self.rescore_pixels = int(rescore_pixels)

    # ------------------------------------------------------------------ scores
    def update(
        self,
        erd: np.ndarray,
        regions: list[tuple[int, int, int, int]] | None = None,
        pixels: np.ndarray | None = None,
    ) -> None:
        """Take a new ERD map (negative = nothing to gain); rescore the lines that changed.

        ``regions``, boxes ``(row_start, row_stop, col_start, col_stop)``, and
        ``pixels``, (n, 2) (row, col), promise that nothing outside them changed
        since the last update (faster on big grids); ``regions`` None compares
        the whole map. At most ``rescore_pixels``
        line pixels per axis are rescored per call; lines left over keep their
        old score, flagged stale, and are rescored first next time or when a
        decision reaches them.
        """
        self._take_all(erd, regions, pixels)
        for axis in self._axis_ids:
            touched = self._touched[axis]
            touched |= self._dirty[axis]
            saved = self._saved[axis]
            if np.count_nonzero(touched) > self._limit(axis):
                # staged rescoring stopped at the limit: round robin over every line
                # dirtied since the last update, with the scores it left them, as if
                # no stage had rescored any
                self._dirty[axis][:] = touched
                lines = np.flatnonzero(saved)
                for now, before in zip(self._scores(axis), self._saved_scores[axis]):
                    now[lines] = before[lines]
            touched[:] = False
            saved[:] = False
        self._rescore_dirty()

    def stage(
        self,
        erd: np.ndarray,
        regions: list[tuple[int, int, int, int]] | None = None,
        pixels: np.ndarray | None = None,
    ) -> None:
        """Take part of the next :meth:`update`'s changes now (e.g. while a segment flies).

        Same arguments as :meth:`update`. The lines it changes are rescored now
        while, per axis, the lines changed since the last :meth:`update` stay
        within the ``rescore_pixels`` limit; the :meth:`update` that follows
        (with the changes since the last stage, or none) then leaves the scores
        exactly as one :meth:`update` with all the changes would have.

        Examples
        --------
        >>> import numpy as np
        >>> erd = np.zeros((4, 6))
        >>> a = SegmentPlanner((4, 6), fixed=1.0, pixel_time=0.1)
        >>> b = SegmentPlanner((4, 6), fixed=1.0, pixel_time=0.1)
        >>> erd[1, 2:5] = 1.0
        >>> a.stage(erd, [(1, 2, 2, 5)]); a.update(erd, [])
        >>> b.update(erd, [(1, 2, 2, 5)])
        >>> [s.segment for s in a.choose(erd > 9)] == [s.segment for s in b.choose(erd > 9)]
        True
        """
        self._take_all(erd, regions, pixels)
        for axis in self._axis_ids:
            touched, dirty = self._touched[axis], self._dirty[axis]
            touched |= dirty
            if np.count_nonzero(touched) <= self._limit(axis):
                lines = np.flatnonzero(dirty).astype(np.int64)
                if len(lines):
                    first = lines[~self._saved[axis][lines]]
                    for now, before in zip(self._scores(axis), self._saved_scores[axis]):
                        before[first] = now[first]
                    self._saved[axis][first] = True
                    self._rescore(self._weights_t if axis else self._weights, axis, lines)
                    dirty[lines] = False

    def _scores(self, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._ratio[axis], self._start[axis], self._end[axis]

    def _limit(self, axis: int) -> int:
        """Most lines of ``axis`` rescored per :meth:`update`."""
        return max(1, self.rescore_pixels // self.shape[1 - axis])

    def _take_all(
        self,
        erd: np.ndarray,
        regions: list[tuple[int, int, int, int]] | None,
        pixels: np.ndarray | None,
    ) -> None:
        erd = np.asarray(erd)
        if erd.shape != self.shape:
            raise ValueError(f"erd must have shape {self.shape}, got {erd.shape}")
        if regions is None:
            regions = [(0, self.shape[0], 0, self.shape[1])]
        for region in regions:
            self._take(erd, region)
        if pixels is not None and len(pixels):
            pixels = np.asarray(pixels, np.int64)
            dirty_rows, dirty_cols = self._dirty
            _k._take_pixels(
                np.ascontiguousarray(erd, dtype=float),
                self._weights,
                self._weights_t,
                dirty_rows,
                dirty_cols,
                np.ascontiguousarray(pixels[:, 0]),
                np.ascontiguousarray(pixels[:, 1]),
                1 in self._axis_ids,
            )

    def _take(self, erd: np.ndarray, region: tuple[int, int, int, int]) -> None:
        r0, r1, c0, c1 = region
        r0, c0 = max(0, int(r0)), max(0, int(c0))
        r1, c1 = min(self.shape[0], int(r1)), min(self.shape[1], int(c1))
        if r0 >= r1 or c0 >= c1:
            return
        dirty_rows, dirty_cols = self._dirty  # a flag array per axis, used or not
        _k._take_region(
            np.ascontiguousarray(erd, dtype=float),
            self._weights,
            self._weights_t,
            dirty_rows,
            dirty_cols,
            r0, r1, c0, c1,
            1 in self._axis_ids,
        )  # fmt: skip

    def _rescore_dirty(self) -> None:
        for axis in self._axis_ids:
            lines = np.flatnonzero(self._dirty[axis]).astype(np.int64)
            limit = self._limit(axis)
            if len(lines) > limit:  # round robin, so every line gets its turn
                first = np.searchsorted(lines, self._cursor[axis])
                lines = np.roll(lines, -first)[:limit]
                self._cursor[axis] = int(lines[-1]) + 1
            if len(lines):
                self._rescore(self._weights_t if axis else self._weights, axis, lines)
                self._dirty[axis][lines] = False

    def _rescore(self, weights: np.ndarray, axis: int, lines: np.ndarray) -> None:
        # both orientations are scored as rows of a C-contiguous array (cache friendly),
        # four lines at a time; many lines in two halves on two threads (each line's
        # score is its own: the same bits either way)
        fixed, pixel_time = self.fixed[axis], self.pixel_time[axis]
        ratio, start, end = self._ratio[axis], self._start[axis], self._end[axis]

        def part(first: int, stop: int) -> None:
            _best_rows(weights, lines[first:stop], fixed, pixel_time, ratio, start, end)

        min_lines = -(-_SPLIT_PIXELS // weights.shape[1])
        _threads.split_rows(part, len(lines), align=4, min_rows=min_lines)

    def seconds(self, axis: int, n_pixels: int) -> float:
        """Beam time the planner charges a segment of ``n_pixels`` along ``axis``
        (0: a row, 1: a column): its fixed cost plus one reading per pixel."""
        return self.fixed[axis] + n_pixels * self.pixel_time[axis]

    def best_rate(self) -> float:
        """Best ERD per second of any single segment under the current map."""
        return max(float(self._ratio[a].max(initial=0.0)) for a in self._axis_ids)

    # ------------------------------------------------------------------ choice
    def choose(
        self,
        measured: np.ndarray,
        *,
        max_segments: int = 8,
        time_budget: float | None = None,
        position: tuple[float, float] | None = None,
        stage: tuple[float, float, float, float] | None = None,
        window: tuple[int, int, int] | None = None,
        min_rate: float = 0.0,
        line_scale: tuple[np.ndarray | None, np.ndarray | None] | None = None,
    ) -> list[Pick]:
        """Greedy picks for one decision, in flight order, each flown from its nearer end.

        Each pick is the segment with the most ERD per second counting the
        move to it from where the previous pick ends (from ``position``
        (row, col) for the first); ``stage`` ``(v_x, a_x, v_y, a_y)`` times a
        move (both axes together, trapezoids), None counts no move. Stops at
        ``max_segments`` picks, once the picks' seconds reach ``time_budget``,
        when no line has anything left to gain, or when the best one promises
        less than ``min_rate`` ERD per second. ``window`` ``(axis, lo, hi)``
        (axis 0 rows, 1 columns) allows only the lines ``lo <= line < hi`` of
        that axis (a sweep pass's lines ahead of the stage). ``line_scale``,
        per axis (rows, columns) None or one factor per line, multiplies each
        line's ERD per second while choosing (a whole line's worth).

        Examples
        --------
        >>> import numpy as np
        >>> erd = np.zeros((20, 30)); erd[3, :] = 2.0; erd[12, :] = 1.0
        >>> planner = SegmentPlanner(erd.shape, fixed=0.26, pixel_time=0.001)
        >>> planner.update(erd)
        >>> none = np.zeros(erd.shape, bool)
        >>> [p.segment.start[0] for p in planner.choose(none, max_segments=1)]
        [3]
        >>> [p.segment.start[0] for p in planner.choose(none, window=(0, 8, 20))]
        [12]
        """
        if measured.shape != self.shape:
            raise ValueError(f"measured must have shape {self.shape}, got {measured.shape}")
        if window is not None:
            w_axis, w_lo, w_hi = (int(v) for v in window)
            if w_axis not in self._axis_ids:
                raise ValueError(f"window axis must be one of {self._axis_ids}, got {window!r}")
        weights, weights_t = self._weights, self._weights_t
        planned = np.array(measured, bool)  # a copy: planned pixels are marked in it
        ratio = [r.copy() for r in self._ratio]
        start = [s.copy() for s in self._start]
        end = [e.copy() for e in self._end]
        stale = [d.copy() for d in self._dirty]
        here = np.zeros(2) if position is None else np.asarray(position, float)
        stage = np.zeros(0) if stage is None else np.asarray(stage, float)
        rate_buf = [np.zeros(n) for n in self.shape]
        picks: list[Pick] = []
        undo: list[tuple[np.ndarray, np.ndarray, int]] = []  # suppression's logs
        mirror = 1 in self._axis_ids  # columns are scored from the transposed copy
        spent = 0.0
        try:
            while len(picks) < max_segments:
                best = (0.0, -1, -1)
                rates = []
                for axis in self._axis_ids:
                    rate = rate_buf[axis]
                    _k._rates(ratio[axis], start[axis], end[axis], axis, here[0], here[1],
                              self.fixed[axis], self.pixel_time[axis], stage, rate)  # fmt: skip
                    if line_scale is not None and line_scale[axis] is not None:
                        rate *= line_scale[axis]
                    if window is not None:  # only the window's lines
                        if axis != w_axis:
                            rate[:] = 0.0
                        else:
                            rate[: max(0, w_lo)] = 0.0
                            rate[max(0, w_hi) :] = 0.0
                    rates.append((axis, rate))
                    i = int(np.argmax(rate))
                    if rate[i] > best[0]:
                        best = (float(rate[i]), axis, i)
                top, axis, line = best
                if axis < 0 or top < min_rate:
                    break
                if stale[axis][line]:
                    # rescore, in one call per axis, every stale line that might beat the
                    # best one (a stale score is an upper bound: suppression only lowers)
                    for ax, rate in rates:
                        todo = np.flatnonzero(stale[ax] & (rate >= top * _RESCORE_SHARE))
                        todo = todo[np.argsort(-rate[todo], kind="stable")[:_RESCORE_BATCH]]
                        _best_rows(
                            weights_t if ax else weights,
                            todo.astype(np.int64),
                            self.fixed[ax],
                            self.pixel_time[ax],
                            ratio[ax],
                            start[ax],
                            end[ax],
                        )
                        stale[ax][todo] = False
                    continue
                a, b = int(start[axis][line]), int(end[axis][line])
                if axis == 0:
                    segment = Segment((line, a), (line, b))
                    erd = float(weights[line, a : b + 1].sum())
                else:
                    segment = Segment((a, line), (b, line))
                    erd = float(weights[a : b + 1, line].sum())
                if len(stage):  # fly it from the end nearer the stage
                    d_start = _k._travel(*(np.array(segment.start, float) - here), stage)
                    d_end = _k._travel(*(np.array(segment.end, float) - here), stage)
                    if d_end < d_start:
                        segment = segment.reversed()
                seconds = self.seconds(axis, b - a + 1)
                picks.append(Pick(segment, erd, seconds))
                spent += seconds
                here = np.array(segment.end, float)
                # every weight suppression changes (mirrored into the column copy) is
                # logged, to be restored after the decision
                room = (b - a + 1) * (2 * self.reach + 1)
                log = (np.empty(room, np.int64), np.empty(room))
                lo, hi, n_log = _k._suppress(
                    weights, planned, axis, line, a, b, self.reach, self.power,
                    weights_t, mirror, *log,
                )  # fmt: skip
                undo.append((*log, n_log))
                # lines parallel to the pick within [lo, hi] and across it over [a, b] changed
                stale[axis][lo : hi + 1] = True
                stale[1 - axis][a : b + 1] = True
                if time_budget is not None and spent >= time_budget:
                    break
        finally:  # the planner's maps hold the ERD again
            for log_flat, log_old, n_log in reversed(undo):
                _k._restore(weights, weights_t, mirror, log_flat, log_old, n_log)
        return picks


def _per_axis(value: float | tuple[float, float], name: str) -> tuple[float, float]:
    pair = (value, value) if np.ndim(value) == 0 else tuple(value)
    try:
        out = tuple(float(v) for v in pair)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be seconds or a (rows, columns) pair, got {value!r}"
        ) from None
    if len(out) != 2 or not all(math.isfinite(v) and v >= 0 for v in out):
        raise ValueError(f"{name} must be finite seconds >= 0 (or a pair), got {value!r}")
    return out  # type: ignore[return-value]


def order_segments(
    segments: list[Segment],
    position: tuple[float, float] | None,
    move_time: Callable[[float, float], float],
) -> list[Segment]:
    """Fly ``segments`` nearest end first from ``position`` (row, col), choosing directions.

    ``move_time(d_row, d_col)`` gives the seconds of a stage move. Each step
    flies the segment whose nearer end is quickest to reach, starting from that
    end. With ``position`` None the first segment is the one whose end is
    nearest the grid origin.
    """
    left = list(segments)
    here = (0.0, 0.0) if position is None else (float(position[0]), float(position[1]))
    out: list[Segment] = []
    while left:
        best = None
        for i, seg in enumerate(left):
            for flown in (seg, seg.reversed()):
                t = move_time(flown.start[0] - here[0], flown.start[1] - here[1])
                if best is None or t < best[0]:
                    best = (t, i, flown)
        _, i, flown = best
        out.append(flown)
        left.pop(i)
        here = (float(flown.end[0]), float(flown.end[1]))
    return out


def sweep_order(segments: list[Segment], position: tuple[float, float] | None) -> list[Segment]:
    """Fly ``segments`` as one monotone sweep down or up the grid, serpentine.

    The segments are sorted by their first row (then first column) and flown
    from the end of that order nearer ``position`` (row, col); each is flown
    from its end nearer (in pixels along the line) the end of the one before.
    Where a line's fixed cost dominates (short dwells) the stage then moves
    between neighbouring lines only, as a raster does, instead of jumping
    back and forth between the picks. ``position`` None starts at row 0.

    Examples
    --------
    >>> from fastscan.fly.segment import Segment
    >>> picks = [Segment((8, 0), (8, 9)), Segment((2, 0), (2, 9)), Segment((5, 0), (5, 9))]
    >>> [(s.start, s.end) for s in sweep_order(picks, (9.0, 9.0))]
    [((8, 9), (8, 0)), ((5, 0), (5, 9)), ((2, 9), (2, 0))]
    """
    if not segments:
        return []
    here = (0.0, 0.0) if position is None else (float(position[0]), float(position[1]))

    def first(seg: Segment) -> tuple[int, int]:
        return min(seg.start[0], seg.end[0]), min(seg.start[1], seg.end[1])

    down = sorted(segments, key=first)
    if abs(here[0] - first(down[-1])[0]) < abs(here[0] - first(down[0])[0]):
        down = down[::-1]
    out: list[Segment] = []
    for seg in down:
        to_start = abs(seg.start[0] - here[0]) + abs(seg.start[1] - here[1])
        to_end = abs(seg.end[0] - here[0]) + abs(seg.end[1] - here[1])
        flown = seg.reversed() if to_end < to_start else seg
        out.append(flown)
        here = (float(flown.end[0]), float(flown.end[1]))
    return out

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

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fastscan.fly import _kernels as _k
from fastscan.fly.segment import Segment

__all__ = ["AXES", "Pick", "SegmentPlanner", "order_segments"]

#: Line directions the planner may fly: rows (along x) and columns (along y).
AXES = ("rows", "columns")


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
        Farthest line (in pixels) a segment's suppression reaches; None is the
        larger grid dimension.
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
        self.reach = max(self.shape) if reach is None else int(reach)
        self._axis_ids = tuple(AXES.index(a) for a in axes)
        self._weights = np.zeros(self.shape)
        n_lines = (self.shape[0], self.shape[1])
        self._ratio = [np.zeros(n) for n in n_lines]
        self._start = [np.full(n, -1, np.int64) for n in n_lines]
        self._end = [np.full(n, -1, np.int64) for n in n_lines]

    # ------------------------------------------------------------------ scores
    def update(self, erd: np.ndarray) -> None:
        """Take a new ERD map (negative = nothing to gain); rescore the lines that changed."""
        erd = np.asarray(erd, float)
        if erd.shape != self.shape:
            raise ValueError(f"erd must have shape {self.shape}, got {erd.shape}")
        new = np.maximum(erd, 0.0)
        changed = new != self._weights
        self._weights = new
        for axis in self._axis_ids:
            lines = np.flatnonzero(changed.any(axis=1 - axis)).astype(np.int64)
            if len(lines):
                self._rescore(self._weights, axis, lines)

    def _rescore(self, weights: np.ndarray, axis: int, lines: np.ndarray) -> None:
        _k._best_intervals(
            weights,
            axis,
            lines,
            self.fixed[axis],
            self.pixel_time[axis],
            self._ratio[axis],
            self._start[axis],
            self._end[axis],
        )

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
    ) -> list[Pick]:
        """Greedy picks for one decision (unordered), best rate first.

        Stops at ``max_segments`` picks, once the picks' seconds reach
        ``time_budget``, or when no line has anything left to gain.
        """
        if measured.shape != self.shape:
            raise ValueError(f"measured must have shape {self.shape}, got {measured.shape}")
        weights = self._weights.copy()
        planned = np.array(measured, bool, copy=True)
        ratio = [r.copy() for r in self._ratio]
        start = [s.copy() for s in self._start]
        end = [e.copy() for e in self._end]
        stale = [np.zeros(n, bool) for n in self.shape]
        heap = [
            (-float(ratio[axis][line]), axis, int(line))
            for axis in self._axis_ids
            for line in np.flatnonzero(ratio[axis] > 0)
        ]
        heapq.heapify(heap)
        picks: list[Pick] = []
        spent = 0.0
        while heap and len(picks) < max_segments:
            _, axis, line = heapq.heappop(heap)
            if stale[axis][line]:
                one = np.array([line], np.int64)
                _k._best_intervals(
                    weights,
                    axis,
                    one,
                    self.fixed[axis],
                    self.pixel_time[axis],
                    ratio[axis],
                    start[axis],
                    end[axis],
                )
                stale[axis][line] = False
                if ratio[axis][line] > 0:
                    heapq.heappush(heap, (-float(ratio[axis][line]), axis, line))
                continue
            a, b = int(start[axis][line]), int(end[axis][line])
            if a < 0:
                continue
            if axis == 0:
                segment = Segment((line, a), (line, b))
                erd = float(weights[line, a : b + 1].sum())
            else:
                segment = Segment((a, line), (b, line))
                erd = float(weights[a : b + 1, line].sum())
            seconds = self.fixed[axis] + (b - a + 1) * self.pixel_time[axis]
            picks.append(Pick(segment, erd, seconds))
            spent += seconds
            lo, hi = _k._suppress(weights, planned, axis, line, a, b, self.reach, self.power)
            # lines parallel to the pick within [lo, hi] and across it over [a, b] changed
            # (a stale line without a heap entry had nothing to gain and still has not)
            stale[axis][lo : hi + 1] = True
            stale[1 - axis][a : b + 1] = True
            if time_budget is not None and spent >= time_budget:
                break
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

"""Beam time: when each reading of a step batch or a fly segment ends, and the trajectory record.

Every time fastscan reports or optimises obeys one model, :class:`fastscan.motion.MotionModel`,
through the functions here. Positions are grid pixels ``(row, col)`` (floats allowed for the
stage position); ``pixel_pitch = (x_step, y_step)`` maps them to motor units: ``x = col *
x_step``, ``y = row * y_step`` (pitch 1 in ``fastscan simulate``). Rules:

- **move**: per axis trapezoid, ``2 sqrt(d / a)`` if ``d <= v**2 / a`` else ``d / v + v / a``;
  the axes move together (the slower decides, ``metric="simultaneous"``); then
  ``settle_time``. Settle is paid before every step point and every segment, even after a
  zero-length move.
- **step point** (:func:`step_times`): move + settle + ``point_overhead`` + ``dwell``; the
  reading ends then, and the stage is free.
- **fly segment** (:func:`segment_times`, a :class:`fastscan.fly.Segment`): move to its first
  pixel + settle + ``line_overhead``, then ``ramp`` to reach speed, then one pixel time per
  reading (reading ``i`` ends ``(i + 1)`` pixel times after the ramp), then ``ramp`` to stop;
  the stage is then free at the last pixel. Consecutive readings are ``(d_row, d_col) /
  (n - 1)`` apart; the pixel time is ``max(dwell, |d_col| x_step / (n - 1) / fly_vx, |d_row|
  y_step / (n - 1) / fly_vy)`` (for a row in pixel units: ``max(dwell, 1 / v_max)``), and
  ``ramp = max(v_x / a_x, v_y / a_y)`` with the axis speeds that pixel time gives. A
  one-pixel segment is flown like a row.

:func:`fly_timing` gives a segment's pixel time and ramp. :class:`TrajectoryBuilder`
accumulates step batches and segments from a start position into a :class:`Trajectory`
(``points`` (N, 2) int64 (row, col) in measurement order, ``t_end`` (N,) float64 seconds
from the scan's start, ``segment`` (N,) int64 with one id per continuous move and one per step
point, ``flown`` (N,) bool), saved as ``.npz`` without pickle. :func:`check_trajectory`
re-scores a trajectory from the rules above as lower bounds (the honesty check).

Examples
--------
>>> from fastscan.beamtime import TrajectoryBuilder, check_trajectory, segment_times, step_times
>>> from fastscan.fly import Segment
>>> from fastscan.motion import NANOPROBE
>>> step_times([[0, 100]], (0, 0), NANOPROBE).round(3).tolist()  # 0.2 + 0.01 + 0.025 + 0.01
[0.245]
>>> t = segment_times(Segment((0, 0), (0, 9)), (0, 0), NANOPROBE)  # pixel time 10 ms
>>> round(float(t[0]), 3), round(float(t[-1]), 3)  # settle + line + v/a (0.01 s at 100 px/s)
(0.08, 0.17)
>>> b = TrajectoryBuilder(NANOPROBE)
>>> _ = b.add_segment(Segment((0, 0), (0, 9)))
>>> _ = b.add_points([[5, 5]])
>>> traj = b.trajectory()
>>> traj.segment.tolist(), check_trajectory(traj, NANOPROBE)
([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [])
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from fastscan._npz import refuse_non_npz
from fastscan._validation import check_points
from fastscan.motion import MotionModel

if TYPE_CHECKING:  # fastscan.fly may import this module: no import cycle at run time
    from fastscan.fly.segment import Segment

__all__ = [
    "FlyTiming",
    "Trajectory",
    "TrajectoryBuilder",
    "check_trajectory",
    "fly_timing",
    "retime",
    "segment_times",
    "step_times",
    "time_breakdown",
]

TRAJECTORY_KEYS = ("points", "t_end", "segment", "flown")


def _pitch(pixel_pitch: ArrayLike) -> tuple[float, float]:
    pitch = tuple(float(v) for v in np.asarray(pixel_pitch, float).ravel())
    if len(pitch) != 2 or not all(math.isfinite(v) and v > 0 for v in pitch):
        raise ValueError(f"pixel_pitch must be two positive numbers (x, y), got {pixel_pitch!r}")
    return pitch  # type: ignore[return-value]


def _position(value: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(value, float)
    if arr.shape != (2,) or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be a finite (row, col) pair, got {value!r}")
    return arr


def _moves(rc_from: np.ndarray, rc_to: np.ndarray, motion: MotionModel, pitch) -> np.ndarray:
    """Axis travel time (no settle) between (row, col) positions, broadcast."""
    d = np.asarray(rc_to, float) - np.asarray(rc_from, float)
    return np.asarray(motion.travel_time(d[..., 1] * pitch[0], d[..., 0] * pitch[1]), float)


def step_times(
    points: ArrayLike,
    start: ArrayLike,
    motion: MotionModel,
    *,
    t0: float = 0.0,
    pixel_pitch: ArrayLike = (1.0, 1.0),
) -> np.ndarray:
    """End time of each reading of a step batch visited in the given order.

    Parameters
    ----------
    points : (n, 2) int array
        (row, col) pixels in measurement order.
    start : (row, col)
        Stage position when the batch starts (float allowed).
    motion : MotionModel
        The time model.
    t0 : float
        Time at which the stage is free at ``start``.
    pixel_pitch : (x_step, y_step)
        Motor units per column and per row.

    Returns
    -------
    numpy.ndarray
        (n,) float64: ``t_end[i] = t_end[i - 1] + move + settle + point_overhead + dwell``.

    Examples
    --------
    >>> from fastscan.motion import NANOPROBE
    >>> step_times([[0, 0], [0, 1]], (0, 0), NANOPROBE).round(3).tolist()
    [0.045, 0.11]
    """
    pts = check_points(points, None)
    pitch = _pitch(pixel_pitch)
    begin = _position(start, "start")
    path = np.concatenate([begin[None, :], pts.astype(float)])
    per = _moves(path[:-1], path[1:], motion, pitch)
    per = per + (motion.settle_time + motion.point_overhead + motion.dwell)
    return float(t0) + np.cumsum(per)


@dataclass(frozen=True)
class FlyTiming:
    """How a segment is flown: seconds per reading, seconds to ramp up (= down), axis speeds."""

    pixel_time: float
    ramp: float
    speed: tuple[float, float]  #: (vx, vy) motor units / s during the flight


def fly_timing(
    segment: Segment, motion: MotionModel, *, pixel_pitch: ArrayLike = (1.0, 1.0)
) -> FlyTiming:
    """Pixel time, ramp time and axis speeds of flying ``segment`` (see the module rules).

    Examples
    --------
    >>> from fastscan.fly import Segment
    >>> from fastscan.motion import NANOPROBE
    >>> fly_timing(Segment((0, 0), (0, 9)), NANOPROBE.replace(dwell=1e-4))
    FlyTiming(pixel_time=0.001, ramp=0.1, speed=(1000.0, 0.0))
    """
    if not all(hasattr(segment, a) for a in ("start", "end", "n_pixels")):
        raise TypeError(f"segment must be a fastscan.fly.Segment, got {type(segment).__name__}")
    pitch = _pitch(pixel_pitch)
    n = segment.n_pixels
    if n == 1:
        step_x, step_y = pitch[0], 0.0
    else:
        step_x = abs(segment.end[1] - segment.start[1]) / (n - 1) * pitch[0]
        step_y = abs(segment.end[0] - segment.start[0]) / (n - 1) * pitch[1]
    (fvx, fvy), (ax, ay) = motion.fly_velocity, motion.acceleration
    pixel_time = max(motion.dwell, step_x / fvx, step_y / fvy)
    vx, vy = step_x / pixel_time, step_y / pixel_time
    ramp = max(vx / ax, vy / ay)  # inf acceleration: 0
    return FlyTiming(float(pixel_time), float(ramp), (float(vx), float(vy)))


def segment_times(
    segment: Segment,
    start: ArrayLike,
    motion: MotionModel,
    *,
    t0: float = 0.0,
    pixel_pitch: ArrayLike = (1.0, 1.0),
) -> np.ndarray:
    """End time of each reading of ``segment`` flown from stage position ``start``.

    Parameters are as in :func:`step_times`. The stage is free again at
    ``t_end[-1] + fly_timing(segment, motion).ramp``, at ``segment.end``.

    Returns
    -------
    numpy.ndarray
        (segment.n_pixels,) float64 end times, in flight order.
    """
    timing = fly_timing(segment, motion, pixel_pitch=pixel_pitch)
    pitch = _pitch(pixel_pitch)
    begin = _position(start, "start")
    move = float(_moves(begin, np.asarray(segment.start, float), motion, pitch))
    first = float(t0) + move + motion.settle_time + motion.line_overhead + timing.ramp
    return first + timing.pixel_time * np.arange(1, segment.n_pixels + 1, dtype=float)


@dataclass(frozen=True)
class Trajectory:
    """Every reading of a scan: where, when it ended, and in which continuous move.

    ``points`` (N, 2) int64 (row, col) in measurement order; ``t_end`` (N,) float64
    seconds from the scan's start; ``segment`` (N,) int64 (same id = one continuous
    move; a step point has its own); ``flown`` (N,) bool (the reading was taken in
    flight).
    """

    points: np.ndarray
    t_end: np.ndarray
    segment: np.ndarray
    flown: np.ndarray

    @property
    def n_readings(self) -> int:
        return len(self.t_end)

    @property
    def beam_time(self) -> float:
        """End of the last reading, seconds (0 for an empty trajectory)."""
        return float(self.t_end[-1]) if len(self.t_end) else 0.0

    def save(self, path: str | Path, *, motion: MotionModel | None = None) -> Path:
        """Write an ``.npz`` (no pickle); ``motion``, if given, is stored as JSON."""
        path = Path(path)
        arrays = {k: getattr(self, k) for k in TRAJECTORY_KEYS}
        if motion is not None:
            arrays["motion"] = np.array(json.dumps(asdict(motion)))
        with path.open("wb") as fh:
            np.savez(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Trajectory:
        """Read a file written by :meth:`save` (``flown`` defaults to False if absent)."""
        refuse_non_npz(path, "trajectory file")
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in TRAJECTORY_KEYS[:3] if k not in data.files]
            if missing:
                raise ValueError(f"{path} is not a trajectory file: missing {missing}")
            n = len(data["t_end"])
            flown = data["flown"] if "flown" in data.files else np.zeros(n, bool)
            return cls(
                data["points"].astype(np.int64),
                data["t_end"].astype(float),
                data["segment"].astype(np.int64),
                flown.astype(bool),
            )


class TrajectoryBuilder:
    """Accumulate step batches and fly segments into a :class:`Trajectory`.

    Parameters
    ----------
    motion : MotionModel
        The time model.
    start : (row, col)
        Stage position at time 0 (default the grid origin).
    pixel_pitch : (x_step, y_step)
        Motor units per column and per row.
    shape : (n_rows, n_cols) or None
        If given, every point and segment must lie inside this grid.
    """

    def __init__(
        self,
        motion: MotionModel,
        *,
        start: ArrayLike = (0.0, 0.0),
        pixel_pitch: ArrayLike = (1.0, 1.0),
        shape: tuple[int, int] | None = None,
    ) -> None:
        if not isinstance(motion, MotionModel):
            raise TypeError(f"motion must be a MotionModel, got {type(motion).__name__}")
        self.motion = motion
        self.pixel_pitch = _pitch(pixel_pitch)
        self.shape = shape
        self.position = _position(start, "start").copy()
        self.time = 0.0  # when the stage is free at self.position
        self.t_last = 0.0  # end of the last reading
        self._points: list[np.ndarray] = []
        self._t_end: list[np.ndarray] = []
        self._segment: list[np.ndarray] = []
        self._flown: list[np.ndarray] = []
        self._next_id = 0

    def _check(self, pts: np.ndarray) -> None:
        if self.shape is None or len(pts) == 0:
            return
        bad = (pts < 0).any(axis=1) | (pts[:, 0] >= self.shape[0]) | (pts[:, 1] >= self.shape[1])
        if bad.any():
            raise ValueError(
                f"point {pts[int(np.argmax(bad))].tolist()} is outside the "
                f"{self.shape[0]} x {self.shape[1]} grid"
            )

    def step_cost(self, points: ArrayLike) -> float:
        """Seconds the step batch would take from here (nothing recorded)."""
        pts = check_points(points, None)
        if len(pts) == 0:
            return 0.0
        t = step_times(pts, self.position, self.motion, pixel_pitch=self.pixel_pitch)
        return float(t[-1])

    def segment_cost(self, segment: Segment) -> float:
        """Seconds flying ``segment`` would take from here, ramp-down included."""
        t = segment_times(segment, self.position, self.motion, pixel_pitch=self.pixel_pitch)
        return float(t[-1]) + fly_timing(segment, self.motion, pixel_pitch=self.pixel_pitch).ramp

    def add_points(self, points: ArrayLike) -> np.ndarray:
        """Record a step batch (in measurement order); returns its end times."""
        pts = check_points(points, None)
        self._check(pts)
        if len(pts) == 0:
            return np.zeros(0)
        t = step_times(pts, self.position, self.motion, t0=self.time, pixel_pitch=self.pixel_pitch)
        ids = np.arange(self._next_id, self._next_id + len(pts), dtype=np.int64)
        self._record(pts, t, ids, False)
        self._next_id += len(pts)
        self.position = pts[-1].astype(float)
        self.time = float(t[-1])
        return t

    def add_segment(self, segment: Segment) -> np.ndarray:
        """Record one fly segment; returns the end time of each of its readings."""
        if self.shape is not None:
            segment.check_inside(self.shape)
        t = segment_times(
            segment, self.position, self.motion, t0=self.time, pixel_pitch=self.pixel_pitch
        )
        pts = segment.pixels()
        self._record(pts, t, np.full(len(pts), self._next_id, np.int64), True)
        self._next_id += 1
        ramp = fly_timing(segment, self.motion, pixel_pitch=self.pixel_pitch).ramp
        self.position = np.asarray(segment.end, float)
        self.time = float(t[-1]) + ramp
        return t

    def add_segments(self, segments: list[Segment]) -> np.ndarray:
        """Record segments in flight order; returns all their readings' end times."""
        parts = [self.add_segment(s) for s in segments]
        return np.concatenate(parts) if parts else np.zeros(0)

    def add_trajectory(self, trajectory: Trajectory) -> np.ndarray:
        """Record another scan's readings, in its moves, timed from here; returns the end times.

        Runs of one ``segment`` id that are ``flown`` become segments from their
        first to their last reading; the others are step points (as :func:`retime`).
        """
        from fastscan.fly.segment import Segment

        pts, seg, flown = trajectory.points, trajectory.segment, trajectory.flown
        bounds = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]]) if len(seg) else np.zeros(0, int)
        ends = np.r_[bounds[1:], len(seg)].astype(int)
        parts: list[np.ndarray] = []
        steps: list[np.ndarray] = []
        for b, e in zip(bounds, ends):
            if flown[b]:
                if steps:
                    parts.append(self.add_points(np.concatenate(steps)))
                    steps = []
                parts.append(self.add_segment(Segment(tuple(pts[b]), tuple(pts[e - 1]))))
            else:
                steps.append(pts[b:e])
        if steps:
            parts.append(self.add_points(np.concatenate(steps)))
        return np.concatenate(parts) if parts else np.zeros(0)

    def _record(self, pts, t, ids, flown: bool) -> None:
        self._points.append(pts)
        self._t_end.append(np.asarray(t, float))
        self._segment.append(ids)
        self._flown.append(np.full(len(pts), flown))
        self.t_last = float(t[-1])

    @property
    def n_readings(self) -> int:
        return int(sum(len(t) for t in self._t_end))

    def trajectory(self) -> Trajectory:
        """The readings recorded so far."""
        if not self._points:
            return Trajectory(np.zeros((0, 2), np.int64), np.zeros(0), np.zeros(0, np.int64),
                              np.zeros(0, bool))  # fmt: skip
        return Trajectory(
            np.concatenate(self._points),
            np.concatenate(self._t_end),
            np.concatenate(self._segment),
            np.concatenate(self._flown),
        )


def check_trajectory(
    trajectory: Trajectory,
    motion: MotionModel,
    *,
    start: ArrayLike | None = (0.0, 0.0),
    pixel_pitch: ArrayLike = (1.0, 1.0),
    rtol: float = 1e-9,
) -> list[str]:
    """Re-score a trajectory from the rules as lower bounds; returns the violations (empty: honest).

    Inside a segment: consecutive readings are pixels of the straight line from its
    first to its last reading, at least one dwell apart, within ``fly_velocity``.
    Between segments or step points: the gap is at least the trapezoid move +
    settle + overhead (point or line) + dwell, plus the ramp ``v / a`` to stop the
    previous segment if it was flown and to reach speed if this one is. ``start``
    (None: not checked) is where the stage is at time 0.
    """
    from fastscan.fly.segment import Segment

    pitch = _pitch(pixel_pitch)
    pts, t, seg, flown = trajectory.points, trajectory.t_end, trajectory.segment, trajectory.flown
    out: list[str] = []
    if len(t) == 0:
        return out
    if np.any(np.diff(t) <= 0):
        out.append(f"t_end not increasing at reading {int(np.argmax(np.diff(t) <= 0)) + 1}")
    slack = 1.0 - rtol
    bounds = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    ends = np.r_[bounds[1:], len(t)]
    if len(np.unique(seg[bounds])) != len(bounds):
        out.append("a segment id is used for two separate runs of readings")
    prev_end_t = 0.0
    prev_pos = None if start is None else _position(start, "start")
    prev_ramp = 0.0
    for b, e in zip(bounds, ends):
        line = Segment(tuple(pts[b]), tuple(pts[e - 1]))
        fly = bool(flown[b]) or e - b > 1
        if e - b > 1 and not np.array_equal(line.pixels(), pts[b:e]):
            out.append(f"segment {seg[b]}: readings {b}..{e - 1} are not one straight line")
        timing = fly_timing(line, motion, pixel_pitch=pitch)
        if e - b > 1:
            dt = np.diff(t[b:e])
            step = np.abs(np.diff(pts[b:e], axis=0)) * [pitch[1], pitch[0]]
            if np.any(dt < motion.dwell * slack):
                out.append(f"segment {seg[b]}: readings less than one dwell apart")
            vy, vx = (step / dt[:, None]).max(axis=0)
            fvx, fvy = motion.fly_velocity
            if vx > fvx / slack or vy > fvy / slack:
                out.append(f"segment {seg[b]}: speed ({vx:.6g}, {vy:.6g}) above the limit")
        if prev_pos is not None:
            move = float(_moves(prev_pos, pts[b].astype(float), motion, pitch))
            overhead = motion.line_overhead if fly else motion.point_overhead
            need = move + motion.settle_time + overhead + motion.dwell + prev_ramp
            need += timing.ramp if fly else 0.0
            if t[b] - prev_end_t < need * slack:
                out.append(
                    f"reading {b} (segment {seg[b]}): gap {t[b] - prev_end_t:.6g} s < "
                    f"{need:.6g} s the move, settle, overhead, ramps and dwell need"
                )
        prev_end_t, prev_pos = float(t[e - 1]), pts[e - 1].astype(float)
        prev_ramp = timing.ramp if fly else 0.0
    return out


def retime(
    trajectory: Trajectory,
    motion: MotionModel,
    *,
    start: ArrayLike = (0.0, 0.0),
    pixel_pitch: ArrayLike = (1.0, 1.0),
) -> Trajectory:
    """The same readings, in the same moves, timed under another ``motion`` model.

    Runs of one ``segment`` id that are ``flown`` become segments from their first to
    their last reading; the others are step points. Useful when a strategy's
    choices do not depend on the timing (static patterns), so one replay serves
    every dwell.

    Examples
    --------
    >>> from fastscan.fly import Segment
    >>> from fastscan.motion import NANOPROBE
    >>> b = TrajectoryBuilder(NANOPROBE)
    >>> _ = b.add_segment(Segment((0, 0), (0, 99)))
    >>> slow = retime(b.trajectory(), NANOPROBE.replace(dwell=0.1))
    >>> # 100 pixels, 90 ms more each, and a shorter ramp to the slower speed
    >>> round(slow.beam_time - b.trajectory().beam_time, 3)
    8.991
    """
    builder = TrajectoryBuilder(motion, start=start, pixel_pitch=pixel_pitch)
    builder.add_trajectory(trajectory)
    return builder.trajectory()


def time_breakdown(
    trajectory: Trajectory,
    motion: MotionModel,
    *,
    start: ArrayLike = (0.0, 0.0),
    pixel_pitch: ArrayLike = (1.0, 1.0),
) -> dict[str, float]:
    """Where a trajectory's beam time goes: readings, stage moves, fixed costs.

    ``readings``: one pixel time per flown reading, one dwell per step point;
    ``moves``: the trapezoid moves between segments and step points;
    ``fixed``: the rest (settle, point and line overheads, ramps, and any idle
    time the trajectory holds). Also ``runs`` (continuous moves) and
    ``flown_readings``. ``readings + moves + fixed`` is the beam time.

    Examples
    --------
    >>> from fastscan.fly import Segment
    >>> from fastscan.motion import NANOPROBE
    >>> b = TrajectoryBuilder(NANOPROBE)
    >>> _ = b.add_segment(Segment((0, 0), (0, 9)))
    >>> _ = b.add_points([[0, 12]])
    >>> {k: round(v, 3) for k, v in time_breakdown(b.trajectory(), NANOPROBE).items()}
    {'readings': 0.11, 'moves': 0.035, 'fixed': 0.115, 'runs': 2.0, 'flown_readings': 10.0}
    """
    from fastscan.fly.segment import Segment

    pitch = _pitch(pixel_pitch)
    pts, seg, flown = trajectory.points, trajectory.segment, trajectory.flown
    position = _position(start, "start")
    bounds = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]]) if len(seg) else np.zeros(0, int)
    ends = np.r_[bounds[1:], len(seg)].astype(int)
    lengths = ends - bounds
    fly = flown[bounds] | (lengths > 1)
    # step points one dwell each, flown runs one pixel time each (a loop over runs only);
    # the moves, all at once: a step raster of 240,000 points takes milliseconds, not seconds
    readings = float(lengths[~fly].sum()) * motion.dwell
    for b, e in zip(bounds[fly], ends[fly]):
        line = Segment(tuple(pts[b]), tuple(pts[e - 1]))
        readings += (e - b) * fly_timing(line, motion, pixel_pitch=pitch).pixel_time
    moves = 0.0
    if len(bounds):
        before = np.vstack([position[None, :], pts[ends[:-1] - 1].astype(float)])
        moves = float(np.sum(_moves(before, pts[bounds].astype(float), motion, pitch)))
    total = trajectory.beam_time
    return {
        "readings": float(readings),
        "moves": float(moves),
        "fixed": float(total - readings - moves),
        "runs": float(len(bounds)),
        "flown_readings": float(np.count_nonzero(flown)),
    }

"""The stage and detector timing model: how long moves, step points and fly lines take.

:class:`MotionModel` is the one time model of fastscan: the route planner
(:mod:`fastscan.route`), the beam-time functions (:mod:`fastscan.beamtime`), the
motion-aware batch choice, the Bluesky plans' estimates and ``fastscan simulate``
all read it. It holds

- per-axis top speed and acceleration (trapezoidal profiles) and a settle time
  per move, the move cost of the route planner;
- ``dwell``: seconds of detector integration per reading;
- ``point_overhead``: fixed seconds per step point (trigger, readout, Channel
  Access round trips), ``line_overhead``: fixed seconds per fly segment (arm and
  read out the position capture);
- ``fly_velocity``: per-axis top speed while flying (default: ``velocity``);
- ``travel``: optional ``((x_min, x_max), (y_min, y_max))`` soft limits.

Units are motor units and seconds. ``fastscan simulate`` works in pixel units
(pitch 1), where :data:`NANOPROBE` is the default model.

Examples
--------
>>> from fastscan.motion import MotionModel
>>> m = MotionModel(velocity=(1000, 1000), acceleration=(1e4, 1e4), settle_time=0.01)
>>> round(m.move_time(200, 50), 3)  # 200 / 1000 + 1000 / 1e4, plus settle
0.31
>>> m.dwell, m.fly_velocity
(0.01, (1000.0, 1000.0))
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "METRICS",
    "NANOPROBE",
    "MotionModel",
    "axis_time",
    "motion_from_flags",
    "motor_travel",
    "move_times",
]

METRICS = ("simultaneous", "euclidean", "manhattan")


@dataclasses.dataclass(frozen=True)
class MotionModel:
    """How long the stage takes to move, and what each reading costs.

    Parameters
    ----------
    velocity : (vx, vy)
        Top speed of each axis, motor units per second (> 0, finite).
    acceleration : (ax, ay)
        Acceleration (= deceleration) of each axis, units per s^2 (> 0); ``inf``
        means the axis reaches full speed instantly.
    settle_time : float
        Seconds added to every move (settling, position readback); in
        :meth:`move_time` a zero-length move costs nothing. The beam-time
        functions (:mod:`fastscan.beamtime`) always pay it before a reading.
    metric : {"simultaneous", "euclidean", "manhattan"}
        ``"simultaneous"``: both axes move at once, each with its own limits; the
        move takes the longer of the two axis times. ``"euclidean"``: a
        coordinated straight-line move whose path speed and acceleration are
        limited by the slower axis, ``min(vx, vy)`` and ``min(ax, ay)`` (with equal
        axes and no acceleration: length / v). ``"manhattan"``: the axes move one
        after the other; the move takes the sum of the two axis times.
    dwell : float
        Detector integration time per reading, seconds (> 0). Default 10 ms.
    point_overhead : float
        Fixed seconds per step point: trigger, readout, control-system round
        trips (>= 0).
    line_overhead : float
        Fixed seconds per fly segment: arming the position capture and reading
        it out (>= 0).
    fly_velocity : (vx, vy) or None
        Top speed of each axis while flying, at most ``velocity``; None is
        ``velocity``.
    travel : ((x_min, x_max), (y_min, y_max)) or None
        Soft travel limits; :meth:`check_travel` raises for a position outside.
        None is unlimited.

    Notes
    -----
    One axis moving a distance ``d`` with top speed ``v`` and acceleration ``a``
    takes ``2 sqrt(d / a)`` when ``d <= v**2 / a`` (it never reaches full speed,
    triangular profile) and ``d / v + v / a`` otherwise (trapezoid).
    Sequences (e.g. lists from JSON) are converted to tuples, so
    ``MotionModel(**dataclasses.asdict(m))`` round-trips through JSON.
    """

    velocity: tuple[float, float] = (1.0, 1.0)
    acceleration: tuple[float, float] = (math.inf, math.inf)
    settle_time: float = 0.0
    metric: str = "simultaneous"
    dwell: float = 0.01
    point_overhead: float = 0.0
    line_overhead: float = 0.0
    fly_velocity: tuple[float, float] | None = None
    travel: tuple[tuple[float, float], tuple[float, float]] | None = None

    def __post_init__(self) -> None:
        velocity = _pair(self.velocity, "velocity")
        if not all(math.isfinite(v) and v > 0 for v in velocity):
            raise ValueError(f"velocity must be two finite numbers > 0, got {self.velocity!r}")
        acceleration = _pair(self.acceleration, "acceleration")
        if not all(a > 0 for a in acceleration):  # also rejects NaN
            raise ValueError(
                f"acceleration must be two numbers > 0 (inf = instantaneous), "
                f"got {self.acceleration!r}"
            )
        settle = _seconds(self.settle_time, "settle_time")
        if self.metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {self.metric!r}")
        try:
            dwell = float(self.dwell)
        except (TypeError, ValueError):
            raise ValueError(f"dwell must be a number of seconds, got {self.dwell!r}") from None
        if not (math.isfinite(dwell) and dwell > 0):
            raise ValueError(f"dwell must be a finite number of seconds > 0, got {self.dwell!r}")
        fly = velocity if self.fly_velocity is None else _pair(self.fly_velocity, "fly_velocity")
        if not all(math.isfinite(v) and v > 0 for v in fly):
            raise ValueError(
                f"fly_velocity must be two finite numbers > 0, got {self.fly_velocity!r}"
            )
        for axis, v, v_max in zip("xy", fly, velocity):
            if v > v_max:
                raise ValueError(
                    f"fly_velocity {axis} = {v!r} is above the {axis} motor's velocity "
                    f"limit {v_max!r}"
                )
        object.__setattr__(self, "velocity", velocity)
        object.__setattr__(self, "acceleration", acceleration)
        object.__setattr__(self, "settle_time", settle)
        object.__setattr__(self, "dwell", dwell)
        object.__setattr__(self, "point_overhead", _seconds(self.point_overhead, "point_overhead"))
        object.__setattr__(self, "line_overhead", _seconds(self.line_overhead, "line_overhead"))
        object.__setattr__(self, "fly_velocity", fly)
        object.__setattr__(self, "travel", _travel(self.travel))

    @classmethod
    def from_motors(
        cls,
        x_motor: Any,
        y_motor: Any,
        *,
        settle_time: float = 0.0,
        metric: str = "simultaneous",
        **timing: Any,
    ) -> MotionModel:
        """Build the model from two motor objects (duck-typed, e.g. ophyd ``EpicsMotor``).

        Reads ``motor.velocity.get()`` (units/s) and ``motor.acceleration.get()``.
        As in ophyd's ``EpicsMotor``, ``acceleration`` is the EPICS ``.ACCL`` field:
        the *time in seconds* to reach full speed, so the acceleration used here is
        ``VELO / ACCL`` units/s^2 (``ACCL = 0`` means instantaneous, ``inf``).
        Where both motors have ``low_limit_travel`` and ``high_limit_travel``
        signals (EPICS ``.LLM``/``.HLM``; both 0 means no limits) they become
        ``travel``. ``timing`` passes ``dwell``, ``point_overhead``,
        ``line_overhead``, ``fly_velocity`` (or ``travel``, overriding the
        motors' limits). Positions must then be given in the motors' units.
        """
        speeds, accels = [], []
        for axis, motor in (("x", x_motor), ("y", y_motor)):
            velocity = _read_signal(motor, "velocity", axis)
            ramp = _read_signal(motor, "acceleration", axis)
            if not (math.isfinite(velocity) and velocity > 0):
                raise ValueError(
                    f"{axis} motor {_motor_name(motor)} velocity must be > 0 units/s, "
                    f"got {velocity!r}"
                )
            if not (math.isfinite(ramp) and ramp >= 0):
                raise ValueError(
                    f"{axis} motor {_motor_name(motor)} acceleration (ACCL, seconds to full "
                    f"speed) must be >= 0, got {ramp!r}"
                )
            speeds.append(velocity)
            accels.append(velocity / ramp if ramp > 0 else math.inf)
        travel = motor_travel(x_motor, y_motor)
        if "travel" not in timing and travel is not None:
            timing["travel"] = travel
        return cls(tuple(speeds), tuple(accels), settle_time, metric, **timing)

    def replace(self, **changes: Any) -> MotionModel:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def move_time(self, dx: ArrayLike, dy: ArrayLike) -> float | np.ndarray:
        """Seconds to move by ``(dx, dy)`` (broadcast over arrays), settle included.

        A zero-length move costs nothing (no settle).
        """
        dx = np.abs(np.asarray(dx, float))
        dy = np.abs(np.asarray(dy, float))
        t = self.travel_time(dx, dy)
        t = np.where((dx == 0) & (dy == 0), 0.0, t + self.settle_time)
        return float(t) if t.ndim == 0 else t

    def travel_time(self, dx: ArrayLike, dy: ArrayLike) -> np.ndarray:
        """Seconds the axes move for a displacement ``(dx, dy)``: trapezoids, no settle."""
        dx = np.abs(np.asarray(dx, float))
        dy = np.abs(np.asarray(dy, float))
        (vx, vy), (ax, ay) = self.velocity, self.acceleration
        if self.metric == "simultaneous":
            return np.maximum(axis_time(dx, vx, ax), axis_time(dy, vy, ay))
        if self.metric == "euclidean":
            return axis_time(np.hypot(dx, dy), min(vx, vy), min(ax, ay))
        return axis_time(dx, vx, ax) + axis_time(dy, vy, ay)

    def check_travel(self, x: float, y: float, what: str = "position") -> None:
        """Raise ValueError naming ``(x, y)`` if it lies outside :attr:`travel`."""
        if self.travel is None:
            return
        for axis, value, (low, high) in (("x", x, self.travel[0]), ("y", y, self.travel[1])):
            if not (low <= value <= high):
                raise ValueError(
                    f"{what} ({x!r}, {y!r}) is outside the travel range: {axis} = {value!r} "
                    f"not in [{low!r}, {high!r}]"
                )

    def check_velocity(self, vx: float, vy: float) -> None:
        """Raise ValueError naming the speed if ``|vx|`` or ``|vy|`` exceeds :attr:`velocity`."""
        for axis, value, limit in (("x", vx, self.velocity[0]), ("y", vy, self.velocity[1])):
            if not abs(value) <= limit:
                raise ValueError(
                    f"{axis} velocity {value!r} is above the {axis} motor's limit {limit!r} units/s"
                )

    def _params(self) -> np.ndarray:
        return np.array(
            [*self.velocity, *self.acceleration, self.settle_time, METRICS.index(self.metric)],
            float,
        )


def motion_from_flags(flags: Any) -> MotionModel:
    """The model of the command line's six beam-time flags, in pixel units, both axes alike.

    ``flags`` is anything with the attributes ``dwell``, ``velocity``, ``acceleration``,
    ``settle``, ``point_overhead`` and ``line_overhead`` (the parsed arguments of
    ``fastscan simulate`` or ``fastscan estimate``, or a ``SimulateConfig``); the model
    checks each value as its constructor does.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> flags = SimpleNamespace(dwell=0.001, velocity=500.0, acceleration=5000.0,
    ...                         settle=0.01, point_overhead=0.025, line_overhead=0.05)
    >>> motion_from_flags(flags).velocity
    (500.0, 500.0)
    """
    return MotionModel(
        velocity=(flags.velocity, flags.velocity),
        acceleration=(flags.acceleration, flags.acceleration),
        settle_time=flags.settle,
        dwell=flags.dwell,
        point_overhead=flags.point_overhead,
        line_overhead=flags.line_overhead,
    )


def check_motion(motion: object) -> MotionModel:
    """``motion`` itself if it is a :class:`MotionModel`, else a TypeError naming its type."""
    if not isinstance(motion, MotionModel):
        raise TypeError(
            f"motion must be a fastscan.motion.MotionModel, got {type(motion).__name__}"
        )
    return motion


def _seconds(value: object, name: str) -> float:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of seconds, got {value!r}") from None
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return seconds


def _pair(value: object, name: str) -> tuple[float, float]:
    try:
        pair = tuple(float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be two numbers (x, y), got {value!r}") from None
    if len(pair) != 2:
        raise ValueError(f"{name} must be two numbers (x, y), got {value!r}")
    return pair  # type: ignore[return-value]


def _travel(value: object) -> tuple[tuple[float, float], tuple[float, float]] | None:
    if value is None:
        return None
    try:
        x_range, y_range = value  # type: ignore[misc]
        out = (_pair(x_range, "travel x"), _pair(y_range, "travel y"))
    except (TypeError, ValueError):
        raise ValueError(
            f"travel must be ((x_min, x_max), (y_min, y_max)) or None, got {value!r}"
        ) from None
    for axis, (low, high) in zip("xy", out):
        if not (low <= high) or math.isnan(low) or math.isnan(high):
            raise ValueError(f"travel {axis} range must have min <= max, got {value!r}")
    return out


def _motor_name(motor: Any) -> str:
    return repr(getattr(motor, "name", motor))


def _read_signal(motor: Any, attr: str, axis: str) -> float:
    signal = getattr(motor, attr, None)
    if signal is None or not callable(getattr(signal, "get", None)):
        raise TypeError(
            f"{axis} motor {_motor_name(motor)} has no '{attr}' signal with .get(); "
            "from_motors needs motors with velocity and acceleration (e.g. ophyd EpicsMotor)"
        )
    try:
        return float(signal.get())
    except (TypeError, ValueError):
        raise ValueError(
            f"{axis} motor {_motor_name(motor)} {attr} is not a number: {signal.get()!r}"
        ) from None


def motor_travel(x_motor: Any, y_motor: Any) -> tuple[tuple[float, float], ...] | None:
    """Both motors' soft limits (EPICS ``.LLM``/``.HLM``) as ``((x_lo, x_hi), (y_lo, y_hi))``.

    None when either motor has none (no limit signals, or both 0: no soft limits);
    :meth:`MotionModel.from_motors` takes them as ``travel``.
    """
    limits = [_read_limits(motor, axis) for axis, motor in (("x", x_motor), ("y", y_motor))]
    return None if any(lim is None for lim in limits) else tuple(limits)


def _read_limits(motor: Any, axis: str) -> tuple[float, float] | None:
    low_sig = getattr(motor, "low_limit_travel", None)
    high_sig = getattr(motor, "high_limit_travel", None)
    if not all(callable(getattr(s, "get", None)) for s in (low_sig, high_sig)):
        return None
    low = _read_signal(motor, "low_limit_travel", axis)
    high = _read_signal(motor, "high_limit_travel", axis)
    if low == high == 0.0:  # EPICS: no soft limits
        return None
    return (min(low, high), max(low, high))


def axis_time(d: ArrayLike, v: float, a: float) -> np.ndarray:
    """Seconds for one axis to move ``|d|`` with top speed ``v`` and acceleration ``a``.

    ``2 sqrt(d / a)`` if ``d <= v**2 / a`` (triangle), else ``d / v + v / a``.
    """
    d = np.abs(np.asarray(d, float))
    if math.isinf(a):
        return d / v
    return np.where(d <= v * v / a, 2.0 * np.sqrt(d / a), d / v + v / a)


def move_times(from_xy: ArrayLike, to_xy: ArrayLike, motion: MotionModel | None = None) -> Any:
    """Seconds to move from ``from_xy`` to ``to_xy`` (arrays of (..., 2), broadcast)."""
    motion = MotionModel() if motion is None else motion
    a = np.asarray(from_xy, float)
    b = np.asarray(to_xy, float)
    if a.shape[-1:] != (2,) or b.shape[-1:] != (2,):
        raise ValueError(
            f"positions must have a last axis of length 2 (x, y), got {a.shape} and {b.shape}"
        )
    d = b - a
    return motion.move_time(d[..., 0], d[..., 1])


#: The nanoprobe model of issue 10, in pixel units (pixel pitch 1): both axes
#: 1000 px/s and 10,000 px/s^2, settle 10 ms, 25 ms per step point, 50 ms per
#: fly line, dwell 10 ms. ``fastscan simulate`` uses it by default.
NANOPROBE = MotionModel(
    velocity=(1000.0, 1000.0),
    acceleration=(10_000.0, 10_000.0),
    settle_time=0.01,
    dwell=0.01,
    point_overhead=0.025,
    line_overhead=0.05,
)

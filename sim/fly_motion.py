"""The simulated beamline's fly motion and position capture (the "world", not a time model).

A fly segment is flown the way a beamline with position capture does it
(PandABox, or a scaler with channel advance): the stage moves to a run-up
point, accelerates along the line, crosses the capture window at constant
velocity while the detector integrates one sample per ``period``, then
decelerates to rest. Everything is computed from the commanded profile, so the
captured positions and readings never depend on wall-clock jitter; the IOC and
the in-process flyer only decide how much real time to spend on it.

Geometry (``u`` the unit vector from ``start`` to ``end``, ``v`` the velocity
along the line, ``T`` the sample period)::

    run-up start --accelerate--> gate opens --n samples, v*T each--> gate closes --stop-->
                                  = start - u v T / 2                 = end + u v T / 2

Sample ``k`` integrates the path from ``start + u v T (k - 1/2)`` to
``start + u v T (k + 1/2)``; its captured position is the middle of that
stretch (a PandABox "mean" position capture) and its value is the image
averaged along the stretch (nearest-pixel image, each pixel weighted by the
length of path inside it). A row or column flown at one pixel per period
therefore reads exactly each pixel's value.

Examples
--------
>>> import numpy as np
>>> from fastscan.plans.grid import Grid
>>> grid = Grid(0.0, 5.0, 6, 0.0, 3.0, 4)
>>> image = np.arange(24.0).reshape(4, 6)
>>> profile = FlyProfile(start=(1.0, 2.0), end=(4.0, 2.0), velocity=10.0, period=0.1)
>>> profile.n_samples
4
>>> capture = fly_capture(image, grid, profile)
>>> capture.values.tolist()  # row 2, cols 1..4
[13.0, 14.0, 15.0, 16.0]
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from fastscan.plans.grid import Grid

__all__ = [
    "FlyCapture",
    "FlyProfile",
    "axis_move_time",
    "check_flight",
    "fly_capture",
    "path_average",
    "path_weights",
]

_EPS = 1e-9


def axis_move_time(distance: float, velocity: float, acceleration: float) -> float:
    """Seconds for one axis to move ``distance`` rest to rest (trapezoid or triangle)."""
    distance = abs(float(distance))
    if distance == 0.0:
        return 0.0
    if not math.isfinite(acceleration):
        return distance / velocity
    if distance >= velocity * velocity / acceleration:
        return distance / velocity + velocity / acceleration
    return 2.0 * math.sqrt(distance / acceleration)


def _axis_position(t: float, distance: float, velocity: float, acceleration: float) -> float:
    """Signed-distance-free progress (0..|distance|) of a rest-to-rest axis move at time t."""
    distance = abs(distance)
    total = axis_move_time(distance, velocity, acceleration)
    if t >= total or distance == 0.0:
        return distance
    if not math.isfinite(acceleration):
        return velocity * t
    t_acc = min(velocity / acceleration, total / 2.0)
    peak = acceleration * t_acc
    if t <= t_acc:
        return 0.5 * acceleration * t * t
    d_acc = 0.5 * acceleration * t_acc * t_acc
    t_cruise = total - 2.0 * t_acc
    if t <= t_acc + t_cruise:
        return d_acc + peak * (t - t_acc)
    left = total - t
    return distance - 0.5 * acceleration * left * left


def _pair(value: object, name: str) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair of numbers, got {value!r}") from None
    return a, b


@dataclass(frozen=True)
class FlyProfile:
    """One commanded fly segment and the stage it runs on.

    Parameters
    ----------
    start, end : (x, y)
        Motor positions of the first and last sample centres.
    velocity : float
        Speed along the line during capture, motor units per second (> 0).
    period : float
        Seconds per sample (the dwell, > 0).
    acceleration : (ax, ay)
        Per-axis acceleration, units/s^2 (> 0; ``inf`` = instant).
    move_velocity : (vx, vy)
        Per-axis top speed for the move to the run-up start.
    origin : (x, y) or None
        Where the stage is at kickoff (None: already at the run-up start).
    """

    start: tuple[float, float]
    end: tuple[float, float]
    velocity: float
    period: float
    acceleration: tuple[float, float] = (math.inf, math.inf)
    move_velocity: tuple[float, float] = (math.inf, math.inf)
    origin: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end", "acceleration", "move_velocity"):
            object.__setattr__(self, name, _pair(getattr(self, name), name))
        if self.origin is not None:
            object.__setattr__(self, "origin", _pair(self.origin, "origin"))
        if not all(math.isfinite(v) for v in (*self.start, *self.end)):
            raise ValueError(f"segment ends must be finite, got {self.start!r} -> {self.end!r}")
        if not (math.isfinite(self.velocity) and self.velocity > 0):
            raise ValueError(f"fly velocity must be a finite number > 0, got {self.velocity!r}")
        if not (math.isfinite(self.period) and self.period > 0):
            raise ValueError(f"sample period (dwell) must be > 0 seconds, got {self.period!r}")
        if not all(a > 0 for a in self.acceleration):
            raise ValueError(f"acceleration must be > 0 (inf = instant), got {self.acceleration}")
        if not all(v > 0 for v in self.move_velocity):
            raise ValueError(f"move_velocity must be > 0, got {self.move_velocity!r}")

    # --------------------------------------------------------------- geometry
    @property
    def length(self) -> float:
        """Distance between the first and last sample centres."""
        return math.hypot(self.end[0] - self.start[0], self.end[1] - self.start[1])

    @property
    def direction(self) -> tuple[float, float]:
        """Unit vector of flight (+x for a single-sample segment)."""
        length = self.length
        if length == 0.0:
            return (1.0, 0.0)
        return ((self.end[0] - self.start[0]) / length, (self.end[1] - self.start[1]) / length)

    @property
    def spacing(self) -> float:
        """Path covered per sample, ``velocity * period``."""
        return self.velocity * self.period

    @property
    def n_samples(self) -> int:
        """Samples captured: one per ``spacing`` from start to end, both included."""
        return int(math.floor(self.length / self.spacing + _EPS)) + 1

    @property
    def line_acceleration(self) -> float:
        """Acceleration along the line that both axes can follow."""
        ux, uy = self.direction
        limits = [a / abs(u) for a, u in zip(self.acceleration, (ux, uy)) if u != 0.0]
        return min(limits)

    @property
    def axis_velocity(self) -> tuple[float, float]:
        """Each axis's speed during capture."""
        ux, uy = self.direction
        return (abs(ux) * self.velocity, abs(uy) * self.velocity)

    @property
    def ramp_distance(self) -> float:
        """Run-up (and run-out) length along the line: ``v^2 / (2 a)``."""
        a = self.line_acceleration
        return 0.0 if math.isinf(a) else self.velocity**2 / (2.0 * a)

    @property
    def ramp_time(self) -> float:
        a = self.line_acceleration
        return 0.0 if math.isinf(a) else self.velocity / a

    def _along(self, distance: float) -> tuple[float, float]:
        ux, uy = self.direction
        return (self.start[0] + ux * distance, self.start[1] + uy * distance)

    @property
    def gate_open(self) -> tuple[float, float]:
        return self._along(-0.5 * self.spacing)

    @property
    def gate_close(self) -> tuple[float, float]:
        return self._along((self.n_samples - 0.5) * self.spacing)

    @property
    def run_up_start(self) -> tuple[float, float]:
        """Where the stage must be at rest before the segment."""
        return self._along(-0.5 * self.spacing - self.ramp_distance)

    @property
    def run_out_end(self) -> tuple[float, float]:
        """Where the stage comes to rest after the segment."""
        return self._along((self.n_samples - 0.5) * self.spacing + self.ramp_distance)

    def bounds(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """((x_min, x_max), (y_min, y_max)) the flight itself covers (run-up to rest)."""
        a, b = self.run_up_start, self.run_out_end
        return (min(a[0], b[0]), max(a[0], b[0])), (min(a[1], b[1]), max(a[1], b[1]))

    # --------------------------------------------------------------- timing
    @property
    def move_time(self) -> float:
        """Seconds from ``origin`` to the run-up start (axes move together)."""
        if self.origin is None:
            return 0.0
        target = self.run_up_start
        return max(
            axis_move_time(target[i] - self.origin[i], self.move_velocity[i], self.acceleration[i])
            for i in (0, 1)
        )

    @property
    def gate_time(self) -> float:
        """Seconds from kickoff to the first sample's start."""
        return self.move_time + self.ramp_time

    @property
    def duration(self) -> float:
        """Seconds from kickoff until the stage is at rest after the segment."""
        return self.gate_time + self.n_samples * self.period + self.ramp_time

    def sample_times(self) -> np.ndarray:
        """(n,) seconds from kickoff to the middle of each sample."""
        return self.gate_time + (np.arange(self.n_samples) + 0.5) * self.period

    def sample_positions(self) -> np.ndarray:
        """(n, 2) captured (x, y): the middle of each sample's stretch of path."""
        ux, uy = self.direction
        along = np.arange(self.n_samples) * self.spacing
        return np.stack([self.start[0] + ux * along, self.start[1] + uy * along], axis=1)

    def position_at(self, t: float) -> tuple[float, float]:
        """Stage (x, y) at ``t`` seconds after kickoff (at rest after the end)."""
        if t < self.move_time and self.origin is not None:
            target = self.run_up_start
            out = []
            for i in (0, 1):
                d = target[i] - self.origin[i]
                s = _axis_position(t, d, self.move_velocity[i], self.acceleration[i])
                out.append(self.origin[i] + math.copysign(s, d))
            return out[0], out[1]
        t = t - self.move_time
        a, v, ramp = self.line_acceleration, self.velocity, self.ramp_time
        flight = self.n_samples * self.period
        start = -0.5 * self.spacing - self.ramp_distance  # along-line, from `start`
        if t <= 0:
            s = 0.0
        elif t < ramp:
            s = 0.5 * a * t * t
        elif t < ramp + flight:
            s = self.ramp_distance + v * (t - ramp)
        elif t < 2 * ramp + flight:
            left = 2 * ramp + flight - t
            s = 2 * self.ramp_distance + v * flight - 0.5 * a * left * left
        else:
            s = 2 * self.ramp_distance + v * flight
        return self._along(start + s)


def path_average(image: np.ndarray, grid: Grid, a_xy: tuple[float, float],
                 b_xy: tuple[float, float]) -> float:  # fmt: skip
    """Mean of the nearest-pixel image along the straight path from ``a_xy`` to ``b_xy``.

    Each pixel counts with the length of path inside it (pixel boundaries at
    half-integer grid indices); off-grid stretches read the nearest edge pixel.
    A path inside one pixel returns that pixel's value exactly.
    """
    return _weighted_mean(image, path_weights(image.shape, grid, a_xy, b_xy))


def _weighted_mean(image: np.ndarray, weights: dict[tuple[int, int], float]) -> float:
    if len(weights) == 1:
        ((row, col),) = weights
        return float(image[row, col])
    total = sum(weights.values())
    return float(sum(w * image[rc] for rc, w in weights.items()) / total)


def path_weights(shape: tuple[int, int], grid: Grid, a_xy: tuple[float, float],
                 b_xy: tuple[float, float]) -> dict[tuple[int, int], float]:  # fmt: skip
    """The pixels a straight path crosses, each with its share of the path: what
    :func:`path_average` reads (the pixels a sample along that path reveals).

    Parameters
    ----------
    shape : (n_rows, n_cols)
        The image's grid (off-grid stretches count for the nearest edge pixel).
    grid : Grid
        Motor positions of the pixels.
    a_xy, b_xy : (x, y)
        The path's ends, motor units.

    Returns
    -------
    dict of (row, col) to float
        Fraction of the path in each pixel crossed (stretches under 1e-9 of it
        left out), in path order.
    """
    ends = grid.to_fractions(np.array([a_xy, b_xy], dtype=float))
    (r0, c0), (r1, c1) = ends
    cuts = [0.0, 1.0]
    for lo, hi in ((r0, r1), (c0, c1)):
        if hi != lo:
            first, last = sorted((lo, hi))
            for k in range(math.ceil(first - 0.5), math.floor(last - 0.5) + 1):
                t = (k + 0.5 - lo) / (hi - lo)
                if 0.0 < t < 1.0:
                    cuts.append(t)
    cuts.sort()
    n_rows, n_cols = shape
    weights: dict[tuple[int, int], float] = {}
    for t0, t1 in itertools.pairwise(cuts):
        if t1 - t0 < _EPS:
            continue
        tm = 0.5 * (t0 + t1)
        row = min(max(math.floor(r0 + tm * (r1 - r0) + 0.5), 0), n_rows - 1)
        col = min(max(math.floor(c0 + tm * (c1 - c0) + 0.5), 0), n_cols - 1)
        weights[(row, col)] = weights.get((row, col), 0.0) + (t1 - t0)
    return weights


@dataclass(frozen=True)
class FlyCapture:
    """What position capture returns for one segment: per sample x, y, time, value.

    Over element maps, ``channel_values`` (n, C) holds each element's counts and
    ``values`` their sum. ``pixels`` (the simulator's record, not a beamline's)
    holds, per sample, the (k, 2) int64 (row, col) of every pixel its reading
    depends on (:func:`path_weights`).
    """

    x: np.ndarray
    y: np.ndarray
    time: np.ndarray
    values: np.ndarray
    channel_values: np.ndarray | None = None
    pixels: tuple[np.ndarray, ...] = ()

    def revealed(self, n: int | None = None) -> np.ndarray:
        """(m, 2) int64 (row, col) of every pixel the first ``n`` samples read (None: all)."""
        picked = self.pixels[:n]
        return np.concatenate(picked) if picked else np.zeros((0, 2), np.int64)

    @property
    def n_samples(self) -> int:
        return len(self.values)


def fly_capture(
    image: np.ndarray,
    grid: Grid,
    profile: FlyProfile,
    *,
    noise: str | None = None,
    counts_scale: float = 1000.0,
    rng: np.random.Generator | None = None,
) -> FlyCapture:
    """Capture one segment: positions, times (from kickoff) and path-averaged readings.

    With ``noise="poisson"`` each reading is ``Poisson(value * counts_scale) /
    counts_scale``, drawn from ``rng`` in sample order (one draw per sample), so
    two simulators given the same seed and segments read the same values.

    ``image`` may be (C, H, W) element maps of expected counts: each element is
    path-averaged, Poisson noise is ``Poisson(counts)`` drawn for the (n, C)
    array at once (``counts_scale`` unused), ``channel_values`` holds them and
    ``values`` their sum.
    """
    if noise not in (None, "poisson"):
        raise ValueError(f"noise must be None or 'poisson', got {noise!r}")
    if image.ndim == 3:
        return _capture_maps(image, grid, profile, noise=noise, rng=rng)
    if image.shape != grid.shape:
        raise ValueError(f"image shape {image.shape} differs from grid shape {grid.shape}")
    positions = profile.sample_positions()
    ux, uy = profile.direction
    half = 0.5 * profile.spacing
    values = np.empty(len(positions))
    pixels = []
    for k, (x, y) in enumerate(positions):
        a = (x - ux * half, y - uy * half)
        b = (x + ux * half, y + uy * half)
        weights = path_weights(image.shape, grid, a, b)
        values[k] = _weighted_mean(image, weights)
        pixels.append(np.array(list(weights), np.int64).reshape(-1, 2))
    if noise == "poisson":
        if rng is None:
            raise ValueError("poisson noise needs an rng (numpy Generator)")
        values = rng.poisson(np.maximum(values, 0.0) * counts_scale) / counts_scale
    return FlyCapture(positions[:, 0].copy(), positions[:, 1].copy(), profile.sample_times(),
                      values, pixels=tuple(pixels))  # fmt: skip


def _capture_maps(maps: np.ndarray, grid: Grid, profile: FlyProfile, *, noise: str | None,
                  rng: np.random.Generator | None) -> FlyCapture:  # fmt: skip
    if maps.shape[1:] != grid.shape:
        raise ValueError(f"maps shape {maps.shape} differs from grid shape {grid.shape}")
    if noise == "poisson" and rng is None:
        raise ValueError("poisson noise needs an rng (numpy Generator)")
    captures = [fly_capture(m, grid, profile) for m in maps]
    counts = np.stack([c.values for c in captures], axis=1)
    if noise == "poisson":
        counts = rng.poisson(np.maximum(counts, 0.0)).astype(float)
    first = captures[0]
    return FlyCapture(first.x, first.y, first.time, counts.sum(axis=1), counts, first.pixels)


def check_flight(
    profile: FlyProfile,
    *,
    velocity_limit: tuple[float, float],
    travel: tuple[tuple[float, float], tuple[float, float]] | None = None,
    max_samples: int | None = None,
) -> FlyProfile:
    """Return ``profile`` or raise ValueError naming what the stage cannot do.

    ``velocity_limit`` is each axis's top speed; ``travel`` each axis's
    ``(low, high)`` range (None: unlimited), which must hold the whole flight,
    run-up and stop included.
    """
    for axis, limit, speed in zip("xy", velocity_limit, profile.axis_velocity):
        if speed > limit * (1 + 1e-9):
            raise ValueError(
                f"fly velocity {profile.velocity!r} units/s needs {speed!r} units/s on "
                f"{axis}, above the {axis} motor's limit {limit!r} units/s"
            )
    if travel is not None:
        for axis, (lo, hi), (low, high) in zip("xy", profile.bounds(), travel):
            if high > low and (lo < low - 1e-9 or hi > high + 1e-9):
                raise ValueError(
                    f"segment flight {axis} in [{lo!r}, {hi!r}] (run-up and stop included) is "
                    f"outside the {axis} motor's travel [{low!r}, {high!r}]"
                )
    if max_samples is not None and profile.n_samples > max_samples:
        raise ValueError(
            f"segment needs {profile.n_samples} samples, at most {max_samples} per flight"
        )
    return profile

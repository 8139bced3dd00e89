"""Scan-time estimate of a batch before it runs (reported next to the time it took).

Uses ``fastscan.route.route_time`` and ``fastscan.route.MotionModel.from_motors``
where the route module provides them; otherwise falls back to a local estimate
with the same model: axes move simultaneously with trapezoidal velocity
profiles, a leg takes the slower axis' time plus the settle time.
"""

from __future__ import annotations

import itertools
import logging
import math
from typing import Any

import numpy as np

from fastscan import route as _route

__all__ = ["MotionEstimator", "trapezoid_time"]

logger = logging.getLogger("fastscan.plans")


def trapezoid_time(distance: float, velocity: float, acceleration: float) -> float:
    """Seconds to travel ``distance`` from rest to rest (acceleration inf = instant)."""
    d = abs(float(distance))
    if d == 0.0:
        return 0.0
    if not math.isfinite(acceleration) or acceleration <= 0:
        return d / velocity
    if d >= velocity * velocity / acceleration:
        return d / velocity + velocity / acceleration
    return 2.0 * math.sqrt(d / acceleration)


def _fallback_route_time(points_xy: np.ndarray, start_xy: np.ndarray | None, motion: Any,
                         dwell: float) -> float:  # fmt: skip
    vx, vy = motion.velocity
    ax, ay = motion.acceleration
    settle = float(getattr(motion, "settle_time", 0.0))
    path = points_xy if start_xy is None else np.vstack([start_xy, points_xy])
    total = dwell * len(points_xy)
    for (x0, y0), (x1, y1) in itertools.pairwise(path):
        total += max(trapezoid_time(x1 - x0, vx, ax), trapezoid_time(y1 - y0, vy, ay)) + settle
    return total


def _motion_from_motors(x_motor: Any, y_motor: Any) -> Any:
    from_motors = getattr(_route.MotionModel, "from_motors", None)
    if from_motors is not None:
        return from_motors(x_motor, y_motor)
    velocities, accelerations = [], []
    for motor in (x_motor, y_motor):
        velocity = float(motor.velocity.get())
        accel_time = float(motor.acceleration.get())  # motor record ACCL: seconds to speed
        velocities.append(velocity)
        accelerations.append(velocity / accel_time if accel_time > 0 else math.inf)
    return _route.MotionModel(velocity=tuple(velocities), acceleration=tuple(accelerations))


class MotionEstimator:
    """Estimate the time of a batch; None when no motion model can be found.

    Parameters
    ----------
    motion : MotionModel or None
        None: ask the motors once (``MotionModel.from_motors`` or their velocity
        and acceleration signals); motors without them give no estimate.
    """

    def __init__(self, motion: Any, x_motor: Any, y_motor: Any) -> None:
        self._motion = motion
        self._motors = (x_motor, y_motor)
        self._asked = motion is not None

    @property
    def motion(self) -> Any:
        if not self._asked:
            self._asked = True
            try:
                self._motion = _motion_from_motors(*self._motors)
            except Exception as exc:  # simulated axes have no velocity: no estimate
                logger.info("no motion model from the motors (%s); no time estimates", exc)
                self._motion = None
        return self._motion

    def estimate(self, points_xy: np.ndarray, start_xy: np.ndarray | None,
                 dwell: float = 0.0) -> float | None:  # fmt: skip
        motion = self.motion
        if motion is None or len(points_xy) == 0:
            return None
        route_time = getattr(_route, "route_time", None)
        try:
            if route_time is not None:
                return float(route_time(points_xy, start_xy, motion=motion, dwell=dwell))
        except Exception as exc:
            logger.debug("route_time failed (%s); using the local estimate", exc)
        return _fallback_route_time(np.asarray(points_xy, float), start_xy, motion, dwell)

"""Scan-time estimate of a batch before it runs (reported next to the time it took).

The estimate is :func:`fastscan.route.route_time` (axes move together with
trapezoidal velocity profiles, plus settle and dwell) with the motion model of
the plan's sampler, or one read from the motors by
:meth:`fastscan.route.MotionModel.from_motors`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from fastscan.route import MotionModel, route_time

__all__ = ["MotionEstimator"]

logger = logging.getLogger("fastscan.plans")


class MotionEstimator:
    """Estimate the time of a batch; None when no motion model can be found.

    Parameters
    ----------
    motion : MotionModel or None
        None: ask the motors once (their velocity and acceleration signals);
        motors without them (e.g. simulated axes) give no estimate.
    """

    def __init__(self, motion: MotionModel | None, x_motor: Any, y_motor: Any) -> None:
        self._motion = motion
        self._motors = (x_motor, y_motor)
        self._asked = motion is not None

    @property
    def motion(self) -> MotionModel | None:
        if not self._asked:
            self._asked = True
            try:
                self._motion = MotionModel.from_motors(*self._motors)
            except Exception as exc:  # simulated axes have no velocity: no estimate
                logger.info("no motion model from the motors (%s); no time estimates", exc)
                self._motion = None
        return self._motion

    def estimate(
        self, points_xy: np.ndarray, start_xy: np.ndarray | None, dwell: float = 0.0
    ) -> float | None:
        """Seconds to visit ``points_xy`` in order from ``start_xy`` (None: no model)."""
        motion = self.motion
        if motion is None or len(points_xy) == 0:
            return None
        return float(route_time(points_xy, start_xy, motion=motion, dwell=dwell))

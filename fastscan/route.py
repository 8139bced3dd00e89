"""Placeholder route (nearest neighbour); the route helper replaces this module."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MotionModel:
    velocity: tuple[float, float] = (1.0, 1.0)
    acceleration: tuple[float, float] = (np.inf, np.inf)
    settle_time: float = 0.0
    metric: str = "simultaneous"


def plan_route(points_xy, start_xy=None, *, motion=None, end_xy=None, time_budget=None, seed=0):
    pts = np.asarray(points_xy, float).reshape(-1, 2)
    n = len(pts)
    left = list(range(n))
    pos = pts[0] if start_xy is None else np.asarray(start_xy, float)
    order = []
    while left:
        d = np.max(np.abs(pts[left] - pos), axis=1)
        j = left.pop(int(np.argmin(d)))
        order.append(j)
        pos = pts[j]
    return np.array(order, np.int64)

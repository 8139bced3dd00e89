"""The points of an ERD batch (by ERD, or motion-aware from the stage) and their route.

A mixin of :class:`fastscan.sampler.Sampler` (split from that module, same code); the
module constants it reads are read from :mod:`fastscan.sampler` at call time.
"""

from __future__ import annotations

import numpy as np

from fastscan import sampler as _sampler  # (that module imports this one)
from fastscan.selection import select_batch, select_batch_motion


class BatchChoice:
    """Batch selection and route of a suggestion (a Sampler mixin)."""

    def _select(self, count: int) -> np.ndarray:
        kwargs = {"offsets": self._table.offsets, "offset_dist": self._table.distances}
        if self.motion is None or self.motion_weight == 0:
            return select_batch(self._tiles, self._mask, count, spread=self.spread, **kwargs)
        position = self.position
        return select_batch_motion(
            self._tiles,
            self._mask,
            count,
            spread=self.spread,
            start=(0.0, 0.0) if position is None else position.astype(float),
            motion=self.motion,
            weight=self.motion_weight,
            pixel_pitch=self.pixel_pitch,
            **kwargs,
        )

    def _route(self, points: np.ndarray) -> np.ndarray:
        if len(points) < 2:
            return np.arange(len(points))
        x_step, y_step = self.pixel_pitch
        xy = np.stack([points[:, 1] * x_step, points[:, 0] * y_step], 1).astype(float)
        start = self.position
        start_xy = None if start is None else np.array([start[1] * x_step, start[0] * y_step])
        kicks = _sampler._ROUTE_KICKS_MIN + _sampler._ROUTE_KICKS_PER_POINT * len(points)
        return _sampler.plan_route(
            xy, start_xy, motion=self.motion, seed=self.seed, max_kicks=kicks
        )

"""What changed since the last decision of :class:`fastscan.fly.FlySampler`: the boxes of
the ERD that readings changed, and the level map (``"bisect"``) built or updated from them
and staged in the planner, so that a streamed plan does this while the next segment flies.
"""

from __future__ import annotations

import numpy as np

from fastscan.fly.level_map import LevelMap


class _Changes:
    """Mixin of :class:`fastscan.fly.FlySampler`: the ERD boxes changed since the last
    decision and the level map kept up to date with them."""

    def _build_levels(self) -> None:
        """Compute the level map over the whole grid; the planner takes all of it next."""
        origins = {axis: self._origins[axis] for axis in self._refine_axes}
        self._levels = LevelMap(
            self._sampler._erd,
            self._sampler._mask,
            origins,
            gap_power=self.gap_power,
            floor=self._level_floor,
        )
        self._changed = []  # the boxes changed since this map
        self._planner_full = True

    def _stage_levels(self) -> None:
        """Bring the level map up to these readings and stage its changes in the planner.

        Runs in each :meth:`ingest` once a decision has built the map (``"bisect"``,
        incremental), so that a streamed plan does this while the next segment flies
        and the decision after the last segment only settles its share; the scan is
        the same bit for bit (``tests/test_fly_level_map.py``).
        """
        if self.refine != "bisect" or not self._incremental_levels:
            return
        erd, measured = self._sampler._erd, self._sampler._mask
        regions, pixels = self._levels.update(erd, measured, self._changed)
        weights, pixels = self._planner_weights(regions, pixels)
        self._planner.stage(weights, regions, pixels)
        self._changed = []
        self._staged = True

    @staticmethod
    def _reading_boxes(points: np.ndarray, grow: int) -> list[tuple[int, int, int, int]]:
        """One box per run of neighbouring readings (a segment), grown by ``grow``."""
        jumps = np.flatnonzero(np.abs(np.diff(points, axis=0)).max(axis=1) > 1) + 1
        boxes = []
        for run in np.split(points, jumps):
            lo = run.min(axis=0) - grow
            hi = run.max(axis=0) + grow + 1
            boxes.append((int(lo[0]), int(hi[0]), int(lo[1]), int(hi[1])))
        return boxes

    def _note_change(self, points: np.ndarray, *, full: bool) -> None:
        """Add the boxes outside which the ERD has not changed since the last decision.

        One box per run of neighbouring readings (a segment), grown by the
        composed sampler's local-update reach (neighbour-table radius + 3 for the
        ring and the dilation); a full update (activation, rescale) changes all.
        """
        if full or self._sampler._table is None:
            self._changed = None
            return
        if self._changed is None:
            return
        ring = int(self._sampler._table.radius) + 3
        self._changed.extend(self._reading_boxes(points, ring))

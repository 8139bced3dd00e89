"""The axis choice of :class:`fastscan.fly.FlySampler`: probe lines across the coarse raster,
the coarse grid's and the coarse lattice's raster errors, and the variograms that decide
which axis (rows or columns) the scan refines along.
"""

from __future__ import annotations

import math

import numpy as np

from fastscan.fly.axis import axis_time_ratio, directional_variograms
from fastscan.fly.axis_coarse import COARSE_STEPS, coarse_raster_errors, coarse_time_ratio
from fastscan.fly.axis_grid import RASTER_KS, grid_time_ratio, line_raster_errors
from fastscan.fly.defaults import COARSE_ORIGIN, _line
from fastscan.fly.planner import sweep_order
from fastscan.fly.segment import Segment

#: Largest variogram lag the ``"auto"`` axis choice measures (pixels).
_MAX_LAG = 8


class _AxisChoice:
    """Mixin of :class:`fastscan.fly.FlySampler`: the choice of the axis to refine along
    (``fly_axis`` ``"probe"``, ``"grid"``, ``"coarse"``)."""

    def _across(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The coarse axis's view: channel values, mask and channel gains, coarse lines as rows."""
        inner = self._sampler
        values, mask = inner._values, inner._mask
        if self._line_axis == "columns":
            values, mask = values.transpose(0, 2, 1), mask.T
        return values, mask, inner._gains * inner._scale**2

    def _place_probes(self) -> list[Segment]:
        """``probe_lines`` whole lines across the coarse ones where the coarse lines change most.

        Candidates are on the lattice of the coarse spacing from the probe axis's
        origin; each is scored by the mean squared difference of the coarse
        readings within ``initial_spacing`` of it, along the lines and between
        neighbouring lines. The best ``probe_lines``, at least a
        ``1 / (2 probe_lines)`` share of the grid apart, are flown as one sweep
        from where the coarse raster ends.
        """
        values, mask, gains = self._across()
        coarse = np.flatnonzero(mask.all(axis=1))
        n = mask.shape[1]
        step = self.initial_spacing
        origin = self._origins["columns" if self._line_axis == "rows" else "rows"]
        spots = np.arange(origin, n, step)
        if len(spots) == 0 or len(coarse) == 0:
            return []
        lines = values[:, coarse]  # (C, n_coarse, n)
        along = np.zeros(n)
        along[:-1] = np.tensordot(gains, ((lines[:, :, 1:] - lines[:, :, :-1]) ** 2).mean(1), 1)
        between = np.zeros(n)
        if len(coarse) > 1:
            between = np.tensordot(gains, ((lines[:, 1:] - lines[:, :-1]) ** 2).mean(1), 1)
        window = np.ones(2 * step + 1)
        score = np.convolve(along, window, "same") + np.convolve(between, window, "same")
        order = spots[np.argsort(-score[spots], kind="stable")]
        gap = n / (2.0 * self.probe_lines)
        chosen: list[int] = []
        for k in order:
            if all(abs(int(k) - c) >= gap for c in chosen):
                chosen.append(int(k))
            if len(chosen) == self.probe_lines:
                break
        axis = "columns" if self._line_axis == "rows" else "rows"
        probes = [_line(self.shape, axis, k, False) for k in chosen]
        return sweep_order(probes, self._position_tuple())

    def _choose_grid_axis(self) -> None:
        """``"grid"``: refine along the axis whose rasters the whole coarse lines show cheaper.

        Down each whole column, every ``k``-th pixel rebuilt by linear
        interpolation is what a raster of every ``k``-th row leaves there; along
        each whole row, what a raster of columns leaves
        (:func:`fastscan.fly.axis_grid.line_raster_errors`, ``k`` in 16, 8, 4, 2).
        """
        inner = self._sampler
        values, mask = inner._values, inner._mask
        gains = inner._gains * inner._scale**2
        full_rows, full_columns = mask.all(axis=1), mask.all(axis=0)
        if full_rows.sum() < 1 or full_columns.sum() < 1:
            return  # nothing to compare (a grid too small for a line of each)
        ks = RASTER_KS
        row_errors = line_raster_errors(
            values[:, :, full_columns].transpose(0, 2, 1), ks, gains, self._origins["rows"]
        )
        column_errors = line_raster_errors(
            values[:, full_rows, :], ks, gains, self._origins["columns"]
        )
        seconds = [
            np.array([math.ceil(n / k) * line for k in ks])
            for n, line in zip(self.shape, self._line_seconds)
        ]
        self._axis_ratio = grid_time_ratio(row_errors, column_errors, *seconds, ks)
        self._refine_axes = ("columns",) if self._axis_ratio < 1.0 else ("rows",)
        self._planner = self._new_planner()
        self._levels = None  # rebuilt for the chosen axis at the next decision
        self._planner_ready = False

    def _axis_test_ready(self) -> bool:
        """Whether the axis test can run: ``"coarse"`` with ``coarse_level=1`` waits until
        every line of the first bisection level (``initial_spacing / 2``) is flown."""
        if self.fly_axis != "coarse" or self.coarse_level == 0:
            return True
        _, mask, _ = self._across()
        return bool(mask[self._origin :: max(self.initial_spacing // 2, 1)].all())

    def _choose_coarse_axis(self) -> None:
        """``"coarse"``: refine along the other axis if the coarse lines show it much cheaper.

        The lattice of every ``initial_spacing``-th pixel of the coarse lines
        holds rasters of both axes at ``COARSE_STEPS`` times that spacing
        (:func:`fastscan.fly.axis_coarse.coarse_raster_errors`); no line is added.
        """
        values, mask, gains = self._across()
        step = max(self.initial_spacing // 2**self.coarse_level, 1)
        coarse = np.arange(self._origin, mask.shape[0], step)
        coarse = coarse[mask[coarse].all(axis=1)]
        n = mask.shape[1]
        other_axis = "columns" if self._line_axis == "rows" else "rows"
        origin = min(COARSE_ORIGIN, n - 1)  # the lattice as the coarse lines' own origin
        steps = COARSE_STEPS[self.coarse_level]
        if min(len(coarse), len(range(origin, n, step))) < 2 * max(steps):
            return  # too few coarse lines or lattice pixels to tell: keep the coarse axis
        across, along = coarse_raster_errors(
            values[:, coarse], step, origin=origin, steps=steps, gains=gains
        )
        rows = self._line_axis == "rows"
        row_errors, column_errors = (across, along) if rows else (along, across)
        ks = [s * step for s in steps]
        self._axis_ratio = coarse_time_ratio(
            row_errors, column_errors, self.shape, self._line_seconds, ks
        )
        other = self._axis_ratio if rows else 1.0 / self._axis_ratio
        if other < self.switch_ratio:
            self._refine_axes = (other_axis,)
            self._origins[other_axis] = origin  # bisection onto the lattice's lines
            self._planner = self._new_planner()
            self._levels = None  # rebuilt for the new axis at the next decision
            self._planner_ready = False

    def _choose_axis(self) -> None:
        """``"probe"``: refine along the other axis only if it is modelled to be cheaper.

        The variograms compare like with like: down the probe lines, and along
        the coarse lines within ``initial_spacing`` of a probe.
        """
        values, mask, gains = self._across()
        probes = [p.start[1] if self._line_axis == "rows" else p.start[0] for p in self._probes]
        if not probes:
            return
        near = np.zeros(mask.shape[1], bool)
        for k in probes:
            near[max(0, k - self.initial_spacing) : k + self.initial_spacing + 1] = True
        coarse = mask.all(axis=1)
        along, _ = directional_variograms(values, mask & coarse[:, None] & near, _MAX_LAG, gains)
        on_probes = np.zeros(mask.shape, bool)
        on_probes[:, probes] = True
        _, across = directional_variograms(values, on_probes, _MAX_LAG, gains)
        if not (np.isfinite(along).all() and np.isfinite(across).all()):
            return  # too small a grid to tell: keep the coarse axis
        rows = self._line_axis == "rows"
        seconds = self._line_seconds if rows else self._line_seconds[::-1]
        n_lines = self.shape if rows else self.shape[::-1]
        self._axis_ratio = axis_time_ratio(along, across, seconds, n_lines)
        if self._axis_ratio < self.switch_ratio:
            self._refine_axes = ("columns" if rows else "rows",)
            self._planner = self._new_planner()
            self._levels = None  # rebuilt for the new axis at the next decision
            self._planner_ready = False

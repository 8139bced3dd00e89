"""One decision of :class:`fastscan.fly.FlySampler` after the coarse raster: the lattice
lines (``lattice``), the planner's picks (levels updated, flat lines scaled), the sweep of
near-equal picks (compact with ``sweep_pool``, in a cheaper order with ``sweep_tour``) and the
raster-like sweep passes (``sweep_window``), capped at the coverage.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from fastscan.fly.defaults import line_costs
from fastscan.fly.lattice import flat_runs, fly_runs, min_flat_run
from fastscan.fly.planner import Pick, sweep_order
from fastscan.fly.segment import Segment
from fastscan.fly.sweep_band import compact_sweep
from fastscan.fly.sweep_tour import shortest_tour
from fastscan.motion import axis_time


class _Decisions:
    """Mixin of :class:`fastscan.fly.FlySampler`: the picks of one decision after the
    coarse raster (lattice lines, planner choice, sweeps and sweep passes)."""

    def _lattice_picks(self) -> list[Segment]:
        """``lattice``: the next sweep of lattice lines (trimmed), or [] once it is complete."""
        rows = self._line_axis == "rows"
        mask = self._sampler._mask if rows else self._sampler._mask.T
        erd = self._sampler._erd if rows else self._sampler._erd.T
        while self._lattice_todo and not self._lattice_todo[0][1]:
            self._lattice_todo.pop(0)
        if not self._lattice_todo:
            return []
        s, lines = self._lattice_todo[0]
        lines.sort(key=lambda k: -float(erd[k].sum()))  # most ERD first (stable on ties)
        n = max(self.batch_size, self.sweep)
        chosen, lines[:] = lines[:n], lines[n:]
        values = np.moveaxis(self._sampler._values, 0, -1)
        if not rows:
            values = values.transpose(1, 0, 2)
        fixed, pixel_time = line_costs(self.motion)
        axis = 0 if rows else 1
        min_run = min_flat_run(fixed[axis], pixel_time[axis])
        n_cap = int(math.ceil(self.max_coverage * mask.size - 1e-9))
        room = n_cap - self._sampler.n_measured
        segments = []
        for k in chosen:
            todo = ~mask[k]
            if self.lattice_trim > 0:
                flat = flat_runs(values, mask, k, reach=s, tol=self.lattice_trim)
                if self.lattice_skip == "flat":
                    skip = flat
                else:  # readings on both sides that disagree
                    known = flat_runs(values, mask, k, reach=s, tol=math.inf)
                    skip = known & ~flat
                runs = fly_runs(skip | ~todo, min_run)
            else:
                runs = fly_runs(~todo, min_run)
            for a, b in runs:
                if not todo[a : b + 1].any() or room <= 0:
                    continue
                room -= b - a + 1
                ends = ((k, a), (k, b)) if rows else ((a, k), (b, k))
                segments.append(Segment(*ends))
        if not segments:
            return self._lattice_picks()  # nothing left to fly on these lines
        return sweep_order(segments, self._position_tuple())

    def _decide(self) -> list[Pick]:
        if self.refine == "bisect":
            # candidates move with every reading (a gap's midpoint along a whole column);
            # one map of union_level_weights serves both directions, updated where the
            # readings since the last decision changed it
            # (or rebuilt after a full ERD update, see ingest)
            ready = self._planner_ready and self._changed == []  # took this map already
            staged = (
                self._staged
                and self._changed == []
                and self._levels is not None
                and not self._planner_full
            )
            self._planner_ready = self._staged = False
            if staged:  # the ingests updated the map: the planner settles what they staged
                weights, pixels = self._planner_weights([])
                self._planner.update(weights, [], pixels)
            elif not ready:
                if self._levels is None or self._changed is None or not self._incremental_levels:
                    self._build_levels()
                else:
                    erd, measured = self._sampler._erd, self._sampler._mask
                    regions, pixels = self._levels.update(erd, measured, self._changed)
                if self._planner_full:  # first decision on a new map: compare all of it
                    if self._flat_pixels_on():  # (for the axes of this planner)
                        self._update_flat(None)
                    self._planner.update(self._planner_weights()[0])
                    self._planner_full = False
                else:
                    weights, pixels = self._planner_weights(regions, pixels)
                    self._planner.update(weights, regions, pixels)
        else:
            self._planner.update(self._sampler._erd, self._changed)
        self._changed = []
        late = (
            self.sweep_until < 1
            and self._sampler.n_measured >= self.sweep_until * self._sampler._mask.size
        )
        sweeping = self.sweep and (not late or self.sweep_share_late is not None)
        share = self.sweep_share_late if late else self.sweep_share
        pool = self.sweep_pool if sweeping and not self.sweep_window else 0
        if sweeping and self.sweep_window:
            picks = self._pass_picks()
        else:
            picks = self._planner.choose(
                self._sampler.measured_mask,
                max_segments=max(self.batch_size, self.sweep, pool)
                if sweeping
                else self.batch_size,
                time_budget=self.decision_time,
                position=self._position_tuple(),
                stage=self._stage if self.move_aware else None,
                line_scale=self._line_scale(),
            )
            self._last_rate = picks[0].rate if picks else 0.0
        if sweeping and picks and not self.sweep_window:
            # one pass of parallel lines (along the best pick's axis); past batch_size, only
            # picks worth nearly as much as the best: where the ERD is flat their order says
            # little and the sweep saves moves, where it is concentrated the next decision
            # should see the readings first
            axis, floor = picks[0].segment.is_row, share * picks[0].rate
            n = self.batch_size
            while n < len(picks) and picks[n].rate >= floor:
                n += 1
            picks = [p for p in picks[:n] if p.segment.is_row == axis]
            if len(picks) > max(self.batch_size, self.sweep):  # sweep_pool: a compact sweep
                picks = compact_sweep(
                    picks, max(self.batch_size, self.sweep), self._position_tuple(),
                    self._line_move(axis),
                )  # fmt: skip
        n_cap = int(math.ceil(self.max_coverage * self._sampler._mask.size - 1e-9))
        room = n_cap - self._sampler.n_measured
        kept, new = [], 0
        for pick in picks:  # never plan far past the coverage cap
            if new >= room:
                break
            kept.append(pick)
            new += pick.segment.n_pixels
        if self.sweep and self.flat_ends > 0:
            kept = [self._trim_flat_ends(pick) for pick in kept]
        if sweeping and len(kept) > 1:
            by_ends = {frozenset((p.segment.start, p.segment.end)): p for p in kept}
            order = sweep_order([p.segment for p in kept], self._position_tuple())
            if self.sweep_tour:  # less move time; the stage ends where the sweep ends
                order = shortest_tour(order, self._position_tuple(), self._stage, keep_last=True)
            kept = [
                Pick(seg, pick.erd, pick.seconds)
                for seg in order
                for pick in [by_ends[frozenset((seg.start, seg.end))]]
            ]
        return kept

    def _line_move(self, rows: bool) -> Callable[[float], float]:
        """Seconds of a stage move of ``d`` lines across rows (``rows``) or columns, as the
        planner times moves (``move_weight`` included)."""
        v_x, a_x, v_y, a_y = self._stage
        v, a = (v_y, a_y) if rows else (v_x, a_x)
        return lambda d: float(axis_time(d, v, a))

    def _pass_picks(self) -> list[Pick]:
        """``sweep_window``: the next picks of the sweep pass, in the window ahead of the stage."""
        planner, measured = self._planner, self._sampler.measured_mask
        position = self._position_tuple()
        scale = self._line_scale()
        for _ in range(4 * (max(self.shape) // self.sweep_window + 2)):
            if self._pass is None:  # a new pass, along the best line's axis, from the stage
                best = planner.choose(measured, max_segments=1, line_scale=scale)
                self._last_rate = best[0].rate if best else 0.0
                if not best:
                    return []
                axis = 0 if best[0].segment.is_row else 1
                here = 0.0 if position is None else position[axis]
                direction = -self._pass_direction
                if direction == 0:  # the first pass: towards the far edge
                    direction = 1 if here < self.shape[axis] / 2 else -1
                self._pass_direction = direction
                self.n_passes += 1
                self._pass = [axis, direction, round(here), self.sweep_share * best[0].rate]
            axis, direction, front, rate_floor = self._pass
            n_lines = self.shape[axis]
            if not 0 <= front < n_lines:
                self._pass = None
                continue
            if direction > 0:
                window = (axis, front, front + self.sweep_window)
            else:
                window = (axis, front - self.sweep_window + 1, front + 1)
            picks = planner.choose(
                measured,
                max_segments=max(self.batch_size, self.sweep),
                time_budget=self.decision_time,
                position=position,
                stage=self._stage if self.move_aware else None,
                window=window,
                min_rate=rate_floor,
                line_scale=scale,
            )
            if picks:
                lines = [p.segment.start[axis] for p in picks]
                self._pass[2] = (max(lines) + 1) if direction > 0 else (min(lines) - 1)
                return picks
            self._pass[2] = front + direction * self.sweep_window
        # (not reached while sweep_share < 1: each pass holds its best line)
        self._pass = None
        return self._planner.choose(
            measured, max_segments=self.batch_size, position=position,
            stage=self._stage if self.move_aware else None,
        )  # fmt: skip

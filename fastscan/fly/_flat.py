"""Flat regions in :class:`fastscan.fly.FlySampler`: lines between agreeing whole lines
(``flat_lines``, :func:`flat_line_scale`), flat end runs left out of picks (``flat_ends``),
flat-bounded pixels discounted while choosing (``flat_pixel_share``) and the flat-scene
switch (``flat_scene``).
"""

from __future__ import annotations

import numpy as np

from fastscan.erd.floor import line_lattice_flat_share
from fastscan.fly.defaults import FLAT_ENDS, FLAT_ENDS_KEEP, FLAT_LINE_SHARE
from fastscan.fly.flat_pixels import FlatDiscount
from fastscan.fly.jump import jump_line_scale
from fastscan.fly.lattice import trim_flat_ends
from fastscan.fly.planner import Pick
from fastscan.fly.segment import Segment


class _FlatLines:
    """Mixin of :class:`fastscan.fly.FlySampler`: ``flat_lines``, ``flat_ends``,
    ``flat_pixel_share`` and ``flat_scene``."""

    def _trim_flat_ends(self, pick: Pick) -> Pick:
        """``flat_ends``: ``pick`` without its flat end runs, flown the same way."""
        segment = pick.segment
        if segment.n_pixels < 2:
            return pick
        sampler = self._sampler
        values, mask = np.moveaxis(sampler._values, 0, -1), sampler._mask
        axis = 0 if segment.is_row else 1
        if axis:
            values, mask = values.transpose(1, 0, 2), mask.T
        line = segment.start[axis]
        a, b = segment.start[1 - axis], segment.end[1 - axis]
        first, last = trim_flat_ends(
            values, mask, line, min(a, b), max(a, b), reach=self.initial_spacing,
            tol=self.flat_ends, span=np.asarray(sampler._ref_range, float),
        )  # fmt: skip
        if (first, last) == (min(a, b), max(a, b)) or mask[line, first : last + 1].all():
            return pick  # nothing to trim, or nothing new left: the pick as it was
        if last - first + 1 < FLAT_ENDS_KEEP * (abs(b - a) + 1):
            return pick  # mostly flat: chosen for ERD on flat pixels, its rest is too short
        self._remember_ends(values, mask, axis, line, (min(a, b), first - 1), (last + 1, max(a, b)))
        ends = [(line, first), (line, last)] if axis == 0 else [(first, line), (last, line)]
        trimmed = Segment(*(ends if a <= b else ends[::-1]))
        return Pick(trimmed, pick.erd, self._planner.seconds(axis, trimmed.n_pixels))

    def _flat_pixels_on(self) -> bool:
        """``flat_pixel_share`` acts: short-dwell sweeps, coarse-to-fine levels, share < 1."""
        return bool(self.sweep) and self.flat_pixel_share < 1 and self.refine == "bisect"

    def _resume_flat(self) -> bool:
        """``flat_pixel_resume``: the plan at the flat pixels' share found nothing left to
        gain below ``max_coverage``; from now on they keep ``flat_pixel_resume`` of their
        weight (once: True if the share changed, and the next decision compares the whole
        map again)."""
        resume = self.flat_pixel_resume
        if resume is None or not self._flat_pixels_on() or self._levels is None:
            return False
        if resume <= self._flat_share_now:
            return False
        self._flat_share_now = resume
        self._flat_discount = None  # rebuilt at the new share by the next decision
        self._planner_full, self._planner_ready, self._staged = True, False, False
        return True

    def _jump_due(self) -> bool:
        """``line_jump``: the coverage has reached it (short-dwell sweeps, ``"bisect"``)."""
        return (
            self.line_jump is not None
            and bool(self.sweep)
            and self.refine == "bisect"
            and self._levels is not None
            and self._sampler.n_measured >= self.line_jump * self._sampler._mask.size
        )

    def _line_scale(self) -> tuple[np.ndarray | None, np.ndarray | None] | None:
        """The planner's per-line factors: ``flat_lines``' times ``line_jump``'s."""
        flat = self._flat_line_scale()
        if not self._jump_due():
            return flat
        sampler = self._sampler
        jump = jump_line_scale(
            np.moveaxis(sampler._values, 0, -1), sampler._mask, self._levels.weights > 0,
            reach=self.initial_spacing, span=np.asarray(sampler._ref_range, float).reshape(-1),
            axes=self._planner._axis_ids,
        )  # fmt: skip
        if flat is None:
            return jump
        rows, cols = (j if f is None else f if j is None else f * j for f, j in zip(flat, jump))
        return rows, cols

    def _update_flat(self, boxes: list[tuple[int, int, int, int]] | None) -> None:
        """``flat_pixel_share``: the flat-bounded pixels within ``boxes`` (None: the whole
        grid, for the axes of the planner now) brought up to date with the readings."""
        sampler = self._sampler
        if boxes is None or self._flat_discount is None:
            boxes = None
            self._flat_discount = FlatDiscount(
                self.shape, share=self._flat_share_now, ends=self.flat_pixel_ends,
                reach=self.initial_spacing, tol=self.flat_ends if self.flat_ends > 0 else FLAT_ENDS,
            )  # fmt: skip
        self._flat_discount.update(
            np.moveaxis(sampler._values, 0, -1), sampler._mask,
            np.asarray(sampler._ref_range, float).reshape(-1),
            axes=self._planner._axis_ids, boxes=boxes,
        )  # fmt: skip

    def _planner_weights(
        self,
        regions: list[tuple[int, int, int, int]] | None = None,
        pixels: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The level map's weights as the planner takes them, and the changed ``pixels``
        to pass with ``regions`` (the level map's changes; None: the whole map); with
        ``flat_pixel_share``, discounted (:meth:`FlatDiscount.weights`)."""
        weights = self._levels.weights
        if self._flat_discount is None or not self._flat_pixels_on():
            return weights, pixels
        return self._flat_discount.weights(weights, regions, pixels)

    def _remember_ends(self, values, mask, axis, line, *runs) -> None:
        """Mark the left-out ``runs`` of ``line`` (on the grid ``values``/``mask`` of
        ``axis``, transposed for columns), each with the nearest reading across the line."""
        if self._ends_left is None:
            self._ends_left = np.zeros(self.shape, bool)
            self._ends_fill = np.zeros(self._sampler._values.shape)
        for lo, hi in runs:
            for pos in range(lo, hi + 1):
                if mask[line, pos]:
                    continue
                for d in range(1, self.initial_spacing + 1):
                    near = [r for r in (line - d, line + d) if 0 <= r < mask.shape[0]]
                    near = [r for r in near if mask[r, pos]]
                    if near:
                        where = (line, pos) if axis == 0 else (pos, line)
                        self._ends_left[where] = True
                        self._ends_fill[(slice(None), *where)] = values[near[0], pos]
                        break

    def _flat_line_scale(self) -> tuple[np.ndarray | None, np.ndarray | None] | None:
        """``flat_lines``: per axis, ``flat_share`` for lines between agreeing lines, else 1."""
        if not ((self.sweep or self.flat_lines_everywhere) and self.flat_lines > 0):
            return None
        sampler = self._sampler
        mask, values = sampler._mask, sampler._values
        reuse = self._ends_left is None  # (flat_ends' fills are replaced by readings later)
        if self._ends_left is not None:  # flat_ends: a line without its flat ends is whole
            left = self._ends_left & ~mask
            values = np.where(left[None], self._ends_fill, values)
            mask = mask | left
        span = np.asarray(sampler._ref_range, float).reshape(-1, 1)
        scale = []
        for axis in (0, 1):
            if axis in self._planner._axis_ids:
                tolerance = self.flat_lines * span
                # a line's scale depends only on the whole lines (readings never change) and
                # the tolerance: reuse the last one until either changes (2048 x 2048: the
                # comparison of the whole lines is most of the cost); not with flat_ends' fills
                whole = np.flatnonzero(mask.all(axis=1 - axis))
                key = (whole.tobytes(), tolerance.tobytes())
                cached = self._flat_scale_cache.get(axis)
                if not reuse or cached is None or cached[0] != key:
                    found = flat_line_scale(
                        mask, values, tolerance, self.flat_share, axis=axis, edges=self.flat_edges
                    )
                    cached = self._flat_scale_cache[axis] = (key, found)
                scale.append(cached[1])
            else:
                scale.append(None)
        return scale[0], scale[1]

    def _measure_flat_scene(self) -> None:
        """``flat_scene``: measure the coarse lattices' flat share (once, at activation);
        at or above ``flat_scene`` charge partial segments ``flat_scene_line_bias`` from now on."""
        rows = self._line_axis == "rows"
        points, readings = self._sampler._gained_readings()
        shares = [
            line_lattice_flat_share(
                points,
                values,
                self.k,
                spacing=self.initial_spacing,
                axis=0 if rows else 1,
                origin=self._origin,
            )
            for values in readings
        ]
        self._flat_scene_share = min(shares, default=0.0)
        if self._flat_scene_share >= self.flat_scene:
            self._planner_costs = self._flat_scene_costs
            self._level_floor = 0.0
            self._planner = self._new_planner()
            self._levels = None  # built on the new floor at the next full update
            self._planner_ready = False
            self._planner_full = True


def flat_line_scale(
    measured: np.ndarray,
    values: np.ndarray,
    tolerance: np.ndarray,
    share: float = FLAT_LINE_SHARE,
    *,
    axis: int = 0,
    edges: bool = False,
) -> np.ndarray:
    """Per line: ``share`` where the nearest whole measured lines agree, else 1.

    ``measured`` (n_rows, n_cols) bool, ``values`` (C, n_rows, n_cols),
    ``tolerance`` (C, 1) in reading units; ``axis`` 0 scores the rows, 1 the
    columns. A line counts as flat when whole measured lines lie on both sides
    of it and differ by at most ``tolerance`` at every pixel (every channel);
    measured lines keep 1, and so do the edge lines (outside the first or the
    last whole line) unless ``edges``: then they count as flat when the two
    whole lines nearest that edge agree.

    Examples
    --------
    >>> import numpy as np
    >>> values = np.zeros((1, 9, 4)); values[0, 8] = 5.0
    >>> measured = np.zeros((9, 4), bool); measured[[0, 4, 8]] = True
    >>> flat_line_scale(measured, values, np.array([[0.1]])).tolist()
    [1.0, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0, 1.0]
    >>> flat_line_scale(measured.T, values.transpose(0, 2, 1), np.array([[0.1]]), axis=1)[:4]
    array([1. , 0.1, 0.1, 0.1])
    """
    n_lines = measured.shape[axis]
    scale = np.ones(n_lines)
    whole = np.flatnonzero(measured.all(axis=1 - axis))
    above, below = whole[:-1], whole[1:]
    if not edges:  # only the gaps between them count
        gaps = below - above >= 2
        above, below = above[gaps], below[gaps]
    if not len(above):
        return scale
    diff = np.abs(np.take(values, below, axis=1 + axis) - np.take(values, above, axis=1 + axis))
    tolerance = np.asarray(tolerance, float).reshape(-1, 1, 1)
    agree = (diff <= tolerance).all(axis=(0, 2 - axis))
    for a, b in zip(above[agree], below[agree], strict=True):
        scale[a + 1 : b] = share
    if edges:
        if agree[0]:
            scale[: above[0]] = share
        if agree[-1]:
            scale[below[-1] + 1 :] = share
    return scale

"""Flat-bounded pixels of a fly scan and the planner's weights with their discount.

``FlySampler(flat_pixel_share=...)`` (short-dwell sweeps): while the planner
chooses, each unmeasured pixel whose readings on both sides agree (the test of
:func:`fastscan.fly.lattice.trim_flat_ends`) keeps ``share`` of its weight;
with ``ends`` only the flat pixels of each line's end runs do
(:func:`fastscan.fly.lattice.flat_end_runs`), so a line is valued as
``flat_ends`` flies it. :class:`FlatDiscount` keeps the flat pixels up to date
by boxes around new readings (a reading changes them only within ``reach``
lines of it) and keeps the discounted copy of the weights the planner takes,
naming the pixels whose discount changed.

Examples
--------
>>> import numpy as np
>>> from fastscan.fly.flat_pixels import FlatDiscount
>>> values = np.zeros((9, 6, 1)); measured = np.zeros((9, 6), bool); measured[[0, 8]] = True
>>> discount = FlatDiscount((9, 6), share=0.1, ends=True, reach=8, tol=0.01)
>>> discount.update(values, measured, np.ones(1), axes=(0,))
>>> weights, _ = discount.weights(np.ones((9, 6)))
>>> float(weights[4, 2])
0.1
"""

from __future__ import annotations

import numpy as np

from fastscan.fly.lattice import _refresh_end_runs, flat_pixel_map

__all__ = ["FlatDiscount"]

Box = tuple[int, int, int, int]


class FlatDiscount:
    """Which pixels are flat-bounded, and the planner's weights with them discounted.

    Parameters
    ----------
    shape : (n_rows, n_cols)
    share : float
        Share of its weight a discounted pixel keeps (its positive weight only).
    ends : bool
        Discount only the flat pixels of each line's end runs.
    reach : int
        Farthest line (pixels) a reading on either side may lie.
    tol : float
        Readings agree within this share of each channel's span.
    """

    def __init__(
        self, shape: tuple[int, int], *, share: float, ends: bool, reach: int, tol: float
    ) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        self.share, self.ends = float(share), bool(ends)
        self.reach, self.tol = int(reach), float(tol)
        self.flat = np.zeros(self.shape, bool)  #: the pixels discounted
        self._by_axis = {axis: np.zeros(self.shape, bool) for axis in (0, 1)}
        self._ends_by_axis = {axis: np.zeros(self.shape, bool) for axis in (0, 1)}
        self._no_ends = np.zeros(self.shape, bool)  # (the other axis when one is scored)
        self._changed: list[np.ndarray] = []  # (n, 2) pixels each, since weights() last ran
        self._discounted: np.ndarray | None = None

    def update(
        self,
        values: np.ndarray,
        measured: np.ndarray,
        span: np.ndarray,
        *,
        axes: tuple[int, ...],
        boxes: list[Box] | None = None,
    ) -> None:
        """Recompute the flat pixels within ``boxes`` (None: the whole grid), across the
        rows (axis 0) or the columns (axis 1) for each of ``axes`` the planner scores
        (its weights are shared: a pixel flat for either is discounted). With ``ends``,
        the end runs of the boxes' whole lines are recomputed. ``values`` (n_rows,
        n_cols, C), ``span`` (C,)."""
        n_rows, n_cols = self.shape
        if boxes is None:
            for array in (self.flat, *self._by_axis.values(), *self._ends_by_axis.values()):
                array[:] = False
            self._changed, self._discounted = [], None
            boxes = [(0, n_rows, 0, n_cols)]
        for r0, r1, c0, c1 in boxes:
            r0, r1, c0, c1 = max(r0, 0), min(r1, n_rows), max(c0, 0), min(c1, n_cols)
            if r0 >= r1 or c0 >= c1:
                continue
            for axis in axes:
                if axis == 0:
                    found = flat_pixel_map(values, measured, reach=self.reach, tol=self.tol,
                                           span=span, box=(r0, r1, c0, c1))  # fmt: skip
                else:
                    found = flat_pixel_map(
                        values.transpose(1, 0, 2), measured.T, reach=self.reach, tol=self.tol,
                        span=span, box=(c0, c1, r0, r1),
                    ).T  # fmt: skip
                self._by_axis[axis][r0:r1, c0:c1] = found
            if self.ends:
                self._refresh_ends(measured, axes, (r0, r1, c0, c1))
                continue
            where = (slice(r0, r1), slice(c0, c1))
            flat = np.logical_or.reduce([self._by_axis[axis][where] for axis in axes])
            changed = np.argwhere(self.flat[where] != flat)
            if len(changed):
                self._changed.append(changed + np.array([r0, c0], np.int64))
            self.flat[where] = flat

    def _refresh_ends(self, measured: np.ndarray, axes: tuple[int, ...], box: Box) -> None:
        """End runs depend on the whole line: those of the box's rows and columns."""
        r0, r1, c0, c1 = box
        for axis in axes:
            other = self._ends_by_axis[1 - axis] if len(axes) == 2 else self._no_ends
            views = [self._by_axis[axis], measured, self._ends_by_axis[axis], other, self.flat]
            lo, hi = (r0, r1) if axis == 0 else (c0, c1)
            if axis == 1:
                views = [v.T for v in views]
            changed = np.empty((views[0].shape[1] * (hi - lo), 2), np.int64)
            n = _refresh_end_runs(*views, lo, hi, changed)
            if n:
                self._changed.append(changed[:n] if axis == 0 else changed[:n, ::-1])

    def weights(
        self,
        weights: np.ndarray,
        regions: list[Box] | None = None,
        pixels: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``weights`` discounted, and the ``pixels`` to pass the planner with ``regions``.

        ``regions`` and ``pixels`` are where ``weights`` changed since the last call
        (None: anywhere); the discounted copy is brought up to date there and at the
        pixels whose discount changed since, which are added to ``pixels``.
        """
        changed, self._changed = self._changed, []
        share = self.share
        if regions is None or self._discounted is None:
            self._discounted = np.where(self.flat & (weights > 0), share * weights, weights)
            return self._discounted, pixels
        out = self._discounted
        for r0, r1, c0, c1 in regions:
            box = (slice(max(r0, 0), max(r1, 0)), slice(max(c0, 0), max(c1, 0)))
            w = weights[box]
            out[box] = np.where(self.flat[box] & (w > 0), share * w, w)
        parts = [np.asarray(pixels, np.int64).reshape(-1, 2)] if pixels is not None else []
        parts += changed
        if not parts:
            return out, pixels
        every = np.concatenate(parts)
        rows, cols = every[:, 0], every[:, 1]
        w = weights[rows, cols]
        out[rows, cols] = np.where(self.flat[rows, cols] & (w > 0), share * w, w)
        return out, every

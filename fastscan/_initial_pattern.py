"""The initial pattern: scrambled Halton points (optionally moved onto the 5 % raster
lattice) in a serpentine route, and when every pixel of it is measured.

A mixin of :class:`fastscan.sampler.Sampler` (split from that module, same code); the
module constants it reads are read from :mod:`fastscan.sampler` at call time.
"""

from __future__ import annotations

import numpy as np

from fastscan import sampler as _sampler  # (that module imports this one)
from fastscan._lattice import lattice_levels, snap_to_lattice
from fastscan.patterns import halton_points, serpentine_order


def _halton_on_lattice(shape: tuple[int, int], n: int, seed: int | None) -> np.ndarray:
    """``n`` distinct pixels: scrambled Halton points moved to the nearest pixel of the
    lattice level INITIAL_SNAP_LEVEL."""
    level = _sampler.INITIAL_SNAP_LEVEL
    levels_n = int((lattice_levels(shape, finest=level) <= level).sum())
    if n > levels_n:
        return halton_points(shape, n, seed=seed)
    draw = n
    while True:
        halton = halton_points(shape, min(draw, shape[0] * shape[1]), seed)
        snapped = snap_to_lattice(halton, shape, level)
        flat = snapped[:, 0] * shape[1] + snapped[:, 1]
        _, first = np.unique(flat, return_index=True)
        if len(first) >= n or draw >= shape[0] * shape[1]:
            keep = np.sort(first)[:n]  # in Halton order: the first n distinct
            return snapped[keep]
        draw = min(2 * draw, shape[0] * shape[1])


class InitialPattern:
    """The initial pattern and its completion (a Sampler mixin)."""

    @property
    def _initial(self) -> np.ndarray:
        """The initial pattern, (n, 2) (row, col) in serpentine order (made once)."""
        if self._initial_points is None:
            n_pixels = self.shape[0] * self.shape[1]
            n_initial = min(
                n_pixels, max(int(round(self.initial_fraction * n_pixels)), 2 * self.k + 2)
            )
            if self.initial_pattern == "halton-lattice":
                initial = _halton_on_lattice(self.shape, n_initial, self.seed)
            else:
                initial = halton_points(self.shape, n_initial, seed=self.seed)
            band = max(1, int(round(np.sqrt(n_pixels / n_initial))))
            self._initial_points = initial[serpentine_order(initial, band)]
        return self._initial_points

    @_initial.setter
    def _initial(self, points: np.ndarray) -> None:  # another start (e.g. the fly sampler)
        self._initial_points = np.asarray(points, np.int64).reshape(-1, 2)
        self._initial_flat = None
        self._complete = False

    def _initial_pixels(self) -> np.ndarray:
        """Flat indices of the initial pattern's distinct pixels, sorted (made once)."""
        if self._initial_flat is None:
            initial = self._initial
            self._initial_flat = np.unique(initial[:, 0] * self.shape[1] + initial[:, 1])
        return self._initial_flat

    @property
    def initial_count(self) -> int:
        """Distinct pixels of the initial pattern (a FlySampler's: its coarse raster); the
        scan measures them all even where ``max_coverage`` is lower."""
        return len(self._initial_pixels())

    @property
    def initial_complete(self) -> bool:
        """True once every pixel of the initial pattern is measured: :meth:`suggest` then
        hands out ERD batches (the ERD map itself exists from :attr:`activation_count`
        on)."""
        if not self._complete:
            flat = self._initial_pixels()
            self._complete = bool(self._mask.reshape(-1)[flat].all())
        return self._complete

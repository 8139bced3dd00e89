"""Static scan patterns behind the :class:`fastscan.Sampler` interface.

A static sampler fixes its whole visiting order up front (it never looks at the
readings) and reconstructs with the same IDW as the autonomous sampler, so the
two are compared like for like. Raster grids are not nested (a 10 % grid is not
a subset of a 20 % grid), so :class:`RasterSampler` plans for one coverage.

Examples
--------
>>> import numpy as np
>>> s = HaltonSampler((30, 40), batch_size=60, max_coverage=0.1, seed=0)
>>> while not s.should_stop():
...     pts = s.suggest()
...     s.ingest(pts, np.ones(len(pts)))
>>> s.n_measured, s.stop_reason
(120, 'coverage 10.0% reached max_coverage 10.0%')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastscan._validation import check_points, check_shape, check_values, read_only
from fastscan.patterns import halton_points, random_points, raster_points, serpentine_order
from fastscan.reconstruction import idw_reconstruction

__all__ = ["STATIC_SAMPLERS", "HaltonSampler", "RandomSampler", "RasterSampler", "StaticSampler"]


class StaticSampler:
    """Visit a precomputed sequence of pixels in batches, up to ``max_coverage``."""

    name = "static"

    def __init__(
        self,
        shape: tuple[int, int],
        *,
        batch_size: int = 50,
        max_coverage: float = 0.5,
        seed: int | None = 0,
        k: int = 10,
    ) -> None:
        self.shape = check_shape(shape)
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if not 0.0 < max_coverage <= 1.0:
            raise ValueError(f"max_coverage must be in (0, 1], got {max_coverage!r}")
        self.batch_size = int(batch_size)
        self.max_coverage = float(max_coverage)
        self.seed = seed
        self.k = int(k)
        n_total = self.shape[0] * self.shape[1]
        self._n_target = max(1, int(round(self.max_coverage * n_total)))
        self._order = self._plan(self._n_target)
        self._next = 0
        self._mask = np.zeros(self.shape, bool)
        self._values = np.zeros(self.shape)
        self._points: list[np.ndarray] = []
        self._readings: list[np.ndarray] = []
        self._recon: np.ndarray | None = None

    def _plan(self, n: int) -> np.ndarray:
        raise NotImplementedError

    def get_params(self) -> dict[str, Any]:
        return {
            "strategy": self.name,
            "shape": list(self.shape),
            "batch_size": self.batch_size,
            "max_coverage": self.max_coverage,
            "seed": self.seed,
            "k": self.k,
        }

    @property
    def measured_mask(self) -> np.ndarray:
        """True at every measured pixel (read-only view)."""
        return read_only(self._mask)

    @property
    def n_measured(self) -> int:
        return int(self._mask.sum())

    @property
    def coverage(self) -> float:
        return self.n_measured / self._mask.size

    @property
    def measured_points(self) -> np.ndarray:
        return np.concatenate(self._points) if self._points else np.zeros((0, 2), np.int64)

    @property
    def measured_values(self) -> np.ndarray:
        return np.concatenate(self._readings) if self._readings else np.zeros(0)

    @property
    def reconstruction(self) -> np.ndarray:
        """IDW reconstruction of the measured pixels (computed on demand, cached)."""
        if self._recon is None:
            if not self._mask.any():
                return np.zeros(self.shape)
            points = np.argwhere(self._mask)
            self._recon = idw_reconstruction(
                self.shape, points, self._values[self._mask], k=min(self.k, len(points))
            )
        return self._recon

    @property
    def erd(self) -> np.ndarray:
        """Static patterns have no ERD: zeros."""
        return np.zeros(self.shape)

    @property
    def stop_reason(self) -> str | None:
        if self._next < len(self._order):
            return None
        if self._next >= self._mask.size:
            return "every pixel is measured"
        return f"coverage {self.coverage:.1%} reached max_coverage {self.max_coverage:.1%}"

    def should_stop(self) -> bool:
        return self.stop_reason is not None

    def suggest(self, n: int | None = None) -> np.ndarray:
        """The next ``n`` (default ``batch_size``) points of the fixed sequence."""
        if n is not None and (int(n) != n or n < 0):
            raise ValueError(f"n must be an integer >= 0, got {n!r}")
        count = self.batch_size if n is None else int(n)
        return self._order[self._next : self._next + count].copy()

    def ingest(self, points: np.ndarray, values: np.ndarray) -> None:
        points = check_points(points, self.shape)
        values = check_values(values, len(points))
        if len(points) == 0:
            return
        self._points.append(points.copy())
        self._readings.append(values.copy())
        self._mask[points[:, 0], points[:, 1]] = True
        self._values[points[:, 0], points[:, 1]] = values
        self._recon = None
        # advance past every planned point that has now been measured
        while self._next < len(self._order) and self._mask[tuple(self._order[self._next])]:
            self._next += 1

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, max_coverage={self.max_coverage:g})"


class RasterSampler(StaticSampler):
    """Regular grid at ``max_coverage`` density, serpentine row by row."""

    name = "raster"

    def _plan(self, n: int) -> np.ndarray:
        return raster_points(self.shape, n)


class RandomSampler(StaticSampler):
    """Uniform random pixels (seeded), in drawing order."""

    name = "random"

    def _plan(self, n: int) -> np.ndarray:
        return random_points(self.shape, n, seed=self.seed)


class HaltonSampler(StaticSampler):
    """Scrambled Halton low-discrepancy pixels (seeded), each batch in serpentine order."""

    name = "halton"

    def _plan(self, n: int) -> np.ndarray:
        points = halton_points(self.shape, n, seed=self.seed)
        band = max(1, int(round(np.sqrt(self.shape[0] * self.shape[1] / max(self.batch_size, 1)))))
        for start in range(0, n, self.batch_size):
            chunk = points[start : start + self.batch_size]
            points[start : start + self.batch_size] = chunk[serpentine_order(chunk, band)]
        return points


#: Static strategies by name.
STATIC_SAMPLERS: dict[str, type[StaticSampler]] = {
    cls.name: cls for cls in (RasterSampler, RandomSampler, HaltonSampler)
}

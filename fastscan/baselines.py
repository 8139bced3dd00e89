"""Static scan patterns behind the :class:`fastscan.Sampler` interface.

A static sampler fixes its whole visiting order up front (it never looks at the
readings) and reconstructs with the same IDW as the autonomous sampler, so the
two are compared like for like. Raster grids are not nested (a 10 % grid is not
a subset of a 20 % grid), so :class:`RasterSampler` plans for one coverage.

Settings changed after construction are applied or refused, never ignored
(:mod:`fastscan._settable`, as for :class:`fastscan.Sampler`): before the first
reading ``s.batch_size = 20`` or ``s.set_params(seed=3)`` makes the sampler again
as if the value had been given to the constructor; once readings are in only
``max_coverage`` may change, and only where the pattern planned with the new value
begins with the points the scan has visited (the scan then goes on exactly as if
the value had been given at the start: Halton patterns and the fly raster's levels
are nested; a raster grid or a random draw for another coverage usually is not, and
is refused with a ValueError saying so).

:class:`FlyRasterSampler` is the static fly reference and the first *segment
sampler*: it hands out whole rows to fly (:meth:`FlyRasterSampler.suggest_segments`,
:class:`fastscan.fly.Segment` in flight order), every k-th row first, then the rows
in between, coarse to fine, so each completed level is a uniform row raster.

Examples
--------
>>> import numpy as np
>>> s = HaltonSampler((30, 40), batch_size=60, max_coverage=0.1, seed=0)
>>> while not s.should_stop():
...     pts = s.suggest()
...     s.ingest(pts, np.ones(len(pts)))
>>> s.n_measured, s.stop_reason
(120, 'coverage 10.0% reached max_coverage 10.0%')
>>> s.max_coverage = 0.2  # the 20 % Halton pattern begins with the 10 % one: it goes on
>>> s.should_stop(), len(s.suggest())
(False, 60)
>>> r = RasterSampler((30, 40), max_coverage=0.5)
>>> r.max_coverage = 0.1  # before any reading: as if given to the constructor
>>> len(r.suggest(1000)), r.get_params()["max_coverage"]
(120, 0.1)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastscan._settable import _GIVEN, Settable, SettableMeta
from fastscan._validation import check_points, check_shape, check_values, read_only
from fastscan.fly.segment import Segment, segments_to_points
from fastscan.patterns import halton_points, random_points, raster_points, serpentine_order
from fastscan.reconstruction import idw_reconstruction

__all__ = [
    "STATIC_SAMPLERS",
    "FlyRasterSampler",
    "HaltonSampler",
    "RandomSampler",
    "RasterSampler",
    "StaticSampler",
]


class StaticSampler(Settable, metaclass=SettableMeta):
    """Visit a precomputed sequence of pixels in batches, up to ``max_coverage``.

    Constructor settings set later (``s.max_coverage = 0.2``, ``s.set_params(...)``)
    take effect as if given here before the first reading; once readings are in only
    ``max_coverage`` may change, where the new value's pattern begins with the points
    visited so far (module docstring).
    """

    name = "static"
    LIVE_KNOBS = frozenset({"max_coverage"})

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

    def _kept_settings(self) -> dict[str, Any]:
        """Settings a mid-scan re-plan keeps as this scan resolved them (none here)."""
        return {}

    def _adopt_plan(self, other: StaticSampler) -> None:
        """Take ``other``'s plan (its cap, target and visiting order)."""
        self.__dict__.update(
            max_coverage=other.max_coverage, _n_target=other._n_target, _order=other._order
        )

    def _set_live(self, name: str, value: Any) -> None:
        """A new ``max_coverage`` once readings are in: applied when the pattern planned
        with it begins with the points visited so far, refused otherwise."""
        given = {**self.__dict__[_GIVEN], **self._kept_settings(), name: value}
        fresh = type(self)(**given)  # checks the value as the constructor does
        done = min(self._next, len(fresh._order))
        if not np.array_equal(fresh._order[:done], self._order[:done]):
            raise ValueError(
                f"{name}={value!r} cannot be applied once readings are in ({self.n_measured} "
                f"measured): the {self.name} pattern for it does not begin with the {done} "
                f"points this scan has visited (made with {name}={self._reported(name)!r}); "
                f"make a new {type(self).__name__}(..., {name}={value!r}) for a new scan"
            )
        self._adopt_plan(fresh)
        self._advance()
        object.__setattr__(self, _GIVEN, given)

    def _advance(self) -> None:
        """Move past every planned point that has been measured."""
        while self._next < len(self._order) and self._mask[tuple(self._order[self._next])]:
            self._next += 1

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
    def position(self) -> np.ndarray | None:
        """(row, col) of the last measured point, or None before the first reading."""
        return self._points[-1][-1].copy() if self._points else None

    @property
    def reconstruction(self) -> np.ndarray:
        """IDW reconstruction of the measured pixels (computed on demand, cached)."""
        if self._recon is None:
            if not self._mask.any():
                return np.zeros(self.shape)
            points = np.argwhere(self._mask)
            values = self._values[self._mask]
            if len(points) == 1:  # one reading: the only estimate of every pixel
                self._recon = np.full(self.shape, float(values[0]))
            else:  # IDW needs more measured pixels than neighbours
                self._recon = idw_reconstruction(
                    self.shape, points, values, k=min(self.k, len(points) - 1)
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
        self._advance()  # past every planned point that has now been measured

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


class FlyRasterSampler(StaticSampler):
    """Fly every k-th row, then the rows in between, coarse to fine (a segment sampler).

    Level 0 flies rows ``0, k, 2k, ...`` with ``k`` the largest power of two with
    ``1 / k >= first_coverage`` (at most the number of rows); each further level
    halves the spacing and adds the rows in between, until ``max_coverage`` is
    reached at the end of a level. Rows alternate direction (serpentine) and the
    levels alternate top-down and bottom-up, so the stage never travels back.
    :meth:`suggest_segments` returns the next level's rows as
    :class:`fastscan.fly.Segment` in flight order; :meth:`suggest` returns the same
    readings as points (for a step replay of the same pattern).

    Examples
    --------
    >>> s = FlyRasterSampler((8, 5), max_coverage=0.5, first_coverage=0.25)
    >>> [(seg.start, seg.end) for seg in s.suggest_segments()]
    [((0, 0), (0, 4)), ((4, 4), (4, 0))]
    >>> pts = s.suggest(); s.ingest(pts, np.ones(len(pts)))
    >>> [seg.start[0] for seg in s.suggest_segments()]
    [6, 2]
    """

    name = "fly-raster"

    def __init__(
        self,
        shape: tuple[int, int],
        *,
        batch_size: int = 50,
        max_coverage: float = 0.5,
        seed: int | None = 0,
        k: int = 10,
        first_coverage: float | None = None,
    ) -> None:
        if first_coverage is not None and not 0.0 < first_coverage <= 1.0:
            raise ValueError(f"first_coverage must be in (0, 1], got {first_coverage!r}")
        if not 0.0 < max_coverage <= 1.0:  # (named here: it is also the default first level)
            raise ValueError(f"max_coverage must be in (0, 1], got {max_coverage!r}")
        self.first_coverage = float(max_coverage if first_coverage is None else first_coverage)
        super().__init__(shape, batch_size=batch_size, max_coverage=max_coverage, seed=seed, k=k)

    def get_params(self) -> dict[str, Any]:
        return {**super().get_params(), "first_coverage": self.first_coverage}

    def _kept_settings(self) -> dict[str, Any]:
        """A raised or lowered cap keeps the first level's coverage (by default the
        cap the scan was made with), so the levels flown so far stay the plan's start."""
        return {"first_coverage": self.first_coverage}

    def _adopt_plan(self, other: StaticSampler) -> None:
        super()._adopt_plan(other)
        self.__dict__.update(_levels=other._levels, _level_starts=other._level_starts)

    @property
    def spacing(self) -> int:
        """Row spacing ``k`` of the first level."""
        n_rows = self.shape[0]
        k = 1
        while 2 * k <= n_rows and 1.0 / (2 * k) >= self.first_coverage:
            k *= 2
        return k

    def _plan(self, n: int) -> np.ndarray:
        n_rows, n_cols = self.shape
        levels: list[list[Segment]] = []
        done = np.zeros(n_rows, bool)
        k, flipped, n_planned = self.spacing, False, 0
        while n_planned < n and k >= 1:
            rows = [r for r in range(0, n_rows, k) if not done[r]]
            if flipped:
                rows.reverse()
            level = []
            for r in rows:
                forward = (sum(len(lv) for lv in levels) + len(level)) % 2 == 0
                ends = ((r, 0), (r, n_cols - 1)) if forward else ((r, n_cols - 1), (r, 0))
                level.append(Segment(*ends))
                done[r] = True
            levels.append(level)
            n_planned += len(rows) * n_cols
            k //= 2
            flipped = not flipped
        self._levels = levels
        self._level_starts = np.cumsum([0] + [len(lv) * n_cols for lv in levels])
        return segments_to_points([s for lv in levels for s in lv])[0]

    def suggest_segments(self) -> list[Segment]:
        """The rows of the next level, in flight order ([] once ``max_coverage`` is done)."""
        level = int(np.searchsorted(self._level_starts, self._next, side="right")) - 1
        if level >= len(self._levels):
            return []
        skip = (self._next - self._level_starts[level]) // self.shape[1]  # rows already flown
        return list(self._levels[level][skip:])

    def suggest(self, n: int | None = None) -> np.ndarray:
        """The readings of :meth:`suggest_segments` (or the next ``n`` of them) as points."""
        if n is not None:
            return super().suggest(n)
        return segments_to_points(self.suggest_segments())[0]


#: Static strategies by name.
STATIC_SAMPLERS: dict[str, type[StaticSampler]] = {
    cls.name: cls for cls in (RasterSampler, RandomSampler, HaltonSampler, FlyRasterSampler)
}

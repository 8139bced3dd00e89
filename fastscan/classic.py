"""FAST's sampling loop, replayed on fastscan's exact incremental engine (``fast-classic``).

Per iteration FAST (Kandel et al. 2023) re-normalises every measured value to
[0, 100] by the current minimum and maximum, recomputes the IDW reconstruction
(k = 10, 1/d^2) and the six raw SLADS features of every unmeasured pixel, runs
its cameraman-trained model and measures the top-B pixels of that one ERD map
(no update inside a batch, no spreading, B = 50). Its initial pattern is 1 % of
the grid from a scrambled Halton sequence whose seed comes from the chain
``default_rng(11).integers(1000)`` (= 133).

:class:`ClassicSampler` is a :class:`fastscan.Sampler` that does exactly that:

- the intensity features are scaled by ``100 / (max - min)`` of the values
  measured so far, refreshed at every change of that range (fastscan's own
  sampler waits until the range grew by 25 %); the features FAST uses are
  differences and gradients, so this is its min-max normalisation;
- local updates recompute every pixel whose neighbours or gradient changed, so
  the ERD map equals FAST's full recompute (up to ties of the 10th-neighbour
  distance, which FAST breaks in scikit-learn's KD-tree order);
- the ERD is the model's plain prediction (no ``fill``/``contrast`` shaping);
- the batch is the plain top-B of the ERD of unmeasured pixels, chosen with
  FAST's own numpy calls (so ties fall as in FAST), with the model's raw
  prediction (no analytic tie-break),
  the sparsity-feature numerator of the grid (no clipping), raw features;
- the initial pattern is FAST's (:func:`fast_initial_points`).

Only the visiting order of a batch (the route) is fastscan's; it does not change
which pixels are measured.

Examples
--------
>>> import numpy as np
>>> truth = np.add.outer(np.arange(60.0), np.arange(50.0)) % 17
>>> s = ClassicSampler((60, 50), batch_size=20, max_coverage=0.1)
>>> while not s.should_stop():
...     pts = s.suggest()
...     s.ingest(pts, truth[pts[:, 0], pts[:, 1]])
>>> s.n_measured, s.spread, s.tie_break
(300, 0.0, 0.0)
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from fastscan.erd.estimator import ERDModel
from fastscan.sampler import Sampler

__all__ = ["FAST_PATTERN_SEED", "FIXED_SETTINGS", "ClassicSampler", "fast_initial_points"]

#: Seed of FAST's initial-pattern chain (``default_rng(11).integers(1000)`` = 133).
FAST_PATTERN_SEED = 11
#: Sampler settings that FAST's loop fixes (accepted by ClassicSampler only with these values,
#: so a saved state, which lists them, loads back).
FIXED_SETTINGS = {
    "spread": 0.0,
    "k": 10,
    "tie_break": 0.0,
    "motion_weight": 0.0,
    "channels": None,
    "channel_weights": None,
    "noise": "auto",
    "channel_combine": "features",
    "contrast": 0.0,
    "fill": 0.0,
    "lattice": 0.0,
    "initial_pattern": "halton",  # nominal: the initial pattern is FAST's (fast_initial_points)
    "erd_floor": 0.0,
    "hedge": 0.0,
    "noise_cost": 0.0,
}


def fast_initial_points(
    shape: tuple[int, int], fraction: float = 0.01, seed: int = FAST_PATTERN_SEED
) -> np.ndarray:
    """FAST's initial pattern: ``floor(fraction * N)`` scrambled-Halton pixels.

    The Halton seed is ``default_rng(seed).integers(1000)``; the first dimension
    (base 2) is the row. Duplicates (possible at high fractions) are dropped,
    keeping the first occurrence, so the result holds distinct (row, col).

    Examples
    --------
    >>> fast_initial_points((600, 400))[:3].tolist()
    [[339, 283], [39, 16], [489, 150]]
    """
    from scipy.stats import qmc

    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    n_rows, n_cols = int(shape[0]), int(shape[1])
    n = max(int(np.floor(fraction * n_rows * n_cols)), 1)
    halton_seed = int(np.random.default_rng(seed).integers(1000))
    halton = qmc.Halton(d=2, scramble=True, seed=halton_seed)
    points = np.asarray(halton.integers(l_bounds=[0, 0], u_bounds=[n_rows, n_cols], n=n), np.int64)
    _, first = np.unique(points[:, 0] * n_cols + points[:, 1], return_index=True)
    return points[np.sort(first)]


class ClassicSampler(Sampler):
    """FAST's loop (see the module docstring) with fastscan's interface.

    Parameters
    ----------
    shape : (n_rows, n_cols)
    batch_size : int
        Points per iteration (FAST's simulations: 50).
    initial_fraction : float
        Fraction of the grid in the initial pattern (FAST: 0.01).
    model : ERDModel, name or path
        ERD model; FAST's recipe is the shipped ``"fast-classic"``.
    seed : int
        Pattern seed: the chain starts at ``FAST_PATTERN_SEED + seed``, so seed 0
        is FAST's own initial pattern.
    max_coverage, erd_threshold, change_tolerance, patience :
        Stop rule (:class:`fastscan.stopping.StopRule`); FAST stops at a fixed
        coverage, so the change rule is off by default.
    motion, pixel_pitch :
        Used only to order each batch for the motors (the route).
    **fixed :
        Any of :data:`FIXED_SETTINGS`, only with FAST's value (a ValueError otherwise).
    """

    def __init__(
        self,
        shape: tuple[int, int],
        *,
        batch_size: int = 50,
        initial_fraction: float = 0.01,
        model: ERDModel | str | Path | None = "fast-classic",
        seed: int = 0,
        max_coverage: float = 0.5,
        erd_threshold: float | None = None,
        change_tolerance: float | None = None,
        patience: int = 10,
        motion: Any = None,
        pixel_pitch: tuple[float, float] = (1.0, 1.0),
        **fixed: Any,
    ) -> None:
        if int(seed) != seed:
            raise ValueError(f"seed must be an integer, got {seed!r}")
        for key, value in fixed.items():
            if key not in FIXED_SETTINGS:
                raise TypeError(f"ClassicSampler got an unexpected keyword argument {key!r}")
            if value != FIXED_SETTINGS[key]:
                raise ValueError(
                    f"fast-classic fixes {key}={FIXED_SETTINGS[key]!r} (FAST's loop), got {value!r}"
                )
        super().__init__(
            shape,
            batch_size=batch_size,
            initial_fraction=initial_fraction,
            model=model,
            seed=int(seed),
            max_coverage=max_coverage,
            erd_threshold=erd_threshold,
            change_tolerance=change_tolerance,
            patience=patience,
            spread=0.0,
            k=10,
            tie_break=0.0,
            motion=motion,
            pixel_pitch=pixel_pitch,
            motion_weight=0.0,
            contrast=0.0,
            fill=0.0,
            lattice=0.0,
            erd_floor=0.0,
            noise_cost=0.0,
        )
        self._initial = fast_initial_points(
            self.shape, initial_fraction, FAST_PATTERN_SEED + int(seed)
        )

    def suggest(self, n: int | None = None) -> np.ndarray:
        """As :meth:`fastscan.Sampler.suggest`; first checks that FAST's pattern can start.

        FAST's initial pattern is ``floor(initial_fraction x pixels)`` points and its
        IDW needs ``k + 1`` of them; on a smaller grid the first ingest would fail deep
        in the neighbour search, so the first suggest says so instead.
        """
        if self.n_measured == 0 and len(self._initial) < self.k + 1:
            pixels = self.shape[0] * self.shape[1]
            fraction = self.initial_fraction
            need = math.ceil((self.k + 1) / fraction)
            raise ValueError(
                f"fast-classic's initial pattern (FAST's: floor(initial_fraction x pixels)) holds "
                f"{len(self._initial)} points on this {self.shape[0]} x {self.shape[1]} grid "
                f"({pixels} pixels); its IDW needs at least k + 1 = {self.k + 1}: use a grid of "
                f"about {need} pixels or more, or a larger initial_fraction (now {fraction:g})"
            )
        return super().suggest(n)

    def _needs_rescale(self) -> bool:
        # FAST re-normalises to the measured min/max every iteration
        return bool(np.any(self._value_max - self._value_min != self._ref_range))

    def _select(self, count: int) -> np.ndarray:
        """Top-``count`` unmeasured pixels by ERD, highest first: FAST's inner batch.

        As FAST: ``argpartition`` of the ERD of the unmeasured pixels (row-major),
        then ``argsort`` of the kept values, so equal ERDs (the zeros of a late
        scan) are broken the way FAST's numpy calls break them, not row by row.
        """
        free = np.flatnonzero(~self._mask.ravel())
        count = min(count, len(free))  # FAST fails here near 100 % coverage
        if count <= 0:
            return np.zeros((0, 2), np.int64)
        scores = self._erd.ravel()[free]
        chosen = free[np.argpartition(scores, -count)[-count:]]
        chosen = chosen[np.argsort(-self._erd.ravel()[chosen])]
        return np.stack(np.divmod(chosen, self.shape[1]), 1).astype(np.int64)

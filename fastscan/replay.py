"""Replay a scan against a known image: a simulated detector plus the scan loop.

The :class:`SimulatedDetector` answers only for the points it is asked to
measure, so a replay shows exactly what a strategy would have seen at the
beamline. :func:`replay` drives any sampler (autonomous or static, point or
segment sampler: see :mod:`fastscan.strategies`) to a list of coverages and keeps
a :class:`Snapshot` at each. Given a :class:`fastscan.beamtime.TrajectoryBuilder`
it also records when every reading ends under the beam-time model, and each
snapshot's ``extra["beam_time_s"]``. :func:`mask_problems` says whether a replay
was honest in its pixels: the detector read exactly what the sampler holds.

Examples
--------
>>> import numpy as np
>>> from fastscan.baselines import RandomSampler
>>> truth = np.add.outer(np.arange(30.0), np.arange(40.0))
>>> detector = SimulatedDetector(truth)
>>> snaps = replay(RandomSampler((30, 40), max_coverage=0.2), detector, [0.1, 0.2])
>>> [s.n_measured for s in snaps], detector.n_readings
([120, 240], 240)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from fastscan._validation import check_points
from fastscan.beamtime import TrajectoryBuilder
from fastscan.fly.segment import segments_to_points
from fastscan.imageio import check_image
from fastscan.motion import MotionModel
from fastscan.strategies import STRATEGIES as _REGISTRY
from fastscan.strategies import StrategySettings, make_strategy_sampler

__all__ = [
    "FIRST_PIXELS",
    "STRATEGIES",
    "SimulatedDetector",
    "Snapshot",
    "check_honest",
    "make_sampler",
    "mask_problems",
    "replay",
    "target_counts",
]

#: Strategy names understood by :func:`make_sampler` (the registry at import time;
#: :data:`fastscan.strategies.STRATEGIES` is the live one).
STRATEGIES = tuple(_REGISTRY)


class SimulatedDetector:
    """A detector over a ground-truth image that reads only the pixels asked for.

    Parameters
    ----------
    image : (H, W) array
        Ground truth.
    noise : {"none", "poisson"}
        Poisson noise treats the image as expected counts.
    seed : int
        Seed of the noise.
    """

    def __init__(self, image: np.ndarray, *, noise: str = "none", seed: int | None = 0) -> None:
        self._image, _ = check_image(image)
        if noise not in ("none", "poisson"):
            raise ValueError(f"noise must be 'none' or 'poisson', got {noise!r}")
        if noise == "poisson" and self._image.min() < 0:
            raise ValueError("Poisson noise needs a non-negative image (expected counts)")
        self.noise = noise
        self._rng = np.random.default_rng(seed)
        self._asked = np.zeros(self._image.shape, bool)
        self.n_readings = 0

    @property
    def shape(self) -> tuple[int, int]:
        return self._image.shape

    @property
    def asked_mask(self) -> np.ndarray:
        """True at every pixel that has been measured at least once."""
        return self._asked.copy()

    def measure(self, points: np.ndarray) -> np.ndarray:
        """Readings at (row, col) ``points``, in order."""
        points = check_points(points, self.shape)
        self._asked[points[:, 0], points[:, 1]] = True
        self.n_readings += len(points)
        values = self._image[points[:, 0], points[:, 1]]
        if self.noise == "poisson":
            values = self._rng.poisson(values).astype(float)
        return values


#: How many ``(row, col)`` of a dishonest pixel set a :func:`mask_problems` line lists.
FIRST_PIXELS = 5


def _pixels(mask: np.ndarray) -> str:
    """``N pixel(s), first (row, col): [...]`` for the True pixels of ``mask``."""
    where = [(int(r), int(c)) for r, c in np.argwhere(mask)[:FIRST_PIXELS]]
    return f"{int(mask.sum())} pixel(s), first (row, col): {where}"


def mask_problems(asked: ArrayLike, held: ArrayLike) -> list[str]:
    """What differs between the pixels a detector read and those a sampler holds.

    A replay is honest in its pixels when the two masks are equal: the detector
    revealed nothing the sampler did not ask for, and the sampler kept every
    reading it asked for.

    Parameters
    ----------
    asked : (H, W) bool array
        Every pixel the detector read (:attr:`SimulatedDetector.asked_mask`).
    held : (H, W) bool array
        Every pixel the sampler holds as measured (its ``measured_mask``).

    Returns
    -------
    list of str
        Empty when the masks are equal; else one line per direction that differs,
        with the count and the first :data:`FIRST_PIXELS` ``(row, col)``, or one
        line naming both shapes when the grids differ.

    Examples
    --------
    >>> asked = np.zeros((3, 4), bool)
    >>> asked[1, :3] = True
    >>> held = asked.copy()
    >>> mask_problems(asked, held)
    []
    >>> held[1, 2], held[2, 0] = False, True
    >>> for line in mask_problems(asked, held):
    ...     print(line)
    the detector read 1 pixel(s), first (row, col): [(1, 2)] the sampler did not ask for
    the sampler holds 1 pixel(s), first (row, col): [(2, 0)] the detector never read
    >>> mask_problems(asked, held[:2])
    ["the detector's grid is (3, 4) but the sampler's is (2, 4)"]
    """
    asked, held = np.asarray(asked, bool), np.asarray(held, bool)
    if asked.shape != held.shape:
        return [f"the detector's grid is {asked.shape} but the sampler's is {held.shape}"]
    problems = []
    if (unasked := asked & ~held).any():
        problems.append(f"the detector read {_pixels(unasked)} the sampler did not ask for")
    if (unread := held & ~asked).any():
        problems.append(f"the sampler holds {_pixels(unread)} the detector never read")
    return problems


def check_honest(strategy: str, asked: np.ndarray, held: np.ndarray) -> None:
    """Fail unless the detector read exactly the pixels the sampler holds.

    What ``fastscan simulate`` and ``fastscan evaluate`` check after every replay.

    Parameters
    ----------
    strategy : str
        Named in the message (with the image, for ``evaluate``).
    asked : (H, W) bool array
        Every pixel the simulated detector read.
    held : (H, W) bool array
        Every pixel the strategy's sampler holds as measured.

    Raises
    ------
    RuntimeError
        ``"<strategy>: detector and sampler disagree: ..."`` with the lines of
        :func:`mask_problems` (how many pixels, the first few).
    """
    if problems := mask_problems(asked, held):
        raise RuntimeError(f"{strategy}: detector and sampler disagree: {'; '.join(problems)}")


@dataclass
class Snapshot:
    """State of a replay when it reached one coverage."""

    coverage: float  #: requested coverage
    n_measured: int
    reconstruction: np.ndarray
    measured_mask: np.ndarray
    measured_image: np.ndarray  #: measured values where measured_mask, 0 elsewhere
    stop_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def make_sampler(
    strategy: str,
    shape: tuple[int, int],
    *,
    max_coverage: float,
    batch_size: int = 50,
    seed: int | None = 0,
    model: str | None = None,
    motion: MotionModel | None = None,
    motion_weight: float | None = None,
    coverages: Sequence[float] = (),
) -> Any:
    """Build the sampler for a strategy name (see :mod:`fastscan.strategies`).

    The autonomous strategies run with the change rule off, so a replay reaches
    every requested coverage; :func:`replay` still reports where it would have
    stopped. ``model`` (a shipped model name or a file) replaces the ERD model of
    the "fast" strategy. ``motion`` is the beam-time model the samplers decide
    with (None: no model, ERD-only batches); ``coverages`` the snapshot ladder.
    """
    settings = StrategySettings(
        max_coverage=max_coverage,
        coverages=tuple(float(c) for c in coverages),
        batch_size=batch_size,
        seed=seed,
        model=model,
        motion=motion,
        motion_weight=motion_weight,
    )
    return make_strategy_sampler(strategy, shape, settings)


def _snapshot(sampler: Any, coverage: float) -> Snapshot:
    mask = np.array(sampler.measured_mask)
    measured = np.zeros(mask.shape)
    points = sampler.measured_points
    measured[points[:, 0], points[:, 1]] = sampler.measured_values
    return Snapshot(
        coverage=coverage,
        n_measured=int(sampler.n_measured),
        reconstruction=np.array(sampler.reconstruction, float),
        measured_mask=mask,
        measured_image=measured,
        stop_reason=sampler.stop_reason,
    )


def target_counts(coverages: Sequence[float], n_pixels: int) -> list[int]:
    """Points each coverage asks for on a grid of ``n_pixels`` (at least one each).

    Parameters
    ----------
    coverages : sequence of float
        Fractions of the grid.
    n_pixels : int
        Pixels of the grid.

    Returns
    -------
    list of int
        ``max(1, round(coverage * n_pixels))`` for each coverage, in the given order.

    Examples
    --------
    >>> target_counts([0.01, 0.3], 86400)
    [864, 25920]
    """
    return [max(1, int(round(c * n_pixels))) for c in coverages]


def replay(
    sampler: Any,
    detector: SimulatedDetector,
    coverages: Sequence[float],
    *,
    progress: Callable[[int, int], None] | None = None,
    change_tolerance: float | None = 0.005,
    trajectory: TrajectoryBuilder | None = None,
) -> list[Snapshot]:
    """Run ``sampler`` against ``detector`` and snapshot it at each coverage.

    Parameters
    ----------
    sampler
        Anything with the :class:`fastscan.Sampler` interface.
    detector : SimulatedDetector
        Answers the sampler's requests.
    coverages : sequence of float in (0, 1]
        Snapshot points; the replay stops after the largest (or when the sampler stops).
    progress : callable(n_measured, n_target), optional
        Called after every batch.
    change_tolerance : float or None
        Coverage at which a sampler's change rule with this tolerance would have
        stopped is stored as ``extra["settled_coverage"]`` of every snapshot.
    trajectory : TrajectoryBuilder, optional
        Records every reading's end time (step points as suggested, segments as
        flown); each snapshot then gets ``extra["beam_time_s"]``, the end of its
        last reading. A segment sampler's segments are flown whole, so its
        snapshots may hold more points than the coverage asked for.

    Returns
    -------
    list of Snapshot, one per coverage reached.
    """
    targets = sorted(float(c) for c in coverages)
    if not targets or not all(0.0 < c <= 1.0 for c in targets):
        raise ValueError(f"coverages must be numbers in (0, 1], got {list(coverages)!r}")
    counts = target_counts(targets, detector.shape[0] * detector.shape[1])
    snapshots: list[Snapshot] = []
    times: list[float] = []
    settled_coverage = None
    rule = getattr(sampler, "stop_rule", None)
    index = 0
    while index < len(targets):
        if sampler.n_measured >= counts[index]:
            snapshots.append(_snapshot(sampler, targets[index]))
            if trajectory is not None:
                snapshots[-1].extra["beam_time_s"] = trajectory.t_last
            index += 1
            continue
        if sampler.should_stop():
            break
        need = counts[index] - sampler.n_measured
        start = time.perf_counter()
        if hasattr(sampler, "suggest_segments") and getattr(sampler, "flying", True):
            segments = list(sampler.suggest_segments())
            points = segments_to_points(segments)[0]
        else:
            segments = None
            points = sampler.suggest(need if need < sampler.batch_size else None)[:need]
        if len(points) == 0:
            break
        decided = time.perf_counter()
        values = detector.measure(points)
        if trajectory is not None:
            if segments is None:
                trajectory.add_points(points)
            else:
                trajectory.add_segments(segments)
        start += time.perf_counter() - decided  # the detector's time is not decision time
        sampler.ingest(points, values)
        times.append(time.perf_counter() - start)
        if settled_coverage is None and rule is not None and change_tolerance is not None:
            if rule.settled(change_tolerance):
                settled_coverage = sampler.coverage
        if progress is not None:
            progress(sampler.n_measured, counts[-1])
    for snap in snapshots:
        snap.extra["settled_coverage"] = settled_coverage
        snap.extra["median_step_s"] = float(np.median(times[1:])) if len(times) > 1 else None
    return snapshots

"""Scan strategies by name: the registry behind ``fastscan simulate`` and the benchmarks.

A strategy builds a sampler for a grid from :class:`StrategySettings`. Two kinds
of sampler exist, and :func:`fastscan.replay.replay` drives both:

- a **point sampler** (:class:`PointSampler`): ``suggest(n=None)`` returns (n, 2)
  int64 (row, col) step points in measurement order;
- a **segment sampler** (:class:`SegmentSampler`): ``suggest_segments()`` returns
  a list of :class:`fastscan.fly.Segment` in flight order, already routed (each
  flown from ``start`` to ``end``); the replay flies them all, then hands every
  reading to ``ingest(points, values)`` in flight order.

A **hybrid** sampler (``fast-auto``) has both and a ``flying`` property: while it is
true the replay asks for segments, afterwards for step points.

Both also have ``ingest``, ``should_stop()``, ``stop_reason``, ``reconstruction``,
``erd``, ``measured_mask``, ``measured_points``, ``measured_values``,
``n_measured``, ``coverage``, ``position``, ``batch_size`` and ``get_params()``.

Entries name their factory as ``"module:attribute"`` and are imported only
when used, so registering costs nothing and adding a strategy is one entry in
:data:`STRATEGIES` (or a call to :func:`register_strategy`). A factory is called
as ``factory(shape, settings)``.

Examples
--------
>>> from fastscan.strategies import STRATEGIES, make_strategy_sampler, StrategySettings
>>> STRATEGIES["fly-raster"].kind
'fly'
>>> s = make_strategy_sampler("fly-raster", (64, 64), StrategySettings(max_coverage=0.25))
>>> len(s.suggest_segments())  # every 4th row
16
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

from fastscan.fly.segment import Segment
from fastscan.motion import NANOPROBE, MotionModel

__all__ = [
    "STRATEGIES",
    "PointSampler",
    "SegmentSampler",
    "Strategy",
    "StrategySettings",
    "make_strategy_sampler",
    "register_strategy",
]


@runtime_checkable
class _Common(Protocol):
    batch_size: int

    def ingest(self, points: np.ndarray, values: np.ndarray) -> None: ...
    def should_stop(self) -> bool: ...
    def get_params(self) -> dict[str, Any]: ...

    @property
    def stop_reason(self) -> str | None: ...
    @property
    def reconstruction(self) -> np.ndarray: ...
    @property
    def erd(self) -> np.ndarray: ...
    @property
    def measured_mask(self) -> np.ndarray: ...
    @property
    def measured_points(self) -> np.ndarray: ...
    @property
    def measured_values(self) -> np.ndarray: ...
    @property
    def n_measured(self) -> int: ...
    @property
    def coverage(self) -> float: ...
    @property
    def position(self) -> np.ndarray | None: ...


@runtime_checkable
class PointSampler(_Common, Protocol):
    """Hands out step points: ``suggest(n=None) -> (n, 2) int64 (row, col)``."""

    def suggest(self, n: int | None = None) -> np.ndarray: ...


@runtime_checkable
class SegmentSampler(_Common, Protocol):
    """Hands out fly segments: ``suggest_segments() -> list[Segment]`` in flight order."""

    def suggest_segments(self) -> list[Segment]: ...


@dataclasses.dataclass(frozen=True)
class StrategySettings:
    """What a strategy factory may use (each takes what it needs).

    ``coverages`` is the snapshot ladder of the replay (a nested static scan uses
    its smallest value); ``motion`` the beam-time model in pixel units;
    ``motion_weight`` the motion-aware batch knob of step samplers (None: the
    sampler's default); ``channel_weights`` the weights of the channels of an
    autonomous sampler fed (n, C) readings (None: equal; the first reading fixes C).
    """

    max_coverage: float = 0.3
    coverages: tuple[float, ...] = ()
    batch_size: int = 50
    seed: int | None = 0
    model: str | None = None
    motion: MotionModel = NANOPROBE
    motion_weight: float | None = None
    channel_weights: tuple[float, ...] | None = None


@dataclasses.dataclass(frozen=True)
class Strategy:
    """One registry entry.

    ``factory`` is ``"module:attribute"``; ``kind`` is ``"step"`` or ``"fly"``;
    ``fresh_per_coverage`` means the pattern is not nested, so a replay runs one
    fresh scan per coverage (the step raster); ``default`` puts it in the default
    list of ``fastscan simulate``.
    """

    name: str
    factory: str
    kind: str
    description: str
    fresh_per_coverage: bool = False
    default: bool = True

    def load(self) -> Callable[..., Any]:
        module, _, attr = self.factory.partition(":")
        return getattr(importlib.import_module(module), attr)


def _fast(shape: tuple[int, int], settings: StrategySettings, **extra: Any) -> Any:
    from fastscan.sampler import Sampler

    kwargs: dict[str, Any] = {"motion": settings.motion, **extra}
    if settings.motion_weight is not None:
        kwargs["motion_weight"] = settings.motion_weight
    if settings.channel_weights is not None:
        kwargs["channel_weights"] = list(settings.channel_weights)
    return Sampler(
        shape,
        batch_size=settings.batch_size,
        seed=settings.seed,
        max_coverage=settings.max_coverage,
        change_tolerance=None,  # the replay reaches every coverage; it reports the stop
        **kwargs,
    )


def fast_sampler(shape: tuple[int, int], settings: StrategySettings) -> Any:
    """``fast``: the step sampler with motion-aware batches under ``settings.motion``."""
    return _fast(shape, settings, model=settings.model)


def fast_classic_sampler(shape: tuple[int, int], settings: StrategySettings) -> Any:
    """``fast-classic``: FAST's loop replayed (:class:`fastscan.classic.ClassicSampler`).

    FAST's model and initial pattern (seed 0 is FAST's own), min-max features at
    every iteration, plain top-n batches; ``settings.model`` is not used.
    """
    from fastscan.classic import ClassicSampler

    seed = settings.seed
    if seed is None:
        seed = int(np.random.default_rng().integers(2**31))
    return ClassicSampler(
        shape,
        batch_size=settings.batch_size,
        seed=seed,
        max_coverage=settings.max_coverage,
        motion=settings.motion,
    )


def static_sampler(name: str) -> Callable[..., Any]:
    """Factory of the static baseline ``name`` (see :data:`fastscan.baselines.STATIC_SAMPLERS`)."""

    def factory(shape: tuple[int, int], settings: StrategySettings) -> Any:
        from fastscan.baselines import STATIC_SAMPLERS

        kwargs: dict[str, Any] = {}
        if name == "fly-raster" and settings.coverages:
            kwargs["first_coverage"] = min(settings.coverages)
        return STATIC_SAMPLERS[name](
            shape,
            batch_size=settings.batch_size,
            max_coverage=settings.max_coverage,
            seed=settings.seed,
            **kwargs,
        )

    return factory


raster_sampler = static_sampler("raster")
fly_raster_sampler = static_sampler("fly-raster")
random_sampler = static_sampler("random")
halton_sampler = static_sampler("halton")

#: Every strategy by name. fastfly's ``fast-fly`` goes here as one more entry.
STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("fast", "fastscan.strategies:fast_sampler", "step",
                 "SLADS-Net step batches, chosen for ERD per second of beam time"),
        Strategy("fast-classic", "fastscan.strategies:fast_classic_sampler", "step",
                 "FAST replayed: its model, pattern, min-max features, top-n batches",
                 default=False),
        Strategy("raster", "fastscan.strategies:raster_sampler", "step",
                 "serpentine step raster at each coverage (one fresh scan per coverage)",
                 fresh_per_coverage=True),
        Strategy("fly-raster", "fastscan.strategies:fly_raster_sampler", "fly",
                 "fly every k-th row, then the rows in between, coarse to fine"),
        Strategy("fast-fly", "fastscan.fly.sampler:fast_fly_sampler", "fly",
                 "adaptive fly segments (rows, columns, partial), chosen for ERD per second"),
        Strategy("fast-auto", "fastscan.fly.auto:fast_auto_sampler", "fly",
                 "coarse fly raster, then step batches or fly segments, whichever the "
                 "dwell and the data predict faster", default=False),
        Strategy("random", "fastscan.strategies:random_sampler", "step",
                 "uniform random step points"),
        Strategy("halton", "fastscan.strategies:halton_sampler", "step",
                 "scrambled Halton step points"),
    )
}  # fmt: skip


def register_strategy(strategy: Strategy, *, replace: bool = False) -> Strategy:
    """Add ``strategy`` to :data:`STRATEGIES` (an existing name needs ``replace=True``)."""
    if strategy.kind not in ("step", "fly"):
        raise ValueError(f"strategy kind must be 'step' or 'fly', got {strategy.kind!r}")
    if ":" not in strategy.factory:
        raise ValueError(f"factory must be 'module:attribute', got {strategy.factory!r}")
    if strategy.name in STRATEGIES and not replace:
        raise ValueError(f"strategy {strategy.name!r} is already registered")
    STRATEGIES[strategy.name] = strategy
    return strategy


def make_strategy_sampler(
    name: str, shape: tuple[int, int], settings: StrategySettings | None = None
) -> Any:
    """Build the sampler of strategy ``name`` for a grid of ``shape``."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")
    return STRATEGIES[name].load()(shape, settings or StrategySettings())

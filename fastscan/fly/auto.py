"""``fast-auto``: step batches or adaptive fly segments, as the dwell and the data predict faster.

:class:`AutoSampler` first asks the time model
(:func:`fastscan.fly.choice.mode_without_data`): where one mode wins whatever
the sample looks like (flying at short dwells, stepping at long ones) it runs
that mode from the start, exactly as ``fast-fly`` or ``fast`` would. In the band
between, it probes the sample first, and then calls the decision
(:func:`fastscan.fly.choice.choose_mode`) with the probe's structure.

- ``probe="rows"`` (default): the probe is a few whole lines of the fly
  sampler's coarse raster (:data:`PROBE_ROWS`, spread over the grid; rows, or
  columns where that raster is flown in columns), flown.
  The structure is :func:`fastscan.fly.choice.row_gini`, the Gini of the
  rows' own gradient along x. Fly: the same :class:`fastscan.fly.FlySampler`
  goes on with the rest of its coarse raster (the probe rows are part of it, so
  nothing is flown twice). Step: a :class:`fastscan.Sampler` (as ``fast``) takes
  the probe rows as its initial pattern (it measures its structure and starts
  its ERD from them) and steps batches from there; it steps no Halton pattern.
- ``probe="points"`` (the earlier behaviour): it starts as ``fast`` (its
  initial Halton pattern, about 1 % of the grid, stepped); the structure is the
  gradient Gini the step sampler measures on it for its own shaping. Step: the
  same sampler goes on. Fly: a :class:`fastscan.fly.FlySampler` ingests every
  reading so far, in measurement order, and flies from there.

Drivers: while :attr:`AutoSampler.flying` is true it is a segment sampler
(``suggest_segments``), otherwise a point sampler (``suggest``);
:func:`fastscan.replay.replay` follows :attr:`~AutoSampler.flying`. Every
reading is ingested by the sampler in use, and :attr:`~AutoSampler.trajectory`
times segments as flown and step points as stepped.

Examples
--------
>>> import numpy as np
>>> from fastscan.fly.auto import AutoSampler
>>> from fastscan.motion import NANOPROBE
>>> truth = np.zeros((48, 64)); truth[10:20, 30:40] = 100.0
>>> s = AutoSampler((48, 64), motion=NANOPROBE.replace(dwell=1.0), max_coverage=0.4)
>>> while not s.should_stop():
...     if s.flying:
...         pts = np.concatenate([seg.pixels() for seg in s.suggest_segments()])
...     else:
...         pts = s.suggest()
...     s.ingest(pts, truth[pts[:, 0], pts[:, 1]])
>>> s.choice.mode, s.coverage >= 0.4
('step', True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from fastscan._settable import Settable, SettableMeta
from fastscan._validation import check_shape, is_integer
from fastscan.beamtime import Trajectory, TrajectoryBuilder
from fastscan.erd.estimator import ERDModel
from fastscan.fly._params import check_max_coverage
from fastscan.fly.choice import (
    ModeChoice,
    choose_mode,
    choose_mode_rows,
    cost_ratio,
    mode_without_data,
    row_gini,
)
from fastscan.fly.sampler import FlySampler, _line, coarse_line_axis
from fastscan.fly.segment import Segment, segments_to_points
from fastscan.motion import NANOPROBE, MotionModel, check_motion
from fastscan.sampler import Sampler

__all__ = ["PROBES", "PROBE_ROWS", "AutoSampler", "fast_auto_sampler"]

#: what the data decision looks at (:class:`AutoSampler`)
PROBES = ("rows", "points")
#: rows of the coarse fly raster flown as the probe
PROBE_ROWS = 4


class AutoSampler(Settable, metaclass=SettableMeta):
    """Step batches or adaptive fly segments, whichever the time model and the data predict faster.

    Parameters
    ----------
    shape : (n_rows, n_cols)
        Grid size in pixels.
    motion : MotionModel or None
        Time model in pixel units (None: the nanoprobe model); the choice and
        both samplers use it.
    max_coverage : float
        Stop once this fraction of the grid is measured (settable also once
        readings are in). Any other setting set after construction takes effect as
        if given here before the first reading and is refused once readings are in
        (:mod:`fastscan._settable`).
    seed : int or None
        Seed of the samplers.
    model : ERDModel, path or None
        ERD model of both samplers (None: the shipped one).
    batch_size : int
        Step points per batch in step mode.
    motion_weight : float or None
        Motion-aware batch knob of the step sampler (None: its default).
    choose : callable(motion, line_pixels, gini) -> ModeChoice or None
        The decision from the data; None: :func:`fastscan.fly.choice.choose_mode`
        (``probe="points"``) or :func:`fastscan.fly.choice.choose_mode_rows`
        (``probe="rows"``). A test or a user may force a mode with another callable.
    probe : {"rows", "points"}
        What the data decision looks at, in the band where the time model alone
        does not decide: a few flown rows, or the step sampler's stepped initial
        pattern (module docstring).
    probe_rows : int
        ``probe="rows"``: rows of the coarse fly raster flown as the probe
        (fewer if the raster has fewer).
    """

    #: settable once readings are in (any other setting: a new AutoSampler)
    LIVE_KNOBS = frozenset({"max_coverage"})

    def __init__(
        self,
        shape: tuple[int, int],
        *,
        motion: MotionModel | None = None,
        max_coverage: float = 0.5,
        seed: int | None = 0,
        model: ERDModel | str | Path | None = None,
        batch_size: int = 50,
        motion_weight: float | None = None,
        choose: Callable[[MotionModel, int, float], ModeChoice] | None = None,
        probe: str = "rows",
        probe_rows: int = PROBE_ROWS,
    ) -> None:
        self.motion = check_motion(NANOPROBE if motion is None else motion)
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if probe not in PROBES:
            raise ValueError(f"probe must be one of {PROBES}, got {probe!r}")
        if not (is_integer(probe_rows) and probe_rows >= 1):
            raise ValueError(f"probe_rows must be an integer >= 1, got {probe_rows!r}")
        if choose is None:
            choose = choose_mode_rows if probe == "rows" else choose_mode
        if not callable(choose):
            raise TypeError(f"choose must be callable, got {type(choose).__name__}")
        self.probe = probe
        self.probe_rows = int(probe_rows)
        self.shape = check_shape(shape)
        self.max_coverage = check_max_coverage(max_coverage)
        self.seed = seed
        self.step_batch_size = int(batch_size)
        self.motion_weight = motion_weight
        self._choose = choose
        self._model = model
        self._step: Sampler | None = None
        self._fly: FlySampler | None = None
        self._builder = TrajectoryBuilder(self.motion, shape=self.shape)  # step mode's record
        self._probe_rows: list[int] = []  # rows of the flown probe (probe="rows", band)
        #: the decision (None until the data decide it)
        self.choice: ModeChoice | None = None
        # a flown line's pixels: fast-fly's coarse lines are columns on portrait grids
        rows = coarse_line_axis(self.shape, self.motion) == "rows"
        self._line_pixels = self.shape[1] if rows else self.shape[0]
        #: "fly" or "step" if the time model alone decides, None if the data will
        self.planned = mode_without_data(self.motion, self._line_pixels)
        if self.planned == "fly":
            self._fly = self._new_fly(model)
            ratio = cost_ratio(self.motion, self._line_pixels)
            self.choice = ModeChoice("fly", ratio, math.nan, math.nan)
        elif self.planned is None and probe == "rows":
            self._fly = self._new_fly(model)
            self._probe_rows = _probe_first(self._fly, self.probe_rows)
        else:
            self._step = self._new_step(model)
            if self.planned == "step":
                ratio = cost_ratio(self.motion, self._line_pixels)
                self.choice = ModeChoice("step", ratio, math.nan, math.nan)

    def _set_live(self, name: str, value: Any) -> None:
        """``max_coverage`` once readings are in: checked, and given to the sampler of
        the mode in use (and to one made at a later switch)."""
        self.__dict__[name] = check_max_coverage(value)
        for inner in (self._step, self._fly):
            if inner is not None:
                inner._set_live(name, self.max_coverage)  # (its own state kept, e.g. the probe)

    def _new_step(self, model: Any) -> Sampler:
        kwargs: dict[str, Any] = {}
        if self.motion_weight is not None:
            kwargs["motion_weight"] = self.motion_weight
        return Sampler(
            self.shape,
            batch_size=self.step_batch_size,
            seed=self.seed,
            max_coverage=self.max_coverage,
            change_tolerance=None,  # a replay reaches every coverage; it reports the stop
            model=model,
            motion=self.motion,
            **kwargs,
        )

    def _new_fly(self, model: Any) -> FlySampler:
        return FlySampler(
            self.shape, motion=self.motion, max_coverage=self.max_coverage, seed=self.seed,
            model=model,
        )  # fmt: skip

    # ------------------------------------------------------------------ mode
    @property
    def flying(self) -> bool:
        """True while the scan is flown (``suggest_segments``), False while it steps."""
        return self._fly is not None

    @property
    def mode(self) -> str:
        """``"fly"`` or ``"step"``: how the next readings are taken."""
        return "fly" if self.flying else "step"

    @property
    def _current(self) -> Any:
        return self._step if self._fly is None else self._fly

    @property
    def probing(self) -> bool:
        """True while the flown probe rows are measured (before the data decide)."""
        return bool(self._probe_rows) and self.choice is None

    def _decide_rows(self) -> None:
        """Once the probe rows are flown: choose; to step, a step sampler takes the readings."""
        fly = self._fly
        columns = fly._line_axis == "columns"  # the probe lines are the fly sampler's
        mask = fly.measured_mask.T if columns else fly.measured_mask
        if not mask[self._probe_rows].all():
            return
        points, values = fly.measured_points, fly.measured_values
        grid = np.zeros(self.shape)
        grid[points[:, 0], points[:, 1]] = values  # each probe pixel measured once
        lines = (grid.T if columns else grid)[self._probe_rows]
        self.choice = self._choose(self.motion, lines.shape[1], row_gini(lines))
        if self.choice.mode != "step":
            return
        # the step sampler starts from the probe: the rows are its initial pattern (its
        # structure measure and ERD come from them), so no stepped pattern is needed
        step = self._new_step(fly._sampler.model)
        step._initial = fly.measured_points
        step.ingest(fly.measured_points, fly.measured_values)
        self._builder = TrajectoryBuilder(self.motion, shape=self.shape)
        self._builder.add_trajectory(fly.trajectory)  # the probe, flown
        self._step, self._fly = step, None

    def _decide(self) -> None:
        """Once the step sampler's initial pattern is in: choose; to fly, hand it every reading."""
        step = self._step
        if self.choice is not None or step is None or not step.initial_complete:
            return
        self.choice = self._choose(self.motion, self._line_pixels, float(step._gini))
        if self.choice.mode != "fly":
            return
        fly = self._new_fly(step.model)
        fly.ingest(step.measured_points, step.measured_values)  # timed as the step points they were
        self._fly = fly

    # ------------------------------------------------------------------ decisions
    def suggest_segments(self) -> list[Segment]:
        """Next fly segments (fly mode); raises while the scan steps (use :meth:`suggest`)."""
        if not self.flying:
            raise RuntimeError("fast-auto is in step mode: call suggest() for step points")
        return self._fly.suggest_segments()

    def suggest(self, n: int | None = None) -> np.ndarray:
        """Next step points (step mode); in fly mode the pending segments' pixels in order.

        A driver that can only step may measure those pixels as step points; they
        are then timed as step points.
        """
        if self.flying:
            return segments_to_points(self._fly.suggest_segments())[0]
        return self._step.suggest(n)

    def ingest(self, points: np.ndarray, values: np.ndarray) -> None:
        """Add readings (see :meth:`fastscan.Sampler.ingest`); may switch to fly mode."""
        if self.flying:
            self._fly.ingest(points, values)
            if self.probing:
                self._decide_rows()
            return
        points = np.asarray(points)
        self._step.ingest(points, values)
        if len(points):
            self._builder.add_points(points)
        self._decide()

    def should_stop(self) -> bool:
        return self._current.should_stop()

    # ------------------------------------------------------------------ state
    @property
    def batch_size(self) -> int:
        return self._current.batch_size

    @property
    def stop_reason(self) -> str | None:
        return self._current.stop_reason

    @property
    def reconstruction(self) -> np.ndarray:
        return self._current.reconstruction

    @property
    def erd(self) -> np.ndarray:
        return self._current.erd

    @property
    def measured_mask(self) -> np.ndarray:
        return self._current.measured_mask

    @property
    def measured_points(self) -> np.ndarray:
        return self._current.measured_points

    @property
    def measured_values(self) -> np.ndarray:
        return self._current.measured_values

    @property
    def n_measured(self) -> int:
        return self._current.n_measured

    @property
    def coverage(self) -> float:
        return self._current.coverage

    @property
    def position(self) -> np.ndarray | None:
        return self._current.position

    @property
    def beam_time(self) -> float:
        """Modelled seconds of the readings ingested so far (segments flown, points stepped)."""
        return self._fly.beam_time if self.flying else self._builder.time

    @property
    def trajectory(self) -> Trajectory:
        """Every reading so far with its modelled end time, segment id and ``flown`` flag."""
        return self._fly.trajectory if self.flying else self._builder.trajectory()

    def get_params(self) -> dict[str, Any]:
        choice = self.choice
        return {
            "shape": list(self.shape),
            "max_coverage": self.max_coverage,
            "seed": self.seed,
            "batch_size": self.step_batch_size,
            "motion_weight": self.motion_weight,
            "probe": self.probe,
            "probe_rows": self.probe_rows,
            "planned": self.planned,
            "mode": self.mode,
            "choice": None if choice is None else {
                "mode": choice.mode, "cost_ratio": choice.cost_ratio,
                "gain": None if math.isnan(choice.gain) else choice.gain,
                "gini": None if math.isnan(choice.gini) else choice.gini,
            },
        }  # fmt: skip

    def __repr__(self) -> str:
        return (
            f"AutoSampler(shape={self.shape}, mode={self.mode!r}, "
            f"coverage={self.coverage:.1%}, beam_time={self.beam_time:.1f} s)"
        )


def _probe_first(fly: FlySampler, n_lines: int) -> list[int]:
    """Put ``n_lines`` of the fly sampler's coarse lines, spread out, first in its raster.

    The probe lines (rows, or columns where the fly sampler's coarse raster is
    flown in columns) are flown first, serpentine among themselves, then the
    rest of the coarse raster, serpentine; returns the probe's line indices.
    """
    axis = fly._line_axis
    coarse = [s.start[0 if axis == "rows" else 1] for s in fly._initial_lines]
    n = min(int(n_lines), len(coarse))
    first = [coarse[int((i + 0.5) * len(coarse) / n)] for i in range(n)]
    order = first + [k for k in coarse if k not in first]
    fly._initial_lines = [_line(fly.shape, axis, k, i % 2 == 1) for i, k in enumerate(order)]
    return first


def fast_auto_sampler(shape: tuple[int, int], settings: Any) -> AutoSampler:
    """``fast-auto`` strategy factory (:mod:`fastscan.strategies`): an :class:`AutoSampler`."""
    motion = settings.motion if settings.motion is not None else NANOPROBE
    return AutoSampler(
        shape,
        motion=motion,
        max_coverage=settings.max_coverage,
        seed=settings.seed,
        model=settings.model,
        batch_size=settings.batch_size,
        motion_weight=settings.motion_weight,
    )

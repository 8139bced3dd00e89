"""Parameter checks of :class:`fastscan.fly.FlySampler`: each argument validated, with a
clear error naming the value and what is allowed, and set as an attribute; the defaults
that depend on the grid and the motion (coarse axis, spacing, sweep) resolved; and the
parameters reported back (``get_params``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastscan._validation import check_shape, is_integer
from fastscan.fly.defaults import (
    LATTICE_SKIP,
    REFINE,
    _spacing_for,
    coarse_line_axis,
    default_initial_spacing,
    default_sweep,
    line_costs,
)
from fastscan.fly.flat_pixels import FlatDiscount
from fastscan.fly.planner import AXES
from fastscan.motion import NANOPROBE, MotionModel, check_motion


def check_max_coverage(value: float) -> float:
    """``max_coverage`` checked (in (0, 1]) as a float."""
    if not 0.0 < value <= 1.0:
        raise ValueError(f"max_coverage must be in (0, 1], got {value!r}")
    return float(value)


def check_time_budget(value: float | None) -> float | None:
    """``time_budget`` checked (seconds > 0 or None), as given."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise ValueError(f"time_budget must be seconds > 0 or None, got {value!r}")
    return value


def check_rate_threshold(value: float | None) -> float | None:
    """``rate_threshold`` checked (>= 0 or None), as given."""
    if value is not None and not (math.isfinite(value) and value >= 0):
        raise ValueError(f"rate_threshold must be >= 0 or None, got {value!r}")
    return value


#: the stop knobs of a FlySampler, settable also once readings are in, and their checks
STOP_CHECKS = {
    "max_coverage": check_max_coverage,
    "time_budget": check_time_budget,
    "rate_threshold": check_rate_threshold,
}


class _FlyParams:
    """Mixin of :class:`fastscan.fly.FlySampler`: its parameter checks and ``get_params``."""

    def _check_params(
        self,
        shape: tuple[int, int],
        *,
        motion: MotionModel | None,
        max_coverage: float,
        time_budget: float | None,
        rate_threshold: float | None,
        seed: int | None,
        batch_size: int,
        decision_time: float | None,
        initial_spacing: int | None,
        axes: tuple[str, ...] | list[str],
        power: float,
        k: int,
        move_aware: bool,
        move_weight: float,
        refine: str,
        gap_power: float,
        line_bias: float,
        floor: float,
        sweep: int | None,
        sweep_share: float,
        sweep_until: float,
        sweep_share_late: float | None,
        sweep_window: int,
        sweep_pool: int,
        sweep_tour: bool,
        flat_lines: float,
        flat_share: float,
        flat_edges: bool,
        flat_lines_everywhere: bool,
        flat_ends: float,
        flat_pixel_share: float,
        flat_pixel_ends: bool,
        flat_pixel_resume: float | None,
        line_jump: float | None,
        fly_axis: str,
        probe_lines: int,
        switch_ratio: float,
        grid_spacing: int,
        grid_lines: int,
        coarse_level: int,
        lattice: int,
        lattice_trim: float,
        lattice_skip: str,
    ) -> tuple[str, tuple[float, float], tuple[float, float]]:
        """Check the parameters (the errors in the order of the signature's use), set
        them as attributes, and return the coarse axis and the line costs
        (:func:`fastscan.fly.defaults.line_costs`)."""
        self.shape = check_shape(shape)
        self.motion = check_motion(NANOPROBE if motion is None else motion)
        check_max_coverage(max_coverage)
        check_time_budget(time_budget)
        check_rate_threshold(rate_threshold)
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if decision_time is not None and not (math.isfinite(decision_time) and decision_time > 0):
            raise ValueError(f"decision_time must be seconds > 0 or None, got {decision_time!r}")
        line_axis = coarse_line_axis(self.shape, self.motion, fly_axis)  # checks fly_axis
        fixed, pixel_time = line_costs(self.motion)
        self._line_seconds = tuple(
            f + n * t for f, n, t in zip(fixed, self.shape[::-1], pixel_time)
        )  # a whole row, a whole column
        if not (is_integer(grid_spacing) and grid_spacing >= 2):
            raise ValueError(f"grid_spacing must be an integer >= 2, got {grid_spacing!r}")
        self.grid_spacing = int(grid_spacing)
        if not (is_integer(grid_lines) and grid_lines >= 1):
            raise ValueError(f"grid_lines must be an integer >= 1, got {grid_lines!r}")
        self.grid_lines = int(grid_lines)
        self._grid_steps = {  # "grid": the coarse spacing of each axis
            axis: _spacing_for(n_lines, self.grid_spacing, self.grid_lines)
            for axis, n_lines in zip(AXES, self.shape)
        }
        if fly_axis == "grid":
            step = self._grid_steps[line_axis]
            if initial_spacing is not None and initial_spacing != step:
                raise ValueError(
                    f"fly_axis='grid' sets its spacing from grid_spacing ({step} here); "
                    f"initial_spacing must be None or {step}, got {initial_spacing!r}"
                )
            initial_spacing = step
        if initial_spacing is None:  # (the coarse lines counted as rows)
            lines_first = self.shape if line_axis == "rows" else self.shape[::-1]
            initial_spacing = default_initial_spacing(lines_first, self.motion.dwell)
        if int(initial_spacing) != initial_spacing or initial_spacing < 1:
            raise ValueError(f"initial_spacing must be an integer >= 1, got {initial_spacing!r}")
        if not (
            is_integer(lattice)
            and (lattice == 0 or (lattice >= 2 and lattice & (lattice - 1) == 0))
        ):
            raise ValueError(f"lattice must be 0 (off) or a power of two >= 2, got {lattice!r}")
        if not (math.isfinite(lattice_trim) and 0 <= lattice_trim < 1):
            raise ValueError(f"lattice_trim must be a number in [0, 1), got {lattice_trim!r}")
        if lattice_skip not in LATTICE_SKIP:
            raise ValueError(f"lattice_skip must be one of {LATTICE_SKIP}, got {lattice_skip!r}")
        self.lattice = int(lattice)
        self.lattice_skip = lattice_skip
        self.lattice_trim = float(lattice_trim)
        self.max_coverage = float(max_coverage)
        self.time_budget = time_budget
        self.rate_threshold = rate_threshold
        self.seed = seed
        self.batch_size = int(batch_size)
        self.decision_time = decision_time
        self.initial_spacing = int(initial_spacing)
        self.axes = tuple(axes)
        self.power = float(power)
        self.k = int(k)
        self.move_aware = bool(move_aware)
        if not (math.isfinite(move_weight) and move_weight > 0):
            raise ValueError(f"move_weight must be a finite number > 0, got {move_weight!r}")
        self.move_weight = float(move_weight)
        if refine not in REFINE:
            raise ValueError(f"refine must be one of {REFINE}, got {refine!r}")
        if not (math.isfinite(gap_power) and gap_power >= 0):
            raise ValueError(f"gap_power must be a finite number >= 0, got {gap_power!r}")
        self.refine = refine
        self.gap_power = float(gap_power)
        if not (math.isfinite(line_bias) and line_bias >= 0):
            raise ValueError(f"line_bias must be a finite number >= 0, got {line_bias!r}")
        self.line_bias = float(line_bias)
        if not (math.isfinite(floor) and floor >= 0):
            raise ValueError(f"floor must be a finite number >= 0, got {floor!r}")
        self.floor = float(floor)
        if sweep is None:
            sweep = default_sweep(self.shape, self.motion)
        if not (is_integer(sweep) and sweep >= 0):
            raise ValueError(f"sweep must be an integer >= 0 or None, got {sweep!r}")
        self.sweep = int(sweep)
        if not (math.isfinite(sweep_share) and 0 <= sweep_share <= 1):
            raise ValueError(f"sweep_share must be a number in [0, 1], got {sweep_share!r}")
        self.sweep_share = float(sweep_share)
        if isinstance(sweep_until, bool) or not (
            isinstance(sweep_until, int | float) and 0 < sweep_until <= 1
        ):
            raise ValueError(
                f"sweep_until must be a coverage share in (0, 1] (1: never), got {sweep_until!r}"
            )
        self.sweep_until = float(sweep_until)
        if sweep_share_late is not None and (
            isinstance(sweep_share_late, bool)
            or not isinstance(sweep_share_late, int | float)
            or not 0 <= sweep_share_late <= 1
        ):
            raise ValueError(
                "sweep_share_late must be None (no late sweeps) or a number in [0, 1], "
                f"got {sweep_share_late!r}"
            )
        self.sweep_share_late = None if sweep_share_late is None else float(sweep_share_late)
        if not (is_integer(sweep_window) and sweep_window >= 0):
            raise ValueError(f"sweep_window must be an integer >= 0 (0: off), got {sweep_window!r}")
        self.sweep_window = int(sweep_window)
        if not (is_integer(sweep_pool) and sweep_pool >= 0):
            raise ValueError(
                f"sweep_pool must be an integer >= 0 (0 or at most sweep: off), got {sweep_pool!r}"
            )
        self.sweep_pool = int(sweep_pool)
        if not isinstance(sweep_tour, bool | np.bool_):
            raise ValueError(f"sweep_tour must be True or False, got {sweep_tour!r}")
        self.sweep_tour = bool(sweep_tour)
        if not (math.isfinite(flat_lines) and 0 <= flat_lines < 1):
            raise ValueError(f"flat_lines must be a number in [0, 1) (0: off), got {flat_lines!r}")
        self.flat_lines = float(flat_lines)
        if not (math.isfinite(flat_share) and 0 <= flat_share <= 1):
            raise ValueError(f"flat_share must be a number in [0, 1], got {flat_share!r}")
        self.flat_share = float(flat_share)
        if not isinstance(flat_edges, bool | np.bool_):
            raise ValueError(f"flat_edges must be True or False, got {flat_edges!r}")
        self.flat_edges = bool(flat_edges)
        if not isinstance(flat_lines_everywhere, bool | np.bool_):
            raise ValueError(
                f"flat_lines_everywhere must be True or False, got {flat_lines_everywhere!r}"
            )
        self.flat_lines_everywhere = bool(flat_lines_everywhere)
        self._flat_scale_cache: dict[int, tuple[tuple[bytes, bytes], np.ndarray]] = {}
        if not (math.isfinite(flat_ends) and 0 <= flat_ends < 1):
            raise ValueError(f"flat_ends must be a number in [0, 1) (0: off), got {flat_ends!r}")
        self.flat_ends = float(flat_ends)
        share = flat_pixel_share
        number = isinstance(share, int | float | np.number) and not isinstance(share, bool)
        if not (number and 0 <= share <= 1):
            raise ValueError(
                f"flat_pixel_share must be a number in [0, 1] (1: off), got {flat_pixel_share!r}"
            )
        self.flat_pixel_share = float(flat_pixel_share)
        if not isinstance(flat_pixel_ends, bool | np.bool_):
            raise ValueError(f"flat_pixel_ends must be True or False, got {flat_pixel_ends!r}")
        self.flat_pixel_ends = bool(flat_pixel_ends)
        resume = flat_pixel_resume
        number = isinstance(resume, int | float | np.number) and not isinstance(resume, bool)
        if resume is not None and not (number and 0 <= resume <= 1):
            raise ValueError(
                "flat_pixel_resume must be None (stop) or a number in [0, 1], "
                f"got {flat_pixel_resume!r}"
            )
        self.flat_pixel_resume = None if resume is None else float(resume)
        # the share the flat pixels keep now: flat_pixel_share, then flat_pixel_resume
        # once a plan at the share found nothing left to gain (flat_pixel_resume)
        self._flat_share_now = self.flat_pixel_share
        if line_jump is not None and (
            isinstance(line_jump, bool)
            or not isinstance(line_jump, int | float | np.number)
            or not 0 <= line_jump <= 1
        ):
            raise ValueError(
                f"line_jump must be None (off) or a coverage share in [0, 1], got {line_jump!r}"
            )
        self.line_jump = None if line_jump is None else float(line_jump)
        # flat_pixel_share: the flat-bounded pixels (kept up to date by each ingest, within
        # reach of its readings) and the planner's discounted weights; built at activation
        self._flat_discount: FlatDiscount | None = None
        # flat_ends: pixels a pick left out, and the reading beside each (for flat_lines)
        self._ends_left: np.ndarray | None = None
        self._ends_fill: np.ndarray | None = None
        # the sweep pass under way: [axis, direction, front line, ERD/s floor]; None: none
        self._pass: list | None = None
        self._pass_direction = 0  # the last pass's direction (+1 down / -1 up), 0: none yet
        self.n_passes = 0  # sweep passes started (``sweep_window``)
        if not (is_integer(probe_lines) and probe_lines >= 1):
            raise ValueError(f"probe_lines must be an integer >= 1, got {probe_lines!r}")
        if not (math.isfinite(switch_ratio) and 0 < switch_ratio <= 1):
            raise ValueError(f"switch_ratio must be a number in (0, 1], got {switch_ratio!r}")
        if coarse_level not in (0, 1) or not is_integer(coarse_level):
            raise ValueError(f"coarse_level must be 0 or 1, got {coarse_level!r}")
        self.coarse_level = int(coarse_level)
        self.fly_axis = fly_axis
        self.probe_lines = int(probe_lines)
        self.switch_ratio = float(switch_ratio)
        return line_axis, fixed, pixel_time

    def get_params(self) -> dict[str, Any]:
        return {
            "shape": list(self.shape),
            "max_coverage": self.max_coverage,
            "time_budget": self.time_budget,
            "rate_threshold": self.rate_threshold,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "decision_time": self.decision_time,
            "initial_spacing": self.initial_spacing,
            "axes": list(self.axes),
            "power": self.power,
            "k": self.k,
            "tie_break": self._sampler.tie_break,
            "move_aware": self.move_aware,
            "move_weight": self.move_weight,
            "refine": self.refine,
            "gap_power": self.gap_power,
            "line_bias": self.line_bias,
            "floor": self.floor,
            "sweep": self.sweep,
            "sweep_share": self.sweep_share,
            "sweep_until": self.sweep_until,
            "sweep_share_late": self.sweep_share_late,
            "sweep_window": self.sweep_window,
            "sweep_pool": self.sweep_pool,
            "sweep_tour": self.sweep_tour,
            "flat_lines": self.flat_lines,
            "flat_share": self.flat_share,
            "flat_edges": self.flat_edges,
            "flat_lines_everywhere": self.flat_lines_everywhere,
            "flat_ends": self.flat_ends,
            "flat_pixel_share": self.flat_pixel_share,
            "flat_pixel_ends": self.flat_pixel_ends,
            "flat_pixel_resume": self.flat_pixel_resume,
            "line_jump": self.line_jump,
            "fly_axis": self.fly_axis,
            "probe_lines": self.probe_lines,
            "switch_ratio": self.switch_ratio,
            "erd_floor": self._sampler.erd_floor,
            "floor_scale": self.floor_scale,
            "flat_scene": self.flat_scene,
            "flat_scene_line_bias": self.flat_scene_line_bias,
            "grid_spacing": self.grid_spacing,
            "grid_lines": self.grid_lines,
            "coarse_level": self.coarse_level,
            "lattice": self.lattice,
            "lattice_trim": self.lattice_trim,
            "lattice_skip": self.lattice_skip,
            "channels": self.channels,
            "channel_weights": self.channel_weights,
        }

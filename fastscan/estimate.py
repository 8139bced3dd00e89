"""What a scan will cost before beam time is spent: rasters, their time split, step or fly.

:func:`estimate_scan` answers, for a grid and a time model, the questions a user asks at the
prompt before a scan (``fastscan estimate`` prints it): how long a serpentine step raster
takes (whole, and at lower coverages, as the ``raster`` strategy scans them), how long a fly
raster of every k-th row or every k-th column takes, split into readings, stage moves and
fixed costs (settle, overheads, ramps), which axis is cheaper to fly, the cost ratio ``R`` of
:func:`fastscan.fly.choice.cost_ratio`, what ``fast-auto`` and the dwell rule
(:func:`fastscan.fly.mode.best_strategy`) will do, and a rule of thumb of what to expect.

Every time comes from :mod:`fastscan.beamtime` (:class:`~fastscan.beamtime.TrajectoryBuilder`,
:func:`~fastscan.beamtime.time_breakdown`): the model the samplers and ``fastscan simulate``
use, from the stage at pixel (0, 0), pixel units. Nothing is scanned and no image is needed.

Examples
--------
>>> from fastscan.estimate import estimate_scan
>>> from fastscan.motion import NANOPROBE
>>> est = estimate_scan((256, 256), NANOPROBE, dwells=[0.001])
>>> fly = est.dwells[0].scan("fly", "rows", 4)
>>> round(fly.seconds, 1), round(fly.readings_s, 1), round(fly.moves_s, 1), round(fly.fixed_s, 1)
(35.4, 16.4, 2.5, 16.5)
>>> est.dwells[0].fly_axis, est.dwells[0].auto_mode
('rows', 'fly')
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastscan._validation import check_shape
from fastscan.beamtime import Trajectory, TrajectoryBuilder, time_breakdown
from fastscan.fly.auto import PROBE_ROWS
from fastscan.fly.choice import (
    GAIN_SPARSE,
    GAIN_TEXTURE,
    ROW_GINI_HIGH,
    ROW_GINI_LOW,
    STEP_MOVE,
    cost_ratio,
    mode_without_data,
    step_gain,
)
from fastscan.fly.defaults import coarse_line_axis, line_costs
from fastscan.fly.mode import best_strategy, step_overhead
from fastscan.fly.segment import Segment
from fastscan.motion import MotionModel, check_motion
from fastscan.patterns import raster_points

__all__ = [
    "FLY_SPACINGS",
    "STEP_COVERAGES",
    "DwellEstimate",
    "Estimate",
    "ScanCost",
    "estimate_scan",
    "fly_raster",
    "parse_shape",
]

#: every k-th line of the fly rasters estimated
FLY_SPACINGS = (1, 2, 4, 8)
#: coverages of the step rasters estimated (``raster``'s regular grids; 1: every pixel)
STEP_COVERAGES = (1.0, 0.5, 0.25)
#: spacing of the reference fly raster of the rule of thumb (the project's first target)
REFERENCE_SPACING = 4


@dataclass(frozen=True)
class ScanCost:
    """One raster's beam time and where it goes (seconds; pixel units)."""

    kind: str  #: "step" or "fly"
    axis: str | None  #: "rows" or "columns" for a fly raster, None for a step raster
    k: int | None  #: every k-th line of a fly raster
    coverage: float  #: share of the grid measured
    readings: int  #: pixels read
    runs: int  #: continuous moves: lines flown, or step points
    seconds: float  #: end of the last reading
    readings_s: float  #: one dwell per step point, one pixel time per flown reading
    moves_s: float  #: stage moves between lines or points
    fixed_s: float  #: settle, point and line overheads, ramps

    @property
    def label(self) -> str:
        if self.kind == "step":
            return f"step raster {self.coverage:.0%}"
        line = self.axis[:-1] if self.axis else "line"
        every = {1: "every", 2: "every 2nd", 3: "every 3rd"}.get(self.k, f"every {self.k}th")
        return f"fly {every} {line}"


@dataclass(frozen=True)
class DwellEstimate:
    """The estimate at one dwell: the rasters, the axis, ``R`` and the decisions, each with why."""

    dwell: float
    scans: tuple[ScanCost, ...]
    fly_axis: str  #: "rows" or "columns": the cheaper raster (fast-fly's coarse lines)
    fly_axis_why: str
    line_pixels: int  #: readings per line of ``fly_axis``
    cost_ratio: float  #: R, seconds of a step reading over a flown one
    cost_ratio_why: str
    auto_mode: str  #: what fast-auto does: "fly", "step" or "probe" (the sample decides)
    auto_why: str
    probe_gini: float | None  #: probe: the row Gini at and above which fast-auto steps
    dwell_rule: str  #: fastscan.fly.mode.best_strategy: "fast" or "fast-fly"
    dwell_rule_why: str
    overhead_share: float  #: (moves + fixed) / time of the every-4th-line fly raster
    expect: str

    def scan(self, kind: str, axis: str | None = None, k: int | None = None) -> ScanCost:
        """The raster ``kind`` ("step" with ``k`` the coverage in percent, or "fly")."""
        for s in self.scans:
            if s.kind != kind:
                continue
            if kind == "step" and (k is None or round(100 * s.coverage) == k):
                return s
            if kind == "fly" and s.axis == axis and s.k == k:
                return s
        raise KeyError(f"no {kind} raster {axis or ''} k={k} in this estimate")


@dataclass(frozen=True)
class Estimate:
    """:func:`estimate_scan`'s answer: the grid, the time model, one :class:`DwellEstimate` each."""

    shape: tuple[int, int]
    motion: MotionModel  #: the model of the first dwell (only ``dwell`` differs between them)
    dwells: tuple[DwellEstimate, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (``label`` added to each scan)."""
        motion = dataclasses.asdict(self.motion)
        motion.pop("dwell")
        return {
            "shape": list(self.shape),
            "units": "pixels (pitch 1) and seconds; stage starts at pixel (0, 0)",
            "motion": motion,
            "dwells": [
                {
                    **{k: v for k, v in dataclasses.asdict(d).items() if k != "scans"},
                    "scans": [{"label": s.label, **dataclasses.asdict(s)} for s in d.scans],
                }
                for d in self.dwells
            ],
        }


def parse_shape(text: str | Sequence[str]) -> tuple[int, int]:
    """``(rows, cols)`` from ``"600x400"``, ``"600,400"`` or ``["600", "400"]``.

    Examples
    --------
    >>> parse_shape("600x400"), parse_shape(["600", "400"])
    ((600, 400), (600, 400))
    """
    joined = text if isinstance(text, str) else " ".join(text)
    parts = joined.lower().replace("x", " ").replace(",", " ").split()
    try:
        rows, cols = (int(p) for p in parts)
    except ValueError:
        rows = cols = 0
    if rows < 2 or cols < 2:
        raise ValueError(
            f"--shape must be two integers >= 2, ROWSxCOLS (e.g. 600x400) or ROWS COLS, "
            f"got {joined!r}"
        )
    return rows, cols


def fly_raster(shape: tuple[int, int], axis: str, k: int) -> list[Segment]:
    """Every ``k``-th whole row (or column) from the first, serpentine, in flight order.

    The rows are those of ``fly-raster``'s first level at coverage ``1 / k``
    (:class:`fastscan.baselines.FlyRasterSampler`); columns are flown the same way.

    Examples
    --------
    >>> [(s.start, s.end) for s in fly_raster((5, 3), "rows", 2)]
    [((0, 0), (0, 2)), ((2, 2), (2, 0)), ((4, 0), (4, 2))]
    """
    n_rows, n_cols = check_shape(shape)
    if axis not in ("rows", "columns"):
        raise ValueError(f"axis must be 'rows' or 'columns', got {axis!r}")
    if not (isinstance(k, int) and k >= 1):
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    segments = []
    for i, line in enumerate(range(0, n_rows if axis == "rows" else n_cols, k)):
        if axis == "rows":
            ends = ((line, 0), (line, n_cols - 1))
        else:
            ends = ((0, line), (n_rows - 1, line))
        segments.append(Segment(*(ends if i % 2 == 0 else ends[::-1])))
    return segments


def _cost(trajectory: Trajectory, motion: MotionModel, shape, kind, axis, k) -> ScanCost:
    parts = time_breakdown(trajectory, motion)
    return ScanCost(
        kind=kind,
        axis=axis,
        k=k,
        coverage=trajectory.n_readings / (shape[0] * shape[1]),
        readings=trajectory.n_readings,
        runs=int(parts["runs"]),
        seconds=trajectory.beam_time,
        readings_s=parts["readings"],
        moves_s=parts["moves"],
        fixed_s=parts["fixed"],
    )


def _scans(shape: tuple[int, int], motion: MotionModel) -> list[ScanCost]:
    size = shape[0] * shape[1]
    out = []
    for coverage in STEP_COVERAGES:
        builder = TrajectoryBuilder(motion, shape=shape)
        builder.add_points(raster_points(shape, max(1, round(coverage * size))))  # as `raster`
        out.append(_cost(builder.trajectory(), motion, shape, "step", None, None))
    for axis, n_lines in (("rows", shape[0]), ("columns", shape[1])):
        for k in FLY_SPACINGS:
            if k > 1 and k >= n_lines:  # one line: the raster of a smaller k says it
                continue
            builder = TrajectoryBuilder(motion, shape=shape)
            builder.add_segments(fly_raster(shape, axis, k))
            out.append(_cost(builder.trajectory(), motion, shape, "fly", axis, k))
    return out


def _probe_gini(ratio: float) -> float:
    """Least row Gini whose step gain (:func:`step_gain`, the probe's bounds) reaches ``ratio``."""
    low, high = ROW_GINI_LOW, ROW_GINI_HIGH
    for _ in range(60):
        mid = 0.5 * (low + high)
        if step_gain(mid, ROW_GINI_LOW, ROW_GINI_HIGH) >= ratio:
            high = mid
        else:
            low = mid
    return high


def _axis_why(shape: tuple[int, int], motion: MotionModel, axis: str) -> str:
    (fixed_r, fixed_c), (time_r, time_c) = line_costs(motion)
    rows = shape[0] * (fixed_r + shape[1] * time_r)
    cols = shape[1] * (fixed_c + shape[0] * time_c)
    return (
        f"all rows {rows:.1f} s ({shape[0]} x ({fixed_r:.3g} s fixed + {shape[1]} x "
        f"{time_r:.3g} s)), all columns {cols:.1f} s ({shape[1]} x ({fixed_c:.3g} s + "
        f"{shape[0]} x {time_c:.3g} s)); fewer, longer lines win, rows on a tie "
        f"(fastscan.fly.defaults.line_costs, moves left out); fast-fly's coarse raster and "
        f"fast-auto's probe fly {axis}"
    )


def _decisions(shape: tuple[int, int], motion: MotionModel) -> dict[str, Any]:
    axis = coarse_line_axis(shape, motion)
    line_pixels = shape[1] if axis == "rows" else shape[0]
    ratio = cost_ratio(motion, line_pixels)
    (fixed, _), (pixel_time, _) = line_costs(motion)
    step = motion.dwell + motion.settle_time + motion.point_overhead
    step += float(motion.travel_time(STEP_MOVE, 0.0))
    planned = mode_without_data(motion, line_pixels)
    gini = None
    if planned == "fly":
        auto = (
            f"fly: R {ratio:.2f} > {GAIN_SPARSE:g}, more than a step scan gains even on sparse "
            f"structure ({GAIN_SPARSE:g} x fewer readings): fast-fly from the first reading"
        )
    elif planned == "step":
        auto = (
            f"step: R {ratio:.2f} <= {GAIN_TEXTURE:g}, what a step scan gains even on texture "
            f"({GAIN_TEXTURE:g} x fewer readings): fast from the first reading"
        )
    else:
        gini = _probe_gini(ratio)
        auto = (
            f"probe: {GAIN_TEXTURE:g} < R {ratio:.2f} <= {GAIN_SPARSE:g}, the sample decides: "
            f"it flies {PROBE_ROWS} of the coarse {axis} first, then steps if their Gini "
            f"(fastscan.fly.choice.row_gini) is >= {gini:.2f} (sparse structure: step gain >= R), "
            "else flies on"
        )
    overhead = step_overhead(motion)
    rule = best_strategy(motion)
    return {
        "fly_axis": axis,
        "fly_axis_why": _axis_why(shape, motion, axis),
        "line_pixels": line_pixels,
        "cost_ratio": ratio,
        "cost_ratio_why": (
            f"a step reading costs {step:.4g} s (dwell + settle + point overhead + a "
            f"{STEP_MOVE:g}-px move), a flown one {pixel_time + fixed / line_pixels:.4g} s "
            f"(pixel time + 1/{line_pixels} of a line's {fixed:.3g} s settle, overhead, ramps)"
        ),
        "auto_mode": "probe" if planned is None else planned,
        "auto_why": auto,
        "probe_gini": gini,
        "dwell_rule": rule,
        "dwell_rule_why": (
            f"a step reading's fixed part (settle + point overhead + a 1-px move, "
            f"{overhead:.3g} s) is {'at most' if rule == 'fast' else 'more than'} the dwell "
            f"{motion.dwell:g} s"
        ),
    }


def _expect(auto_mode: str, share: float, reference: str, ratio: float) -> str:
    """The rule of thumb: from the reference fly raster's split and fast-auto's mode."""
    raster = f"the {reference.removeprefix('fly ')} fly raster"
    if auto_mode == "fly" and share > 0.5:
        return (
            f"fixed costs and moves are {share:.0%} of {raster}'s time, more than its readings: "
            "an adaptive fly scan saves only whole lines, so it gains little and the fly raster "
            "is often as fast (1 ms, 256 px: fast-fly beat the best static scan in 12 of 26 "
            "validation pairs, median 1.04; docs/fly-scanning.md)"
        )
    if auto_mode == "fly":
        return (
            f"readings are {1 - share:.0%} of {raster}'s time: fast-fly saves where the sample "
            "is flat or empty; on textures expect about the fly raster's time (10 ms, 256 px: "
            "18 of 26 validation pairs won, median 0.80 of the best static scan; README)"
        )
    if auto_mode == "probe":
        return (
            "the sample decides: on sparse structure stepping pays, on textures expect about "
            "the fly raster's time (100 ms, 256 px: fast-auto won 21 of 26 validation pairs, "
            "median 0.47 of the best static scan; README)"
        )
    return (
        f"a step reading costs only {ratio:.2f} flown ones: fast steps to where the structure "
        "is (1 s, 256 px: 24 of 26 validation pairs won, median 0.31 of the best static scan; "
        "README); on textures a fly raster stays close"
    )


def estimate_scan(
    shape: tuple[int, int] | Sequence[int],
    motion: MotionModel,
    *,
    dwells: Sequence[float] | None = None,
) -> Estimate:
    """Beam time of step and fly rasters of ``shape``, and what fastscan's modes will do.

    Parameters
    ----------
    shape : (n_rows, n_cols)
        Grid in pixels (both >= 2).
    motion : MotionModel
        Time model in pixel units (``fastscan.motion.NANOPROBE`` is ``fastscan simulate``'s).
    dwells : sequence of float or None
        Dwells to estimate, seconds > 0, each with ``motion``'s other settings
        (None: ``motion.dwell`` alone).

    Returns
    -------
    Estimate
        One :class:`DwellEstimate` per dwell, in the order given.
    """
    shape = check_shape(shape)
    check_motion(motion)
    if dwells is None:
        dwells = [motion.dwell]
    if len(dwells) == 0:
        raise ValueError("dwells must hold at least one dwell, got an empty list")
    out = []
    for dwell in dwells:
        try:
            seconds = math.nan if isinstance(dwell, bool) else float(dwell)
        except (TypeError, ValueError):
            seconds = math.nan
        if not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"a dwell must be a finite number of seconds > 0, got {dwell!r}")
        m = motion.replace(dwell=seconds)
        scans = _scans(shape, m)
        decided = _decisions(shape, m)
        axis = decided["fly_axis"]
        ref = max(
            (s for s in scans if s.kind == "fly" and s.axis == axis and s.k <= REFERENCE_SPACING),
            key=lambda s: s.k,
        )
        share = (ref.moves_s + ref.fixed_s) / ref.seconds
        expect = _expect(decided["auto_mode"], share, ref.label, decided["cost_ratio"])
        out.append(
            DwellEstimate(
                dwell=seconds,
                scans=tuple(scans),
                overhead_share=share,
                expect=expect,
                **decided,
            )
        )
    return Estimate(shape, motion.replace(dwell=out[0].dwell), tuple(out))

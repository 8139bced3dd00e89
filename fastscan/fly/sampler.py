"""Adaptive fly scanning: a sampler whose decisions are straight segments, not points.

:class:`FlySampler` starts from a coarse fly raster (every ``initial_spacing``-th
row, serpentine; columns where the column raster is cheaper, ``fly_axis``), then,
decision after decision, flies the row and column segments -- partial ones
included -- that promise the most expected reduction in distortion (ERD) per
second of beam time under the motion model, in the order that is cheapest from
where the stage is (:mod:`fastscan.fly.planner`); at short dwells, where a
line's fixed cost is as large as its readings', the near-equal picks of a
decision are flown as one monotone sweep (:func:`default_sweep`).
The reconstruction and the ERD come from a composed :class:`fastscan.Sampler`
(IDW + the SLADS-Net model), which ingests every reading of every segment.

Examples
--------
>>> import numpy as np
>>> from fastscan.fly import FlySampler
>>> truth = np.add.outer(np.arange(40.0), np.arange(60.0)) % 17
>>> fs = FlySampler((40, 60), max_coverage=0.3, seed=0)
>>> while not fs.should_stop():
...     for segment in fs.suggest_segments():
...         pts = segment.pixels()
...         fs.ingest(pts, truth[pts[:, 0], pts[:, 1]])
>>> fs.coverage >= 0.3, fs.stop_reason.startswith("coverage")
(True, True)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from fastscan._validation import check_points, check_shape, is_integer
from fastscan.beamtime import Trajectory, TrajectoryBuilder, fly_timing
from fastscan.channels import check_readings
from fastscan.erd.estimator import ERDModel
from fastscan.erd.floor import AUTO as AUTO_FLOOR
from fastscan.erd.floor import line_lattice_flat_share, line_lattice_level
from fastscan.fly.axis import axis_time_ratio, directional_variograms
from fastscan.fly.axis_coarse import COARSE_STEPS, coarse_raster_errors, coarse_time_ratio
from fastscan.fly.axis_grid import RASTER_KS, grid_time_ratio, line_raster_errors
from fastscan.fly.flat_pixels import FlatDiscount
from fastscan.fly.lattice import (
    flat_runs,
    fly_runs,
    lattice_levels,
    min_flat_run,
    trim_flat_ends,
)
from fastscan.fly.level_map import LevelMap
from fastscan.fly.planner import AXES, Pick, SegmentPlanner, sweep_order
from fastscan.fly.segment import Segment, segments_to_points
from fastscan.motion import NANOPROBE, MotionModel, check_motion
from fastscan.sampler import Sampler

log = logging.getLogger(__name__)

__all__ = [
    "FLAT_LINES",
    "FLAT_LINES_EVERYWHERE",
    "FLAT_LINE_SHARE",
    "FLY_AXES",
    "REFINE",
    "FlySampler",
    "coarse_line_axis",
    "default_erd_floor",
    "default_initial_spacing",
    "default_sweep",
    "flat_line_scale",
    "line_costs",
]

#: How decisions after the coarse raster choose lines: ``"bisect"`` only at the
#: midpoints of the gaps left so far (coarse to fine, :mod:`fastscan.fly.levels`),
#: ``"free"`` anywhere.
REFINE = ("bisect", "free")
#: shipped ERD model of fast-fly when none is given: "default" (the L1-target model), with
#: which fast-fly was tuned and measured, whatever the step sampler's default
#: (``fastscan.erd.estimator.DEFAULT_MODEL``); "l2" in fast-fly is mixed on validation
FLY_MODEL = "default"
#: First line of the coarse raster (see :meth:`FlySampler._coarse_lines`).
COARSE_ORIGIN = 2
#: Segments per decision of the short-dwell sweep (:func:`default_sweep`).
SWEEP_SEGMENTS = 16
#: Which lines a :class:`FlySampler` starts with and refines: ``"rows"``, ``"columns"``,
#: ``"auto"`` (those of the cheaper raster), ``"probe"`` (``"auto"``, then probe lines
#: across them decide which axis to refine along) or ``"grid"`` (a coarse grid of rows and
#: columns, whose whole lines show which axis's rasters reach the targets sooner) or
#: ``"coarse"`` (``"auto"``, then the coarse raster's own lattice decides, no extra line).
FLY_AXES = ("auto", "rows", "columns", "probe", "grid", "coarse")
#: ``flat_lines`` of the short-dwell sweeps: two whole lines agree within this share of the
#: readings' range (chosen on the validation and sparse sets at 1 ms, see docs/fly-scanning.md)
FLAT_LINES = 0.01
#: ``flat_share``: share of its ERD per second a line between two agreeing lines keeps.
FLAT_LINE_SHARE = 0.1
#: ``flat_ends`` of the short-dwell sweeps: a pick's end runs whose readings on both sides
#: agree within this share of the readings' range are left out (0: off); flat_lines' tolerance,
#: made the default by the rule on the sparse and validation sets at 1 ms
#: (docs/fly-scanning.md, "Flat ends")
FLAT_ENDS = 0.01
#: ``flat_ends``: a pick is trimmed only if at least this share of its pixels is left (a
#: mostly flat pick trimmed would be a short segment paying a whole line's fixed cost)
FLAT_ENDS_KEEP = 0.5
#: ``flat_pixel_share`` of the short-dwell sweeps: share of its planner weight an unmeasured
#: pixel keeps while the planner chooses when ``flat_ends``' test finds it flat-bounded
#: (1: off, the scan before this knob); flat_lines' share, made the default by the rule on
#: the sparse and validation sets at 1 ms (docs/fly-scanning.md, "Flat ends seen when choosing")
FLAT_PIXEL_SHARE = 0.1
#: ``flat_pixel_ends``: the share only for the flat pixels of each line's end runs (the trim
#: that ``flat_ends`` flies); chosen over the share on every flat pixel by the same rule
FLAT_PIXEL_ENDS = True
#: Which runs of a lattice line ``lattice_trim`` skips (see :class:`FlySampler`).
LATTICE_SKIP = ("flat", "busy")
#: ``erd_floor="auto"``: share of the level measured on the coarse lines' lattices
#: (:func:`fastscan.erd.floor.line_lattice_level`) that the floor takes; chosen of 1/3, 1
#: and 3 on the sparse validation images at 1 and 10 ms (docs/fly-scanning.md)
FLY_FLOOR_SCALE = 1.0
#: fast-fly's exploration floor when none is given (docs/fly-scanning.md: "A measured floor
#: for fast-fly"):
#: None, :func:`default_erd_floor`'s dwell gate ("auto" where the short-dwell sweep is off,
#: 0.0 in the sweeps, where the floor lost on the sparse set at 1 ms)
DEFAULT_FLY_ERD_FLOOR: float | str | None = None
#: ``flat_lines`` in every decision, not only in the short-dwell sweeps
#: (docs/fly-scanning.md: "A measured floor for fast-fly"; chosen on the sparse and
#: validation sets at 10 ms)
FLAT_LINES_EVERYWHERE = True
#: Largest variogram lag the ``"auto"`` axis choice measures (pixels).
_MAX_LAG = 8

#: Prepare the next pending segment's update geometry (:meth:`fastscan.Sampler.prepare_update`)
#: at the end of each ingest when it measures at least this many pixels (coarse-raster lines
#: and long picks: the search it saves grows with the segment, the save of the lists it
#: puts back costs a little on any).
PREPARE_MIN_PIXELS = 128


def line_costs(motion: MotionModel) -> tuple[tuple[float, float], tuple[float, float]]:
    """Per-segment fixed seconds and per-reading seconds, for rows and for columns.

    ``fixed`` is settle + line overhead + the ramp up and the ramp down
    (:func:`fastscan.beamtime.fly_timing`); the move to the segment comes on top.

    Examples
    --------
    >>> from fastscan.motion import NANOPROBE
    >>> fixed, pixel_time = line_costs(NANOPROBE.replace(dwell=0.001))
    >>> [round(f, 3) for f in fixed], pixel_time
    ([0.26, 0.26], (0.001, 0.001))
    """
    fixed, pixel_time = [], []
    for segment in (Segment((0, 0), (0, 1)), Segment((0, 0), (1, 0))):
        timing = fly_timing(segment, motion)
        fixed.append(motion.settle_time + motion.line_overhead + 2.0 * timing.ramp)
        pixel_time.append(timing.pixel_time)
    return (fixed[0], fixed[1]), (pixel_time[0], pixel_time[1])


def coarse_line_axis(shape: tuple[int, int], motion: MotionModel, fly_axis: str = "auto") -> str:
    """``"rows"`` or ``"columns"``: the lines of fast-fly's coarse raster.

    ``"auto"``, ``"probe"`` and ``"grid"`` take the axis whose whole raster costs
    less (:func:`line_costs`: fewer, longer lines win; rows on a tie; ``"grid"``
    flies it first); ``"rows"`` and ``"columns"`` are taken as they are.

    Examples
    --------
    >>> from fastscan.motion import NANOPROBE
    >>> coarse_line_axis((400, 600), NANOPROBE), coarse_line_axis((600, 400), NANOPROBE)
    ('rows', 'columns')
    """
    if fly_axis not in FLY_AXES:
        raise ValueError(f"fly_axis must be one of {FLY_AXES}, got {fly_axis!r}")
    if fly_axis in ("rows", "columns"):
        return fly_axis
    fixed, pixel_time = line_costs(motion)
    row_seconds, column_seconds = (
        f + n * t for f, n, t in zip(fixed, (shape[1], shape[0]), pixel_time)
    )
    return "rows" if shape[0] * row_seconds <= shape[1] * column_seconds else "columns"


def default_initial_spacing(shape: tuple[int, int], dwell: float) -> int:
    """Row spacing of the coarse fly raster a :class:`FlySampler` starts from.

    Every 8th row (a power of two, so that bisecting the gaps reaches every 4th
    and every 2nd row exactly, as a coarse-to-fine fly raster does), closer on
    small grids so that the raster has at least ~8 rows. ``dwell`` is accepted
    for the signature's sake: the spacing no longer depends on it.

    Examples
    --------
    >>> default_initial_spacing((600, 400), 0.001), default_initial_spacing((40, 60), 1.0)
    (8, 4)
    """
    return _spacing_for(int(shape[0]), 8, 8)


def _spacing_for(n_lines: int, spacing: int, min_lines: int) -> int:
    """``spacing``, halved while above 2 and fewer than ``min_lines`` lines fit in ``n_lines``."""
    while spacing > 2 and n_lines // spacing < min_lines:
        spacing //= 2
    return spacing


def default_sweep(shape: tuple[int, int], motion: MotionModel) -> int:
    """Segments per sweep decision: :data:`SWEEP_SEGMENTS` at short dwells, else 0 (off).

    A dwell is short when a row segment's fixed cost (settle, line overhead,
    ramps: :func:`line_costs`) is at least half the pixel time of a whole row:
    then each line costs about as much as its readings, the planner flies
    whole lines level by level, and the stage moves between the picks are a
    tenth of the scan's time. Flying a decision's picks as one sweep
    (:func:`fastscan.fly.planner.sweep_order`) keeps those moves between
    neighbouring lines, as a raster's are.

    Examples
    --------
    >>> from fastscan.motion import NANOPROBE
    >>> [default_sweep((256, 256), NANOPROBE.replace(dwell=d)) for d in (0.001, 0.01)]
    [16, 0]
    """
    (fixed, _), (pixel_time, _) = line_costs(motion)
    return SWEEP_SEGMENTS if fixed >= 0.5 * int(shape[1]) * pixel_time else 0


def default_erd_floor(sweep: int) -> float | str:
    """The ``erd_floor`` of a :class:`FlySampler` given None, for its ``sweep``.

    ``"auto"`` (the floor measured on the coarse lines) where the short-dwell
    sweep is off (``sweep`` 0: about 2 ms and longer on 256 px, :func:`default_sweep`)
    and 0.0 (off) in the sweeps, where the floor lost on the sparse set at 1 ms
    (docs/fly-scanning.md: "A measured floor for fast-fly").

    Examples
    --------
    >>> default_erd_floor(0), default_erd_floor(16)
    ('auto', 0.0)
    """
    if not (is_integer(sweep) and sweep >= 0):
        raise ValueError(f"sweep must be an integer >= 0, got {sweep!r}")
    return AUTO_FLOOR if sweep == 0 else 0.0


class FlySampler:
    """Adaptive fly-scan planner with the :class:`fastscan.Sampler` interface, in segments.

    Parameters
    ----------
    shape : (n_rows, n_cols)
        Grid size in pixels.
    motion : MotionModel or None
        Stage and detector timing in pixel units (``dwell``, ``line_overhead``,
        ``settle_time``, velocities, accelerations); None is the nanoprobe model.
    max_coverage : float
        Stop once this fraction of the grid is measured.
    time_budget : float or None
        Stop once this many seconds of beam time have been flown.
    rate_threshold : float or None
        Stop once the best segment promises less ERD per second than this.
    seed : int or None
        Seed of the composed sampler.
    model : ERDModel, path or None
        ERD model of the composed sampler; None is :data:`FLY_MODEL` ("default",
        the L1-target model fast-fly was tuned with).
    batch_size : int
        Most segments per decision.
    decision_time : float or None
        Beam seconds per decision (the picks stop once their time reaches it);
        None picks ``batch_size`` segments.
    initial_spacing : int or None
        Every ``initial_spacing``-th row is flown first; None chooses from the
        grid and the dwell (:func:`default_initial_spacing`).
    axes : sequence of {"rows", "columns"}
        Segment directions the planner may choose.
    power : float
        Suppression exponent of the planner (:class:`SegmentPlanner`).
    move_aware : bool
        Count the stage move to each segment in its ERD per second.
    move_weight : float
        While choosing (not in :attr:`beam_time`), each move counts this many
        times its seconds: a jump away from where the stage is leaves a hole it
        must come back for later. It matters at short dwells, where a move is a
        large share of a line's time (1 ms: 0.03-0.2 s against 0.5 s); at 100 ms
        and above it changes nothing measurable. On the validation images at
        1 ms, 3 takes 1-2 % less time to target than 1 on most, but 10 % more on
        WSe2's every-2nd-row target; 1 is the default.
    k : int
        Neighbours of the reconstruction.
    refine : {"bisect", "free"}
        ``"bisect"``: after the coarse raster only pixels at the midpoints of
        their gaps are candidates (:mod:`fastscan.fly.levels`), coarse to fine;
        ``"free"``: any pixel of any line.
    gap_power : float
        ``"bisect"``: candidate weights times ``(gap / 2) ** gap_power`` (0: off).
    line_bias : float
        Each segment is charged this share of a whole line's pixel time on top
        of its fixed cost when the planner chooses (not in :attr:`beam_time`):
        short segments must promise more.
    floor : float
        ``"bisect"``: a candidate's weight is at least ``floor`` times the mean
        weight of the candidates on its line (flat ERD: whole lines).
    sweep : int or None
        If > 0, each decision picks up to ``max(batch_size, sweep)`` segments
        and flies them as one monotone sweep, serpentine
        (:func:`fastscan.fly.planner.sweep_order`); 0 keeps the planner's
        nearest-first order of ``batch_size`` picks; None chooses from the
        grid and the dwell (:func:`default_sweep`: on at short dwells).
    sweep_share : float
        Sweep decisions: past ``batch_size`` picks, a pick joins the sweep only
        while it promises at least this share of the best pick's ERD per second.
    sweep_until : float
        Sweep decisions (``sweep`` > 0): from this coverage share on (measured
        pixels over the grid, in (0, 1]; 1.0, the default: never) a decision
        takes ``batch_size`` picks in the planner's order, as at ``sweep`` 0,
        instead of a sweep (or sweeps with ``sweep_share_late``); the
        flat-end trims stay on.
    sweep_share_late : float or None
        From ``sweep_until`` on: None (the default), no sweeps; a number in
        [0, 1], sweeps go on with this ``sweep_share`` instead (0: every
        decision flies up to ``sweep`` picks as one sweep).
    sweep_window : int
        Sweep decisions (``sweep`` > 0) flown as raster-like passes if > 0
        (0, the default: off). A pass crosses the grid in one direction along
        the axis of the best line when it starts; each decision picks, by ERD
        per second, only among the next ``sweep_window`` lines ahead of the
        stage, and only lines promising at least ``sweep_share`` of that best
        line's ERD per second; a window with none is passed over; at the
        grid's edge the pass reverses and a new one starts. The stage then
        moves as a raster's does, monotonically between nearby lines.
    flat_lines : float
        Sweep decisions (``sweep`` > 0, short dwells), and all others while
        ``flat_lines_everywhere``: if > 0 (default
        :data:`FLAT_LINES`; 0: off, the scan before this knob), a line
        whose two nearest whole measured lines on either side agree, pixel by
        pixel, within this share of the readings' range (nothing varies
        between them, as far as whole lines can tell) is worth only
        ``flat_share`` of its ERD per second while choosing, so lines by the
        structure are flown before empty gaps are bisected.
    flat_share : float
        ``flat_lines``: the share of its ERD per second a line between two
        agreeing lines keeps (in [0, 1]).
    flat_edges : bool
        ``flat_lines``: also the lines beyond the first or the last whole line,
        if the two whole lines nearest that edge agree (off by default).
    flat_lines_everywhere : bool
        ``flat_lines`` in every decision (default :data:`FLAT_LINES_EVERYWHERE`,
        True), not only in the short-dwell sweeps; False: at ``sweep`` 0 the scan
        is the one without ``flat_lines``.
    flat_ends : float
        Sweep decisions (``sweep`` > 0, short dwells): if > 0 (default
        :data:`FLAT_ENDS`; 0: off, the scan before this knob), each picked
        segment leaves out its end runs
        of pixels whose readings on both sides (at most ``initial_spacing``
        lines away, in their column and both neighbouring ones) agree within
        this share of the readings' range
        (:func:`fastscan.fly.lattice.trim_flat_ends`). An end run costs no
        segment of its own, so at short dwells, where a line's fixed cost is
        about its readings' time, leaving it out saves its readings' time; a
        pick flat from end to end, or whose unflat part is all measured, or
        that would keep less than :data:`FLAT_ENDS_KEEP` of its pixels, is
        flown whole (so the scan always moves on).
    flat_pixel_share : float
        Sweep decisions (``sweep`` > 0): each unmeasured pixel that
        ``flat_ends``' test finds flat-bounded (readings on both sides agree,
        :func:`fastscan.fly.lattice.flat_pixel_map`; ``flat_ends``'
        tolerance, :data:`FLAT_ENDS` when that is 0) keeps this share of its
        weight while the planner chooses, so a line is valued by its unflat
        part and charged the seconds of the segment it would fly (the trim is
        seen when choosing, not only after). In [0, 1] (default
        :data:`FLAT_PIXEL_SHARE`, 0.1); 1 is off, the scan before this knob.
    flat_pixel_ends : bool
        ``flat_pixel_share`` only for the flat pixels of each line's end runs
        (:func:`fastscan.fly.lattice.flat_end_runs`: in from each end over
        measured or flat pixels), so a line is valued as ``flat_ends`` flies
        it, its inner flat runs included (default :data:`FLAT_PIXEL_ENDS`,
        True; False: every flat-bounded pixel).
    fly_axis : {"auto", "rows", "columns", "probe", "grid", "coarse"}
        Lines of the coarse raster: ``"rows"`` (every ``initial_spacing``-th
        row) or ``"columns"``; the planner then refines along ``axes``.
        ``"auto"``: the lines of the cheaper whole raster (:func:`line_costs`:
        the axis with fewer, longer lines; rows on a tie), so a portrait grid
        is flown in columns. ``"probe"`` (experimental): ``"auto"``, then
        ``probe_lines`` lines across the coarse raster where it changes most;
        from the readings of both it models how fast the image changes along
        each axis (:mod:`fastscan.fly.axis`) and, if the other axis reaches the
        same error in less than ``switch_ratio`` of the time, refines along that
        axis only. On the validation images 2-4 probe lines did not tell the
        axes apart reliably (docs/fly-scanning.md), so it is not the default. ``"grid"``:
        a coarse grid, every ``grid_spacing``-th row and column (``"auto"``'s
        axis first), then refine along the one axis whose rasters the whole
        coarse lines show to reach the every-4th and every-2nd line errors in
        less beam time (:func:`fastscan.fly.axis_grid.grid_time_ratio`); the
        other axis's coarse lines stay data. ``"coarse"`` (experimental):
        ``"auto"``, then the lattice of every ``initial_spacing``-th pixel of the
        coarse lines gives both axes' raster errors at 2 and 4 times that
        spacing (:mod:`fastscan.fly.axis_coarse`), and, as ``"probe"``, it
        refines along the other axis only below ``switch_ratio``; where it keeps
        the coarse axis the scan is exactly ``"auto"``'s. Those spacings are too
        coarse to see thin structure across the coarse lines (docs/fly-scanning.md), so it is
        not the default.
    probe_lines : int
        ``"probe"``: lines flown across the coarse raster (>= 1).
    switch_ratio : float
        ``"probe"``, ``"coarse"``: refine along the other axis (only) when its
        modelled time to the same error is below this share of the coarse
        axis's (in (0, 1]).
    erd_floor : float, "auto" or None
        Exploration floor of the composed sampler's ERD (:mod:`fastscan.erd.floor`):
        each pixel's ERD is at least what the model's target gives a uniform error
        of ``erd_floor`` at its distance to the nearest reading, so a wide flat gap
        between lines is worth flying (structure may hide in it); 0 is off.
        None (the default): :func:`default_erd_floor`, ``"auto"`` where ``sweep``
        is 0 (dwells of about 2 ms and longer on 256 px) and 0.0 in the short-dwell
        sweeps. ``"auto"``: the level is
        measured once, when the composed sampler makes its ERD map, from the
        coarse lines' readings split into square lattices of the line spacing
        (:func:`fastscan.erd.floor.line_lattice_level`): what a flat background
        hides between readings that far apart, times ``floor_scale``; exactly 0
        where no flat context hides anything (textures, most photographs: then
        the scan is the ``erd_floor=0`` one).
    floor_scale : float
        ``erd_floor="auto"``: share of the measured level the floor takes (>= 0).
    flat_scene : float or None
        Opt-in (None: off). When the composed sampler makes its ERD map, the
        share of the coarse lines' lattice points (as ``erd_floor="auto"``
        splits them) whose nearest lattice neighbours agree is measured
        (:func:`fastscan.erd.floor.line_lattice_flat_share`, the smallest over
        the channels); at or above ``flat_scene`` (in (0, 1]) the scene is
        mostly flat background and partial segments are charged less:
        ``line_bias`` becomes ``flat_scene_line_bias`` and ``floor`` 0 for the rest of
        the scan.
    flat_scene_line_bias : float
        ``flat_scene``: the ``line_bias`` of a mostly flat scene (>= 0).
    grid_spacing : int
        ``"grid"``: spacing of the coarse grid's lines (>= 2), halved on an axis
        until it has at least ``grid_lines`` lines (as
        :func:`default_initial_spacing`); ``initial_spacing`` is then the first axis's.
    grid_lines : int
        ``"grid"``: fewest coarse lines per axis (>= 1) while the spacing is above 2.
    coarse_level : {0, 1}
        ``"coarse"``: run the axis test on the coarse raster (0) or once every
        line of the first bisection level (``initial_spacing / 2``) is flown (1;
        it then never runs if the planner goes finer first).
    lattice : int
        Opt-in (0: off, exactly the old scan). After the coarse raster, fly every
        line of the coarse axis's dyadic lattice down to this spacing (a power of
        two; none at or above ``initial_spacing``; coarse to fine, within a level the lines with
        the most ERD first, as sweeps) before the ERD refines freely: the lines a
        raster cannot skip, where the coarse lines saw nothing (:mod:`fastscan.fly.lattice`).
    lattice_trim : float
        ``lattice``: a lattice line skips a run of pixels where the nearest readings
        on both sides agree to within this share of the readings' range and the run
        is longer in readings' time than a segment's fixed cost (0: whole lines).
    lattice_skip : {"flat", "busy"}
        ``lattice_trim > 0``: which runs a lattice line skips: ``"flat"`` (above),
        or ``"busy"``: the runs where the readings on both sides do *not* agree
        (left to the ERD, which is high there), so the lattice fills in only where
        the coarse lines saw nothing.
    channels, channel_weights :
        Detector channels (e.g. XRF elements) and their weights, as in
        :class:`fastscan.Sampler`; :meth:`ingest` then takes (n, C) readings.
    """

    def __init__(
        self,
        shape: tuple[int, int],
        *,
        motion: MotionModel | None = None,
        max_coverage: float = 0.5,
        time_budget: float | None = None,
        rate_threshold: float | None = None,
        seed: int | None = 0,
        model: ERDModel | str | Path | None = None,
        batch_size: int = 4,
        decision_time: float | None = None,
        initial_spacing: int | None = None,
        axes: tuple[str, ...] | list[str] = AXES,
        power: float = 2.0,
        k: int = 10,
        tie_break: float = 1e-3,
        move_aware: bool = True,
        move_weight: float = 1.0,
        refine: str = "bisect",
        gap_power: float = 0.0,
        line_bias: float = 0.8,
        floor: float = 0.5,
        sweep: int | None = None,
        sweep_share: float = 0.5,
        sweep_until: float = 1.0,
        sweep_share_late: float | None = None,
        sweep_window: int = 0,
        flat_lines: float = FLAT_LINES,
        flat_share: float = FLAT_LINE_SHARE,
        flat_edges: bool = False,
        flat_lines_everywhere: bool = FLAT_LINES_EVERYWHERE,
        flat_ends: float = FLAT_ENDS,
        flat_pixel_share: float = FLAT_PIXEL_SHARE,
        flat_pixel_ends: bool = FLAT_PIXEL_ENDS,
        fly_axis: str = "auto",
        probe_lines: int = 4,
        switch_ratio: float = 0.5,
        erd_floor: float | str | None = DEFAULT_FLY_ERD_FLOOR,
        floor_scale: float = FLY_FLOOR_SCALE,
        flat_scene: float | None = None,
        flat_scene_line_bias: float = 0.0,
        grid_spacing: int = 32,
        grid_lines: int = 8,
        coarse_level: int = 0,
        lattice: int = 0,
        lattice_trim: float = 0.0,
        lattice_skip: str = "flat",
        channels: int | Sequence[str] | None = None,
        channel_weights: Sequence[float] | None = None,
    ) -> None:
        self.shape = check_shape(shape)
        self.motion = check_motion(NANOPROBE if motion is None else motion)
        if not 0.0 < max_coverage <= 1.0:
            raise ValueError(f"max_coverage must be in (0, 1], got {max_coverage!r}")
        if time_budget is not None and not (math.isfinite(time_budget) and time_budget > 0):
            raise ValueError(f"time_budget must be seconds > 0 or None, got {time_budget!r}")
        if rate_threshold is not None and not (
            math.isfinite(rate_threshold) and rate_threshold >= 0
        ):
            raise ValueError(f"rate_threshold must be >= 0 or None, got {rate_threshold!r}")
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
        self._sampler = Sampler(
            self.shape,
            model=FLY_MODEL if model is None else model,
            seed=seed,
            max_coverage=1.0,
            change_tolerance=None,
            k=self.k,
            tie_break=tie_break,
            channels=channels,
            channel_weights=channel_weights,
            lattice=0.0,  # fast-fly was tuned without the texture lattice (not measured)
            erd_floor=default_erd_floor(self.sweep) if erd_floor is None else erd_floor,
        )
        if not (math.isfinite(floor_scale) and floor_scale >= 0):
            raise ValueError(f"floor_scale must be a finite number >= 0, got {floor_scale!r}")
        self.floor_scale = float(floor_scale)
        if self._sampler.erd_floor == AUTO_FLOOR:  # measured on the coarse lines' lattices
            self._sampler._floor_measure = partial(
                line_lattice_level,
                spacing=self.initial_spacing,
                axis=0 if line_axis == "rows" else 1,
                origin=min(COARSE_ORIGIN, self.shape[0 if line_axis == "rows" else 1] - 1),
                scale=self.floor_scale,
            )
        if flat_scene is not None and not (
            isinstance(flat_scene, (int, float))
            and not isinstance(flat_scene, bool)
            and 0 < flat_scene <= 1
        ):
            raise ValueError(f"flat_scene must be a number in (0, 1] or None, got {flat_scene!r}")
        self.flat_scene = None if flat_scene is None else float(flat_scene)
        if not (math.isfinite(flat_scene_line_bias) and flat_scene_line_bias >= 0):
            raise ValueError(
                f"flat_scene_line_bias must be a finite number >= 0, got {flat_scene_line_bias!r}"
            )
        self.flat_scene_line_bias = float(flat_scene_line_bias)
        self._flat_scene_share: float | None = None  # measured when the ERD map is made
        self._level_floor = self.floor  # LevelMap's floor (0 once flat_scene switches)
        self.channels = self._sampler.channels
        self.channel_weights = channel_weights if channel_weights is None else list(channel_weights)
        self._line_axis = fly_axis = line_axis  # the coarse raster's lines
        self._axis_ratio: float | None = None  # "auto": the other axis's modelled time share
        # the coarse lines are 2 (mod initial_spacing): bisecting them gives lines 2 (mod 4),
        # between a fly raster's every-4th lines (which reaching the raster's quality from
        # them does not need), then every even line, exactly the raster's every 2nd
        across = 1 if fly_axis == "rows" else 0
        self._origin = min(COARSE_ORIGIN, self.shape[1 - across] - 1)
        probe_origin = min(COARSE_ORIGIN, self.shape[across] - 1)
        self._origins = {
            fly_axis: self._origin,
            AXES[across]: probe_origin if self.fly_axis in ("probe", "grid") else 0,
        }
        self._refine_axes = self.axes
        # "probe": probe lines, placed once the coarse raster is in; None: not yet
        self._probes: list[Segment] | None = None if self.fly_axis == "probe" else []
        self._axis_chosen = self.fly_axis not in ("probe", "grid", "coarse")
        # the composed sampler activates its ERD map once these pixels are measured
        self._initial_lines = self._coarse_lines()
        initial, _ = segments_to_points(self._initial_lines)
        self._sampler._initial = initial
        # a segment is charged line_bias of a whole line's pixel time on top of its fixed
        # cost: short segments must promise that much more (whole lines on flat ERD)
        fixed = tuple(
            f + self.line_bias * n * t for f, n, t in zip(fixed, self.shape[::-1], pixel_time)
        )
        self._planner_costs = (fixed, pixel_time)
        fixed, pixel_time = line_costs(self.motion)
        self._flat_scene_costs = (  # flat_scene: charged flat_scene_line_bias instead
            tuple(
                f + self.flat_scene_line_bias * n * t
                for f, n, t in zip(fixed, self.shape[::-1], pixel_time)
            ),
            pixel_time,
        )
        self._planner = self._new_planner()
        self._pending: list[Segment] = []
        self._changed: list[tuple[int, int, int, int]] | None = None  # ERD boxes; None: all
        self._levels: LevelMap | None = None  # "bisect" candidate weights, kept up to date
        self._planner_full = True  # the planner compares the whole level map next decision
        self._planner_ready = False  # it took the level map already (after a full update)
        self._staged = False  # ingests updated the map and staged it in the planner
        self._incremental_levels = True  # False: rebuilt every decision (tests compare)
        self._lattice_todo: list[tuple[int, list[int]]] | None = None  # None: not placed
        if not self.lattice:
            self._lattice_todo = []
        self._builder = TrajectoryBuilder(self.motion, shape=self.shape)
        self._last_rate: float | None = None
        self._stop_reason: str | None = None

    # ------------------------------------------------------------------ state
    @property
    def reconstruction(self) -> np.ndarray:
        """Current IDW reconstruction (read-only)."""
        return self._sampler.reconstruction

    @property
    def erd(self) -> np.ndarray:
        """ERD of each pixel (0 where measured or before the coarse raster is done)."""
        return self._sampler.erd

    @property
    def measured_mask(self) -> np.ndarray:
        return self._sampler.measured_mask

    @property
    def measured_points(self) -> np.ndarray:
        return self._sampler.measured_points

    @property
    def measured_values(self) -> np.ndarray:
        return self._sampler.measured_values

    @property
    def n_measured(self) -> int:
        return self._sampler.n_measured

    @property
    def coverage(self) -> float:
        return self._sampler.coverage

    @property
    def position(self) -> np.ndarray | None:
        """(row, col) of the last reading, or None before the first."""
        return self._sampler.position

    @property
    def beam_time(self) -> float:
        """Seconds of beam time of the suggested segments ingested so far (model estimate)."""
        return self._builder.time

    @property
    def stop_reason(self) -> str | None:
        return self._stop_reason

    @property
    def last_rate(self) -> float | None:
        """Best ERD per second the last decision found (None before the first)."""
        return self._last_rate

    @property
    def refine_axes(self) -> tuple[str, ...]:
        """Line directions the planner chooses from (``"probe"``: one, once it has chosen)."""
        return tuple(self._refine_axes)

    @property
    def axis_ratio(self) -> float | None:
        """Axis choice: ``"probe"``: modelled time of the other axis over the coarse one's;
        ``"grid"``: measured time of column rasters over row rasters' (None before)."""
        return self._axis_ratio

    # ------------------------------------------------------------------ decisions
    def _new_planner(self) -> SegmentPlanner:
        fixed, pixel_time = self._planner_costs
        return SegmentPlanner(
            self.shape,
            fixed=fixed,
            pixel_time=pixel_time,
            axes=self._refine_axes,
            power=self.power,
        )

    def _coarse_lines(self) -> list[Segment]:
        """Every ``initial_spacing``-th line of the coarse axis from the origin, serpentine.

        ``"grid"``: every ``grid_spacing``-th line (or closer, see there) of the
        coarse axis, then of the other, serpentine from the corner the first ends at.
        """
        first = self._line_axis
        if self.fly_axis != "grid":
            lines = range(self._origin, self.shape[0 if first == "rows" else 1],
                          self.initial_spacing)  # fmt: skip
            return [_line(self.shape, first, k, i % 2 == 1) for i, k in enumerate(lines)]
        second = "columns" if first == "rows" else "rows"
        out = []
        for axis in (first, second):
            step = self._grid_steps[axis]
            lines = list(range(self._origins[axis], self.shape[0 if axis == "rows" else 1], step))
            if out:  # start from the side of the grid the last line ended at
                end = out[-1].end[1 if axis == "columns" else 0]
                if abs(end - lines[-1]) < abs(end - lines[0]):
                    lines = lines[::-1]
            for k in lines:
                backwards = False
                if out:  # each line from its end nearer where the last one ended
                    there = out[-1].end
                    line = _line(self.shape, axis, k, False)
                    to_start = abs(line.start[0] - there[0]) + abs(line.start[1] - there[1])
                    to_end = abs(line.end[0] - there[0]) + abs(line.end[1] - there[1])
                    backwards = to_end < to_start
                out.append(_line(self.shape, axis, k, backwards))
        return out

    def _across(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The coarse axis's view: channel values, mask and channel gains, coarse lines as rows."""
        inner = self._sampler
        values, mask = inner._values, inner._mask
        if self._line_axis == "columns":
            values, mask = values.transpose(0, 2, 1), mask.T
        return values, mask, inner._gains * inner._scale**2

    def _place_probes(self) -> list[Segment]:
        """``probe_lines`` whole lines across the coarse ones where the coarse lines change most.

        Candidates are on the lattice of the coarse spacing from the probe axis's
        origin; each is scored by the mean squared difference of the coarse
        readings within ``initial_spacing`` of it, along the lines and between
        neighbouring lines. The best ``probe_lines``, at least a
        ``1 / (2 probe_lines)`` share of the grid apart, are flown as one sweep
        from where the coarse raster ends.
        """
        values, mask, gains = self._across()
        coarse = np.flatnonzero(mask.all(axis=1))
        n = mask.shape[1]
        step = self.initial_spacing
        origin = self._origins["columns" if self._line_axis == "rows" else "rows"]
        spots = np.arange(origin, n, step)
        if len(spots) == 0 or len(coarse) == 0:
            return []
        lines = values[:, coarse]  # (C, n_coarse, n)
        along = np.zeros(n)
        along[:-1] = np.tensordot(gains, ((lines[:, :, 1:] - lines[:, :, :-1]) ** 2).mean(1), 1)
        between = np.zeros(n)
        if len(coarse) > 1:
            between = np.tensordot(gains, ((lines[:, 1:] - lines[:, :-1]) ** 2).mean(1), 1)
        window = np.ones(2 * step + 1)
        score = np.convolve(along, window, "same") + np.convolve(between, window, "same")
        order = spots[np.argsort(-score[spots], kind="stable")]
        gap = n / (2.0 * self.probe_lines)
        chosen: list[int] = []
        for k in order:
            if all(abs(int(k) - c) >= gap for c in chosen):
                chosen.append(int(k))
            if len(chosen) == self.probe_lines:
                break
        axis = "columns" if self._line_axis == "rows" else "rows"
        probes = [_line(self.shape, axis, k, False) for k in chosen]
        return sweep_order(probes, self._position_tuple())

    def _choose_grid_axis(self) -> None:
        """``"grid"``: refine along the axis whose rasters the whole coarse lines show cheaper.

        Down each whole column, every ``k``-th pixel rebuilt by linear
        interpolation is what a raster of every ``k``-th row leaves there; along
        each whole row, what a raster of columns leaves
        (:func:`fastscan.fly.axis_grid.line_raster_errors`, ``k`` in 16, 8, 4, 2).
        """
        inner = self._sampler
        values, mask = inner._values, inner._mask
        gains = inner._gains * inner._scale**2
        full_rows, full_columns = mask.all(axis=1), mask.all(axis=0)
        if full_rows.sum() < 1 or full_columns.sum() < 1:
            return  # nothing to compare (a grid too small for a line of each)
        ks = RASTER_KS
        row_errors = line_raster_errors(
            values[:, :, full_columns].transpose(0, 2, 1), ks, gains, self._origins["rows"]
        )
        column_errors = line_raster_errors(
            values[:, full_rows, :], ks, gains, self._origins["columns"]
        )
        seconds = [
            np.array([math.ceil(n / k) * line for k in ks])
            for n, line in zip(self.shape, self._line_seconds)
        ]
        self._axis_ratio = grid_time_ratio(row_errors, column_errors, *seconds, ks)
        self._refine_axes = ("columns",) if self._axis_ratio < 1.0 else ("rows",)
        self._planner = self._new_planner()
        self._levels = None  # rebuilt for the chosen axis at the next decision
        self._planner_ready = False

    def _axis_test_ready(self) -> bool:
        """Whether the axis test can run: ``"coarse"`` with ``coarse_level=1`` waits until
        every line of the first bisection level (``initial_spacing / 2``) is flown."""
        if self.fly_axis != "coarse" or self.coarse_level == 0:
            return True
        _, mask, _ = self._across()
        return bool(mask[self._origin :: max(self.initial_spacing // 2, 1)].all())

    def _choose_coarse_axis(self) -> None:
        """``"coarse"``: refine along the other axis if the coarse lines show it much cheaper.

        The lattice of every ``initial_spacing``-th pixel of the coarse lines
        holds rasters of both axes at ``COARSE_STEPS`` times that spacing
        (:func:`fastscan.fly.axis_coarse.coarse_raster_errors`); no line is added.
        """
        values, mask, gains = self._across()
        step = max(self.initial_spacing // 2**self.coarse_level, 1)
        coarse = np.arange(self._origin, mask.shape[0], step)
        coarse = coarse[mask[coarse].all(axis=1)]
        n = mask.shape[1]
        other_axis = "columns" if self._line_axis == "rows" else "rows"
        origin = min(COARSE_ORIGIN, n - 1)  # the lattice as the coarse lines' own origin
        steps = COARSE_STEPS[self.coarse_level]
        if min(len(coarse), len(range(origin, n, step))) < 2 * max(steps):
            return  # too few coarse lines or lattice pixels to tell: keep the coarse axis
        across, along = coarse_raster_errors(
            values[:, coarse], step, origin=origin, steps=steps, gains=gains
        )
        rows = self._line_axis == "rows"
        row_errors, column_errors = (across, along) if rows else (along, across)
        ks = [s * step for s in steps]
        self._axis_ratio = coarse_time_ratio(
            row_errors, column_errors, self.shape, self._line_seconds, ks
        )
        other = self._axis_ratio if rows else 1.0 / self._axis_ratio
        if other < self.switch_ratio:
            self._refine_axes = (other_axis,)
            self._origins[other_axis] = origin  # bisection onto the lattice's lines
            self._planner = self._new_planner()
            self._levels = None  # rebuilt for the new axis at the next decision
            self._planner_ready = False

    def _choose_axis(self) -> None:
        """``"probe"``: refine along the other axis only if it is modelled to be cheaper.

        The variograms compare like with like: down the probe lines, and along
        the coarse lines within ``initial_spacing`` of a probe.
        """
        values, mask, gains = self._across()
        probes = [p.start[1] if self._line_axis == "rows" else p.start[0] for p in self._probes]
        if not probes:
            return
        near = np.zeros(mask.shape[1], bool)
        for k in probes:
            near[max(0, k - self.initial_spacing) : k + self.initial_spacing + 1] = True
        coarse = mask.all(axis=1)
        along, _ = directional_variograms(values, mask & coarse[:, None] & near, _MAX_LAG, gains)
        on_probes = np.zeros(mask.shape, bool)
        on_probes[:, probes] = True
        _, across = directional_variograms(values, on_probes, _MAX_LAG, gains)
        if not (np.isfinite(along).all() and np.isfinite(across).all()):
            return  # too small a grid to tell: keep the coarse axis
        rows = self._line_axis == "rows"
        seconds = self._line_seconds if rows else self._line_seconds[::-1]
        n_lines = self.shape if rows else self.shape[::-1]
        self._axis_ratio = axis_time_ratio(along, across, seconds, n_lines)
        if self._axis_ratio < self.switch_ratio:
            self._refine_axes = ("columns" if rows else "rows",)
            self._planner = self._new_planner()
            self._levels = None  # rebuilt for the new axis at the next decision
            self._planner_ready = False

    def suggest_segments(self, *, ahead: bool = False) -> list[Segment]:
        """Next segments to fly, in flight order, each with its direction.

        First the coarse raster, one row at a time (so a replay can snapshot
        inside it), then one greedy decision of at most ``batch_size``
        segments. Calling it again without :meth:`ingest` returns the same
        segments; an empty list once the stop rule fires.

        ``ahead=True`` hands out every coarse-raster line still to fly at once
        (the same lines in the same order, up to the one that reaches
        ``max_coverage``), for a plan that flies the next line while the last
        one is ingested: the composed sampler's activation (its full update,
        before the raster's last lines) then runs during their flights. The
        stop rule is next checked after those lines, as after any decision.
        """
        if self._pending:
            return list(self._pending)
        if self.should_stop():
            return []
        if not self._sampler.initial_complete:
            mask = self._sampler._mask
            todo = [s for s in self._initial_lines if not mask[tuple(s.pixels().T)].all()]
            n = 1
            if ahead:  # up to the line after which one at a time would stop (should_stop)
                planned, n_measured = mask.copy(), self._sampler.n_measured
                for segment in todo[:-1]:
                    pixels = tuple(segment.pixels().T)
                    n_measured += int((~planned[pixels]).sum())
                    planned[pixels] = True
                    if n_measured / mask.size >= self.max_coverage - 1e-12:
                        break
                    n += 1
            self._pending = todo[:n]
            return list(self._pending)
        if self._probes is None:  # "probe": the coarse raster is in, the probes come next
            self._probes = self._place_probes()
            if self._probes:
                self._pending = list(self._probes)
                return list(self._pending)
        if not self._axis_chosen and self._axis_test_ready():
            self._axis_chosen = True
            if self.fly_axis == "grid":
                self._choose_grid_axis()
            elif self.fly_axis == "coarse":
                self._choose_coarse_axis()
            else:
                self._choose_axis()
        if self._lattice_todo is None:
            n_lines = self.shape[0 if self._line_axis == "rows" else 1]
            self._lattice_todo = lattice_levels(
                n_lines,
                origin=self._origin,
                initial_spacing=self.initial_spacing,
                spacing=self.lattice,
            )
        lattice = self._lattice_picks()
        if lattice:
            self._pending = lattice
            return list(self._pending)
        picks = self._decide()
        if not picks:
            self._stop_reason = "no segment has any ERD left to gain"
            return []
        self._pending = [p.segment for p in picks]
        return list(self._pending)

    def _lattice_picks(self) -> list[Segment]:
        """``lattice``: the next sweep of lattice lines (trimmed), or [] once it is complete."""
        rows = self._line_axis == "rows"
        mask = self._sampler._mask if rows else self._sampler._mask.T
        erd = self._sampler._erd if rows else self._sampler._erd.T
        while self._lattice_todo and not self._lattice_todo[0][1]:
            self._lattice_todo.pop(0)
        if not self._lattice_todo:
            return []
        s, lines = self._lattice_todo[0]
        lines.sort(key=lambda k: -float(erd[k].sum()))  # most ERD first (stable on ties)
        n = max(self.batch_size, self.sweep)
        chosen, lines[:] = lines[:n], lines[n:]
        values = np.moveaxis(self._sampler._values, 0, -1)
        if not rows:
            values = values.transpose(1, 0, 2)
        fixed, pixel_time = line_costs(self.motion)
        axis = 0 if rows else 1
        min_run = min_flat_run(fixed[axis], pixel_time[axis])
        n_cap = int(math.ceil(self.max_coverage * mask.size - 1e-9))
        room = n_cap - self._sampler.n_measured
        segments = []
        for k in chosen:
            todo = ~mask[k]
            if self.lattice_trim > 0:
                flat = flat_runs(values, mask, k, reach=s, tol=self.lattice_trim)
                if self.lattice_skip == "flat":
                    skip = flat
                else:  # readings on both sides that disagree
                    known = flat_runs(values, mask, k, reach=s, tol=math.inf)
                    skip = known & ~flat
                runs = fly_runs(skip | ~todo, min_run)
            else:
                runs = fly_runs(~todo, min_run)
            for a, b in runs:
                if not todo[a : b + 1].any() or room <= 0:
                    continue
                room -= b - a + 1
                ends = ((k, a), (k, b)) if rows else ((a, k), (b, k))
                segments.append(Segment(*ends))
        if not segments:
            return self._lattice_picks()  # nothing left to fly on these lines
        return sweep_order(segments, self._position_tuple())

    def _decide(self) -> list[Pick]:
        if self.refine == "bisect":
            # candidates move with every reading (a gap's midpoint along a whole column);
            # one map of union_level_weights serves both directions, updated where the
            # readings since the last decision changed it
            # (or rebuilt after a full ERD update, see ingest)
            ready = self._planner_ready and self._changed == []  # took this map already
            staged = (
                self._staged
                and self._changed == []
                and self._levels is not None
                and not self._planner_full
            )
            self._planner_ready = self._staged = False
            if staged:  # the ingests updated the map: the planner settles what they staged
                weights, pixels = self._planner_weights([])
                self._planner.update(weights, [], pixels)
            elif not ready:
                if self._levels is None or self._changed is None or not self._incremental_levels:
                    self._build_levels()
                else:
                    erd, measured = self._sampler._erd, self._sampler._mask
                    regions, pixels = self._levels.update(erd, measured, self._changed)
                if self._planner_full:  # first decision on a new map: compare all of it
                    if self._flat_pixels_on():  # (for the axes of this planner)
                        self._update_flat(None)
                    self._planner.update(self._planner_weights()[0])
                    self._planner_full = False
                else:
                    weights, pixels = self._planner_weights(regions, pixels)
                    self._planner.update(weights, regions, pixels)
        else:
            self._planner.update(self._sampler._erd, self._changed)
        self._changed = []
        late = (
            self.sweep_until < 1
            and self._sampler.n_measured >= self.sweep_until * self._sampler._mask.size
        )
        sweeping = self.sweep and (not late or self.sweep_share_late is not None)
        share = self.sweep_share_late if late else self.sweep_share
        if sweeping and self.sweep_window:
            picks = self._pass_picks()
        else:
            picks = self._planner.choose(
                self._sampler.measured_mask,
                max_segments=max(self.batch_size, self.sweep) if sweeping else self.batch_size,
                time_budget=self.decision_time,
                position=self._position_tuple(),
                stage=self._stage if self.move_aware else None,
                line_scale=self._flat_line_scale(),
            )
            self._last_rate = picks[0].rate if picks else 0.0
        if sweeping and picks and not self.sweep_window:
            # one pass of parallel lines (along the best pick's axis); past batch_size, only
            # picks worth nearly as much as the best: where the ERD is flat their order says
            # little and the sweep saves moves, where it is concentrated the next decision
            # should see the readings first
            axis, floor = picks[0].segment.is_row, share * picks[0].rate
            n = self.batch_size
            while n < len(picks) and picks[n].rate >= floor:
                n += 1
            picks = [p for p in picks[:n] if p.segment.is_row == axis]
        n_cap = int(math.ceil(self.max_coverage * self._sampler._mask.size - 1e-9))
        room = n_cap - self._sampler.n_measured
        kept, new = [], 0
        for pick in picks:  # never plan far past the coverage cap
            if new >= room:
                break
            kept.append(pick)
            new += pick.segment.n_pixels
        if self.sweep and self.flat_ends > 0:
            kept = [self._trim_flat_ends(pick) for pick in kept]
        if sweeping and len(kept) > 1:
            by_ends = {frozenset((p.segment.start, p.segment.end)): p for p in kept}
            kept = [
                Pick(seg, pick.erd, pick.seconds)
                for seg in sweep_order([p.segment for p in kept], self._position_tuple())
                for pick in [by_ends[frozenset((seg.start, seg.end))]]
            ]
        return kept

    def _pass_picks(self) -> list[Pick]:
        """``sweep_window``: the next picks of the sweep pass, in the window ahead of the stage."""
        planner, measured = self._planner, self._sampler.measured_mask
        position = self._position_tuple()
        scale = self._flat_line_scale()
        for _ in range(4 * (max(self.shape) // self.sweep_window + 2)):
            if self._pass is None:  # a new pass, along the best line's axis, from the stage
                best = planner.choose(measured, max_segments=1, line_scale=scale)
                self._last_rate = best[0].rate if best else 0.0
                if not best:
                    return []
                axis = 0 if best[0].segment.is_row else 1
                here = 0.0 if position is None else position[axis]
                direction = -self._pass_direction
                if direction == 0:  # the first pass: towards the far edge
                    direction = 1 if here < self.shape[axis] / 2 else -1
                self._pass_direction = direction
                self.n_passes += 1
                self._pass = [axis, direction, round(here), self.sweep_share * best[0].rate]
            axis, direction, front, rate_floor = self._pass
            n_lines = self.shape[axis]
            if not 0 <= front < n_lines:
                self._pass = None
                continue
            if direction > 0:
                window = (axis, front, front + self.sweep_window)
            else:
                window = (axis, front - self.sweep_window + 1, front + 1)
            picks = planner.choose(
                measured,
                max_segments=max(self.batch_size, self.sweep),
                time_budget=self.decision_time,
                position=position,
                stage=self._stage if self.move_aware else None,
                window=window,
                min_rate=rate_floor,
                line_scale=scale,
            )
            if picks:
                lines = [p.segment.start[axis] for p in picks]
                self._pass[2] = (max(lines) + 1) if direction > 0 else (min(lines) - 1)
                return picks
            self._pass[2] = front + direction * self.sweep_window
        # (not reached while sweep_share < 1: each pass holds its best line)
        self._pass = None
        return self._planner.choose(
            measured, max_segments=self.batch_size, position=position,
            stage=self._stage if self.move_aware else None,
        )  # fmt: skip

    def _trim_flat_ends(self, pick: Pick) -> Pick:
        """``flat_ends``: ``pick`` without its flat end runs, flown the same way."""
        segment = pick.segment
        if segment.n_pixels < 2:
            return pick
        sampler = self._sampler
        values, mask = np.moveaxis(sampler._values, 0, -1), sampler._mask
        axis = 0 if segment.is_row else 1
        if axis:
            values, mask = values.transpose(1, 0, 2), mask.T
        line = segment.start[axis]
        a, b = segment.start[1 - axis], segment.end[1 - axis]
        first, last = trim_flat_ends(
            values, mask, line, min(a, b), max(a, b), reach=self.initial_spacing,
            tol=self.flat_ends, span=np.asarray(sampler._ref_range, float),
        )  # fmt: skip
        if (first, last) == (min(a, b), max(a, b)) or mask[line, first : last + 1].all():
            return pick  # nothing to trim, or nothing new left: the pick as it was
        if last - first + 1 < FLAT_ENDS_KEEP * (abs(b - a) + 1):
            return pick  # mostly flat: chosen for ERD on flat pixels, its rest is too short
        self._remember_ends(values, mask, axis, line, (min(a, b), first - 1), (last + 1, max(a, b)))
        ends = [(line, first), (line, last)] if axis == 0 else [(first, line), (last, line)]
        trimmed = Segment(*(ends if a <= b else ends[::-1]))
        return Pick(trimmed, pick.erd, self._planner.seconds(axis, trimmed.n_pixels))

    def _flat_pixels_on(self) -> bool:
        """``flat_pixel_share`` acts: short-dwell sweeps, coarse-to-fine levels, share < 1."""
        return bool(self.sweep) and self.flat_pixel_share < 1 and self.refine == "bisect"

    def _update_flat(self, boxes: list[tuple[int, int, int, int]] | None) -> None:
        """``flat_pixel_share``: the flat-bounded pixels within ``boxes`` (None: the whole
        grid, for the axes of the planner now) brought up to date with the readings."""
        sampler = self._sampler
        if boxes is None or self._flat_discount is None:
            boxes = None
            self._flat_discount = FlatDiscount(
                self.shape, share=self.flat_pixel_share, ends=self.flat_pixel_ends,
                reach=self.initial_spacing, tol=self.flat_ends if self.flat_ends > 0 else FLAT_ENDS,
            )  # fmt: skip
        self._flat_discount.update(
            np.moveaxis(sampler._values, 0, -1), sampler._mask,
            np.asarray(sampler._ref_range, float).reshape(-1),
            axes=self._planner._axis_ids, boxes=boxes,
        )  # fmt: skip

    def _planner_weights(
        self,
        regions: list[tuple[int, int, int, int]] | None = None,
        pixels: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The level map's weights as the planner takes them, and the changed ``pixels``
        to pass with ``regions`` (the level map's changes; None: the whole map); with
        ``flat_pixel_share``, discounted (:meth:`FlatDiscount.weights`)."""
        weights = self._levels.weights
        if self._flat_discount is None or not self._flat_pixels_on():
            return weights, pixels
        return self._flat_discount.weights(weights, regions, pixels)

    def _remember_ends(self, values, mask, axis, line, *runs) -> None:
        """Mark the left-out ``runs`` of ``line`` (on the grid ``values``/``mask`` of
        ``axis``, transposed for columns), each with the nearest reading across the line."""
        if self._ends_left is None:
            self._ends_left = np.zeros(self.shape, bool)
            self._ends_fill = np.zeros(self._sampler._values.shape)
        for lo, hi in runs:
            for pos in range(lo, hi + 1):
                if mask[line, pos]:
                    continue
                for d in range(1, self.initial_spacing + 1):
                    near = [r for r in (line - d, line + d) if 0 <= r < mask.shape[0]]
                    near = [r for r in near if mask[r, pos]]
                    if near:
                        where = (line, pos) if axis == 0 else (pos, line)
                        self._ends_left[where] = True
                        self._ends_fill[(slice(None), *where)] = values[near[0], pos]
                        break

    def _flat_line_scale(self) -> tuple[np.ndarray | None, np.ndarray | None] | None:
        """``flat_lines``: per axis, ``flat_share`` for lines between agreeing lines, else 1."""
        if not ((self.sweep or self.flat_lines_everywhere) and self.flat_lines > 0):
            return None
        sampler = self._sampler
        mask, values = sampler._mask, sampler._values
        reuse = self._ends_left is None  # (flat_ends' fills are replaced by readings later)
        if self._ends_left is not None:  # flat_ends: a line without its flat ends is whole
            left = self._ends_left & ~mask
            values = np.where(left[None], self._ends_fill, values)
            mask = mask | left
        span = np.asarray(sampler._ref_range, float).reshape(-1, 1)
        scale = []
        for axis in (0, 1):
            if axis in self._planner._axis_ids:
                tolerance = self.flat_lines * span
                # a line's scale depends only on the whole lines (readings never change) and
                # the tolerance: reuse the last one until either changes (2048 x 2048: the
                # comparison of the whole lines is most of the cost); not with flat_ends' fills
                whole = np.flatnonzero(mask.all(axis=1 - axis))
                key = (whole.tobytes(), tolerance.tobytes())
                cached = self._flat_scale_cache.get(axis)
                if not reuse or cached is None or cached[0] != key:
                    found = flat_line_scale(
                        mask, values, tolerance, self.flat_share, axis=axis, edges=self.flat_edges
                    )
                    cached = self._flat_scale_cache[axis] = (key, found)
                scale.append(cached[1])
            else:
                scale.append(None)
        return scale[0], scale[1]

    def _build_levels(self) -> None:
        """Compute the level map over the whole grid; the planner takes all of it next."""
        origins = {axis: self._origins[axis] for axis in self._refine_axes}
        self._levels = LevelMap(
            self._sampler._erd,
            self._sampler._mask,
            origins,
            gap_power=self.gap_power,
            floor=self._level_floor,
        )
        self._changed = []  # the boxes changed since this map
        self._planner_full = True

    def _position_tuple(self) -> tuple[float, float] | None:
        pos = self.position
        return None if pos is None else (float(pos[0]), float(pos[1]))

    def ingest(self, points: np.ndarray, values: np.ndarray) -> None:
        """Add readings at (row, col) ``points`` (any points; repeats are averaged).

        ``values`` is (n,) or, for C channels, (n, C) (see :meth:`fastscan.Sampler.ingest`).

        Readings of the suggested segments, in flight order, also advance
        :attr:`beam_time` by the modelled time of those segments.
        """
        points = check_points(points, self.shape)
        sampler = self._sampler
        decided = bool(sampler._log_points) or sampler._fixed_channels is not None
        values = check_readings(values, len(points), sampler.n_channels if decided else None)
        if values.shape[1] == 1:
            values = values[:, 0]
        if len(points) == 0:
            return
        self._credit(points)
        inner = self._sampler
        before = (inner._active, inner._ref_range)
        inner.ingest(points, values)
        # (C,) ranges with C channels: compared by value (a tuple's != is ambiguous on them);
        # a rescale replaces the array, so `before` keeps the old values
        full = inner._active != before[0] or not np.array_equal(inner._ref_range, before[1])
        if inner._active and not before[0] and self.flat_scene is not None:
            self._measure_flat_scene()
        if inner._active and self._flat_pixels_on():
            self._update_flat(None if full else self._reading_boxes(points, self.initial_spacing))
        self._note_change(points, full=full)
        if full and inner._active and self.refine == "bisect" and self._incremental_levels:
            # the ERD was recomputed over the whole grid (activation, a rescale): the
            # level map follows it here, at a fraction of that cost, not in a decision;
            # so does the planner's pass over the whole map, also with segments still
            # pending (their readings reach it as changed regions): a streamed plan
            # runs this ingest while they fly
            self._build_levels()
            self._planner.update(self._planner_weights()[0])
            self._planner_full = False
            self._planner_ready = True
            self._staged = False
        elif self._changed and self._levels is not None and not self._planner_full:
            self._stage_levels()
        if self._pending and inner._active:  # the next segment flies while this returns
            pixels = self._pending[0].pixels()
            if len(pixels) >= PREPARE_MIN_PIXELS:
                try:  # a shortcut only: the readings are in, the next update can do without
                    inner.prepare_update(pixels)
                except Exception:  # the sampler's mask and lists are put back either way
                    inner._prepared = None
                    log.exception("could not prepare the next segment's update; it runs in full")

    def _measure_flat_scene(self) -> None:
        """``flat_scene``: measure the coarse lattices' flat share (once, at activation);
        at or above ``flat_scene`` charge partial segments ``flat_scene_line_bias`` from now on."""
        rows = self._line_axis == "rows"
        points, readings = self._sampler._gained_readings()
        shares = [
            line_lattice_flat_share(
                points,
                values,
                self.k,
                spacing=self.initial_spacing,
                axis=0 if rows else 1,
                origin=self._origin,
            )
            for values in readings
        ]
        self._flat_scene_share = min(shares, default=0.0)
        if self._flat_scene_share >= self.flat_scene:
            self._planner_costs = self._flat_scene_costs
            self._level_floor = 0.0
            self._planner = self._new_planner()
            self._levels = None  # built on the new floor at the next full update
            self._planner_ready = False
            self._planner_full = True

    def _stage_levels(self) -> None:
        """Bring the level map up to these readings and stage its changes in the planner.

        Runs in each :meth:`ingest` once a decision has built the map (``"bisect"``,
        incremental), so that a streamed plan does this while the next segment flies
        and the decision after the last segment only settles its share; the scan is
        the same bit for bit (``tests/test_fly_level_map.py``).
        """
        if self.refine != "bisect" or not self._incremental_levels:
            return
        erd, measured = self._sampler._erd, self._sampler._mask
        regions, pixels = self._levels.update(erd, measured, self._changed)
        weights, pixels = self._planner_weights(regions, pixels)
        self._planner.stage(weights, regions, pixels)
        self._changed = []
        self._staged = True

    @staticmethod
    def _reading_boxes(points: np.ndarray, grow: int) -> list[tuple[int, int, int, int]]:
        """One box per run of neighbouring readings (a segment), grown by ``grow``."""
        jumps = np.flatnonzero(np.abs(np.diff(points, axis=0)).max(axis=1) > 1) + 1
        boxes = []
        for run in np.split(points, jumps):
            lo = run.min(axis=0) - grow
            hi = run.max(axis=0) + grow + 1
            boxes.append((int(lo[0]), int(hi[0]), int(lo[1]), int(hi[1])))
        return boxes

    def _note_change(self, points: np.ndarray, *, full: bool) -> None:
        """Add the boxes outside which the ERD has not changed since the last decision.

        One box per run of neighbouring readings (a segment), grown by the
        composed sampler's local-update reach (neighbour-table radius + 3 for the
        ring and the dilation); a full update (activation, rescale) changes all.
        """
        if full or self._sampler._table is None:
            self._changed = None
            return
        if self._changed is None:
            return
        ring = int(self._sampler._table.radius) + 3
        self._changed.extend(self._reading_boxes(points, ring))

    def _credit(self, points: np.ndarray) -> None:
        """Record the flown pending segments these points are; anything else as step points."""
        i = 0
        while self._pending and i < len(points):
            seg = self._pending[0]
            pixels = seg.pixels()
            if not np.array_equal(points[i : i + len(pixels)], pixels):
                break
            self._builder.add_segment(seg)
            i += len(pixels)
            self._pending.pop(0)
        if i < len(points):  # readings not of the plan: the plan is void
            self._pending = []
            self._builder.add_points(points[i:])

    @property
    def trajectory(self) -> Trajectory:
        """Every reading so far with its modelled end time and segment id."""
        return self._builder.trajectory()

    @property
    def _stage(self) -> tuple[float, float, float, float]:
        # speeds / m and accelerations / m**2 make every trapezoid move m times longer
        m = self.move_weight
        (v_x, v_y), (a_x, a_y) = self.motion.velocity, self.motion.acceleration
        return (v_x / m, a_x / m**2, v_y / m, a_y / m**2)

    def should_stop(self) -> bool:
        """True once the stop rule fires; :attr:`stop_reason` says why."""
        if self._stop_reason is not None:
            return True
        size = self._sampler._mask.size
        n = self._sampler.n_measured
        if n >= size:
            self._stop_reason = "every pixel measured"
        elif n / size >= self.max_coverage - 1e-12:
            self._stop_reason = (
                f"coverage {n / size:.1%} reached max_coverage {self.max_coverage:.1%}"
            )
        elif self.time_budget is not None and self.beam_time >= self.time_budget:
            self._stop_reason = (
                f"beam time {self.beam_time:.1f} s reached time_budget {self.time_budget:.1f} s"
            )
        elif (
            self.rate_threshold is not None
            and self._last_rate is not None
            and self._last_rate < self.rate_threshold
        ):
            self._stop_reason = (
                f"best segment promises {self._last_rate:.3g} ERD/s, below rate_threshold "
                f"{self.rate_threshold:.3g}"
            )
        return self._stop_reason is not None

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
            "flat_lines": self.flat_lines,
            "flat_share": self.flat_share,
            "flat_edges": self.flat_edges,
            "flat_lines_everywhere": self.flat_lines_everywhere,
            "flat_ends": self.flat_ends,
            "flat_pixel_share": self.flat_pixel_share,
            "flat_pixel_ends": self.flat_pixel_ends,
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

    def __repr__(self) -> str:
        return (
            f"FlySampler(shape={self.shape}, measured={self.n_measured}, "
            f"coverage={self.coverage:.1%}, beam_time={self.beam_time:.1f} s)"
        )


def flat_line_scale(
    measured: np.ndarray,
    values: np.ndarray,
    tolerance: np.ndarray,
    share: float = FLAT_LINE_SHARE,
    *,
    axis: int = 0,
    edges: bool = False,
) -> np.ndarray:
    """Per line: ``share`` where the nearest whole measured lines agree, else 1.

    ``measured`` (n_rows, n_cols) bool, ``values`` (C, n_rows, n_cols),
    ``tolerance`` (C, 1) in reading units; ``axis`` 0 scores the rows, 1 the
    columns. A line counts as flat when whole measured lines lie on both sides
    of it and differ by at most ``tolerance`` at every pixel (every channel);
    measured lines keep 1, and so do the edge lines (outside the first or the
    last whole line) unless ``edges``: then they count as flat when the two
    whole lines nearest that edge agree.

    Examples
    --------
    >>> import numpy as np
    >>> values = np.zeros((1, 9, 4)); values[0, 8] = 5.0
    >>> measured = np.zeros((9, 4), bool); measured[[0, 4, 8]] = True
    >>> flat_line_scale(measured, values, np.array([[0.1]])).tolist()
    [1.0, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0, 1.0, 1.0]
    >>> flat_line_scale(measured.T, values.transpose(0, 2, 1), np.array([[0.1]]), axis=1)[:4]
    array([1. , 0.1, 0.1, 0.1])
    """
    n_lines = measured.shape[axis]
    scale = np.ones(n_lines)
    whole = np.flatnonzero(measured.all(axis=1 - axis))
    above, below = whole[:-1], whole[1:]
    if not edges:  # only the gaps between them count
        gaps = below - above >= 2
        above, below = above[gaps], below[gaps]
    if not len(above):
        return scale
    diff = np.abs(np.take(values, below, axis=1 + axis) - np.take(values, above, axis=1 + axis))
    tolerance = np.asarray(tolerance, float).reshape(-1, 1, 1)
    agree = (diff <= tolerance).all(axis=(0, 2 - axis))
    for a, b in zip(above[agree], below[agree], strict=True):
        scale[a + 1 : b] = share
    if edges:
        if agree[0]:
            scale[: above[0]] = share
        if agree[-1]:
            scale[below[-1] + 1 :] = share
    return scale


def _line(shape: tuple[int, int], axis: str, k: int, backwards: bool) -> Segment:
    """Row (``axis="rows"``) or column ``k`` of the grid, whole, reversed if ``backwards``."""
    if axis == "rows":
        segment = Segment((k, 0), (k, shape[1] - 1))
    else:
        segment = Segment((0, k), (shape[0] - 1, k))
    return segment.reversed() if backwards else segment


def fast_fly_sampler(shape: tuple[int, int], settings: Any) -> FlySampler:
    """``fast-fly`` strategy factory (:mod:`fastscan.strategies`): a :class:`FlySampler`.

    Uses ``settings.motion`` (None: the nanoprobe model), ``max_coverage``,
    ``seed`` and ``model``; ``batch_size`` counts step points, not segments, and is
    not used.
    """
    motion = settings.motion if settings.motion is not None else NANOPROBE
    return FlySampler(
        shape,
        motion=motion,
        max_coverage=settings.max_coverage,
        seed=settings.seed,
        model=settings.model,
    )

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

The defaults and line costs live in :mod:`fastscan.fly.defaults`; the class is
assembled from private mixins, one idea each: parameter checks (``_params``), axis
choice (``_axis_choice``), one decision's picks (``_decisions``), flat lines, ends and
pixels (``_flat``) and the ERD changes staged in the level map (``_changes``).

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

# (names moved to fastscan.fly.defaults and the private mixin modules are imported
# here, some as `X as X`: importable from this module as before)
import logging
import math
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from fastscan._settable import Settable, SettableMeta
from fastscan._validation import check_points
from fastscan.beamtime import Trajectory, TrajectoryBuilder
from fastscan.channels import check_readings
from fastscan.erd.estimator import ERDModel
from fastscan.erd.floor import AUTO as AUTO_FLOOR
from fastscan.erd.floor import line_lattice_level
from fastscan.fly._axis_choice import _MAX_LAG as _MAX_LAG
from fastscan.fly._axis_choice import _AxisChoice
from fastscan.fly._changes import _Changes
from fastscan.fly._decisions import _Decisions
from fastscan.fly._flat import _FlatLines, flat_line_scale
from fastscan.fly._params import STOP_CHECKS, _FlyParams
from fastscan.fly.defaults import (
    COARSE_ORIGIN,
    DEFAULT_FLY_ERD_FLOOR,
    FLAT_ENDS,
    FLAT_LINE_SHARE,
    FLAT_LINES,
    FLAT_LINES_EVERYWHERE,
    FLAT_PIXEL_ENDS,
    FLAT_PIXEL_RESUME,
    FLAT_PIXEL_SHARE,
    FLY_AXES,
    FLY_FLOOR_SCALE,
    FLY_MODEL,
    REFINE,
    _line,
    coarse_line_axis,
    default_erd_floor,
    default_initial_spacing,
    default_sweep,
    line_costs,
)
from fastscan.fly.defaults import FLAT_ENDS_KEEP as FLAT_ENDS_KEEP
from fastscan.fly.defaults import LATTICE_SKIP as LATTICE_SKIP
from fastscan.fly.defaults import SWEEP_SEGMENTS as SWEEP_SEGMENTS
from fastscan.fly.defaults import _spacing_for as _spacing_for
from fastscan.fly.lattice import lattice_levels, warm_up_trim
from fastscan.fly.level_map import LevelMap
from fastscan.fly.planner import AXES, SegmentPlanner
from fastscan.fly.segment import Segment, segments_to_points
from fastscan.motion import NANOPROBE, MotionModel
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


#: Prepare the next pending segment's update geometry (:meth:`fastscan.Sampler.prepare_update`)
#: at the end of each ingest when it measures at least this many pixels (coarse-raster lines
#: and long picks: the search it saves grows with the segment, the save of the lists it
#: puts back costs a little on any).
PREPARE_MIN_PIXELS = 128


#: the stop reason no stop knob changes
NOTHING_TO_GAIN = "no segment has any ERD left to gain"


class FlySampler(
    _FlyParams, _AxisChoice, _Decisions, _FlatLines, _Changes, Settable, metaclass=SettableMeta
):
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
    sweep_pool : int
        Sweep decisions (``sweep`` > 0, ``sweep_window`` 0): if larger than
        ``sweep``, the planner picks up to ``sweep_pool`` segments, admitted as
        by ``sweep_share``, and the sweep flies only ``sweep`` of them that are
        neighbours in line order and hold the best pick, those worth most ERD
        per second with the stage moves of flying them counted
        (:func:`fastscan.fly.sweep_band.compact_sweep`); the others are left
        to later decisions. 0 (the default) or at most ``sweep``: off.
    sweep_tour : bool
        Sweep decisions: the sweep's segments are re-ordered and flown either
        way round for less stage-move time from the stage
        (:func:`fastscan.fly.sweep_tour.shortest_tour`, from the sweep's
        order), its last segment kept last, so the stage ends where the sweep
        would have and later decisions pick the same segments. False (the
        default): the sweep's order.
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
        :data:`FLAT_PIXEL_SHARE`, 0.1; 0: the flat end runs weigh nothing, and
        a sparse scan may then stop early, see ``flat_pixel_resume``); 1 is
        off, the scan before this knob.
    flat_pixel_ends : bool
        ``flat_pixel_share`` only for the flat pixels of each line's end runs
        (:func:`fastscan.fly.lattice.flat_end_runs`: in from each end over
        measured or flat pixels), so a line is valued as ``flat_ends`` flies
        it, its inner flat runs included (default :data:`FLAT_PIXEL_ENDS`,
        True; False: every flat-bounded pixel).
    flat_pixel_resume : float or None
        With ``flat_pixel_share`` acting: when a decision finds no segment
        with any ERD left (at a share below 1 the flat pixels may hold all the
        ERD there is) while the coverage is below ``max_coverage``, the flat
        pixels keep this share from then on and the decision is made once
        more, instead of stopping (only if it is above ``flat_pixel_share``;
        in [0, 1]; default :data:`FLAT_PIXEL_RESUME`; None: stop there, the
        scan before this knob).
    line_jump : float or None
        Opt-in (None: off, the scan before this knob). Sweep decisions
        (``sweep`` > 0, ``"bisect"``): from this coverage share on (in [0, 1];
        0: from the first decision) each line's ERD per second is multiplied by
        :data:`~fastscan.fly.jump.JUMP_FLOOR` plus the mean, over its candidate
        pixels, of how much the readings bounding each one's gap differ (over
        their span; :func:`fastscan.fly.jump.jump_line_scale`): late in a scan
        a line between two agreeing lines is worth little to linear filling, one
        across which the readings jump (an edge or a particle between them) is
        worth much.
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

    #: stop knobs settable once readings are in (any other setting: a new FlySampler)
    LIVE_KNOBS = frozenset(STOP_CHECKS)

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
        sweep_pool: int = 0,
        sweep_tour: bool = False,
        flat_lines: float = FLAT_LINES,
        flat_share: float = FLAT_LINE_SHARE,
        flat_edges: bool = False,
        flat_lines_everywhere: bool = FLAT_LINES_EVERYWHERE,
        flat_ends: float = FLAT_ENDS,
        flat_pixel_share: float = FLAT_PIXEL_SHARE,
        flat_pixel_ends: bool = FLAT_PIXEL_ENDS,
        flat_pixel_resume: float | None = FLAT_PIXEL_RESUME,
        line_jump: float | None = None,
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
        line_axis, fixed, pixel_time = self._check_params(
            shape,
            motion=motion,
            max_coverage=max_coverage,
            time_budget=time_budget,
            rate_threshold=rate_threshold,
            seed=seed,
            batch_size=batch_size,
            decision_time=decision_time,
            initial_spacing=initial_spacing,
            axes=axes,
            power=power,
            k=k,
            move_aware=move_aware,
            move_weight=move_weight,
            refine=refine,
            gap_power=gap_power,
            line_bias=line_bias,
            floor=floor,
            sweep=sweep,
            sweep_share=sweep_share,
            sweep_until=sweep_until,
            sweep_share_late=sweep_share_late,
            sweep_window=sweep_window,
            sweep_pool=sweep_pool,
            sweep_tour=sweep_tour,
            flat_lines=flat_lines,
            flat_share=flat_share,
            flat_edges=flat_edges,
            flat_lines_everywhere=flat_lines_everywhere,
            flat_ends=flat_ends,
            flat_pixel_share=flat_pixel_share,
            flat_pixel_ends=flat_pixel_ends,
            flat_pixel_resume=flat_pixel_resume,
            line_jump=line_jump,
            fly_axis=fly_axis,
            probe_lines=probe_lines,
            switch_ratio=switch_ratio,
            grid_spacing=grid_spacing,
            grid_lines=grid_lines,
            coarse_level=coarse_level,
            lattice=lattice,
            lattice_trim=lattice_trim,
            lattice_skip=lattice_skip,
        )
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
        if self.sweep and self.flat_ends > 0:
            warm_up_trim()  # loaded now, not in the first decision after the coarse raster
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
    def initial_count(self) -> int:
        """Pixels of the coarse raster, flown before the first adaptive decision."""
        return self._sampler.initial_count

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
        if not picks and self._resume_flat():  # flat_pixel_resume: plan once more
            picks = self._decide()
        if not picks:
            self._stop_reason = NOTHING_TO_GAIN
            return []
        self._pending = [p.segment for p in picks]
        return list(self._pending)

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

    def _set_live(self, name: str, value: Any) -> None:
        """A stop knob changed once readings are in: checked as the constructor checks it;
        a stop by the coverage, time or rate rule is looked at again (so a raised cap
        continues the scan, as :class:`fastscan.Sampler`'s does)."""
        object.__setattr__(self, name, STOP_CHECKS[name](value))
        if self._stop_reason not in (None, NOTHING_TO_GAIN):
            self._stop_reason = None

    def __repr__(self) -> str:
        return (
            f"FlySampler(shape={self.shape}, measured={self.n_measured}, "
            f"coverage={self.coverage:.1%}, beam_time={self.beam_time:.1f} s)"
        )


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

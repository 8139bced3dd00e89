"""fast-fly's defaults: the module constants chosen by measurement, the line costs, and the
functions that derive a :class:`fastscan.fly.FlySampler`'s defaults (coarse axis, spacing,
sweep, ERD floor) from the grid and the motion model.

Re-exported by :mod:`fastscan.fly.sampler`, where they have always been importable.
"""

from __future__ import annotations

from fastscan._validation import is_integer
from fastscan.beamtime import fly_timing
from fastscan.erd.floor import AUTO as AUTO_FLOOR
from fastscan.fly.segment import Segment
from fastscan.motion import MotionModel

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
#: (1: off, the scan before this knob); 0.1, flat_lines' share (trim1ms11). lines1ms24 made it
#: 0 (flat end runs weigh nothing) by a rule on the 28 validation images, the sparse set and
#: WSe2 at 1 ms; the stop-check set then showed that at 0 a sparse scan can stop early, before
#: its targets, and 0.1 is back (docs/fly-scanning.md, "Flat ends seen when choosing", "Which
#: lines at 1 ms" and "The early stop at 1 ms")
FLAT_PIXEL_SHARE = 0.1
#: ``flat_pixel_ends``: the share only for the flat pixels of each line's end runs (the trim
#: that ``flat_ends`` flies); chosen over the share on every flat pixel by the same rule
FLAT_PIXEL_ENDS = True
#: ``flat_pixel_resume``: the share the flat pixels keep from the decision at which the plan
#: at ``flat_pixel_share`` finds no segment with any ERD left below ``max_coverage`` (None:
#: the scan stops there; stop1ms24, docs/fly-scanning.md, "The early stop at 1 ms")
FLAT_PIXEL_RESUME: float | None = None
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


def _line(shape: tuple[int, int], axis: str, k: int, backwards: bool) -> Segment:
    """Row (``axis="rows"``) or column ``k`` of the grid, whole, reversed if ``backwards``."""
    if axis == "rows":
        segment = Segment((k, 0), (k, shape[1] - 1))
    else:
        segment = Segment((0, k), (shape[0] - 1, k))
    return segment.reversed() if backwards else segment

"""``autonomous_fly_scan``: one Bluesky run, many fly segments, chosen by a fly sampler.

The sampler (e.g. ``fastscan.fly.FlySampler``) decides which straight segments
to fly and in which order; the plan only flies, records and feeds back. For
each segment the sampler suggests::

    checkpoint                                   # pause / resume / abort land here
    prepare(flyer, segment in motor units)       # Grid: (row, col) -> (x, y)
    kickoff; complete                            # the flight
    collect -> one event page on stream "fly"    # every sample, with its captured x, y
    sampler.ingest(pixels of the samples, values)  # after the page is emitted

Every sample is in the documents before the sampler sees it. The plan logs
the estimated time of each segment (:func:`fastscan.beamtime.segment_times`
under the scan's :class:`fastscan.motion.MotionModel`) next to the time it
took.

With ``stream=True`` (the default) the ingest runs in one background thread
(:class:`fastscan.plans.ingest.IngestWorker`, in flight order) while the plan goes on to fly the
next segment of the same decision: only the last segment's ingest and the
next decision stand between two decisions; a sampler whose
``suggest_segments`` takes ``ahead`` (:class:`fastscan.fly.FlySampler`) hands
out its coarse raster's lines at once, so the sampler's activation runs while
the raster's last lines fly. The plan waits for the worker
before it asks the sampler anything (``should_stop``, ``suggest_segments``,
the summary), and on a fault, pause-abort or close it waits for every
ingest still queued before the error goes on: nothing measured is lost. The
sampler's kernels release the GIL (Numba ``nogil``, NumPy, BLAS), so the
ingest and the flight run side by side. Per decision the plan records how
long it waited after the last segment's samples were in the documents
(:class:`DecisionReport`).

The flyer is any object with ``prepare({"start", "end", "velocity",
"period"})``, ``kickoff``, ``complete``, ``describe_collect`` and
``collect_pages`` yielding ``<name>_x``, ``<name>_y``, ``<name>_value``
(:class:`fastscan.devices.fly.EpicsFlyer`, :class:`fastscan.sim.flyer.SimFlyer`).
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from bluesky import plan_stubs as bps
from bluesky.utils import FailedStatus

import fastscan
from fastscan.beamtime import fly_timing, segment_times
from fastscan.fly import Segment
from fastscan.motion import MotionModel
from fastscan.plans.continuation import continuation_md, remember_runs, with_continuation
from fastscan.plans.coverage_note import warn_early_stop
from fastscan.plans.device_checks import check_connected
from fastscan.plans.grid import Grid
from fastscan.plans.ingest import IngestWorker
from fastscan.plans.last_summary import remember_summary
from fastscan.plans.steps import jsonable, model_info, open_run_closing
from fastscan.plans.user_md import merge_user_md

__all__ = [
    "DecisionReport",
    "FlyFault",
    "FlyScanSummary",
    "SegmentReport",
    "autonomous_fly_scan",
    "fly_request",
    "to_pixels",
]

logger = logging.getLogger("fastscan.plans")

FLY_SAMPLER_METHODS = ("suggest_segments", "ingest", "should_stop")
STREAM = "fly"


class FlyFault(RuntimeError):
    """A flight was refused or failed; the message names the segment and the reason."""


@dataclass
class SegmentReport:
    """One flown segment: what was asked, what came back, estimated and actual seconds."""

    index: int
    start: tuple[int, int]
    end: tuple[int, int]
    n_expected: int
    n_samples: int
    estimated_s: float
    actual_s: float


@dataclass
class DecisionReport:
    """One decision: its segments, and how long the plan waited for it.

    ``wait_s`` runs from the end of the previous segment's collect (its samples
    in the documents) until the sampler had decided: the ingest still running
    (``ingest_wait_s``), ``should_stop`` and ``suggest_segments``. The first
    decision has no previous segment: its ``wait_s`` is the decision alone.
    """

    index: int
    n_segments: int
    wait_s: float
    ingest_wait_s: float


@dataclass
class FlyScanSummary:
    """What an :func:`autonomous_fly_scan` did (the plan's return value)."""

    run_uids: list[str] = field(default_factory=list)
    n_segments: int = 0
    n_samples: int = 0
    coverage: float = 0.0
    stop_reason: str | None = None
    estimated_s: float = 0.0
    actual_s: float = 0.0
    elapsed_s: float = 0.0
    segments: list[SegmentReport] = field(default_factory=list)
    decisions: list[DecisionReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        """One line for ``print(result.plan_result)``; ``repr`` keeps every segment."""
        run = self.run_uids[0][:8] if self.run_uids else "none"
        return (
            f"FlyScanSummary: {self.n_segments} segments, {self.n_samples} samples, coverage "
            f"{self.coverage:.1%}, estimated {self.estimated_s:.1f} s, actual "
            f"{self.actual_s:.1f} s (wall {self.elapsed_s:.1f} s), {len(self.decisions)} "
            f"decisions; stop: {self.stop_reason}; run {run}"
        )


def fly_request(segment: Segment, grid: Grid, motion: MotionModel) -> dict[str, Any]:
    """The flyer's ``prepare`` value for ``segment``: motor-unit ends, speed, sample period.

    The speed and period follow the beam-time model: one reading per pixel
    crossed, each ``max(dwell, step / fly_velocity)`` seconds.

    Examples
    --------
    >>> from fastscan.motion import MotionModel
    >>> grid = Grid(0.0, 59.0, 60, 0.0, 39.0, 40)
    >>> motion = MotionModel((1000.0, 1000.0), dwell=0.01)
    >>> r = fly_request(Segment((2, 0), (2, 59)), grid, motion)
    >>> r["start"], r["end"], round(r["velocity"], 6), r["period"]
    ((0.0, 2.0), (59.0, 2.0), 100.0, 0.01)
    """
    timing = fly_timing(segment, motion, pixel_pitch=grid.pitch)
    xy = grid.to_positions(np.array([segment.start, segment.end]))
    speed = math.hypot(*timing.speed)
    if speed == 0.0:  # a one-pixel segment is flown like a row
        speed = grid.pitch[0] / timing.pixel_time
    return {
        "start": (float(xy[0, 0]), float(xy[0, 1])),
        "end": (float(xy[1, 0]), float(xy[1, 1])),
        "velocity": float(speed),
        "period": float(timing.pixel_time),
    }


def to_pixels(grid: Grid, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Captured (x, y) -> (n, 2) int64 (row, col), exact halves rounded up as in Segment.

    Raises ValueError for a position more than half a pixel off the grid.
    """
    pos = np.stack([np.asarray(x, float), np.asarray(y, float)], axis=1)
    idx = np.floor(grid.to_fractions(pos) + 0.5 + 1e-6)
    high = np.array([grid.n_rows - 1, grid.n_cols - 1])
    if not np.isfinite(idx).all() or (idx < 0).any() or (idx > high).any():
        bad = ~(np.isfinite(idx).all(axis=1) & (idx >= 0).all(axis=1) & (idx <= high).all(axis=1))
        x0, y0 = pos[bad][0]
        raise ValueError(f"captured position (x={x0!r}, y={y0!r}) is outside the grid {grid}")
    return idx.astype(np.int64)


def _check_motion(motion: Any, grid: Grid) -> MotionModel:
    if not isinstance(motion, MotionModel):
        raise TypeError(f"motion must be a fastscan.motion.MotionModel, got {motion!r}")
    if motion.travel is not None:
        last_row, last_col = grid.n_rows - 1, grid.n_cols - 1
        for r, c in ((0, 0), (0, last_col), (last_row, 0), (last_row, last_col)):
            motion.check_travel(*grid.to_position(r, c), what=f"grid corner (row {r}, col {c})")
    return motion


def _check_sampler_dwell(sampler: Any, motion: MotionModel) -> None:
    """The sampler chooses segments for the dwell the plan flies (its own motion model's)."""
    own = getattr(getattr(sampler, "motion", None), "dwell", None)
    if isinstance(own, (int, float)) and not math.isclose(own, motion.dwell, rel_tol=1e-9):
        raise ValueError(
            f"the sampler chooses its segments for {own:g} s per reading (its motion model's "
            f"dwell) but the plan would fly {motion.dwell:g} s per reading: give both the same "
            f"dwell (FlySampler(shape, motion=motion) on a pixel-unit grid, or dwell={own:g} "
            "here)"
        )


def _check_run_ups(sampler: Any, grid: Grid, motion: MotionModel) -> None:
    """Before the run opens: a whole line of each axis the sampler may fly
    (``refine_axes``, as a FlySampler names them), at both edges of the grid, has
    its run-up and stop inside the travel range, so no flight of the scan can leave
    it. Samplers that do not name their axes are checked segment by segment."""
    axes = getattr(sampler, "refine_axes", None)
    if motion.travel is None or axes is None:
        return
    last_row, last_col = grid.n_rows - 1, grid.n_cols - 1
    lines = {
        "rows": (Segment((0, 0), (0, last_col)), Segment((last_row, 0), (last_row, last_col))),
        "columns": (Segment((0, 0), (last_row, 0)), Segment((0, last_col), (last_row, last_col))),
    }
    for axis in axes:
        for segment in lines.get(axis, ()):
            request = fly_request(segment, grid, motion)
            _check_flight(request, segment, motion, f"a whole line of {axis}")


def _check_flight(
    request: dict[str, Any], segment: Segment, motion: MotionModel, what: str
) -> None:
    """The run-up and stop of ``segment``'s flight ``request`` inside the travel range,
    or a ValueError saying what to do."""
    for i, (x, y) in enumerate(_flight_bounds(request, motion)):
        try:
            motion.check_travel(
                x, y, what=f"{what} {segment.start}->{segment.end} {('run-up', 'stop')[i]}"
            )
        except ValueError as exc:  # say what to do about it
            raise ValueError(
                f"{exc}; a flown line needs room beyond the grid to reach speed and stop: "
                "widen the motors' soft limits (simulated IOC: --limit-margin)"
            ) from None


def _flight_bounds(request: dict[str, Any], motion: MotionModel) -> list[tuple[float, float]]:
    """Where a flight starts its run-up and ends its run-out (motor units)."""
    (x0, y0), (x1, y1) = request["start"], request["end"]
    length = math.hypot(x1 - x0, y1 - y0)
    ux, uy = ((x1 - x0) / length, (y1 - y0) / length) if length else (1.0, 0.0)
    v = request["velocity"]
    accel = min(a / abs(u) for a, u in zip(motion.acceleration, (ux, uy)) if u)
    extra = 0.5 * v * request["period"] + (0.0 if math.isinf(accel) else v * v / (2 * accel))
    return [(x0 - ux * extra, y0 - uy * extra), (x1 + ux * extra, y1 + uy * extra)]


def autonomous_fly_scan(
    flyer: Any,
    sampler: Any,
    *,
    grid: Grid,
    motion: MotionModel,
    dwell: float | None = None,
    fly_velocity: tuple[float, float] | None = None,
    max_segments: int | None = None,
    progress: Callable[[SegmentReport], None] | None = None,
    stream: bool = True,
    md: dict[str, Any] | None = None,
):
    """Fly the segments a fly sampler chooses until it stops; one run, stream ``"fly"``.

    Parameters
    ----------
    flyer : flyer
        ``prepare`` / ``kickoff`` / ``complete`` / ``describe_collect`` /
        ``collect_pages`` (see the module doc).
    sampler : fly sampler
        ``suggest_segments() -> list[Segment]`` in flight order,
        ``ingest(points, values)``, ``should_stop()`` (``stop_reason``,
        ``coverage``, ``get_params()`` used when present), on ``grid.shape``.
    grid : Grid
        Pixel (row, col) <-> motor (x, y).
    motion : MotionModel
        The beam-time model: ``dwell`` (seconds per reading, > 0),
        ``fly_velocity`` (must not exceed the motors' ``velocity``),
        ``acceleration``, ``travel`` (every flight, run-up and stop included,
        must stay inside), overheads for the estimates. Build it with
        ``MotionModel.from_motors(x, y, dwell=...)`` to take the motors' limits.
    dwell : float or None
        Seconds per reading; overrides ``motion.dwell`` (must be > 0).
    fly_velocity : (vx, vy) or None
        Top axis speeds while flying; overrides ``motion.fly_velocity`` (must
        not exceed ``motion.velocity``, the motors' limits).
    max_segments : int or None
        Stop after this many segments (None: when the sampler stops).
    progress : callable or None
        Called with a :class:`SegmentReport` after each segment (with
        ``stream``, possibly before the sampler has ingested it).
    stream : bool
        True: ingest each segment in one background thread while the next
        segment of the same decision flies (:class:`IngestWorker`); the plan
        waits for it before asking the sampler anything, and asks for the
        coarse raster at once (``suggest_segments(ahead=True)``) where the
        sampler takes it. False: ingest before the next segment. The scan is
        the same either way (but for a ``time_budget`` that runs out inside
        the coarse raster: streamed, the raster is flown whole).
    md : dict or None
        Extra start-document metadata, merged last; ``md["fastscan"]`` (a dict) is
        merged into the recorded fastscan settings (its keys win, the others are kept).

    Returns
    -------
    generator
        The plan; its return value is a :class:`FlyScanSummary`.

    Raises
    ------
    TypeError, ValueError
        When the plan is made (before its first message): bad arguments, a
        sampler whose own motion model has another ``dwell`` than the plan
        flies, a flight that cannot fit the travel range.
    ConnectionError
        When the plan is made: the flyer does not connect within
        :data:`fastscan.plans.device_checks.CONNECT_TIMEOUT_S` seconds.
    FlyFault
        (from the running plan) when a flight is refused or fails.

    Examples
    --------
    >>> from bluesky import RunEngine  # doctest: +SKIP
    >>> RE = RunEngine(call_returns_result=True)  # doctest: +SKIP
    >>> motion = MotionModel((100, 100), (1e4, 1e4), dwell=0.01)  # doctest: +SKIP
    >>> sampler = FlySampler(grid.shape, motion=motion)  # pixel-unit grid  # doctest: +SKIP
    >>> RE(autonomous_fly_scan(flyer, sampler, grid=grid, motion=motion))  # doctest: +SKIP
    """
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a fastscan.plans.Grid, got {grid!r}")
    _check_motion(motion, grid)
    changes: dict[str, Any] = {}
    if dwell is not None:
        changes["dwell"] = dwell
    if fly_velocity is not None:
        changes["fly_velocity"] = fly_velocity
    if changes:  # MotionModel raises ValueError naming a bad dwell or a too-fast velocity
        motion = motion.replace(**changes)
    if isinstance(sampler, str):
        raise TypeError(
            f"sampler must be a fly sampler object, e.g. fastscan.fly.FlySampler(grid.shape, "
            f"motion=motion), not the name {sampler!r}"
        )
    missing = [m for m in FLY_SAMPLER_METHODS if not callable(getattr(sampler, m, None))]
    if missing:
        hint = "; a step sampler goes to autonomous_scan" if hasattr(sampler, "suggest") else ""
        raise TypeError(
            f"sampler {type(sampler).__name__} lacks {missing} (a fly sampler's methods){hint}"
        )
    for m in ("prepare", "kickoff", "complete", "collect_pages", "describe_collect"):
        if not callable(getattr(flyer, m, None)):
            raise TypeError(f"flyer {getattr(flyer, 'name', flyer)!r} has no {m}()")
    check_connected([("flyer", flyer)])
    _check_sampler_dwell(sampler, motion)
    mask = getattr(sampler, "measured_mask", None)
    if mask is not None and np.shape(mask) != grid.shape:
        raise ValueError(f"sampler shape {np.shape(mask)} differs from grid shape {grid.shape}")
    if max_segments is not None and (
        isinstance(max_segments, bool) or int(max_segments) != max_segments or max_segments < 1
    ):
        raise ValueError(f"max_segments must be an integer >= 1 or None, got {max_segments!r}")
    if not isinstance(stream, bool):
        raise TypeError(f"stream must be True or False, got {stream!r}")
    if md is not None and not isinstance(md, dict):
        raise TypeError(f"md must be a dict, got {type(md).__name__}")
    _check_run_ups(sampler, grid, motion)

    params = sampler.get_params() if hasattr(sampler, "get_params") else {}
    run_md: dict[str, Any] = {
        "plan_name": "autonomous_fly_scan",
        "detectors": [flyer.name],
        "plan_args": {
            "flyer": repr(flyer),
            "grid": grid.to_dict(),
            "max_segments": max_segments,
            "stream": stream,
        },
        "plan_pattern": "fastscan_fly",
        "shape": list(grid.shape),
        "extents": [[grid.y_start, grid.y_stop], [grid.x_start, grid.x_stop]],
        "fastscan": {
            "version": fastscan.__version__,
            "grid": grid.to_dict(),
            "motion": asdict(motion),
            "sampler_class": type(sampler).__name__,
            "sampler_params": params,
            "model": model_info(sampler),
            "stream": STREAM,
            "signal": [f"{flyer.name}_{k}" for k in signal_keys(flyer)],
        },
    }
    run_md = merge_user_md(run_md, md)
    scan = _FlyScan(flyer, sampler, grid, motion, max_segments, progress, stream)
    return scan.plan(jsonable(run_md))


class _FlyScan:
    """State of one fly scan (kept out of the generator for readability)."""

    def __init__(self, flyer, sampler, grid, motion, max_segments, progress, stream) -> None:
        self.flyer, self.sampler, self.grid, self.motion = flyer, sampler, grid, motion
        self.max_segments, self.progress = max_segments, progress
        self.summary = FlyScanSummary()
        self.worker = IngestWorker(sampler.ingest, background=stream)
        # streamed, the coarse raster's lines come all at once where the sampler can
        # (FlySampler): the activation then runs while the raster's last lines fly
        self.suggest_kwargs = {"ahead": True} if stream and _takes_ahead(sampler) else {}
        self.ready: float | None = None  # when the last segment's samples were in the documents
        position = getattr(flyer, "position", None)
        self.position = (
            grid.to_fractions(np.array([position], float))[0]
            if position is not None
            else np.array([0.0, 0.0])
        )

    def plan(self, run_md: dict[str, Any]):
        summary = self.summary
        remember_summary(summary)  # reachable also after RE.abort() (last_summary)
        warn_early_stop(self.sampler)
        at_start = continuation_md(self.sampler)  # what the sampler holds as the run begins
        try:
            yield from open_run_closing(with_continuation(run_md, at_start), self._body(), summary)
        finally:
            self._close_worker(raise_errors=False)  # (already closed unless the run never began)
            summary.coverage = float(getattr(self.sampler, "coverage", 0.0))
            summary.stop_reason = getattr(self.sampler, "stop_reason", None)
            remember_runs(self.sampler, summary.run_uids, at_start)
        return summary

    def _body(self):
        yield from bps.declare_stream(self.flyer, name=STREAM, collect=True)
        done = False
        try:
            yield from self._decisions()
            done = True
        finally:  # every ingest in before the run closes (and before an error goes on)
            self._close_worker(raise_errors=done)

    def _close_worker(self, raise_errors: bool) -> None:
        try:
            self.worker.close()
        except Exception:
            if raise_errors:
                raise
            logger.exception("an ingest failed while the fly scan ended")

    def _decisions(self):
        summary = self.summary
        while True:
            start = time.monotonic() if self.ready is None else self.ready
            ingest_wait = self.worker.drain()  # the sampler is ours from here on
            if self.sampler.should_stop():
                break
            segments = list(self.sampler.suggest_segments(**self.suggest_kwargs))
            if not segments:
                break
            report = DecisionReport(
                len(summary.decisions), len(segments), time.monotonic() - start, ingest_wait
            )
            summary.decisions.append(report)
            logger.info(
                "decision %d: %d segments; waited %.1f ms after the last segment (ingest %.1f ms)",
                report.index, report.n_segments, 1e3 * report.wait_s, 1e3 * ingest_wait,
            )  # fmt: skip
            for segment in segments:
                if self.max_segments is not None and summary.n_segments >= self.max_segments:
                    return
                yield from self._fly(segment)

    def _fly(self, segment: Segment):
        grid, motion = self.grid, self.motion
        if not isinstance(segment, Segment):
            raise TypeError(f"the sampler suggested {segment!r}, not a fastscan.fly.Segment")
        segment.check_inside(grid.shape)
        request = fly_request(segment, grid, motion)
        _check_flight(request, segment, motion, "segment")
        estimate = segment_times(segment, self.position, motion, pixel_pitch=grid.pitch)
        estimated = float(estimate[-1] + fly_timing(segment, motion, pixel_pitch=grid.pitch).ramp)

        yield from bps.checkpoint()
        t0 = time.monotonic()
        yield from bps.prepare(self.flyer, request, wait=True)
        for stub in (bps.kickoff, bps.complete):
            try:
                yield from stub(self.flyer, wait=True)
            except FailedStatus as exc:
                reason = exc.__cause__ if exc.__cause__ is not None else exc
                raise FlyFault(
                    f"segment {segment.start}->{segment.end}: {stub.__name__} failed: {reason}"
                ) from exc
        actual = time.monotonic() - t0
        pages = yield from bps.collect(self.flyer, name=STREAM)
        self.ready = time.monotonic()  # the samples are in the documents
        points, values = self._readings(pages or [])

        n_expected = segment.n_pixels
        if len(points) != n_expected:
            logger.warning(
                "segment %s->%s: %d samples captured, %d pixels expected",
                segment.start, segment.end, len(points), n_expected,
            )  # fmt: skip
        if len(points):
            self.worker.put(points, values)  # in the background with stream
        self.position = np.array(segment.end, dtype=float)
        # a hard pause from here on must not replay (and store twice) the collect
        yield from bps.checkpoint()
        report = SegmentReport(
            self.summary.n_segments, segment.start, segment.end, n_expected, len(points),
            estimated, actual,
        )  # fmt: skip
        summary = self.summary
        summary.n_segments += 1
        summary.n_samples += len(points)
        summary.estimated_s += estimated
        summary.actual_s += actual
        summary.segments.append(report)
        logger.info(
            "segment %d %s->%s: %d samples, estimated %.3f s, took %.3f s",
            report.index, segment.start, segment.end, len(points), estimated, actual,
        )  # fmt: skip
        if self.progress is not None:
            self.progress(report)

    def _readings(self, pages: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """Pixels and readings of the pages: (n,) values, or (n, C) for C element channels."""
        name = self.flyer.name
        keys = [f"{name}_{k}" for k in signal_keys(self.flyer)]
        xs, ys, vs = [], [], []
        for page in pages:
            data = page["data"]
            xs.extend(data[f"{name}_x"])
            ys.extend(data[f"{name}_y"])
            vs.extend(zip(*(data[k] for k in keys)))
        values = np.asarray(vs, dtype=float).reshape(len(vs), len(keys))
        if len(keys) == 1:
            values = values[:, 0]
        if not vs:
            return np.zeros((0, 2), np.int64), values
        return to_pixels(self.grid, np.array(xs), np.array(ys)), values


def _takes_ahead(sampler: Any) -> bool:
    """True if ``sampler.suggest_segments`` takes ``ahead`` (FlySampler's whole raster)."""
    try:
        parameters = inspect.signature(sampler.suggest_segments).parameters
    except (TypeError, ValueError):  # no signature to read (a builtin, a C callable)
        return False
    return "ahead" in parameters


def signal_keys(flyer: Any) -> list[str]:
    """The reading fields (after ``<name>_``) that drive the scan: the elements, else value."""
    return list(getattr(flyer, "elements", None) or ["value"])

"""``autonomous_scan``: a Bluesky plan that lets a fastscan Sampler choose every point.

The sampler makes every decision (where, in which order, when to stop); the
plan only moves, reads and records. For each suggested batch::

    for each point: checkpoint; move x and y together; trigger and read
        detectors + motors + point info (row, col, seq, batch) -> one event
        stream: sampler.ingest(this point) on a worker thread, during the next move
    whole batch: sampler.ingest(points measured, values)   # after the events exist

Every reading is in the documents before the sampler sees it, and whatever was
measured is ingested even when the plan is paused and aborted, or fails. With
``stream`` the ingests run in one background thread, in order, overlapping the
moves; the plan waits for them (drains the worker) before it asks the sampler
anything, so the decision after a batch's last reading costs only that reading's
ingest and the next suggestion. A :class:`fastscan.Sampler` gives the same scan
either way (its ingest is independent of how the readings are grouped).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from bluesky import plan_stubs as bps
from bluesky import preprocessors as bpp
from bluesky.utils import RunEngineControlException

import fastscan
from fastscan.plans.continuation import continuation_md, remember_runs, with_continuation
from fastscan.plans.coverage_note import warn_early_stop
from fastscan.plans.device_checks import (
    check_connected,
    check_grid_in_limits,
    check_reading_keys,
)
from fastscan.plans.grid import Grid
from fastscan.plans.ingest import IngestWorker
from fastscan.plans.last_summary import remember_summary
from fastscan.plans.readables import PointInfo, SamplerSnapshot
from fastscan.plans.steps import (
    MoveError,
    device_label,
    explain,
    jsonable,
    measure,
    model_info,
    motion_info,
    move,
    n_measured,
    open_run_closing,
    source_of,
)
from fastscan.plans.timing import MotionEstimator
from fastscan.plans.user_md import merge_user_md

__all__ = [
    "BatchReport",
    "ScanFault",
    "ScanSummary",
    "autonomous_scan",
    "rel_autonomous_scan",
]

logger = logging.getLogger("fastscan.plans")

SAMPLER_METHODS = ("suggest", "ingest", "should_stop", "coverage", "measured_mask")
DEFAULT_MAX_COVERAGE = 0.25


class ScanFault(RuntimeError):
    """A move or a reading failed; the message names the device/PV and the point.

    Attributes
    ----------
    summary : ScanSummary
        What had been measured (and stored) when the fault happened.
    """

    def __init__(self, message: str, summary: ScanSummary | None = None) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass
class BatchReport:
    """Progress of one batch, passed to the ``progress`` callable (twice per batch).

    ``actual_s`` is None in the report sent before the batch starts.
    ``decision_s`` (in the report before a batch): seconds from the previous
    batch's last reading to this batch's points (waiting for the sampler's
    ingests, the stop rule and the suggestion); None for the first batch.
    """

    batch: int
    n_points: int
    estimated_s: float | None
    actual_s: float | None
    n_measured: int
    coverage: float
    decision_s: float | None = None


@dataclass
class ScanSummary:
    """What an autonomous scan did. Returned by the plan (``RunEngineResult.plan_result``)."""

    n_points: int = 0
    n_batches: int = 0
    n_measured: int = 0
    coverage: float = 0.0
    stop_reason: str | None = None
    run_uids: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    estimated_motion_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------- helpers
def _check_sampler(sampler: Any, grid: Grid) -> None:
    if isinstance(sampler, str):
        raise TypeError(
            f"sampler must be a sampler object, e.g. fastscan.Sampler(grid.shape, ...), not the "
            f"name {sampler!r}; None makes a fastscan.Sampler here (settings in sampler_kwargs)"
        )
    missing = [m for m in SAMPLER_METHODS if not hasattr(sampler, m)]
    if missing:
        hint = "; a fly sampler goes to autonomous_fly_scan" if hasattr(
            sampler, "suggest_segments") else ""  # fmt: skip
        raise TypeError(
            f"sampler must have the fastscan.Sampler interface; {type(sampler).__name__} "
            f"lacks {missing}{hint}"
        )
    shape = tuple(np.shape(sampler.measured_mask))
    if shape != grid.shape:
        raise ValueError(f"sampler grid shape {shape} differs from grid.shape {grid.shape}")


def _check_devices(detectors: Sequence[Any], x_motor: Any, y_motor: Any) -> list[Any]:
    if isinstance(detectors, (str, bytes)) or not isinstance(detectors, Sequence):
        raise TypeError(f"detectors must be a list of readable devices, got {detectors!r}")
    detectors = list(detectors)
    if not detectors:
        raise ValueError("detectors must contain at least one readable device, got []")
    for det in detectors:
        if not (hasattr(det, "read") and hasattr(det, "describe") and hasattr(det, "name")):
            raise TypeError(f"detector {det!r} is not readable (needs name, read, describe)")
    for label, motor in (("x_motor", x_motor), ("y_motor", y_motor)):
        if not (hasattr(motor, "set") and hasattr(motor, "read")):
            raise TypeError(f"{label} {motor!r} is not movable and readable (needs set, read)")
    if x_motor is y_motor:
        raise ValueError("x_motor and y_motor must be different devices")
    return detectors


def _labelled(detectors: Sequence[Any], x_motor: Any, y_motor: Any) -> list[tuple[str, Any]]:
    """The devices with the argument each came in (for :func:`check_connected`)."""
    return [("x_motor", x_motor), ("y_motor", y_motor), *(("detector", d) for d in detectors)]


def _check_dwell(dwell: Any) -> None:
    ok = isinstance(dwell, (int, float, np.integer, np.floating)) and not isinstance(dwell, bool)
    if not (ok and math.isfinite(dwell) and dwell >= 0):
        raise ValueError(
            f"dwell must be a finite number of seconds >= 0 (detector time per point, added "
            f"to the time estimate), got {dwell!r}"
        )


def _hinted_fields(detectors: list[Any]) -> str | list[str]:
    """The hinted reading keys of ``detectors`` (bluesky's ``hints["fields"]``)."""
    fields = [f for det in detectors for f in (getattr(det, "hints", None) or {}).get("fields", [])]
    if not fields:
        names = [getattr(d, "name", repr(d)) for d in detectors]
        raise ValueError(f"signal=None needs hinted fields, but detectors {names} hint none")
    return fields[0] if len(fields) == 1 else list(dict.fromkeys(fields))


def _check_signals(signal: Any) -> list[str]:
    """The reading keys of ``signal`` (one key or a list of distinct keys)."""
    if isinstance(signal, str):
        if not signal:
            raise TypeError(f"signal must be a non-empty reading key (str), got {signal!r}")
        return [signal]
    if not isinstance(signal, Sequence) or not signal:
        raise TypeError(f"signal must be a reading key or a list of keys, got {signal!r}")
    keys = list(signal)
    if not all(isinstance(k, str) and k for k in keys) or len(set(keys)) != len(keys):
        raise TypeError(f"signal keys must be distinct non-empty strings, got {keys!r}")
    return keys


def _make_sampler(grid: Grid, max_coverage: float | None, sampler_kwargs: dict | None,
                  motion: Any = None) -> Any:  # fmt: skip
    kwargs = dict(sampler_kwargs or {})
    kwargs.setdefault("pixel_pitch", grid.pitch)
    if motion is not None:
        kwargs.setdefault("motion", motion)
    cov = DEFAULT_MAX_COVERAGE if max_coverage is None else max_coverage
    return fastscan.Sampler(grid.shape, max_coverage=cov, **kwargs)


# ----------------------------------------------------------------------------- the plan
def autonomous_scan(
    detectors: Sequence[Any],
    x_motor: Any,
    y_motor: Any,
    *,
    grid: Grid,
    signal: str | Sequence[str] | None = None,
    sampler: Any = None,
    max_coverage: float | None = None,
    md: dict[str, Any] | None = None,
    sampler_kwargs: dict[str, Any] | None = None,
    recon_every: int = 10,
    move_timeout: float | None = 60.0,
    read_timeout: float | None = 60.0,
    motion: Any = None,
    dwell: float = 0.0,
    progress: Callable[[BatchReport], None] | None = None,
    stream: bool | None = None,
    _extra_md: dict[str, Any] | None = None,
    _check_limits: bool = True,
):
    """Autonomous sparse scan: one run, one ``primary`` event per measured point.

    Parameters
    ----------
    detectors : list of Readable
        Read (and triggered if triggerable) at every point.
    x_motor, y_motor : Movable
        Stage axes; grid columns map to x, rows to y. They move together.
    grid : Grid
        Scan grid in motor units; its shape must match the sampler's.
    signal : str or list of str
        Reading key (e.g. ``"det_value"``) whose value the sampler receives, or
        several keys (e.g. one per XRF element ROI): the sampler then receives
        (n, C) readings, a sampler created here is named after the keys, and the
        ``reconstruction`` stream carries (C, H, W) reconstructions. None takes
        the detectors' hinted fields (``detector.hints["fields"]``, in order):
        one field is one channel, several (an XRF ROI set) drive all channels.
    sampler : fastscan.Sampler-like or None
        Makes every decision. None creates ``Sampler(grid.shape, max_coverage=...,
        pixel_pitch=grid.pitch, **sampler_kwargs)``. The plan never closes a
        sampler it is given: the caller owns it (close a
        :class:`fastscan.service.RemoteSampler` with ``with`` or ``close()`` after
        the last plan that uses it; one RemoteSampler can serve several runs).
    max_coverage : float or None
        Coverage cap for a sampler created here (default 0.25). Give the stop
        rule to your own sampler instead when you pass one.
    md : dict, optional
        Run metadata, merged last: its keys override what the plan records, but
        ``md["fastscan"]`` (a dict) is merged into the recorded fastscan settings
        (its keys win, the others are kept; anything but a dict there is a TypeError).
    sampler_kwargs : dict, optional
        Extra arguments for a sampler created here (batch_size, seed, model, ...).
    recon_every : int
        Emit the reconstruction, ERD and measured mask into the ``reconstruction``
        stream every this many batches and at the end; 0 only at the end.
    move_timeout, read_timeout : float or None
        Seconds a move or a trigger may take before the scan stops with a
        :class:`ScanFault`; None waits for ever.
    motion : fastscan.route.MotionModel, optional
        Stage motion model for the route of a sampler created here and for the
        per-batch time estimate; None asks the motors
        (``MotionModel.from_motors``), and motors without velocity and
        acceleration signals give no estimate.
    dwell : float
        Detector time per point added to the estimate, seconds (finite, >= 0).
    progress : callable, optional
        Called with a :class:`BatchReport` before and after each batch.
    stream : bool or None
        True: ingest each reading right after its event, in one background worker
        thread that overlaps the next move, so the decision after a batch's last
        reading waits only for that reading's ingest and the suggestion. False:
        ingest each batch whole after its last reading. None (default): stream
        when the sampler is a :class:`fastscan.Sampler` (whose scans do not depend
        on how readings are grouped), else not (a remote or custom sampler, or a
        subclass such as ``ClassicSampler``, gets whole batches, as it always did).
        While a streamed batch runs, the worker is changing the sampler: read it
        from a document callback only between batches (the plan's own snapshots
        and reports wait for the worker).

    Returns
    -------
    generator
        The plan. Its return value (``RE(...).plan_result`` with
        ``RunEngine(call_returns_result=True)``) is a :class:`ScanSummary`.

    Raises
    ------
    TypeError, ValueError
        When the plan is made (before its first message): bad arguments, a
        ``signal`` that is not a reading key of the detectors (or motors), a
        grid corner beyond the motors' soft limits.
    ConnectionError
        When the plan is made: a device that does not connect within
        :data:`fastscan.plans.device_checks.CONNECT_TIMEOUT_S` seconds.
    ScanFault
        (from the running plan) when a move or reading fails; the message names
        the device/PV and the point, and everything measured stays stored.

    A ``max_coverage`` below the sampler's initial pattern is logged as a
    warning before the run (the scan measures the whole pattern anyway).
    """
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a fastscan.plans.Grid, got {type(grid).__name__}")
    detectors = _check_devices(detectors, x_motor, y_motor)
    _check_dwell(dwell)
    check_connected(_labelled(detectors, x_motor, y_motor))
    if signal is None:  # the detectors' hinted fields, in order
        signal = _hinted_fields(detectors)
    signals = _check_signals(signal)
    if max_coverage is not None and not 0.0 < max_coverage <= 1.0:
        raise ValueError(f"max_coverage must be in (0, 1], got {max_coverage!r}")
    if sampler is None:
        if motion is None and "motion" not in (sampler_kwargs or {}):
            motion = MotionEstimator(None, x_motor, y_motor).motion  # None for sim axes
        if not isinstance(signal, str):
            sampler_kwargs = {"channels": signals, **(sampler_kwargs or {})}
        sampler = _make_sampler(grid, max_coverage, sampler_kwargs, motion)
    else:
        if max_coverage is not None or sampler_kwargs:
            raise ValueError(
                "max_coverage/sampler_kwargs apply only to a sampler the plan creates; "
                "set them on the sampler you pass"
            )
        _check_sampler(sampler, grid)
        n_channels = getattr(sampler, "n_channels", 1)
        if n_channels > 1 and n_channels != len(signals):
            raise ValueError(
                f"the sampler has {n_channels} channels but signal names {len(signals)} "
                f"keys {signals}"
            )
    if isinstance(recon_every, bool) or int(recon_every) != recon_every or recon_every < 0:
        raise ValueError(f"recon_every must be an integer >= 0, got {recon_every!r}")
    for label, value in (("move_timeout", move_timeout), ("read_timeout", read_timeout)):
        if value is not None and not value > 0:
            raise ValueError(f"{label} must be > 0 seconds or None, got {value!r}")
    if md is not None and not isinstance(md, dict):
        raise TypeError(f"md must be a dict, got {type(md).__name__}")
    if stream is None:  # (not a subclass: ClassicSampler recomputes all at each range change)
        stream = type(sampler) is fastscan.Sampler
    if not isinstance(stream, (bool, np.bool_)):
        raise TypeError(f"stream must be True, False or None, got {stream!r}")
    check_reading_keys(signals, detectors, [x_motor, y_motor])  # (asks the devices: last)
    if _check_limits:  # (rel_autonomous_scan: its grid moves to where the motors are)
        check_grid_in_limits(grid, x_motor, y_motor)

    params = sampler.get_params() if hasattr(sampler, "get_params") else {}
    run_md: dict[str, Any] = {
        "plan_name": "autonomous_scan",
        "detectors": [d.name for d in detectors],
        "motors": [x_motor.name, y_motor.name],
        "plan_args": {
            "detectors": [repr(d) for d in detectors],
            "x_motor": repr(x_motor),
            "y_motor": repr(y_motor),
            "grid": grid.to_dict(),
            "signal": signal,
            "recon_every": int(recon_every),
            "move_timeout": move_timeout,
            "read_timeout": read_timeout,
            "dwell": dwell,
            "stream": bool(stream),
        },
        "plan_pattern": "fastscan_autonomous",
        "shape": list(grid.shape),
        "extents": [[grid.y_start, grid.y_stop], [grid.x_start, grid.x_stop]],
        "fastscan": {
            "version": fastscan.__version__,
            "grid": grid.to_dict(),
            "signal": signal,
            "sampler_class": type(sampler).__name__,
            "sampler_params": params,
            "model": model_info(sampler),
            "motion": motion_info(sampler),
            "settings": {"recon_every": int(recon_every), "dwell": dwell, "stream": bool(stream)},
        },
        "hints": {"dimensions": [([x_motor.name], "primary"), ([y_motor.name], "primary")]},
    }
    run_md.update(_extra_md or {})
    run_md = jsonable(merge_user_md(run_md, md))

    scan = _AutonomousScan(
        detectors, x_motor, y_motor, grid, signal, sampler, int(recon_every),
        move_timeout, read_timeout, motion, float(dwell), progress, bool(stream),
    )  # fmt: skip
    return scan.plan(run_md)


class _AutonomousScan:
    """State of one autonomous scan (kept out of the generator for readability)."""

    def __init__(self, detectors, x_motor, y_motor, grid, signal, sampler, recon_every,
                 move_timeout, read_timeout, motion, dwell, progress, stream):  # fmt: skip
        self.detectors, self.x_motor, self.y_motor = detectors, x_motor, y_motor
        self.grid, self.signal, self.sampler = grid, signal, sampler
        self.recon_every, self.dwell, self.progress = recon_every, dwell, progress
        self.move_timeout, self.read_timeout = move_timeout, read_timeout
        self.info = PointInfo()
        self.snapshot = SamplerSnapshot(sampler, grid.shape)
        self.estimator = MotionEstimator(motion, x_motor, y_motor)
        self.summary = ScanSummary()
        self.seq = 0
        self.batch = 0
        self.position: np.ndarray | None = None
        self.stream = stream
        self.worker: IngestWorker | None = None  # the streamed ingests, in order
        self.last_reading: float | None = None  # monotonic time of the batch's last reading

    def plan(self, run_md: dict[str, Any]):
        summary = self.summary
        remember_summary(summary)  # reachable also after RE.abort() (last_summary)
        warn_early_stop(self.sampler)
        if self.stream:
            self.worker = IngestWorker(self._ingest_counted)
        at_start = continuation_md(self.sampler)  # what the sampler holds as the run begins
        try:
            yield from open_run_closing(with_continuation(run_md, at_start), self._body(), summary)
        finally:
            if self.worker is not None:
                try:
                    self.worker.close()  # (drained already unless the run never began)
                except Exception:
                    logger.exception("sampler could not ingest streamed readings")
            summary.n_measured = n_measured(self.sampler)
            summary.coverage = float(self.sampler.coverage)
            remember_runs(self.sampler, summary.run_uids, at_start)
        return summary

    def _ingest_counted(self, points: np.ndarray, values: np.ndarray) -> None:
        """The worker's ingest: the readings reach the sampler, then count as ingested."""
        self.sampler.ingest(points, values)
        self.summary.n_points += len(points)

    def _drain(self, quiet: bool = False) -> None:
        """Wait for every streamed ingest. The first error is raised after all have
        run (logged instead when ``quiet``)."""
        if self.worker is None:
            return
        try:
            self.worker.drain()
        except Exception:
            if not quiet:
                raise
            logger.exception("sampler could not ingest streamed readings")

    def _body(self):
        sampler, summary = self.sampler, self.summary
        last_snapshot = -1
        while not sampler.should_stop():
            points = np.asarray(sampler.suggest(), dtype=np.int64).reshape(-1, 2)
            decision = None
            if self.last_reading is not None:
                decision = time.monotonic() - self.last_reading
                logger.debug(
                    "batch %d: points %.2f ms after the last reading", self.batch, 1e3 * decision
                )
            if len(points) == 0:
                break
            yield from self._batch(points, decision)
            self.batch += 1
            summary.n_batches = self.batch
            if self.recon_every and self.batch % self.recon_every == 0:
                yield from self._emit_snapshot()
                last_snapshot = self.batch
        if last_snapshot != self.batch and self.seq > 0:
            yield from self._emit_snapshot()
        summary.stop_reason = sampler.stop_reason or "the sampler suggested no more points"
        logger.info(
            "autonomous scan done: %d points, coverage %.1f %%, %s",
            summary.n_points, 100 * sampler.coverage, summary.stop_reason,
        )  # fmt: skip

    def _report(
        self, n: int, estimate: float | None, actual: float | None, decision: float | None = None
    ) -> None:
        report = BatchReport(
            self.batch, n, estimate, actual,
            n_measured(self.sampler), float(self.sampler.coverage), decision,
        )  # fmt: skip
        if actual is None:
            est = "unknown" if estimate is None else f"{estimate:.3f} s"
            logger.info("batch %d: %d points, estimated motion time %s", self.batch, n, est)
        else:
            logger.info(
                "batch %d done: %d points in %.3f s (estimate %s), coverage %.2f %%",
                self.batch, n, actual, "n/a" if estimate is None else f"{estimate:.3f} s",
                100 * report.coverage,
            )  # fmt: skip
        if self.progress is not None:
            self.progress(report)

    def _batch(self, points: np.ndarray, decision: float | None = None):
        xy = self.grid.to_positions(points)
        estimate = self.estimator.estimate(xy, self.position, self.dwell)
        if estimate is not None:
            self.summary.estimated_motion_s += estimate
        self._report(len(points), estimate, None, decision)
        t0 = time.monotonic()
        done_points: list[tuple[int, int]] = []
        done_values: list[float] = []
        n_submitted = 0  # readings handed to the worker (stream)
        readables = [*self.detectors, self.x_motor, self.y_motor, self.info]
        try:
            for (row, col), (x, y) in zip(points.tolist(), xy.tolist()):
                where = (
                    f"point #{self.seq} (row={row}, col={col}) at (x={x:.6g}, y={y:.6g}) "
                    f"in batch {self.batch}"
                )
                yield from bps.checkpoint()
                try:
                    yield from move(self.x_motor, x, self.y_motor, y, self.move_timeout)
                except MoveError as exc:
                    raise ScanFault(f"move to {where} failed: {exc}", self.summary) from exc
                self.position = np.array([x, y])
                self.info.set_point(self.seq, row, col, self.batch)
                try:
                    readings = yield from measure(readables, self.read_timeout)
                except RunEngineControlException:
                    raise
                except Exception as exc:
                    pvs = ", ".join(device_label(d) for d in self.detectors)
                    raise ScanFault(
                        f"reading {pvs} at {where} failed: {explain(exc)}",
                        self.summary,
                    ) from exc
                self.seq += 1
                value = self._value(readings, where)
                self.last_reading = time.monotonic()
                done_points.append((row, col))
                done_values.append(value)
                if self.worker is not None:
                    self.worker.put(np.array([(row, col)], np.int64), np.array([value]))
                    n_submitted += 1
        except BaseException:
            # fault, pause+abort, generator close: whatever was read (and is already in
            # the documents) still reaches the sampler; the original error propagates
            self._drain(quiet=True)  # the worker's readings first, in order
            self._ingest(done_points[n_submitted:], done_values[n_submitted:], quiet=True)
            raise
        self._drain()
        self._ingest(done_points[n_submitted:], done_values[n_submitted:])
        self._report(len(points), estimate, time.monotonic() - t0)

    def _ingest(self, points: list, values: list, quiet: bool = False) -> None:
        if not points:
            return
        try:
            self.sampler.ingest(np.array(points, np.int64), np.array(values))
        except Exception:
            if not quiet:
                raise
            logger.exception("sampler could not ingest %d stored readings", len(points))
            return
        self.summary.n_points += len(points)

    def _value(self, readings: dict[str, Any], where: str) -> float | np.ndarray:
        if isinstance(self.signal, str):
            return self._one_value(readings, self.signal, where)
        return np.array([self._one_value(readings, key, where) for key in self.signal])

    def _one_value(self, readings: dict[str, Any], signal: str, where: str) -> float:
        if signal not in readings:
            raise ScanFault(
                f"signal {signal!r} is not among the readings at {where}; "
                f"available keys: {sorted(readings)}",
                self.summary,
            )
        raw = readings[signal]["value"]
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ScanFault(
                f"reading {signal!r} at {where} is not a scalar number: {raw!r}",
                self.summary,
            ) from None
        if not np.isfinite(value):
            source = source_of(self.detectors, signal)
            raise ScanFault(
                f"non-finite reading {value!r} of {signal!r} ({source}) at {where}; "
                "the reading is stored, the scan stops",
                self.summary,
            )
        return value

    def _emit_snapshot(self):
        self.snapshot.set_batch(self.batch)
        yield from bps.create("reconstruction")
        yield from bps.read(self.snapshot)
        yield from bps.save()


def rel_autonomous_scan(
    detectors: Sequence[Any],
    x_motor: Any,
    y_motor: Any,
    *,
    width: float,
    height: float,
    n_cols: int,
    n_rows: int,
    signal: str,
    sampler: Any = None,
    max_coverage: float | None = None,
    md: dict[str, Any] | None = None,
    **kwargs: Any,
):
    """:func:`autonomous_scan` on a grid centred on the motors' current positions.

    The grid is ``width`` x ``height`` motor units with ``n_cols`` x ``n_rows``
    points; the motors return to where they started at the end (also after a
    failure or an abort), like bluesky's ``rel_`` plans. Other keyword
    arguments are passed on to :func:`autonomous_scan`.
    """
    relative = Grid.centered(0.0, 0.0, width=width, height=height, n_cols=n_cols, n_rows=n_rows)
    check_connected(_labelled(_check_devices(detectors, x_motor, y_motor), x_motor, y_motor))
    if sampler is None:
        sampler_kwargs = kwargs.pop("sampler_kwargs", None)
        motion = kwargs.get("motion")
        if motion is None and "motion" not in (sampler_kwargs or {}):
            motion = MotionEstimator(None, x_motor, y_motor).motion  # None for sim axes
        sampler = _make_sampler(relative, max_coverage, sampler_kwargs, motion)
        max_coverage = None
    # Validate everything now (before the first yield) against the relative grid.
    autonomous_scan(
        detectors, x_motor, y_motor, grid=relative, signal=signal, sampler=sampler,
        max_coverage=max_coverage, md=md, _check_limits=False, **kwargs,
    ).close()  # fmt: skip

    def inner():
        x0 = yield from bps.rd(x_motor)
        y0 = yield from bps.rd(y_motor)
        grid = relative.shifted(float(x0), float(y0))
        extra = {"plan_name": "rel_autonomous_scan", "relative_grid": relative.to_dict()}
        plan = autonomous_scan(
            detectors, x_motor, y_motor, grid=grid, signal=signal, sampler=sampler,
            md=md, _extra_md=extra, **kwargs,
        )  # fmt: skip
        return (yield from plan)

    return bpp.reset_positions_wrapper(inner(), devices=[x_motor, y_motor])

"""Fly scanning devices: an ophyd flyer driving position capture over Channel Access.

A flyer flies one straight segment per ``prepare`` / ``kickoff`` /
``complete`` / ``collect_pages`` cycle (classic ophyd flyer plus bluesky's
``Preparable`` and ``EventPageCollectable`` protocols). ``prepare`` takes a
mapping ``{"start": (x, y), "end": (x, y), "velocity": v, "period": dwell}``
(motor units, units/s, seconds): the first and last sample centres, the speed
along the line and the seconds per sample. ``collect_pages`` yields one event
page per segment with, per sample, ``<name>_x`` and ``<name>_y`` (the captured
position readbacks), ``<name>_value`` (the detector reading) and
``<name>_segment`` (the flyer's flight number); each page is yielded once.

Examples
--------
>>> flyer = EpicsFlyer("SIM:fly:", name="flyer")  # doctest: +SKIP
>>> motion = MotionModel.from_motors(stage.x, stage.y, dwell=0.01)  # doctest: +SKIP
>>> sampler = FlySampler(grid.shape, motion=motion)  # pixel-unit grid  # doctest: +SKIP
>>> RE(autonomous_fly_scan(flyer, sampler, grid=grid, motion=motion))  # doctest: +SKIP
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, DeviceStatus, EpicsSignal, EpicsSignalRO
from ophyd.status import StatusBase

from fastscan.devices.xrf import check_elements

__all__ = ["EpicsFlyer", "FlyPages", "fly_request"]


def fly_request(value: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a ``prepare`` value; returns ``{"start", "end", "velocity", "period"}``.

    Examples
    --------
    >>> fly_request({"start": (0, 1), "end": (5, 1), "velocity": 100, "period": 0.01})["end"]
    (5.0, 1.0)
    """
    if not isinstance(value, Mapping):
        raise TypeError(f"prepare value must be a mapping, got {type(value).__name__}")
    missing = {"start", "end", "velocity", "period"} - set(value)
    if missing:
        raise ValueError(f"prepare value lacks {sorted(missing)}; got keys {sorted(value)}")
    out: dict[str, Any] = {}
    for key in ("start", "end"):
        try:
            x, y = (float(v) for v in value[key])
        except (TypeError, ValueError):
            raise ValueError(f"{key} must be an (x, y) pair, got {value[key]!r}") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError(f"{key} must be finite, got {value[key]!r}")
        out[key] = (x, y)
    for key, what in (("velocity", "units/s"), ("period", "seconds (the dwell)")):
        v = value[key]
        if isinstance(v, bool) or not isinstance(v, (int, float, np.number)):
            raise ValueError(f"{key} must be a number of {what}, got {v!r}")
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{key} must be a finite number > 0 {what}, got {v!r}")
        out[key] = float(v)
    return out


class FlyPages:
    """Event pages of captured segments, each yielded once (shared by real and simulated flyers)."""

    def __init__(self, name: str, elements: tuple[str, ...] = ()) -> None:
        self.name = name
        self.elements = tuple(elements)
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def describe(self, source: str) -> dict[str, dict[str, Any]]:
        keys = {
            "x": ("number", "captured x position (mean during the sample)"),
            "y": ("number", "captured y position (mean during the sample)"),
            "value": ("number", "detector reading, averaged over the sample"),
            "segment": ("integer", "flight number of the flyer"),
            **{e: ("number", f"{e} counts during the sample") for e in self.elements},
        }
        return {
            f"{self.name}_{k}": {"source": f"{source}{k}", "dtype": d, "shape": [], "doc": doc}
            for k, (d, doc) in keys.items()
        }

    def add(self, *, t0: float, times: np.ndarray, x: np.ndarray, y: np.ndarray,
            values: np.ndarray, segment: int,
            channel_values: np.ndarray | None = None) -> None:  # fmt: skip
        """Queue one segment's samples (``times`` in seconds after ``t0``, wall clock).

        ``channel_values`` (n, C) holds the counts of each of :attr:`elements`.
        """
        n = len(values)
        channels = np.asarray([] if channel_values is None else channel_values, dtype=float)
        if channels.size != n * len(self.elements):
            raise ValueError(
                f"channel readings of shape {channels.shape} for {n} samples of elements "
                f"{self.elements}; need ({n}, {len(self.elements)})"
            )
        stamps = (t0 + np.asarray(times, dtype=float)).tolist()
        data = {
            f"{self.name}_x": np.asarray(x, dtype=float).tolist(),
            f"{self.name}_y": np.asarray(y, dtype=float).tolist(),
            f"{self.name}_value": np.asarray(values, dtype=float).tolist(),
            f"{self.name}_segment": [int(segment)] * n,
        }
        for element, column in zip(self.elements, channels.reshape(n, len(self.elements)).T):
            data[f"{self.name}_{element}"] = column.tolist()
        page = {"time": stamps, "data": data, "timestamps": {k: stamps for k in data}}
        with self._lock:
            self._pending.append(page)

    def discard(self) -> int:
        """Drop the uncollected pages (a paused flight that will be flown again); their count."""
        with self._lock:
            n, self._pending = len(self._pending), []
        return n

    def pop_all(self) -> Iterator[dict[str, Any]]:
        with self._lock:
            pages, self._pending = self._pending, []
        yield from pages


class EpicsFlyer(Device):
    """Flyer on the fly-controller PVs of :mod:`fastscan.sim.ioc_fly` (``<prefix>`` = ``P:fly:``).

    ``kickoff`` arms the controller (put-complete) and fails with the IOC's
    message if it refused the segment (a velocity above a motor's limit, a
    flight outside the travel range, ...); ``complete`` finishes when the
    controller's flight counter goes up, and fails unless the flight ended
    normally; the captured waveforms are then read once, with fresh Channel
    Access gets, and queued for ``collect_pages``.

    Parameters
    ----------
    prefix : str
        e.g. ``"SIM:fly:"``.
    name : str
        Device name; data keys are ``<name>_x``, ``<name>_y``, ``<name>_value``,
        ``<name>_segment``.
    elements : list of str
        Element ROIs to collect too (ROI 1, 2, ... in order): each sample's
        counts of element ``e``, from ``<roi_prefix>C1:ROI<k>:TS``, go to
        ``<name>_<e>``.
    roi_prefix : str or None
        e.g. ``"SIM:xrf:"``; needed with ``elements``.
    """

    x_start = Cpt(EpicsSignal, "x_start", kind="omitted", put_complete=True)
    y_start = Cpt(EpicsSignal, "y_start", kind="omitted", put_complete=True)
    x_end = Cpt(EpicsSignal, "x_end", kind="omitted", put_complete=True)
    y_end = Cpt(EpicsSignal, "y_end", kind="omitted", put_complete=True)
    velocity = Cpt(EpicsSignal, "velocity", kind="omitted", put_complete=True)
    period = Cpt(EpicsSignal, "period", kind="omitted", put_complete=True)
    time_scale = Cpt(EpicsSignal, "time_scale", kind="config")
    arm = Cpt(EpicsSignal, "kickoff", kind="omitted", put_complete=True)
    abort = Cpt(EpicsSignal, "stop", kind="omitted")
    busy = Cpt(EpicsSignalRO, "busy", kind="omitted")
    state = Cpt(EpicsSignalRO, "state", kind="omitted", string=True, auto_monitor=False)
    message = Cpt(EpicsSignalRO, "message", kind="omitted", string=True, auto_monitor=False)
    count = Cpt(EpicsSignalRO, "count", kind="omitted")
    npts = Cpt(EpicsSignalRO, "npts", kind="omitted", auto_monitor=False)
    duration = Cpt(EpicsSignalRO, "duration", kind="omitted", auto_monitor=False)
    cap_x = Cpt(EpicsSignalRO, "x", kind="omitted", auto_monitor=False)
    cap_y = Cpt(EpicsSignalRO, "y", kind="omitted", auto_monitor=False)
    cap_time = Cpt(EpicsSignalRO, "time", kind="omitted", auto_monitor=False)
    cap_values = Cpt(EpicsSignalRO, "values", kind="omitted", auto_monitor=False)

    def __init__(self, prefix: str, *, name: str, elements: Sequence[str] = (),
                 roi_prefix: str | None = None, **kwargs: Any) -> None:  # fmt: skip
        if not isinstance(prefix, str) or not prefix:
            raise ValueError(f"prefix must be a non-empty PV prefix, got {prefix!r}")
        elements = check_elements(elements) if len(elements) else ()
        if elements and (not isinstance(roi_prefix, str) or not roi_prefix):
            raise ValueError(f"elements need roi_prefix (e.g. 'SIM:xrf:'), got {roi_prefix!r}")
        super().__init__(prefix, name=name, **kwargs)
        # the ROI time series live under the detector's prefix, not the controller's
        self.cap_elements = [
            EpicsSignalRO(f"{roi_prefix}C1:ROI{k}:TS", name=f"{name}_{e}_ts", auto_monitor=False)
            for k, e in enumerate(elements, start=1)
        ]
        self.elements = elements
        self._pages = FlyPages(name, elements)
        self._request: dict[str, Any] | None = None
        self._count0 = 0
        self._t0 = 0.0
        self._waiting: tuple[threading.Event, int] | None = None
        self.last_duration: float | None = None

    def wait_for_connection(self, all_signals: bool = False, timeout: float = 2.0) -> None:
        """Connect the controller's PVs and the element ROI time series."""
        super().wait_for_connection(all_signals=all_signals, timeout=timeout)
        for signal in self.cap_elements:
            signal.wait_for_connection(timeout=timeout)

    def destroy(self) -> None:
        for signal in self.cap_elements:
            signal.destroy()
        super().destroy()

    # ------------------------------------------------------------ Preparable
    def prepare(self, value: Mapping[str, Any]) -> StatusBase:
        """Write the segment (start, end, velocity, period) to the controller."""
        request = fly_request(value)
        self._request = request
        (x0, y0), (x1, y1) = request["start"], request["end"]
        pairs = (
            (self.x_start, x0), (self.y_start, y0), (self.x_end, x1), (self.y_end, y1),
            (self.velocity, request["velocity"]), (self.period, request["period"]),
        )  # fmt: skip
        status = None
        for signal, v in pairs:
            st = signal.set(v)
            status = st if status is None else status & st
        return status

    # ------------------------------------------------------------ Flyable
    def kickoff(self) -> StatusBase:
        """Arm the controller; done when the flight has started (failed if refused)."""
        if self._request is None:
            raise RuntimeError(f"{self.name}: prepare() a segment before kickoff()")
        out = DeviceStatus(self)

        def arm() -> None:
            deadline = time.monotonic() + 5.0
            while self.busy.get(use_monitor=False):  # an aborted flight still stopping
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name}: the controller is still busy after 5 s")
                time.sleep(0.01)
            self._count0 = int(self.count.get(use_monitor=False))
            self._t0 = time.time()
            self.arm.set(1).wait(timeout=10)
            if self.state.get(use_monitor=False) == "error":
                msg = self.message.get(use_monitor=False)
                raise RuntimeError(f"{self.name}: segment refused: {msg}")
            out.set_finished()

        threading.Thread(target=_guard(arm, out), daemon=True).start()
        return out

    def complete(self) -> StatusBase:
        """Done once the flight is over and its samples are read back."""
        target = self._count0 + 1
        out = DeviceStatus(self)
        fired = threading.Event()

        def finish() -> None:
            state = self.state.get(use_monitor=False)
            if state != "done":
                msg = self.message.get(use_monitor=False)
                raise RuntimeError(f"{self.name}: flight ended in state {state!r}: {msg}")
            n = int(self.npts.get(use_monitor=False))
            cols = [np.asarray(s.get(use_monitor=False), dtype=float)[:n]
                    for s in (self.cap_time, self.cap_x, self.cap_y, self.cap_values)]  # fmt: skip
            channels = np.array(
                [np.asarray(s.get(use_monitor=False), dtype=float)[:n] for s in self.cap_elements]
            ).T
            self.last_duration = float(self.duration.get(use_monitor=False))
            self._pages.add(t0=self._t0, times=cols[0], x=cols[1], y=cols[2], values=cols[3],
                            segment=target, channel_values=channels)  # fmt: skip
            out.set_finished()

        def on_count(value: Any = None, **kwargs: Any) -> None:
            if value is not None and value >= target and not fired.is_set():
                fired.set()
                threading.Thread(target=_guard(finish, out), daemon=True).start()

        cid = self.count.subscribe(on_count, run=True)
        out.add_callback(lambda _status: self.count.unsubscribe(cid))
        self._waiting = (fired, cid)
        return out

    # ------------------------------------------------------------ Collectable
    def describe_collect(self) -> dict[str, dict[str, Any]]:
        return self._pages.describe(f"PV:{self.prefix}")

    def collect_pages(self) -> Iterator[dict[str, Any]]:
        """Event pages of the segments completed since the last collect."""
        yield from self._pages.pop_all()

    def stop(self, *, success: bool = False) -> None:
        if self.busy.get():
            self.abort.put(1)
        super().stop(success=success)

    def pause(self) -> None:
        """RunEngine pause: abort a running flight and drop what was not collected.

        The RunEngine rewinds to the checkpoint before the segment and flies it
        again on resume, so nothing that reached the documents is dropped.
        """
        if self._waiting is not None:  # detach the interrupted complete(): it never reports
            fired, cid = self._waiting
            fired.set()
            self.count.unsubscribe(cid)
            self._waiting = None
        if self.busy.get(use_monitor=False):
            self.abort.put(1)
        self._pages.discard()

    def resume(self) -> None:
        """Nothing to do: the rewound plan prepares and kicks off again."""


def _guard(func, status: DeviceStatus):
    def run() -> None:
        try:
            func()
        except Exception as exc:
            if not status.done:
                status.set_exception(exc)

    return run

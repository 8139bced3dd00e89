"""An in-process simulated flyer (ophyd, no EPICS): the IOC's fly mode without the IOC.

:class:`SimFlyer` flies a segment with the same motion and capture as the
IOC's fly controller (:mod:`fastscan.sim.fly_motion`): same checks, same
path-averaged readings, the same seeded Poisson noise drawn in the same order,
so a scan replayed here with the IOC's seed reads the same values as over
Channel Access. It is the fly counterpart of
:class:`fastscan.sim.detector.SimDetector` and answers only for the path it
is asked to fly.

Examples
--------
>>> from fastscan.phantoms import make_phantom
>>> from fastscan.plans.grid import Grid
>>> image = make_phantom("flakes", (40, 60))
>>> flyer = SimFlyer("flyer", image, Grid(0.0, 59.0, 60, 0.0, 39.0, 40))
>>> _ = flyer.prepare({"start": (0, 3), "end": (59, 3), "velocity": 100, "period": 0.01})
>>> _ = flyer.kickoff(); _ = flyer.complete()
>>> page = next(flyer.collect_pages())
>>> bool(page["data"]["flyer_value"] == image[3].tolist())
True
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from ophyd import Device, DeviceStatus
from ophyd.status import StatusBase

from fastscan.devices.fly import FlyPages, fly_request
from fastscan.devices.xrf import check_elements
from fastscan.plans.grid import Grid
from fastscan.sim.fly_motion import FlyProfile, check_flight, fly_capture

__all__ = ["SimFlyer"]


class SimFlyer(Device):
    """Simulated fly scanning: stage + position capture + detector over a ground-truth image.

    Parameters
    ----------
    name : str
        Device name; data keys ``<name>_x``, ``<name>_y``, ``<name>_value``, ``<name>_segment``.
    image : (n_rows, n_cols) or (C, n_rows, n_cols) array
        Ground truth (copied; the caller's array is left alone); C element maps
        of expected counts need ``elements``.
    grid : Grid
        Motor positions of the image's pixels.
    velocity_limit : (vx, vy)
        Each axis's top speed, units/s (flights faster than that are refused).
    acceleration : (ax, ay)
        Each axis's acceleration, units/s^2 (inf: instant).
    travel : ((x_lo, x_hi), (y_lo, y_hi)) or None
        Travel range the whole flight (run-up and stop included) must stay in.
    position : (x, y) or None
        Where the stage starts (None: the grid's first pixel).
    x_motor, y_motor : optional
        Positioners moved to where each flight ends (e.g. ``ophyd.sim.SynAxis``).
    noise, counts_scale, seed :
        Poisson noise as in :func:`fastscan.sim.fly_motion.fly_capture`.
    rng : numpy Generator or None
        Draw the noise from this generator instead of a new one seeded with
        ``seed`` (e.g. a :class:`SimDetector`'s, as the IOC shares one generator
        between step readings and fly captures).
    time_scale : float
        Real seconds per modelled second (0: flights complete at once).
    elements : list of str
        Names of the element maps: each sample's counts go to ``<name>_<element>``
        (``<name>_value`` is their sum), as the IOC's ``P:xrf:C1:ROI<k>:TS``.
    """

    def __init__(
        self,
        name: str,
        image: np.ndarray,
        grid: Grid,
        *,
        velocity_limit: tuple[float, float] = (math.inf, math.inf),
        acceleration: tuple[float, float] = (math.inf, math.inf),
        travel: tuple[tuple[float, float], tuple[float, float]] | None = None,
        position: tuple[float, float] | None = None,
        x_motor: Any = None,
        y_motor: Any = None,
        noise: str | None = None,
        counts_scale: float = 1000.0,
        seed: int = 0,
        rng: np.random.Generator | None = None,
        time_scale: float = 0.0,
        elements: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        image = np.array(image, dtype=np.float64, copy=True)
        n_maps = len(image) if image.ndim == 3 else 0
        if image.shape[-2:] != grid.shape or image.ndim not in (2, 3):
            raise ValueError(f"image shape {image.shape} must equal grid.shape {grid.shape}")
        elements = check_elements(elements) if n_maps or len(elements) else ()
        if len(elements) != n_maps:
            raise ValueError(f"{n_maps} element maps need as many elements, got {elements!r}")
        if not np.isfinite(image).all():
            raise ValueError("image must be finite everywhere")
        if noise not in (None, "poisson"):
            raise ValueError(f"noise must be None or 'poisson', got {noise!r}")
        if not (time_scale >= 0 and math.isfinite(time_scale)):
            raise ValueError(f"time_scale must be a finite number >= 0, got {time_scale!r}")
        image.flags.writeable = False
        self._image = image
        self._grid = grid
        self._vmax = tuple(float(v) for v in velocity_limit)
        self._accel = tuple(float(a) for a in acceleration)
        self._travel = travel
        self._position = tuple(position) if position is not None else grid.to_position(0, 0)
        self._motors = (x_motor, y_motor)
        self._noise = noise
        self._scale = float(counts_scale)
        self._rng = np.random.default_rng(seed) if rng is None else rng
        self._time_scale = float(time_scale)
        self.elements = elements
        self._pages = FlyPages(name, elements)
        self._request: dict[str, Any] | None = None
        self._done: DeviceStatus | None = None
        self._timer: threading.Timer | None = None
        self.n_flights = 0
        self.last_duration: float | None = None
        self._asked = np.zeros(grid.shape, bool)
        self._landed: list[np.ndarray] = []  # pixels of the flights not yet collected

    @property
    def asked_mask(self) -> np.ndarray:
        """True at every pixel a collected sample's reading depends on (a copy).

        A sample's path can cross more than one pixel (a diagonal segment): each
        one counts. Flights dropped by a pause were never revealed.
        """
        return self._asked.copy()

    @property
    def position(self) -> tuple[float, float]:
        """Where the stage is (at rest after the last flight)."""
        return self._position

    def prepare(self, value: Mapping[str, Any]) -> StatusBase:
        """Take the next segment: ``{"start", "end", "velocity", "period"}``."""
        self._request = fly_request(value)
        status = DeviceStatus(self)
        status.set_finished()
        return status

    def kickoff(self) -> StatusBase:
        """Start the flight; fails (like the IOC) for a segment the stage cannot fly."""
        status = DeviceStatus(self)
        if self._request is None:
            status.set_exception(RuntimeError(f"{self.name}: prepare() a segment first"))
            return status
        req = self._request
        try:
            profile = check_flight(
                FlyProfile(
                    req["start"],
                    req["end"],
                    req["velocity"],
                    req["period"],
                    acceleration=self._accel,
                    move_velocity=self._vmax,
                    origin=self._position,
                ),
                velocity_limit=self._vmax,
                travel=self._travel,
            )
        except ValueError as exc:
            status.set_exception(RuntimeError(f"{self.name}: segment refused: {exc}"))
            return status
        capture = fly_capture(self._image, self._grid, profile, noise=self._noise,
                              counts_scale=self._scale, rng=self._rng)  # fmt: skip
        self.n_flights += 1
        t0, flight = time.time(), self.n_flights
        done = self._done = DeviceStatus(self)

        def land() -> None:
            self._position = profile.run_out_end
            for motor, p in zip(self._motors, self._position):
                if motor is not None:
                    motor.set(p)
            self.last_duration = profile.duration
            self._landed.append(capture.revealed())
            self._pages.add(t0=t0, times=capture.time, x=capture.x, y=capture.y,
                            values=capture.values, segment=flight,
                            channel_values=capture.channel_values)  # fmt: skip
            done.set_finished()

        if self._time_scale > 0:
            self._timer = threading.Timer(profile.duration * self._time_scale, land)
            self._timer.start()
        else:
            land()
        status.set_finished()
        return status

    def pause(self) -> None:
        """RunEngine pause: abort a running flight, drop what was not collected (flown again).

        The RunEngine rewinds to the checkpoint before the segment and flies it
        again on resume; failing the interrupted status would fail the resumed run.
        """
        if self._timer is not None:
            self._timer.cancel()
        self._done = None  # the interrupted complete() never reports: the flight is redone
        self._pages.discard()
        self._landed = []

    def resume(self) -> None:
        """Nothing to do: the rewound plan prepares and kicks off again."""

    def complete(self) -> StatusBase:
        if self._done is None:
            raise RuntimeError(f"{self.name}: complete() before kickoff()")
        return self._done

    def describe_collect(self) -> dict[str, dict[str, Any]]:
        return self._pages.describe("SIM:fly:")

    def collect_pages(self) -> Iterator[dict[str, Any]]:
        """Event pages of the segments completed since the last collect."""
        landed, self._landed = self._landed, []
        for pixels in landed:
            self._asked[pixels[:, 0], pixels[:, 1]] = True
        yield from self._pages.pop_all()

"""An Ophyd detector that reads a ground-truth image at the stage's position.

:class:`SimDetector` answers only for where the motors are when it is
triggered: the nearest grid pixel's value (optionally with seeded Poisson noise,
optionally taking ``dwell`` seconds). It never exposes the image itself.

Examples
--------
>>> from ophyd.sim import SynAxis
>>> from fastscan.plans import Grid
>>> from fastscan.phantoms import make_phantom
>>> x, y = SynAxis(name="x"), SynAxis(name="y")
>>> grid = Grid(0.0, 59.0, 60, 0.0, 39.0, 40)
>>> det = SimDetector("det", make_phantom("flakes", (40, 60)), grid, x, y)
>>> _ = x.set(3.0), y.set(2.0)
>>> _ = det.trigger()
>>> bool(det.value.get() == make_phantom("flakes", (40, 60))[2, 3])
True
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, DeviceStatus, Signal
from ophyd.status import StatusBase

from fastscan.plans.grid import Grid

__all__ = ["SimDetector"]


def _position(motor: Any) -> float:
    position = getattr(motor, "position", None)
    if position is None:
        reading = motor.read()
        position = next(iter(reading.values()))["value"]
    return float(position)


class SimDetector(Device):
    """Simulated point detector over a ground-truth image.

    Parameters
    ----------
    name : str
        Device name; the reading key is ``<name>_value``.
    image : (n_rows, n_cols) array
        Ground truth, same shape as ``grid``.
    grid : Grid
        Maps the motors' (x, y) to the nearest (row, col).
    x_motor, y_motor :
        Positioners whose current positions are used at each trigger.
    noise : None or "poisson"
        Poisson counting noise on ``value * counts_scale`` counts.
    counts_scale : float
        Expected counts for a pixel value of 1 (Poisson noise only).
    dwell : float
        Seconds an acquisition takes (0: completes at once).
    seed : int
        Seed of the noise generator.
    outside : "raise" or "clip"
        A position off the grid by more than half a pixel: fail the trigger, or
        read the nearest edge pixel.
    """

    value = Cpt(Signal, value=0.0, kind="hinted")
    dwell = Cpt(Signal, value=0.0, kind="config")

    def __init__(
        self,
        name: str,
        image: np.ndarray,
        grid: Grid,
        x_motor: Any,
        y_motor: Any,
        *,
        noise: str | None = None,
        counts_scale: float = 1000.0,
        dwell: float = 0.0,
        seed: int = 0,
        outside: str = "raise",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        image = np.array(image, dtype=np.float64, copy=True)  # ours; the caller's stays writable
        if image.ndim != 2 or image.shape != grid.shape:
            raise ValueError(f"image shape {image.shape} must equal grid.shape {grid.shape}")
        if not np.isfinite(image).all():
            raise ValueError("image must be finite everywhere")
        if noise not in (None, "poisson"):
            raise ValueError(f"noise must be None or 'poisson', got {noise!r}")
        if noise == "poisson" and (image.min() < 0 or not counts_scale > 0):
            raise ValueError("poisson noise needs a non-negative image and counts_scale > 0")
        if outside not in ("raise", "clip"):
            raise ValueError(f"outside must be 'raise' or 'clip', got {outside!r}")
        if not dwell >= 0:
            raise ValueError(f"dwell must be >= 0 seconds, got {dwell!r}")
        self._image = image
        self._image.flags.writeable = False
        self._grid = grid
        self._motors = (x_motor, y_motor)
        self._noise = noise
        self._scale = float(counts_scale)
        self._rng = np.random.default_rng(seed)
        self._clip = outside == "clip"
        self.dwell.put(float(dwell))
        self.n_triggers = 0
        self._asked = np.zeros(grid.shape, bool)

    @property
    def asked_mask(self) -> np.ndarray:
        """True at every pixel read at least once (a copy; the record of what was revealed)."""
        return self._asked.copy()

    def _measure(self) -> float:
        x, y = (_position(m) for m in self._motors)
        row, col = self._grid.to_index(x, y, clip=self._clip)
        self._asked[row, col] = True
        value = float(self._image[row, col])
        if self._noise == "poisson":
            value = float(self._rng.poisson(value * self._scale)) / self._scale
        return value

    def flyer(self, name: str = "flyer", **kwargs: Any) -> Any:
        """The same simulated beamline flying: a :class:`fastscan.sim.flyer.SimFlyer`.

        It shares this detector's image, grid, motors, noise and noise generator
        (as the IOC's fly mode shares its detector's) and starts where the motors
        are; ``kwargs`` (``velocity_limit``, ``acceleration``, ``travel``,
        ``time_scale``) go to SimFlyer.
        """
        from fastscan.sim.flyer import SimFlyer

        x_motor, y_motor = self._motors
        kwargs.setdefault("position", (_position(x_motor), _position(y_motor)))
        return SimFlyer(
            name, self._image, self._grid, x_motor=x_motor, y_motor=y_motor,
            noise=self._noise, counts_scale=self._scale, rng=self._rng, **kwargs,
        )  # fmt: skip

    def trigger(self) -> StatusBase:
        self.n_triggers += 1
        status = DeviceStatus(self)
        dwell = float(self.dwell.get())

        def acquire() -> None:
            try:
                self.value.put(self._measure())
            except Exception as exc:
                status.set_exception(exc)
            else:
                status.set_finished()

        if dwell > 0:
            threading.Timer(dwell, acquire).start()
        else:
            acquire()
        return status

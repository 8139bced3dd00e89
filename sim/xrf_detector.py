"""An in-process simulated XRF detector: element maps read at the stage's position.

:class:`SimXRFDetector` is the in-process twin of the IOC's ROI set
(:mod:`fastscan.sim.ioc_xrf`) and of :class:`fastscan.devices.EpicsXRFDetector`:
the same reading keys ``<name>_<element>`` (all hinted) and, given the same
seed, the same Poisson counts (one draw per element, in element order).

Examples
--------
>>> from ophyd.sim import SynAxis
>>> from fastscan.phantoms import make_xrf_maps
>>> from fastscan.plans import Grid
>>> maps, names = make_xrf_maps((20, 30), seed=0)
>>> x, y = SynAxis(name="x"), SynAxis(name="y")
>>> xrf = SimXRFDetector("xrf", maps, Grid(0.0, 29.0, 30, 0.0, 19.0, 20), x, y, elements=names)
>>> _ = x.set(3.0), y.set(2.0)
>>> _ = xrf.trigger()
>>> bool(xrf.Cu.get() == maps[names.index("Cu"), 2, 3]), xrf.hints["fields"][:2]
(True, ['xrf_Fe', 'xrf_Ca'])
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from ophyd import Component as Cpt
from ophyd import Device, DeviceStatus, Signal
from ophyd.status import StatusBase

from fastscan.devices.xrf import check_elements, element_class
from fastscan.plans.grid import Grid
from fastscan.sim.detector import _position
from fastscan.sim.ioc_xrf import poisson_counts

__all__ = ["SimXRFDetector"]


class SimXRFDetector(Device):
    """Simulated XRF detector over (C, H, W) element maps (expected counts per dwell).

    Parameters
    ----------
    name : str
        Device name; element ``e`` reads as ``<name>_<e>`` (hinted).
    maps : (C, n_rows, n_cols) array
        Expected counts, >= 0; each map has ``grid.shape``.
    grid : Grid
        Maps the motors' (x, y) to the nearest (row, col).
    x_motor, y_motor :
        Positioners whose current positions are used at each trigger.
    elements : list of str
        One identifier per map.
    noise : None or "poisson"
        Poisson counts of the expected counts (seeded by ``seed``).
    dwell : float
        Seconds an acquisition takes.
    seed : int
        Seed of the noise generator.
    outside : "raise" or "clip"
        A position off the grid: fail the trigger, or read the edge pixel.
    """

    dwell = Cpt(Signal, value=0.0, kind="config")

    elements: tuple[str, ...] = ()

    def __new__(cls, name: str = "", *args: Any, elements: Sequence[str], **kwargs: Any):
        if not cls.elements:
            cls = element_class(cls, check_elements(elements), _element_signal)
        return super().__new__(cls)

    def __init__(
        self,
        name: str,
        maps: np.ndarray,
        grid: Grid,
        x_motor: Any,
        y_motor: Any,
        *,
        elements: Sequence[str],
        noise: str | None = None,
        dwell: float = 0.0,
        seed: int = 0,
        outside: str = "raise",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        maps = np.array(maps, dtype=np.float64, copy=True)
        if maps.ndim != 3 or maps.shape[1:] != grid.shape or len(maps) != len(self.elements):
            raise ValueError(
                f"maps shape {maps.shape} must be ({len(self.elements)}, *{grid.shape}) "
                f"for elements {self.elements}"
            )
        if not np.isfinite(maps).all() or maps.min() < 0:
            raise ValueError("maps must be finite expected counts >= 0")
        if noise not in (None, "poisson"):
            raise ValueError(f"noise must be None or 'poisson', got {noise!r}")
        if outside not in ("raise", "clip"):
            raise ValueError(f"outside must be 'raise' or 'clip', got {outside!r}")
        if not dwell >= 0:
            raise ValueError(f"dwell must be >= 0 seconds, got {dwell!r}")
        maps.flags.writeable = False
        self._maps, self._grid, self._motors = maps, grid, (x_motor, y_motor)
        self._noise = noise
        self._rng = np.random.default_rng(seed)
        self._clip = outside == "clip"
        self.dwell.put(float(dwell))
        self.n_triggers = 0
        self._asked = np.zeros(grid.shape, bool)

    @property
    def asked_mask(self) -> np.ndarray:
        """True at every pixel read at least once (a copy; the record of what was revealed)."""
        return self._asked.copy()

    def _measure(self) -> np.ndarray:
        x, y = (_position(m) for m in self._motors)
        row, col = self._grid.to_index(x, y, clip=self._clip)
        self._asked[row, col] = True
        counts = np.array(self._maps[:, row, col])
        return poisson_counts(counts, self._rng) if self._noise == "poisson" else counts

    def flyer(self, name: str = "flyer", **kwargs: Any) -> Any:
        """The same simulated beamline flying: a :class:`fastscan.sim.flyer.SimFlyer`.

        It shares this detector's maps, elements, grid, motors, noise and noise
        generator (as the IOC's fly mode shares its ROIs') and starts where the
        motors are; ``kwargs`` go to SimFlyer.
        """
        from fastscan.sim.flyer import SimFlyer

        x_motor, y_motor = self._motors
        kwargs.setdefault("position", (_position(x_motor), _position(y_motor)))
        return SimFlyer(
            name, self._maps, self._grid, x_motor=x_motor, y_motor=y_motor, noise=self._noise,
            rng=self._rng, elements=self.elements, **kwargs,
        )  # fmt: skip

    def trigger(self) -> StatusBase:
        self.n_triggers += 1
        status = DeviceStatus(self)

        def acquire() -> None:
            try:
                for element, count in zip(self.elements, self._measure()):
                    getattr(self, element).put(float(count))
            except Exception as exc:
                status.set_exception(exc)
            else:
                status.set_finished()

        dwell = float(self.dwell.get())
        if dwell > 0:
            threading.Timer(dwell, acquire).start()
        else:
            acquire()
        return status


def _element_signal(k: int, element: str) -> Cpt:
    return Cpt(Signal, value=0.0, kind="hinted")

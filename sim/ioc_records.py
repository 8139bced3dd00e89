"""The simulated nanoprobe's EPICS records: two motors, a point detector, a fly controller.

Each part is its own group so new records (e.g. per-element detector channels)
can be added as another :class:`caproto.server.SubGroup`. See
:mod:`fastscan.sim.ioc` for the PV list.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from caproto.server import PVGroup, SubGroup, pvproperty

from fastscan.plans.grid import Grid
from fastscan.sim.ioc_fly import FlyController
from fastscan.sim.ioc_motor import SimMotor

__all__ = ["NanoprobeIOC"]


class NanoprobeIOC(PVGroup):
    """Two motors and a point detector over a ground-truth image (see the module doc)."""

    x = SubGroup(SimMotor, prefix="x")
    y = SubGroup(SimMotor, prefix="y")
    fly = SubGroup(FlyController, prefix="fly:")

    acquire = pvproperty(name="det:acquire", value=0, doc="put 1 to acquire")
    value = pvproperty(name="det:value", value=0.0, precision=6, read_only=True)
    count = pvproperty(name="det:count", value=0, read_only=True)
    dwell = pvproperty(name="det:dwell", value=0.0, precision=4)
    noise_on = pvproperty(name="det:noise", value=0, doc="1: Poisson noise on the readings")
    noise_seed = pvproperty(name="det:seed", value=0, doc="put to re-seed the noise generator")
    det_nan = pvproperty(name="det:nan", value=0, doc="fault: readings are NaN")
    det_disconnect = pvproperty(name="det:disconnect", value=0, doc="fault: detector goes away")
    stall = pvproperty(name="fault:stall", value=0, doc="fault: motors never arrive")
    limit = pvproperty(name="fault:limit", value=0, doc="fault: moves stop on a limit switch")

    def __init__(self, *args: Any, image: np.ndarray, grid: Grid, noise: str | None = None,
                 counts_scale: float = 1000.0, seed: int = 0, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        if image.shape != grid.shape:
            raise ValueError(f"image shape {image.shape} differs from grid shape {grid.shape}")
        self.image = image
        self.grid = grid
        self.noise = noise
        self.counts_scale = float(counts_scale)
        self.rng = np.random.default_rng(seed)
        self.context: Any = None  # the serving Context (fault PVs use it)
        self.disconnected = False
        self.initial_dwell = 0.0

    @dwell.startup
    async def dwell(self, instance, async_lib):
        await instance.write(self.initial_dwell)
        await self.noise_on.write(int(self.noise == "poisson"))

    @noise_on.putter
    async def noise_on(self, instance, value):
        self.noise = "poisson" if value else None
        return value

    @noise_seed.putter
    async def noise_seed(self, instance, value):
        self.rng = np.random.default_rng(int(value))
        return value

    def detector_pvnames(self) -> list[str]:
        props = (self.acquire, self.value, self.count, self.dwell, self.noise_on,
                 self.noise_seed, self.det_nan, self.det_disconnect)  # fmt: skip
        return [p.pvname for p in props]

    def measure(self) -> float:
        row, col = self.grid.to_index(self.x.position, self.y.position, clip=True)
        value = float(self.image[row, col])
        if self.noise == "poisson":
            value = float(self.rng.poisson(max(value, 0.0) * self.counts_scale)) / self.counts_scale
        if self.det_nan.value:
            value = float("nan")
        return value

    @acquire.putter
    async def acquire(self, instance, value):
        if not value or self.disconnected:
            return 0
        if self.dwell.value > 0:
            await asyncio.sleep(float(self.dwell.value))
        await self.value.write(self.measure())
        await self.count.write(self.count.value + 1)
        return 0

    @stall.putter
    async def stall(self, instance, value):
        self.x.stall = self.y.stall = bool(value)
        return value

    @limit.putter
    async def limit(self, instance, value):
        self.x.hit_limit = self.y.hit_limit = bool(value)
        return value

    @det_disconnect.putter
    async def det_disconnect(self, instance, value):
        if value and not self.disconnected and self.context is not None:
            self.disconnected = True
            asyncio.get_running_loop().create_task(self.context.drop_pvs(self.detector_pvnames()))
        return value

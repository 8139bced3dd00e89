"""The simulated nanoprobe's EPICS records: two motors, a point detector, a fly controller.

Each part is its own group; served with element maps, :func:`nanoprobe_ioc_class`
adds the per-element ROI records (:mod:`fastscan.sim.ioc_xrf`) as another
:class:`caproto.server.SubGroup`. See :mod:`fastscan.sim.ioc` for the PV list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np
from caproto import ChannelType
from caproto.server import PVGroup, SubGroup, pvproperty

from fastscan.plans.grid import Grid
from fastscan.sim.ioc_fly import FlyController
from fastscan.sim.ioc_motor import SimMotor
from fastscan.sim.ioc_xrf import xrf_group

__all__ = ["MAX_ASKED", "NanoprobeIOC", "nanoprobe_ioc_class"]

#: Most pixels ``P:det:asked`` can list (a 1024 x 1024 map read everywhere).
MAX_ASKED = 1 << 20


class NanoprobeIOC(PVGroup):
    """Two motors and a point detector over a ground-truth image (see the module doc).

    ``image`` may be (C, H, W) element maps (expected counts), served by the
    class :func:`nanoprobe_ioc_class` makes for their ``elements``; the point
    detector then reads their sum (total counts).
    """

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
    # the simulator's record (no beamline has it): every pixel whose value left the IOC
    n_asked = pvproperty(
        name="det:n_asked",
        value=0,
        read_only=True,
        doc="pixels revealed since start or the last det:asked_clear",
    )
    asked = pvproperty(
        name="det:asked",
        value=[0],
        dtype=ChannelType.LONG,
        max_length=MAX_ASKED,
        # read on demand, never monitored: a short backlog keeps caproto's memory warning
        # (max_length x backlog over 15 million elements) off the IOC's stderr
        max_subscription_backlog=10,
        read_only=True,
        doc="row * n_cols + col of each, valid for det:n_asked",
    )
    asked_clear = pvproperty(name="det:asked_clear", value=0, doc="put 1 to forget the record")

    def __init__(self, *args: Any, image: np.ndarray, grid: Grid, noise: str | None = None,
                 counts_scale: float = 1000.0, seed: int = 0, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        image = np.asarray(image, dtype=float)
        if image.shape[-2:] != grid.shape or image.ndim not in (2, 3):
            raise ValueError(f"image shape {image.shape} differs from grid shape {grid.shape}")
        n_rois = len(getattr(getattr(self, "xrf", None), "elements", ()))
        if image.ndim == 3 and len(image) != n_rois:
            raise ValueError(
                f"{len(image)} element maps need an IOC class with as many ROIs (it has "
                f"{n_rois}); make it with nanoprobe_ioc_class(elements)"
            )
        self.maps = image if image.ndim == 3 else None
        self.image = image.sum(axis=0) if image.ndim == 3 else image
        self.grid = grid
        self.noise = noise
        self.counts_scale = float(counts_scale)
        self.rng = np.random.default_rng(seed)
        self.context: Any = None  # the serving Context (fault PVs use it)
        self.disconnected = False
        self.initial_dwell = 0.0
        #: True at every pixel a reading (step, ROI or fly sample) depended on
        self.asked_mask = np.zeros(grid.shape, bool)

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

    @n_asked.getter
    async def n_asked(self, instance):
        return int(self.asked_mask.sum())

    @asked.getter
    async def asked(self, instance):
        flat = np.flatnonzero(self.asked_mask)
        if len(flat) > MAX_ASKED:
            raise ValueError(f"{len(flat)} pixels revealed; det:asked lists at most {MAX_ASKED}")
        return flat.tolist() if len(flat) else [0]

    @asked_clear.putter
    async def asked_clear(self, instance, value):
        if value:
            self.asked_mask[:] = False
        return 0

    def detector_pvnames(self) -> list[str]:
        props = (self.acquire, self.value, self.count, self.dwell, self.noise_on,
                 self.noise_seed, self.det_nan, self.det_disconnect, self.n_asked, self.asked,
                 self.asked_clear)  # fmt: skip
        names = [p.pvname for p in props]
        if self.maps is not None:  # the element ROIs are the same detector
            names += list(self.xrf.pvdb)
        return names

    def measure(self) -> float:
        row, col = self.grid.to_index(self.x.position, self.y.position, clip=True)
        self.asked_mask[row, col] = True
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


def nanoprobe_ioc_class(elements: Sequence[str] | None = None) -> type[NanoprobeIOC]:
    """:class:`NanoprobeIOC`, with one ROI record set per element (``P:xrf:*``) if given.

    Examples
    --------
    >>> cls = nanoprobe_ioc_class(["Fe", "Cu"])
    >>> cls.xrf.group_cls.elements
    ('Fe', 'Cu')
    """
    if elements is None:
        return NanoprobeIOC
    return type(NanoprobeIOC)(
        "NanoprobeXRFIOC", (NanoprobeIOC,),
        {"xrf": SubGroup(xrf_group(elements), prefix="xrf:"), "__module__": __name__},
    )  # fmt: skip

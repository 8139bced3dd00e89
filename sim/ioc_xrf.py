"""Per-element ROI records of a simulated XRF detector (``P:xrf:*``), like an Xspress3 ROI set.

The group is built for the element maps the IOC serves (one ROI per element on
detector channel 1), so its class is made at run time by :func:`xrf_group`.
PVs (``X`` = ``<prefix>xrf:``), loosely following the Xspress3 / areaDetector
ROI naming (``C<chan>_ROI<k>:Value_RBV``, ``ROI<k>:Name``):

- ``X Acquire``: put 1 to acquire; the put completes once every ROI value is
  posted (after ``X AcquireTime`` seconds).
- ``X C1:ROI<k>:Value_RBV``: counts of element k (1-based) at the pixel nearest
  the motors' readbacks; seeded Poisson counts when the IOC's noise is on (the
  maps are expected counts, so no ``counts_scale``), one draw per element in
  ROI order from the IOC's noise generator.
- ``X C1:ROI<k>:Name``: the element name. ``X NumROIs``: number of elements.
  ``X ArrayCounter_RBV``: acquisitions so far.
- ``X C1:ROI<k>:TS``: fly mode time series, one value per captured sample of the
  last flight (valid for ``P:fly:npts`` samples), written with ``P:fly:values``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
from caproto import ChannelType
from caproto.server import PVGroup, pvproperty

__all__ = ["poisson_counts", "xrf_group"]

MAX_SAMPLES = 4096


def poisson_counts(expected: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Poisson counts of ``expected`` (any shape, negatives read as 0), drawn from ``rng``."""
    return rng.poisson(np.maximum(np.asarray(expected, dtype=float), 0.0)).astype(float)


def _roi_properties(k: int, element: str) -> dict[str, pvproperty]:
    roi = f"C1:ROI{k}:"
    return {
        f"roi{k}_value": pvproperty(name=roi + "Value_RBV", value=0.0, precision=3, read_only=True),
        f"roi{k}_name": pvproperty(
            name=roi + "Name", value=element, dtype=ChannelType.STRING, read_only=True
        ),
        f"roi{k}_ts": pvproperty(
            name=roi + "TS", value=[0.0] * MAX_SAMPLES, max_length=MAX_SAMPLES, read_only=True
        ),
    }


class _XRFBase(PVGroup):
    """Common records and acquisition; :func:`xrf_group` adds the ROIs."""

    acquire = pvproperty(name="Acquire", value=0, doc="put 1 to acquire")
    acquire_time = pvproperty(name="AcquireTime", value=0.0, precision=4)
    counter = pvproperty(name="ArrayCounter_RBV", value=0, read_only=True)
    num_rois = pvproperty(name="NumROIs", value=0, read_only=True)

    elements: tuple[str, ...] = ()

    @num_rois.startup
    async def num_rois(self, instance, async_lib) -> None:
        await instance.write(len(self.elements))
        await self.acquire_time.write(float(self.parent.initial_dwell))

    def roi_pvs(self, field: str) -> list[pvproperty]:
        return [getattr(self, f"roi{k}_{field}") for k in range(1, len(self.elements) + 1)]

    def measure(self) -> np.ndarray:
        """Counts of every element at the motors' position (NaN under the NaN fault)."""
        ioc = self.parent
        row, col = ioc.grid.to_index(ioc.x.position, ioc.y.position, clip=True)
        ioc.asked_mask[row, col] = True
        counts = np.array(ioc.maps[:, row, col], dtype=float)
        if ioc.noise == "poisson":
            counts = poisson_counts(counts, ioc.rng)
        if ioc.det_nan.value:
            counts[:] = np.nan
        return counts

    @acquire.putter
    async def acquire(self, instance, value):
        if not value or self.parent.disconnected:
            return 0
        if self.acquire_time.value > 0:
            await asyncio.sleep(float(self.acquire_time.value))
        for pv, count in zip(self.roi_pvs("value"), self.measure()):
            await pv.write(float(count))
        await self.counter.write(self.counter.value + 1)
        return 0

    async def write_time_series(self, values: np.ndarray) -> None:
        """Post a flight's (n, C) element readings to the ``TS`` waveforms."""
        for pv, column in zip(self.roi_pvs("ts"), np.asarray(values, dtype=float).T):
            await pv.write(column.tolist())


def xrf_group(elements: Sequence[str]) -> type[PVGroup]:
    """A PVGroup class serving one ROI per element (see the module doc).

    Examples
    --------
    >>> group = xrf_group(["Fe", "Cu"])
    >>> sorted(p.pvspec.name for p in group._pvs_.values())[:3]
    ['Acquire', 'AcquireTime', 'ArrayCounter_RBV']
    """
    elements = tuple(str(e) for e in elements)
    if not elements or any(not e for e in elements) or len(set(elements)) != len(elements):
        raise ValueError(f"elements must be distinct non-empty names, got {elements!r}")
    attrs: dict[str, object] = {"elements": elements, "__module__": __name__}
    for k, element in enumerate(elements, start=1):
        attrs.update(_roi_properties(k, element))
    return type(_XRFBase)("XRFDetector", (_XRFBase,), attrs)

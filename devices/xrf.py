"""An EPICS XRF detector: one ROI (counts of one element) per reading field, Xspress3-style."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from ophyd import Component as Cpt
from ophyd import Device, EpicsSignal, EpicsSignalRO
from ophyd.status import StatusBase

__all__ = ["EpicsXRFDetector", "check_elements", "element_class"]


def check_elements(elements: Any) -> tuple[str, ...]:
    """``elements`` as a tuple of distinct Python identifiers (they name reading fields)."""
    if isinstance(elements, str) or not isinstance(elements, Sequence) or not elements:
        raise ValueError(f"elements must be a non-empty list of element names, got {elements!r}")
    names = tuple(elements)
    bad = [e for e in names if not isinstance(e, str) or not e.isidentifier() or e[0] == "_"]
    if bad or len(set(names)) != len(names):
        raise ValueError(
            f"elements must be distinct identifiers not starting with '_' (they name the "
            f"reading fields), got {names!r}"
        )
    return names


class EpicsXRFDetector(Device):
    """XRF detector whose element ROIs ``<prefix>C1:ROI<k>:Value_RBV`` are hinted fields.

    :meth:`trigger` puts 1 to ``<prefix>Acquire`` with put-completion; every
    ROI value is then read with a fresh CA get (no monitor). The reading key of
    element ``e`` is ``<name>_<e>`` and every element is hinted, so
    ``autonomous_scan([xrf], x, y, grid=..., signal=None)`` is driven by all of
    them.

    Parameters
    ----------
    prefix : str
        e.g. ``"SIM:xrf:"``.
    elements : list of str
        The element of ROI 1, 2, ... (identifiers, e.g. ``["Fe", "Cu"]``); a
        subset of the IOC's ROIs in order from ROI 1.
    name : str
        Device name.

    Examples
    --------
    >>> xrf = EpicsXRFDetector("SIM:xrf:", elements=["Fe", "Cu"], name="xrf")
    >>> xrf.Fe.pvname, xrf.hints["fields"]
    ('SIM:xrf:C1:ROI1:Value_RBV', ['xrf_Fe', 'xrf_Cu'])
    """

    acquire = Cpt(EpicsSignal, "Acquire", kind="omitted", put_complete=True)
    acquire_time = Cpt(EpicsSignal, "AcquireTime", kind="config")

    elements: tuple[str, ...] = ()

    def __new__(cls, prefix: str = "", *, elements: Sequence[str], **kwargs: Any):
        if not cls.elements:
            cls = element_class(cls, check_elements(elements), _roi_value)
        return super().__new__(cls)

    def __init__(self, prefix: str, *, elements: Sequence[str], name: str, **kwargs: Any) -> None:
        if not isinstance(prefix, str) or not prefix:
            raise ValueError(f"prefix must be a non-empty PV prefix, got {prefix!r}")
        if tuple(elements) != self.elements:
            raise ValueError(f"elements {elements!r} differ from this class's {self.elements!r}")
        super().__init__(prefix, name=name, **kwargs)

    def trigger(self) -> StatusBase:
        return self.acquire.set(1)


@functools.cache
def element_class(base: type, elements: tuple[str, ...], component: Any) -> type:
    """Subclass of ``base`` with ``component(k, element)`` as attribute ``element`` (k from 1)."""
    reserved = {e for e in elements if hasattr(base, e)}
    if reserved:
        raise ValueError(f"element names {sorted(reserved)} clash with {base.__name__} attributes")
    attrs: dict[str, Any] = {"elements": elements, "__module__": base.__module__}
    for k, element in enumerate(elements, start=1):
        attrs[element] = component(k, element)
    return type(base)(f"{base.__name__}_{'_'.join(elements)}", (base,), attrs)


def _roi_value(k: int, element: str) -> Cpt:
    return Cpt(EpicsSignalRO, f"C1:ROI{k}:Value_RBV", kind="hinted", auto_monitor=False)

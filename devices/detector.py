"""A scalar EPICS detector: an acquire PV (put-complete) and a value PV."""

from __future__ import annotations

from typing import Any

from ophyd import Component as Cpt
from ophyd import Device, EpicsSignal, EpicsSignalRO
from ophyd.status import StatusBase

__all__ = ["EpicsScalarDetector"]


class EpicsScalarDetector(Device):
    """Point detector with ``<prefix>acquire``, ``<prefix>value`` and ``<prefix>dwell``.

    :meth:`trigger` puts 1 to the acquire PV with put-completion; the returned
    Status finishes when the IOC reports the acquisition done. The value PV is
    then read with a fresh CA get (no monitor), so a reading can never be the
    previous point's value (monitors can arrive after the put completion).

    Parameters
    ----------
    prefix : str
        e.g. ``"SIM:det:"``.
    name : str
        Device name; the reading key is ``<name>_value``.
    """

    acquire = Cpt(EpicsSignal, "acquire", kind="omitted", put_complete=True)
    value = Cpt(EpicsSignalRO, "value", kind="hinted", auto_monitor=False)
    dwell = Cpt(EpicsSignal, "dwell", kind="config")

    def __init__(self, prefix: str, *, name: str, **kwargs: Any) -> None:
        if not isinstance(prefix, str) or not prefix:
            raise ValueError(f"prefix must be a non-empty PV prefix, got {prefix!r}")
        super().__init__(prefix, name=name, **kwargs)

    def trigger(self) -> StatusBase:
        return self.acquire.set(1)

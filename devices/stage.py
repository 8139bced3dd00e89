"""The nanoprobe sample stage: two EPICS motor records, x and y."""

from __future__ import annotations

from typing import Any

from ophyd import Device, EpicsMotor
from ophyd import FormattedComponent as FCpt

__all__ = ["NanoprobeStage"]


class NanoprobeStage(Device):
    """Sample stage with ``x`` and ``y`` :class:`ophyd.EpicsMotor` axes.

    Parameters
    ----------
    prefix_x, prefix_y : str
        Motor record names, e.g. ``"XF:31ID-ES{Stg:X}Mtr"`` or ``"SIM:x"``.
    name : str
        Device name; the axes read as ``<name>_x`` and ``<name>_y``.

    Examples
    --------
    >>> stage = NanoprobeStage("SIM:x", "SIM:y", name="stage")  # doctest: +SKIP
    >>> stage.wait_for_connection(timeout=5)  # doctest: +SKIP
    >>> RE(autonomous_scan([det], stage.x, stage.y, grid=grid, signal="det_value"))
    ... # doctest: +SKIP
    """

    x = FCpt(EpicsMotor, "{prefix_x}", kind="hinted")
    y = FCpt(EpicsMotor, "{prefix_y}", kind="hinted")

    def __init__(self, prefix_x: str, prefix_y: str, *, name: str, **kwargs: Any) -> None:
        for label, value in (("prefix_x", prefix_x), ("prefix_y", prefix_y)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{label} must be a non-empty PV name, got {value!r}")
        if prefix_x == prefix_y:
            raise ValueError(f"prefix_x and prefix_y must differ, both are {prefix_x!r}")
        self.prefix_x = prefix_x
        self.prefix_y = prefix_y
        super().__init__("", name=name, **kwargs)

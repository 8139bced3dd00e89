"""The nanoprobe sample stage: two EPICS motor records, x and y."""

from __future__ import annotations

import threading
from typing import Any

from ophyd import Device, EpicsMotor
from ophyd import FormattedComponent as FCpt
from ophyd.status import wait as status_wait

__all__ = ["NanoprobeStage", "StageMotor"]


class StageMotor(EpicsMotor):
    """An :class:`ophyd.EpicsMotor` whose next move cannot lose its completion.

    ophyd ends a move in its monitor thread in two steps: it runs the move's
    done callbacks (the plan goes on) and then clears them. A plan that starts
    the next move between the two steps has that move's callback cleared with
    them, so the move never finishes and the plan times out (ophyd issue #782).
    On a loaded 2-core machine this happened on the simulated beamline: ophyd
    logged ``InvalidState`` for the previous move, and the scan stopped 60 s
    later with a ``ScanFault`` "did not finish the move". Here both steps and a
    move's own setup hold one lock, so a new move starts after the clearing.
    Otherwise exactly ``EpicsMotor``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._move_lock = threading.RLock()

    def move(self, position: Any, wait: bool = True, **kwargs: Any):
        with self._move_lock:
            status = super().move(position, wait=False, **kwargs)
        if wait:
            try:
                status_wait(status)
            except KeyboardInterrupt:
                self.stop()
                raise
        return status

    def _done_moving(self, *args: Any, **kwargs: Any) -> None:
        with self._move_lock:
            super()._done_moving(*args, **kwargs)


class NanoprobeStage(Device):
    """Sample stage with ``x`` and ``y`` :class:`StageMotor` (``ophyd.EpicsMotor``) axes.

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

    x = FCpt(StageMotor, "{prefix_x}", kind="hinted")
    y = FCpt(StageMotor, "{prefix_y}", kind="hinted")

    def __init__(self, prefix_x: str, prefix_y: str, *, name: str, **kwargs: Any) -> None:
        for label, value in (("prefix_x", prefix_x), ("prefix_y", prefix_y)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{label} must be a non-empty PV name, got {value!r}")
        if prefix_x == prefix_y:
            raise ValueError(f"prefix_x and prefix_y must differ, both are {prefix_x!r}")
        self.prefix_x = prefix_x
        self.prefix_y = prefix_y
        super().__init__("", name=name, **kwargs)

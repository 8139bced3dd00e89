"""Checks of the devices a plan is given, made when the plan is created (at the prompt).

A plan that only finds out in the run that a motor's IOC does not answer, or that
the detector has no reading of the given name, has already opened a run (an
empty failed run in the catalogue) and moved nothing. These checks raise before
the first message instead, naming the device and what is allowed:

- :func:`check_connected`: an ophyd device that is not connected gets up to
  :data:`CONNECT_TIMEOUT_S` seconds to connect (a device made a moment ago is
  still connecting), else ``ConnectionError`` naming it and its PV;
- :func:`check_reading_keys`: every signal key is a reading key of the
  detectors (or the motors), from their ``describe()``;
- :func:`check_grid_in_limits`: the grid's corners inside the motors' soft
  limits (a step scan used to stop at the first point beyond them, mid-batch).

Examples
--------
>>> from ophyd.sim import SynAxis
>>> check_connected([("x_motor", SynAxis(name="x"))])  # simulated: always connected
>>> check_reading_keys(["value"], [SynAxis(name="m")])
Traceback (most recent call last):
...
ValueError: signal 'value' is not a reading of the detectors ['m']; their keys: ['m', 'm_setpoint']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastscan.motion import motor_travel
from fastscan.plans.grid import Grid
from fastscan.plans.steps import device_label

__all__ = ["CONNECT_TIMEOUT_S", "check_connected", "check_grid_in_limits", "check_reading_keys"]

#: Seconds a device that is not yet connected gets before the plan is refused.
CONNECT_TIMEOUT_S = 5.0


def check_connected(devices: Sequence[tuple[str, Any]], timeout: float | None = None) -> None:
    """Raise ``ConnectionError`` for a device that does not connect within ``timeout``.

    Parameters
    ----------
    devices : list of (label, device)
        The label says which argument it is (``"x_motor"``, ``"detector"``, ...).
        Devices without ophyd's ``connected`` (simulated or other protocol
        objects) pass.
    timeout : float or None
        Seconds to wait for each device not yet connected (default
        :data:`CONNECT_TIMEOUT_S`).
    """
    timeout = CONNECT_TIMEOUT_S if timeout is None else timeout
    for label, device in devices:
        if getattr(device, "connected", True) is not False:
            continue
        wait = getattr(device, "wait_for_connection", None)
        if callable(wait):
            try:
                wait(timeout=timeout)
                continue
            except Exception as exc:  # ophyd: TimeoutError naming the signals missing
                reason = f" ({type(exc).__name__}: {exc})"
        else:
            reason = ""
        raise ConnectionError(
            f"{label} {device_label(device)} is not connected: no answer within {timeout:g} s"
            f"{reason}; start its IOC (or check the PV prefix and EPICS_CA_* settings) before "
            "making the plan"
        )


def check_reading_keys(signals: Sequence[str], detectors: Sequence[Any],
                       others: Sequence[Any] = ()) -> None:  # fmt: skip
    """Raise ``ValueError`` for a signal key that no detector (nor motor) reads.

    Parameters
    ----------
    signals : list of str
        The reading keys the sampler is to receive.
    detectors, others : list of readable devices
        Their ``describe()`` keys are the allowed ones; the message lists the
        detectors'. If a device cannot describe itself now (not staged, not
        connected), nothing is checked here: the first reading checks.
    """
    keys: dict[str, list[str]] = {"detectors": [], "others": []}
    for group, devices in (("detectors", detectors), ("others", others)):
        for device in devices:
            try:
                keys[group].extend(device.describe())
            except Exception:
                return
    known = set(keys["detectors"]) | set(keys["others"])
    for key in signals:
        if key not in known:
            names = [getattr(d, "name", repr(d)) for d in detectors]
            raise ValueError(
                f"signal {key!r} is not a reading of the detectors {names}; their keys: "
                f"{sorted(keys['detectors'])}"
            )


def check_grid_in_limits(grid: Grid, x_motor: Any, y_motor: Any) -> None:
    """Raise ``ValueError`` if a corner of ``grid`` lies outside the motors' soft limits.

    Motors without soft limits (simulated axes, EPICS limits 0 and 0), or whose
    limits cannot be read now, pass: the move itself then tells.
    """
    try:
        travel = motor_travel(x_motor, y_motor)
    except Exception:
        return
    if travel is None:
        return
    last_row, last_col = grid.n_rows - 1, grid.n_cols - 1
    for row, col in ((0, 0), (0, last_col), (last_row, 0), (last_row, last_col)):
        position = grid.to_position(row, col)
        for motor, value, (low, high) in zip((x_motor, y_motor), position, travel):
            if not low <= value <= high:
                raise ValueError(
                    f"grid corner (row {row}, col {col}) at (x={position[0]:g}, "
                    f"y={position[1]:g}) is outside the soft limits of {device_label(motor)}: "
                    f"{value:g} not in [{low:g}, {high:g}]; give a grid inside them (or widen "
                    "the limits)"
                )

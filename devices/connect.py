"""Wait for devices' PVs to connect: give up only when the connections stop coming.

``device.wait_for_connection(timeout=20)`` fails a slow but live IOC (a loaded
machine, a busy network) as soon as 20 s pass, and a dead one only after those 20 s
too. :func:`wait_for_connections` polls the signals' connection state instead and
gives up after ``stall`` seconds in which no further PV connected: a dead IOC or a
wrong prefix still fails after ``stall`` seconds (naming the PVs missing), a slow one
that keeps connecting is waited for, and the wait ends as soon as the last PV is in.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["wait_for_connections"]


def wait_for_connections(devices: Sequence[Any], stall: float = 20.0, poll: float = 0.1) -> float:
    """Wait until every (non-lazy) signal of ``devices`` is connected.

    Parameters
    ----------
    devices : sequence of ophyd.Device
        The devices to wait for.
    stall : float
        Seconds (> 0) without one more signal connecting after which the wait
        gives up; counted from the start until the first signal connects.
    poll : float
        Seconds (> 0) between looks at the connection state.

    Returns
    -------
    float
        Seconds the wait took.

    Raises
    ------
    TimeoutError
        ``stall`` seconds passed without a further connection; the message names
        (up to six of) the PVs still missing.
    ValueError
        ``stall`` or ``poll`` is not a finite number > 0.
    """
    for name, value in (("stall", stall), ("poll", poll)):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (number and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")
    signals = [walk.item for device in devices for walk in device.walk_signals()]
    t0 = since = time.monotonic()
    progress = 0
    while (n := sum(bool(sig.connected) for sig in signals)) < len(signals):
        now = time.monotonic()
        if n > progress:
            progress, since = n, now
        elif now - since > stall:
            missing = [_pv_name(sig) for sig in signals if not sig.connected]
            more = ", ..." if len(missing) > 6 else ""
            raise TimeoutError(
                f"{len(missing)} of {len(signals)} PVs not connected, and none more in the "
                f"last {stall:g} s: {', '.join(missing[:6])}{more}"
            )
        time.sleep(poll)
    for device in devices:  # all in: ophyd's own check (metadata included) returns at once
        device.wait_for_connection(timeout=stall)
    return time.monotonic() - t0


def _pv_name(signal: Any) -> str:
    """The PV of a signal (both of a read/write pair when they differ), else its name."""
    read, write = getattr(signal, "pvname", None), getattr(signal, "setpoint_pvname", None)
    if read and write and write != read:
        return f"{read} / {write}"
    return str(read or signal.name)

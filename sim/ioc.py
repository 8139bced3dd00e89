"""A simulated nanoprobe beamline IOC (caproto) serving two motors and a detector.

Run it in a terminal (loopback only; see :func:`loopback_env` for the EPICS
environment both sides need)::

    python -m fastscan.sim.ioc --phantom flakes --shape 40,60 --prefix SIM: --port 5094

Ctrl-C or SIGTERM stops it cleanly (exit 0) with one line on stderr naming the
signal and the prefix, interfaces and port it served.

PVs (``P`` = prefix):

- ``P:x``, ``P:y``: motor records (:class:`fastscan.sim.ioc_motor.SimMotor`).
  Column c is at x = x_start + c * x_step, row r at y = y_start + r * y_step
  (``--grid x_start,x_stop,y_start,y_stop``; default: pixel units from 0).
- ``P:det:acquire``: put 1 to acquire; the put completes when the value is
  ready (``--dwell`` seconds). ``P:det:value``: the image value at the pixel
  nearest the motors' readbacks (edge pixel off the grid), with seeded Poisson
  noise if ``--noise poisson``. ``P:det:count``: acquisitions so far.
  ``P:det:dwell``: acquisition time, seconds. ``P:det:noise`` (0/1) switches
  the Poisson noise, a put to ``P:det:seed`` re-seeds it.
  The simulator's record of what it revealed (no beamline has one; tests check
  it against the sampler's pixels): ``P:det:asked`` lists ``row * n_cols + col``
  of every pixel a reading depended on (step acquisitions, ROI acquisitions and
  every fly sample's path), valid for ``P:det:n_asked`` pixels; a put of 1 to
  ``P:det:asked_clear`` forgets it.

- ``P:xrf:*`` (only with element maps: ``--phantom xrf`` or a (C, H, W)
  ``--image``): an Xspress3-like ROI set, ``P:xrf:Acquire`` (put-complete),
  ``P:xrf:C1:ROI<k>:Value_RBV`` (counts of element k), ``...:Name``, ``...:TS``
  (fly time series), ``P:xrf:NumROIs``; see :mod:`fastscan.sim.ioc_xrf`.

- ``P:fly:*``: fly mode with position capture (segment start/end, velocity,
  sample period, kickoff/stop, busy/state/count, captured ``x``, ``y``,
  ``time``, ``values`` waveforms); see :mod:`fastscan.sim.ioc_fly`.

Fault injection (simulation only, for tests and demos):

- ``P:fault:stall`` = 1: motors accept new targets but never arrive (DMOV stays 0).
- ``P:fault:limit`` = 1: every new move stops at once on a limit switch (HLS/LLS).
- ``P:det:nan`` = 1: acquisitions return NaN.
- ``P:det:disconnect`` = 1: the detector PVs disconnect from every client and are
  no longer served (the motors stay up).

The IOC binds 127.0.0.1 only unless ``--interfaces`` says otherwise (the
host's ``EPICS_CAS_INTF_ADDR_LIST`` is ignored) and sets TCP_NODELAY on every
client socket (without it, put-with-callback round trips wait for delayed ACKs).

The code is split by concern: records (:mod:`fastscan.sim.ioc_records`,
:mod:`fastscan.sim.ioc_motor`, :mod:`fastscan.sim.ioc_fly`), serving
(:mod:`fastscan.sim.ioc_server`), command line (:mod:`fastscan.sim.ioc_cli`)
and subprocess helpers (:mod:`fastscan.sim.ioc_process`); this module keeps the
public names and the ``python -m`` entry point.
"""

from __future__ import annotations

from fastscan.sim.ioc_cli import build_ioc, main, parse_args
from fastscan.sim.ioc_process import READY, IocHandle, free_port, loopback_env, start_ioc_subprocess
from fastscan.sim.ioc_records import NanoprobeIOC, nanoprobe_ioc_class

__all__ = [
    "READY",
    "IocHandle",
    "NanoprobeIOC",
    "build_ioc",
    "free_port",
    "loopback_env",
    "main",
    "nanoprobe_ioc_class",
    "parse_args",
    "start_ioc_subprocess",
]

if __name__ == "__main__":
    main()

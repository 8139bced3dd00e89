"""IPython startup for an autonomous-scan tuning session on the simulated beamline.

Terminal 1 (the IOC; loopback only, port 5094)::

    python -m fastscan.sim.ioc --phantom flakes --shape 200,300 --prefix SIM: --port 5094 \\
        --velocity 200 --acceleration 2000

Terminal 2::

    ipython -i examples/ipython_startup.py

then, for example::

    a = scan(batch_size=50, max_coverage=0.15)          # run 1
    b = scan(batch_size=10, max_coverage=0.15)          # smaller batches
    c = scan(batch_size=10, erd_threshold=0.5, max_coverage=0.3)  # ERD stop rule
    compare(a, b, c)                                      # points, time, NRMSE
    f = fly(max_coverage=0.15)                            # adaptive fly scan (fast-fly)

(for ``fly`` start the IOC with ``--limit-margin 12``: room for the run-ups)

Set FASTSCAN_SIM=1 to run without an IOC (in-process SimDetector, instant motors).
FASTSCAN_CA_PORT and FASTSCAN_PREFIX (default 5094 and SIM:) must match the IOC's
``--port`` and ``--prefix``; without an answer within FASTSCAN_CONNECT_TIMEOUT s
(default 10) the startup stops, saying so.
Runs are stored in a Tiled catalogue in ./scans (``catalog[uid]``); PNGs of the live
reconstruction go to ./scans/png.
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np

from fastscan.sim.ioc import loopback_env

PORT = int(os.environ.get("FASTSCAN_CA_PORT", "5094"))
PREFIX = os.environ.get("FASTSCAN_PREFIX", "SIM:")
SHAPE = (200, 300)
SIM = os.environ.get("FASTSCAN_SIM", "0") == "1"
CONNECT_TIMEOUT = float(os.environ.get("FASTSCAN_CONNECT_TIMEOUT", "10"))  # s, per device

# EPICS settings must be in place before the first channel is created.
os.environ.update(loopback_env(PORT, PORT + 1))

from bluesky import RunEngine  # noqa: E402
from skimage.metrics import normalized_root_mse  # noqa: E402

from fastscan import Sampler  # noqa: E402
from fastscan.phantoms import make_phantom  # noqa: E402
from fastscan.plans import (  # noqa: E402
    Grid,
    LivePlot,
    TextProgress,
    autonomous_scan,
    load_run,
    local_catalog,
    replay_points,
    tiled_writer,
)

logging.basicConfig(level=logging.WARNING)
logging.getLogger("fastscan.plans").setLevel(logging.INFO)  # batch estimates vs actual times

# the IOC serves the image in pixel units from 0 (its default --grid)
grid = Grid(0.0, SHAPE[1] - 1.0, SHAPE[1], 0.0, SHAPE[0] - 1.0, SHAPE[0])
truth = make_phantom("flakes", SHAPE, seed=0)  # known here only because it is a simulation

if SIM:
    from ophyd.sim import SynAxis

    from fastscan.sim.detector import SimDetector

    x_motor, y_motor = SynAxis(name="stage_x"), SynAxis(name="stage_y")
    for axis in (x_motor, y_motor):  # give the instant sim axes a stage-like motion model
        axis.velocity.put(200.0)  # units/s (the same as the IOC example above)
        axis.acceleration.put(0.1)  # s to full speed, like an EpicsMotor's ACCL
    det = SimDetector("det", truth, grid, x_motor, y_motor)
else:
    from fastscan.devices import EpicsScalarDetector, NanoprobeStage

    stage = NanoprobeStage(f"{PREFIX}x", f"{PREFIX}y", name="stage")
    det = EpicsScalarDetector(f"{PREFIX}det:", name="det")
    try:
        stage.wait_for_connection(timeout=CONNECT_TIMEOUT)
        det.wait_for_connection(timeout=CONNECT_TIMEOUT)
    except TimeoutError:
        raise SystemExit(
            f"no IOC answers for {PREFIX}x, {PREFIX}y and {PREFIX}det: on 127.0.0.1 port {PORT} "
            f"within {CONNECT_TIMEOUT:g} s: start terminal 1's IOC first (python -m "
            f"fastscan.sim.ioc ... --prefix {PREFIX} --port {PORT}; FASTSCAN_CA_PORT and "
            "FASTSCAN_PREFIX must match it), or set FASTSCAN_SIM=1 to run without one"
        ) from None
    x_motor, y_motor = stage.x, stage.y

RE = RunEngine({}, call_returns_result=True)
catalog = local_catalog("scans")  # embedded Tiled server; runs of earlier sessions reopen
RE.subscribe(tiled_writer(catalog))
RE.subscribe(TextProgress(every=200))
RE.subscribe(LivePlot("scans/png", every=1))


def scan(batch_size: int = 50, max_coverage: float = 0.15, model=None, **stop_rule) -> str:
    """Run one autonomous scan with these sampler settings; returns the run uid."""
    sampler = Sampler(grid.shape, batch_size=batch_size, max_coverage=max_coverage, model=model,
                      pixel_pitch=grid.pitch, seed=0, **stop_rule)  # fmt: skip
    t0 = time.perf_counter()
    result = RE(autonomous_scan([det], x_motor, y_motor, grid=grid, signal="det_value",
                                sampler=sampler, recon_every=5))  # fmt: skip
    summary = result.plan_result
    print(f"{summary.n_points} points in {time.perf_counter() - t0:.1f} s, "
          f"coverage {summary.coverage:.1%}: {summary.stop_reason}")  # fmt: skip
    return summary.run_uids[0]


def fly(max_coverage: float = 0.15, dwell: float = 0.005):
    """Run one adaptive fly scan (FlySampler) on the same beamline; returns its summary."""
    from fastscan.fly import FlySampler
    from fastscan.motion import MotionModel
    from fastscan.plans import autonomous_fly_scan

    if SIM:
        flyer = det.flyer(velocity_limit=(200.0, 200.0), acceleration=(2000.0, 2000.0),
                          time_scale=1.0)  # fmt: skip
    else:
        from fastscan.devices.fly import EpicsFlyer

        flyer = EpicsFlyer(f"{PREFIX}fly:", name="flyer")
        flyer.wait_for_connection(timeout=10)
    motion = MotionModel.from_motors(x_motor, y_motor, dwell=dwell)  # limits, travel
    sampler = FlySampler(grid.shape, motion=motion, max_coverage=max_coverage, seed=0)
    t0 = time.perf_counter()
    summary = RE(autonomous_fly_scan(flyer, sampler, grid=grid, motion=motion)).plan_result
    nrmse = normalized_root_mse(truth, sampler.reconstruction)
    print(f"{summary.n_segments} segments, {summary.n_samples} samples in "
          f"{time.perf_counter() - t0:.1f} s (estimated {summary.estimated_s:.1f} s), "
          f"coverage {sampler.coverage:.1%}, NRMSE {nrmse:.3f}: {summary.stop_reason}")  # fmt: skip
    return summary


def compare(*uids: str) -> None:
    """Points, scan time and NRMSE (vs the simulation's ground truth) of stored runs."""
    print(f"{'run':<10}{'batch':>6}{'points':>8}{'time s':>9}{'NRMSE':>8}")
    for uid in uids:
        run = load_run(catalog, uid)
        points, values, _ = replay_points(run)
        start, stop = run.metadata["start"], run.metadata["stop"]
        params = start["fastscan"]["sampler_params"]
        replay = Sampler(tuple(params["shape"]), batch_size=params["batch_size"])
        replay.ingest(points, values)
        duration = stop["time"] - start["time"]
        nrmse = normalized_root_mse(truth, replay.reconstruction)
        print(f"{uid[:8]:<10}{params['batch_size']:>6}{len(points):>8}{duration:>9.1f}"
              f"{nrmse:>8.3f}")  # fmt: skip


print(__doc__.split("then, for example::")[1].split("Set FASTSCAN_SIM")[0])
_ = np  # available in the session

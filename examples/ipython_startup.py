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
    f = fly(max_coverage=0.15)                            # adaptive fly scan (fast-fly)
    g = fly(max_coverage=0.15, sweep_tour=True)           # a FlySampler knob
    compare(a, b, c, f, g)                                # points, time, NRMSE (step or fly)

(for ``fly`` start the IOC with ``--limit-margin 12``: room for the run-ups)
Ctrl-C pauses at the next point (twice: at once); then RE.resume() or RE.abort().
``last_sampler`` is the latest scan's sampler, also after an abort: its reconstruction,
or raise its cap and go on, e.g. ``last_sampler.max_coverage = 0.3`` and
``RE(autonomous_scan([det], x_motor, y_motor, grid=grid, signal="det_value",
sampler=last_sampler))`` (a step scan's); ``last_summary()`` is the aborted run's summary
(points, coverage, run uid), which RE.abort() does not hand back. The new run names
the run(s) it continued: ``fastscan.plans.sampler_from_run(load_run(catalog, -1),
catalog)`` rebuilds the whole scan from the catalogue.

Set FASTSCAN_SIM=1 to run without an IOC (in-process SimDetector, instant motors).
FASTSCAN_CA_PORT and FASTSCAN_PREFIX (default 5094 and SIM:) must match the IOC's
``--port`` and ``--prefix``; when FASTSCAN_CONNECT_TIMEOUT s (default 10) pass without
one more PV connecting, the startup stops, saying so.
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
from bluesky.utils import RequestAbort  # noqa: E402
from skimage.metrics import normalized_root_mse  # noqa: E402

from fastscan import Sampler  # noqa: E402
from fastscan.phantoms import make_phantom  # noqa: E402
from fastscan.plans import (  # noqa: E402
    Grid,
    LivePlot,
    TextProgress,
    autonomous_scan,
    last_summary,  # noqa: F401 (at the prompt, after RE.abort())
    load_run,
    local_catalog,
    replay_points,
    tiled_writer,
)

logging.basicConfig(level=logging.WARNING)
logging.getLogger("fastscan.plans").setLevel(logging.INFO)  # batch estimates vs actual times


class _AbortAsked(logging.Filter):
    """RE.abort() was asked for: bluesky's 'Run aborted' line, without a RequestAbort
    traceback that reads like a crash (other failures keep theirs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], RequestAbort):
            record.exc_info = record.exc_text = None
        return True


logging.getLogger("bluesky").addFilter(_AbortAsked())

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
    from fastscan.devices.connect import wait_for_connections

    stage = NanoprobeStage(f"{PREFIX}x", f"{PREFIX}y", name="stage")
    det = EpicsScalarDetector(f"{PREFIX}det:", name="det")
    try:  # gives up after CONNECT_TIMEOUT s in which no further PV connected
        wait_for_connections([stage, det], stall=CONNECT_TIMEOUT)
    except TimeoutError:
        raise SystemExit(
            f"no IOC answers for {PREFIX}x, {PREFIX}y and {PREFIX}det: on 127.0.0.1 port {PORT} "
            f"(no PV connected for {CONNECT_TIMEOUT:g} s): start terminal 1's IOC first (python -m "
            f"fastscan.sim.ioc ... --prefix {PREFIX} --port {PORT}; FASTSCAN_CA_PORT and "
            "FASTSCAN_PREFIX must match it), or set FASTSCAN_SIM=1 to run without one"
        ) from None
    x_motor, y_motor = stage.x, stage.y

RE = RunEngine({}, call_returns_result=True)
catalog = local_catalog("scans")  # embedded Tiled server; runs of earlier sessions reopen
RE.subscribe(tiled_writer(catalog))
RE.subscribe(TextProgress(every=200))
RE.subscribe(LivePlot("scans/png", every=1))


last_sampler = None  # the latest scan's sampler (kept when a scan is aborted)


def scan(batch_size: int = 50, max_coverage: float = 0.15, model=None, **knobs) -> str:
    """Run one autonomous scan with these Sampler settings; returns the run uid."""
    global last_sampler
    sampler = Sampler(grid.shape, batch_size=batch_size, max_coverage=max_coverage, model=model,
                      pixel_pitch=grid.pitch, seed=0, **knobs)  # fmt: skip
    last_sampler = sampler
    t0 = time.perf_counter()
    result = RE(autonomous_scan([det], x_motor, y_motor, grid=grid, signal="det_value",
                                sampler=sampler, recon_every=5))  # fmt: skip
    summary = result.plan_result
    print(f"{summary.n_points} points in {time.perf_counter() - t0:.1f} s, "
          f"coverage {summary.coverage:.1%}: {summary.stop_reason}")  # fmt: skip
    return summary.run_uids[0]


def fly(max_coverage: float = 0.15, dwell: float = 0.005, **knobs):
    """Run one adaptive fly scan (FlySampler, with these knobs) on the same beamline; returns
    its summary (``compare`` takes it)."""
    global last_sampler
    from fastscan.fly import FlySampler
    from fastscan.motion import MotionModel
    from fastscan.plans import autonomous_fly_scan

    if SIM:
        flyer = det.flyer(velocity_limit=(200.0, 200.0), acceleration=(2000.0, 2000.0),
                          time_scale=1.0)  # fmt: skip
    else:
        from fastscan.devices.fly import EpicsFlyer

        flyer = EpicsFlyer(f"{PREFIX}fly:", name="flyer")
        wait_for_connections([flyer], stall=CONNECT_TIMEOUT)
    motion = MotionModel.from_motors(x_motor, y_motor, dwell=dwell)  # limits, travel
    sampler = FlySampler(grid.shape, motion=motion, max_coverage=max_coverage, seed=0, **knobs)
    last_sampler = sampler
    t0 = time.perf_counter()
    summary = RE(autonomous_fly_scan(flyer, sampler, grid=grid, motion=motion)).plan_result
    nrmse = normalized_root_mse(truth, sampler.reconstruction)
    print(f"{summary.n_segments} segments, {summary.n_samples} samples in "
          f"{time.perf_counter() - t0:.1f} s (estimated {summary.estimated_s:.1f} s), "
          f"coverage {sampler.coverage:.1%}, NRMSE {nrmse:.3f}: {summary.stop_reason}")  # fmt: skip
    return summary


def compare(*runs) -> None:
    """Points, scan time and NRMSE (vs the simulation's ground truth) of stored runs.

    Each run: a uid (or prefix), a scan id, -1 for the latest, or what ``fly`` returned.
    The NRMSE is of an IDW reconstruction from the run's readings, step or fly alike.
    """
    print(f"{'run':<10}{'batch':>6}{'points':>8}{'time s':>9}{'NRMSE':>8}")
    for key in runs:
        run = load_run(catalog, key)
        points, values, _ = replay_points(run)
        start, stop = run.metadata["start"], run.metadata["stop"] or {}
        params = start["fastscan"]["sampler_params"]
        flown = start.get("plan_pattern") == "fastscan_fly"
        replay = Sampler(tuple(params["shape"]), batch_size=params["batch_size"])
        if len(points):
            replay.ingest(points, values)
        duration = stop.get("time", float("nan")) - start["time"]
        nrmse = normalized_root_mse(truth, replay.reconstruction)
        batch = "fly" if flown else params["batch_size"]
        print(f"{start['uid'][:8]:<10}{batch:>6}{len(points):>8}{duration:>9.1f}"
              f"{nrmse:>8.3f}")  # fmt: skip


print(__doc__.split("then, for example::")[1].split("Set FASTSCAN_SIM")[0])
_ = np  # available in the session

"""A bluesky-queueserver profile collection that runs fastscan plans.

Start the manager on this directory (with Redis running)::

    FASTSCAN_CATALOG=scans FASTSCAN_PREFIX=SIM: \
    start-re-manager --startup-dir examples/queueserver_profile \
        --existing-plans-devices /tmp/fastscan_qs_plans_devices.yaml \
        --update-existing-plans-devices ENVIRONMENT_OPEN

Environment:

- ``FASTSCAN_CATALOG``: local catalogue directory (default ``fastscan-data``), or
  ``FASTSCAN_TILED_URI`` (+ ``TILED_API_KEY``) for a facility Tiled server;
- ``FASTSCAN_PREFIX``: PV prefix of the simulated IOC (``python -m fastscan.sim.ioc``)
  or of real PVs with the same layout (``<prefix>x``, ``<prefix>y``, ``<prefix>det:``);
  unset: in-process simulated axes and detector (no EPICS);
- ``FASTSCAN_SHAPE``: grid rows,cols for the in-process simulation (default 40,60);
- ``FASTSCAN_CONNECT_TIMEOUT``: seconds (default 20) the PVs may go without one more of
  them connecting before the startup gives up: a dead IOC or a wrong prefix fails after
  that long, a slow but live one (a loaded machine, a busy network) is waited for.

Devices: ``det`` (point detector, reading ``det_value``), ``x``, ``y`` (stage axes),
``flyer`` (fly mode with position capture).
Plans: ``fastscan_scan`` (an ``autonomous_scan`` on a grid given by numbers, so the
queue's JSON can carry it), ``fastscan_fly_scan`` (an ``autonomous_fly_scan`` with a
``FlySampler``), plus bluesky's ``count`` for checks.
"""

import os

from bluesky import RunEngine
from bluesky.plans import count  # noqa: F401  (offered by the queue)

from fastscan.plans import Grid, autonomous_scan, connect_catalog, local_catalog, tiled_writer

RE = RunEngine({})
if os.environ.get("FASTSCAN_TILED_URI"):
    catalog = connect_catalog(os.environ["FASTSCAN_TILED_URI"], os.environ.get("TILED_API_KEY"))
else:
    catalog = local_catalog(os.environ.get("FASTSCAN_CATALOG", "fastscan-data"))
RE.subscribe(tiled_writer(catalog))

_prefix = os.environ.get("FASTSCAN_PREFIX")
if _prefix:
    from fastscan.devices import EpicsScalarDetector, NanoprobeStage
    from fastscan.devices.connect import wait_for_connections
    from fastscan.devices.fly import EpicsFlyer

    stage = NanoprobeStage(f"{_prefix}x", f"{_prefix}y", name="stage")
    det = EpicsScalarDetector(f"{_prefix}det:", name="det")
    flyer = EpicsFlyer(f"{_prefix}fly:", name="flyer")
    _stall = float(os.environ.get("FASTSCAN_CONNECT_TIMEOUT", 20))
    _took = wait_for_connections((stage, det, flyer), stall=_stall)
    print(f"fastscan profile: the PVs of {_prefix!r} connected in {_took:.1f} s", flush=True)
    x, y = stage.x, stage.y
else:
    from ophyd.sim import SynAxis

    from fastscan.phantoms import make_phantom
    from fastscan.sim.detector import SimDetector

    _rows, _cols = (int(v) for v in os.environ.get("FASTSCAN_SHAPE", "40,60").split(","))
    x, y = SynAxis(name="x"), SynAxis(name="y")
    det = SimDetector("det", make_phantom("flakes", (_rows, _cols), seed=0),
                      Grid(0.0, _cols - 1.0, _cols, 0.0, _rows - 1.0, _rows), x, y)  # fmt: skip
    flyer = det.flyer(velocity_limit=(200.0, 200.0), acceleration=(2000.0, 2000.0))


def fastscan_scan(
    detectors,
    x_motor,
    y_motor,
    *,
    x_start: float,
    x_stop: float,
    n_cols: int,
    y_start: float,
    y_stop: float,
    n_rows: int,
    signal: str = "det_value",
    max_coverage: float = 0.1,
    batch_size: int = 20,
    seed: int = 0,
    recon_every: int = 5,
    md=None,
):
    """Autonomous sparse scan of an n_rows x n_cols grid (motor units); one run.

    ``detectors``, ``x_motor`` and ``y_motor`` carry no annotation, so the queue
    server turns the device names it receives into the devices.

    Parameters
    ----------
    detectors : list of device names
    x_motor, y_motor : device names of the stage axes
    x_start, x_stop, n_cols, y_start, y_stop, n_rows : the grid
    signal : reading key the sampler receives
    max_coverage, batch_size, seed : sampler settings
    recon_every : batches between reconstruction snapshots
    md : extra run metadata
    """
    grid = Grid(x_start, x_stop, n_cols, y_start, y_stop, n_rows)
    return (yield from autonomous_scan(
        detectors, x_motor, y_motor, grid=grid, signal=signal, max_coverage=max_coverage,
        sampler_kwargs={"batch_size": batch_size, "seed": seed}, recon_every=recon_every, md=md,
    ))  # fmt: skip


def fastscan_fly_scan(
    flyer,
    x_motor,
    y_motor,
    *,
    x_start: float,
    x_stop: float,
    n_cols: int,
    y_start: float,
    y_stop: float,
    n_rows: int,
    max_coverage: float = 0.1,
    dwell: float = 0.005,
    seed: int = 0,
    md=None,
):
    """Adaptive fly scan (FlySampler chooses the segments) of an n_rows x n_cols grid; one run.

    The motion model (velocities, accelerations, travel) is read from the motors.
    """
    from fastscan.fly import FlySampler
    from fastscan.motion import MotionModel
    from fastscan.plans import autonomous_fly_scan

    grid = Grid(x_start, x_stop, n_cols, y_start, y_stop, n_rows)
    motion = MotionModel.from_motors(x_motor, y_motor, dwell=dwell)
    sampler = FlySampler(grid.shape, motion=motion, max_coverage=max_coverage, seed=seed)
    return (yield from autonomous_fly_scan(flyer, sampler, grid=grid, motion=motion, md=md))

"""The simulated beamline of the IPython-session tests: a 40 x 60 flakes phantom served in
pixel units (as the simulated IOC serves it), a point detector on two ``SynAxis`` motors,
and a flyer over the same image (test_bluesky_user_pass.py, test_bluesky_user_pass2.py)."""

from __future__ import annotations

from ophyd.sim import SynAxis

from fastscan.motion import MotionModel
from fastscan.phantoms import make_phantom, make_xrf_maps
from fastscan.plans import Grid
from fastscan.sim.detector import SimDetector
from fastscan.sim.flyer import SimFlyer

SHAPE = (40, 60)
GRID = Grid(0.0, 59.0, 60, 0.0, 39.0, 40)  # pixel units, as the simulated IOC serves
IMAGE = make_phantom("flakes", SHAPE, seed=0)
MOTION = MotionModel((1000.0, 1000.0), (1e4, 1e4), dwell=0.01,
                     travel=((-5.0, 64.0), (-5.0, 44.0)))  # fmt: skip


def point_rig() -> tuple[SimDetector, SynAxis, SynAxis]:
    """A point detector over :data:`IMAGE` and its two motors, x and y."""
    x, y = SynAxis(name="x"), SynAxis(name="y")
    return SimDetector("det", IMAGE, GRID, x, y), x, y


def sim_flyer() -> SimFlyer:
    """A flyer over :data:`IMAGE` with :data:`MOTION`'s limits and travel."""
    return SimFlyer("flyer", IMAGE, GRID, velocity_limit=MOTION.velocity,
                    acceleration=MOTION.acceleration, travel=MOTION.travel)  # fmt: skip


def xrf_rig(elements: tuple[str, ...] = ("Fe", "Cu"), seed: int = 41):
    """One point detector per element over seeded XRF maps, and their two motors.

    Returns ``(maps, rois, x, y)``: ``maps`` (n_elements, *SHAPE) in ``elements``' order,
    ``rois[i]`` reading ``maps[i]`` as signal ``f"{elements[i]}_value"``.
    """
    maps, names = make_xrf_maps(SHAPE, seed=seed)
    maps = maps[[names.index(e) for e in elements]]
    x, y = SynAxis(name="x"), SynAxis(name="y")
    return maps, [SimDetector(e, m, GRID, x, y) for e, m in zip(elements, maps)], x, y

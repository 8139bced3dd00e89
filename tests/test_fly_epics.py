"""The simulated beamline flies over real Channel Access (caproto IOC subprocess on loopback)."""

from __future__ import annotations

import os
import threading

import epics
import numpy as np
import pytest
from bluesky import RunEngine
from bluesky.utils import RunEngineInterrupted
from conftest import start_test_ioc
from fly_source import RowRasterSource

from fastscan.metrics import nrmse
from fastscan.motion import MotionModel
from fastscan.phantoms import make_phantom
from fastscan.plans import autonomous_fly_scan
from fastscan.plans.fly import FlyFault
from fastscan.plans.grid import Grid
from fastscan.sim.flyer import SimFlyer

pytestmark = pytest.mark.epics

SHAPE = (40, 60)
GRID = Grid(0.0, 59.0, 60, 0.0, 39.0, 40)  # the test IOC's pixel-unit grid
VELOCITY, ACCEL, MARGIN, SEED = 400.0, 1e4, 3.0, 7


@pytest.fixture(scope="module")
def fly_ioc():
    fds_before = len(os.listdir("/proc/self/fd"))
    handle = start_test_ioc(
        "V", velocity=VELOCITY, acceleration=ACCEL, noise="poisson", seed=SEED,
        extra_args=["--limit-margin", str(MARGIN), "--fly-time-scale", "1"],
    )  # fmt: skip
    yield handle, fds_before
    handle.stop()


@pytest.fixture(scope="module")
def flyer(fly_ioc):
    from fastscan.devices.fly import EpicsFlyer

    dev = EpicsFlyer(fly_ioc[0].pv("fly:"), name="flyer")
    dev.wait_for_connection(timeout=20)
    yield dev
    dev.destroy()


def _motion() -> MotionModel:
    lo, hi = -MARGIN, (59 + MARGIN, 39 + MARGIN)
    return MotionModel((VELOCITY, VELOCITY), (ACCEL, ACCEL), dwell=0.005,
                       travel=((lo, hi[0]), (lo, hi[1])))  # fmt: skip


def test_starting_the_ioc_leaks_no_file_descriptor(fly_ioc):
    handle, before = fly_ioc
    assert handle.alive
    assert len(os.listdir("/proc/self/fd")) == before  # the mkstemp log fd is closed


def test_fly_scan_over_channel_access_stores_every_sample_and_matches_the_replay(flyer):
    source = RowRasterSource(SHAPE, step=8, per_batch=3, max_rows=10)
    docs = []
    RE = RunEngine(call_returns_result=True)
    summary = RE(
        autonomous_fly_scan(flyer, source, grid=GRID, motion=_motion()),
        lambda name, doc: docs.append((name, doc)),
    ).plan_result
    pages = [d for n, d in docs if n == "event_page"]
    stored = np.concatenate([p["data"]["flyer_value"] for p in pages])
    xs = np.concatenate([p["data"]["flyer_x"] for p in pages])
    assert summary.n_samples == 600 == len(stored) == sum(source.ingest_calls)
    np.testing.assert_array_equal(stored, source.all_values)
    assert xs.min() == 0.0 and xs.max() == 59.0  # position readbacks, not pixel indices
    assert next(d for n, d in docs if n == "stop")["num_events"]["fly"] == 600
    for report in summary.segments:  # a real flight: at least its modelled duration
        assert report.actual_s >= 60 * 0.005
    # the motor records followed the flight: at rest after the last run-out (200 px/s, 2 px)
    ioc = flyer.prefix[: -len("fly:")]
    assert epics.caget(f"{ioc}x.DMOV", use_monitor=False) == 1
    x_end = epics.caget(f"{ioc}x.RBV", use_monitor=False)
    assert x_end == pytest.approx(-2.5 if source.flown % 2 == 0 else 61.5)
    assert epics.caget(f"{ioc}y.RBV", use_monitor=False) == source.rows[9]

    # the same scan in-process, same seed: the same readings, so the same NRMSE
    truth = make_phantom("flakes", SHAPE, seed=0)
    replay_source = RowRasterSource(SHAPE, step=8, per_batch=3, max_rows=10)
    sim = SimFlyer("flyer", truth, GRID, velocity_limit=(VELOCITY, VELOCITY),
                   acceleration=(ACCEL, ACCEL), noise="poisson", seed=SEED)  # fmt: skip
    RunEngine()(autonomous_fly_scan(sim, replay_source, grid=GRID, motion=_motion()))
    np.testing.assert_array_equal(replay_source.all_points, source.all_points)
    np.testing.assert_array_equal(replay_source.all_values, source.all_values)
    epics_nrmse = nrmse(truth, source.reconstruction)
    assert epics_nrmse == nrmse(truth, replay_source.reconstruction)
    assert 0 < epics_nrmse < 0.5


def test_the_ioc_refuses_a_flight_the_stage_cannot_do(flyer):
    source = RowRasterSource(SHAPE, max_rows=2)
    fast = MotionModel((1e4, 1e4), (ACCEL, ACCEL), dwell=0.001)  # claims more than the IOC
    docs = []
    with pytest.raises(FlyFault, match=r"segment refused: fly velocity 1000.0 units/s .* 400.0"):
        RunEngine()(autonomous_fly_scan(flyer, source, grid=GRID, motion=fast),
                    lambda n, d: docs.append((n, d)))  # fmt: skip
    assert docs[-1][1]["exit_status"] == "fail" and source.ingest_calls == []
    assert flyer.state.get(use_monitor=False) == "error"


def test_hard_pause_mid_flight_then_resume_flies_the_segment_again_and_stores_it_once(flyer):
    source = RowRasterSource(SHAPE, step=8, per_batch=2, max_rows=5)
    RE = RunEngine(call_returns_result=True)
    docs = []

    def pauser(name, doc):
        docs.append((name, doc))
        if name == "event_page" and len([n for n, _ in docs if n == "event_page"]) == 1:
            # request_pause blocks on the RunEngine's loop: ask from another thread
            threading.Timer(0.1, RE.request_pause, kwargs={"defer": False}).start()

    with pytest.raises(RunEngineInterrupted):
        RE(autonomous_fly_scan(flyer, source, grid=GRID, motion=_motion()), pauser)
    assert RE.state == "paused"
    result = RE.resume()
    assert result.exit_status == "success"
    stored = np.concatenate([d["data"]["flyer_value"] for n, d in docs if n == "event_page"])
    assert len(stored) == 300 == sum(source.ingest_calls)
    np.testing.assert_array_equal(stored, source.all_values)
    pts = source.all_points
    assert len(np.unique(pts[:, 0] * 60 + pts[:, 1])) == 300  # every row once

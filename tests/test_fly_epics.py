"""The simulated beamline flies over real Channel Access (caproto IOC subprocess on loopback)."""

from __future__ import annotations

import os
import threading
import time

import epics
import numpy as np
import pytest
from bluesky import RunEngine
from bluesky.utils import RunEngineInterrupted
from conftest import start_test_ioc
from fly_source import RowRasterSource
from honesty import IocRecord, assert_honest_devices

from fastscan.fly import FlySampler
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


def _fast_fly() -> FlySampler:
    # pixel-unit grid: the sampler's model and the plan's are the same
    return FlySampler(SHAPE, motion=_motion(), max_coverage=0.3, initial_spacing=6, seed=0)


def test_fast_fly_over_channel_access_stores_every_sample_and_matches_the_replay(flyer, fly_ioc):
    sampler = _fast_fly()
    docs = []
    record = IocRecord(fly_ioc[0], SHAPE)
    record.clear()
    RE = RunEngine(call_returns_result=True)
    summary = RE(
        autonomous_fly_scan(flyer, sampler, grid=GRID, motion=_motion()),
        lambda name, doc: docs.append((name, doc)),
    ).plan_result
    assert_honest_devices(sampler, record)  # every sample's path: the sampler's pixels only
    pages = [d for n, d in docs if n == "event_page"]
    stored = np.concatenate([p["data"]["flyer_value"] for p in pages])
    xs = np.concatenate([p["data"]["flyer_x"] for p in pages])
    ys = np.concatenate([p["data"]["flyer_y"] for p in pages])
    stop = next(d for n, d in docs if n == "stop")
    assert stop["exit_status"] == "success" and stop["num_events"]["fly"] == len(stored)
    # every sample stored and ingested (a pixel crossed twice is one measured pixel, averaged)
    assert summary.n_samples == len(stored) == len(sampler.trajectory.points)
    np.testing.assert_array_equal(sampler.trajectory.points[:, 1], np.rint(xs).astype(int))
    assert sampler.coverage >= 0.3 and summary.stop_reason.startswith("coverage")
    rows, cols = np.rint(ys).astype(int), np.rint(xs).astype(int)  # pixel-unit grid
    assert sampler.measured_mask[rows, cols].all()  # each stored sample is a measured pixel
    full_rows = [r for r in summary.segments if r.start[0] == r.end[0] and r.n_samples == 60]
    assert len(full_rows) < len(summary.segments)  # the adaptive part flew partial/columns
    for report in summary.segments:  # a real flight: at least its modelled duration
        assert report.actual_s >= report.n_samples * 0.005
        assert report.n_samples == report.n_expected
    # the motor records followed the flights and rest where the last one stopped
    assert epics.caget(f"{flyer.prefix[:-4]}x.DMOV", use_monitor=False) == 1

    # the same scan in-process, same seed: the same readings, so the same decisions and NRMSE
    truth = make_phantom("flakes", SHAPE, seed=0)
    replay = _fast_fly()
    sim = SimFlyer("flyer", truth, GRID, velocity_limit=(VELOCITY, VELOCITY),
                   acceleration=(ACCEL, ACCEL), noise="poisson", seed=SEED)  # fmt: skip
    RunEngine()(autonomous_fly_scan(sim, replay, grid=GRID, motion=_motion()))
    assert_honest_devices(replay, sim)
    np.testing.assert_array_equal(replay.measured_points, sampler.measured_points)
    np.testing.assert_array_equal(replay.measured_values, sampler.measured_values)
    epics_nrmse = nrmse(truth, sampler.reconstruction)
    assert epics_nrmse == nrmse(truth, replay.reconstruction)
    assert 0 < epics_nrmse < nrmse(truth, np.zeros_like(truth))  # better than nothing


def test_row_raster_over_channel_access_reads_exact_rows_and_rests_after_the_run_out(
    flyer, fly_ioc
):
    source = RowRasterSource(SHAPE, step=8, per_batch=3, max_rows=4)
    docs = []
    record = IocRecord(fly_ioc[0], SHAPE)
    record.clear()
    RunEngine()(autonomous_fly_scan(flyer, source, grid=GRID, motion=_motion()),
                lambda n, d: docs.append((n, d)))  # fmt: skip
    assert_honest_devices(source, record)
    assert record.asked_mask[source.rows[:4]].all()  # four whole rows, nothing else
    pages = [d for n, d in docs if n == "event_page"]
    xs = np.concatenate([p["data"]["flyer_x"] for p in pages])
    assert len(xs) == 240 == sum(source.ingest_calls)
    assert xs.min() == 0.0 and xs.max() == 59.0  # position readbacks, not pixel indices
    np.testing.assert_array_equal(
        source.all_points[:60], np.stack([np.zeros(60, int), np.arange(60)], 1)
    )
    # at rest after the last run-out: 200 px/s, 2 px ramp + half a pixel past the end
    ioc = flyer.prefix[: -len("fly:")]
    assert epics.caget(f"{ioc}x.DMOV", use_monitor=False) == 1
    x_end = epics.caget(f"{ioc}x.RBV", use_monitor=False)
    assert x_end == pytest.approx(-2.5 if source.flown % 2 == 0 else 61.5)
    assert epics.caget(f"{ioc}y.RBV", use_monitor=False) == source.rows[3]


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


def test_a_stopped_flight_keeps_the_samples_it_finished(flyer):
    # row 20 at 20 px/s: 3 s of flight; stop it after about 0.5 s
    flyer.prepare({"start": (0.0, 20.0), "end": (59.0, 20.0), "velocity": 20.0,
                   "period": 0.05}).wait(5)  # fmt: skip
    flyer.kickoff().wait(5)
    done = flyer.complete()
    time.sleep(0.5)
    flyer.abort.put(1)
    with pytest.raises(RuntimeError, match="flight ended in state 'stopped'"):
        done.wait(5)
    assert flyer.state.get(use_monitor=False) == "stopped"
    n = int(flyer.npts.get(use_monitor=False))
    assert 0 < n < 60
    x = np.asarray(flyer.cap_x.get(use_monitor=False))[:n]
    np.testing.assert_array_equal(x, np.arange(n, dtype=float))  # the first n pixels, in order
    assert epics.caget(f"{flyer.prefix[:-4]}x.DMOV", use_monitor=False) == 1

"""End to end over real Channel Access: caproto IOC <- ophyd devices <- RunEngine + plan.

Also the recoverable faults (motor stall, limit switch, soft limit, NaN reading):
the plan stops with a message naming the PV and the point, and what was
measured stays stored (and reached the sampler).
"""

from __future__ import annotations

import threading

import epics
import numpy as np
import pytest
from bluesky import RunEngine
from bluesky.utils import RunEngineInterrupted
from honesty import IocRecord, Stored, assert_honest_devices
from ophyd.sim import SynAxis
from skimage.metrics import normalized_root_mse

from fastscan import Sampler
from fastscan.phantoms import make_phantom
from fastscan.plans import Grid, ScanFault, autonomous_scan, load_run, replay_points
from fastscan.sim.detector import SimDetector

pytestmark = [pytest.mark.epics, pytest.mark.timeout(120)]

SHAPE = (40, 60)
GRID = Grid(0.0, 59.0, 60, 0.0, 39.0, 40)  # the IOC's default: pixel units from 0
IMAGE = make_phantom("flakes", SHAPE, seed=0)


@pytest.fixture
def rig(devices, catalog, writer):
    RE = RunEngine({}, call_returns_result=True)
    RE.subscribe(writer)
    return RE, catalog, *devices


def _sampler(coverage=0.035, batch=10):
    # batches of <= 10 points are routed exactly (Held-Karp), so the route, and with
    # it the scan, does not depend on how much CPU time the route search got
    return Sampler(SHAPE, batch_size=batch, max_coverage=coverage, seed=1, pixel_pitch=GRID.pitch)


def _sim_replay(noise_seed=None):
    """The same scan in-process: SimDetector over the same image, instant axes."""
    x, y = SynAxis(name="stage_x"), SynAxis(name="stage_y")
    noise = None if noise_seed is None else "poisson"
    det = SimDetector("det", IMAGE, GRID, x, y, noise=noise, seed=noise_seed or 0)
    sampler = _sampler()
    RunEngine({})(autonomous_scan([det], x, y, grid=GRID, signal="det_value", sampler=sampler))
    assert_honest_devices(sampler, det)
    return sampler


@pytest.mark.parametrize("noise_seed", [None, 7])
def test_scan_over_channel_access_matches_sim_replay(rig, sim_ioc, noise_seed):
    RE, store, stage, det = rig
    epics.caput(sim_ioc.pv("det:noise"), int(noise_seed is not None), wait=True)
    epics.caput(sim_ioc.pv("det:seed"), noise_seed or 0, wait=True)
    record = IocRecord(sim_ioc, SHAPE)
    record.clear()
    try:
        sampler = _sampler()
        result = RE(autonomous_scan([det], stage.x, stage.y, grid=GRID, signal="det_value",
                                    sampler=sampler))  # fmt: skip
    finally:
        epics.caput(sim_ioc.pv("det:noise"), 0, wait=True)
    assert_honest_devices(sampler, record)  # the IOC revealed exactly the sampler's pixels
    summary = result.plan_result
    assert result.exit_status == "success" and summary.coverage == pytest.approx(0.035, abs=0.005)

    run = load_run(store, summary.run_uids[0])
    points, values, _ = replay_points(run)
    table = run["primary"].read()
    assert len(points) == summary.n_points == sampler.n_measured
    # the motors really went there: readbacks map back to the recorded pixels
    readback = np.stack([table["stage_x"], table["stage_y"]], axis=1)
    np.testing.assert_array_equal(GRID.to_indices(readback), points)
    if noise_seed is None:
        np.testing.assert_array_equal(values, IMAGE[points[:, 0], points[:, 1]])

    replay = _sim_replay(noise_seed)
    np.testing.assert_array_equal(replay.measured_points, points)
    np.testing.assert_array_equal(replay.measured_values, values)
    assert normalized_root_mse(IMAGE, replay.reconstruction) == pytest.approx(
        normalized_root_mse(IMAGE, sampler.reconstruction)
    )


def _inject_at(n_event, pv, value):
    """A document callback that puts ``value`` to ``pv`` after the n-th primary event."""
    count = {"n": 0}

    def callback(name, doc):
        if name == "event" and "det_value" in doc["data"]:
            count["n"] += 1
            if count["n"] == n_event:
                epics.caput(pv, value, wait=True)

    return callback


def _check_stored(store, sampler, record, *, extra=0, grid=GRID):
    run = load_run(store, -1)
    assert run.metadata["stop"]["exit_status"] == "fail"
    points, values, _ = replay_points(run)
    assert len(points) == sampler.n_measured + extra
    n = sampler.n_measured
    np.testing.assert_array_equal(points[:n], sampler.measured_points)
    # the IOC revealed what is stored (its pixels: those of its own grid, at the positions)
    assert_honest_devices(Stored(GRID.to_indices(grid.to_positions(points)), SHAPE), record)
    return run, points, values


def _record(ioc) -> IocRecord:
    """The IOC's record of what it revealed, cleared (the module's IOC served other tests)."""
    record = IocRecord(ioc, SHAPE)
    record.clear()
    return record


@pytest.mark.parametrize(
    ("fault", "match"),
    [
        ("fault:stall", r"move to point #\d+ \(row=\d+, col=\d+\).*stage_[xy] \(PV FS\w+:[xy]\)"
                        r".*did not finish the move.*Timeout"),
        ("fault:limit", r"move to point #\d+ .*stage_[xy] \(PV FS\w+:[xy]\) did not finish"),
    ],
)  # fmt: skip
def test_motor_faults_stop_with_pv_and_point(rig, sim_ioc, fault, match):
    RE, store, stage, det = rig
    sampler = _sampler(coverage=0.1)
    record = _record(sim_ioc)
    RE.subscribe(_inject_at(30, sim_ioc.pv(fault), 1))
    try:
        with pytest.raises(ScanFault, match=match) as info:
            RE(autonomous_scan([det], stage.x, stage.y, grid=GRID, signal="det_value",
                               sampler=sampler, move_timeout=1.0))  # fmt: skip
    finally:
        epics.caput(sim_ioc.pv(fault), 0, wait=True)
        stage.x.stop()
        stage.y.stop()
    assert info.value.summary.n_points == sampler.n_measured == 30
    _check_stored(store, sampler, record)


def test_soft_limit_names_motor_and_point(rig, sim_ioc, monkeypatch):
    RE, store, stage, det = rig
    wide = Grid(0.0, 80.0, 60, 0.0, 39.0, 40)  # beyond the IOC's x limit 59.5
    sampler = _sampler()
    record = _record(sim_ioc)
    # refused when the plan is made (tests/test_bluesky_user_pass.py); limits the check
    # cannot see (changed after it) still stop the run at the move:
    import fastscan.plans.autonomous as autonomous

    monkeypatch.setattr(autonomous, "check_grid_in_limits", lambda *args: None)
    with pytest.raises(ScanFault, match=r"stage_x \(PV FS\w+:x\) did not finish.*LimitError"):
        RE(autonomous_scan([det], stage.x, stage.y, grid=wide, signal="det_value",
                           sampler=sampler))  # fmt: skip
    _check_stored(store, sampler, record, grid=wide)


def test_nan_reading_stops_and_is_stored(rig, sim_ioc):
    RE, store, stage, det = rig
    sampler = _sampler(coverage=0.1)
    record = _record(sim_ioc)
    RE.subscribe(_inject_at(25, sim_ioc.pv("det:nan"), 1))
    try:
        with pytest.raises(
            ScanFault, match=r"non-finite reading nan of 'det_value' \(PV:FS\w+:det:value\) "
            r"at point #25 \(row=\d+, col=\d+\)",
        ):  # fmt: skip
            RE(autonomous_scan([det], stage.x, stage.y, grid=GRID, signal="det_value",
                               sampler=sampler))  # fmt: skip
    finally:
        epics.caput(sim_ioc.pv("det:nan"), 0, wait=True)
    _, _, values = _check_stored(store, sampler, record, extra=1)
    assert sampler.n_measured == 25 and np.isnan(values[-1]) and np.isfinite(values[:-1]).all()


def test_pause_resume_abort_over_channel_access(rig, sim_ioc):
    RE, store, stage, det = rig
    sampler = _sampler(coverage=0.1)
    record = _record(sim_ioc)
    count = {"n": 0}

    def pauser(name, doc):
        if name == "event" and "det_value" in doc["data"]:
            count["n"] += 1
            if count["n"] in (15, 40):  # hard pause: interrupts a move or trigger in flight
                threading.Thread(target=RE.request_pause, kwargs={"defer": False}).start()

    RE.subscribe(pauser)
    with pytest.raises(RunEngineInterrupted):
        RE(autonomous_scan([det], stage.x, stage.y, grid=GRID, signal="det_value",
                           sampler=sampler))  # fmt: skip
    with pytest.raises(RunEngineInterrupted):
        RE.resume()
    assert RE.abort().exit_status == "abort"
    run = load_run(store, -1)
    points, values, order = replay_points(run)
    assert len(points) == sampler.n_measured >= 40
    np.testing.assert_array_equal(points, sampler.measured_points)
    np.testing.assert_array_equal(values, IMAGE[points[:, 0], points[:, 1]])
    np.testing.assert_array_equal(order, np.arange(len(points)))
    # the IOC read every pixel the sampler holds; beyond them, at most the one a trigger in
    # flight when the pause came read (the RunEngine dropped it; the run was aborted, so it
    # was not read again): a reading lost, not a pixel leaked (12 of 12 runs: none)
    asked, held = record.asked_mask, sampler.measured_mask
    assert not (held & ~asked).any() and (asked & ~held).sum() <= 1

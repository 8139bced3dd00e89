"""autonomous_scan in-process with ophyd.sim axes and the SimDetector (no EPICS)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from bluesky import RunEngine
from bluesky.utils import RunEngineInterrupted
from honesty import Stored, assert_honest_devices
from ophyd.sim import SynAxis
from skimage.metrics import normalized_root_mse

import fastscan
from fastscan import Sampler
from fastscan.phantoms import make_phantom
from fastscan.plans import (
    Grid,
    LivePlot,
    ScanFault,
    TextProgress,
    autonomous_scan,
    load_run,
    rel_autonomous_scan,
    replay_points,
    sampler_from_run,
)
from fastscan.sim.detector import SimDetector

SHAPE = (40, 60)
GRID = Grid(0.0, 5.9, 60, 0.0, 3.9, 40)


@pytest.fixture(scope="module")
def image():
    return make_phantom("flakes", SHAPE, seed=0)


@pytest.fixture
def rig(image, catalog, writer):
    x, y = SynAxis(name="x"), SynAxis(name="y")
    det = SimDetector("det", image, GRID, x, y)
    RE = RunEngine({}, call_returns_result=True)
    RE.subscribe(writer)
    return RE, catalog, det, x, y


def _sampler(coverage=0.06, batch=20):
    return Sampler(SHAPE, batch_size=batch, max_coverage=coverage, seed=0, pixel_pitch=GRID.pitch)


def test_scan_stores_every_reading_and_replays(rig, image):
    RE, store, det, x, y = rig
    sampler = _sampler()
    reports = []
    result = RE(
        autonomous_scan([det], x, y, grid=GRID, signal="det_value", sampler=sampler,
                        recon_every=2, md={"sample": "flakes"}, progress=reports.append)
    )  # fmt: skip
    summary = result.plan_result
    assert result.exit_status == "success"
    assert summary.run_uids == list(result.run_start_uids)
    assert summary.n_points == sampler.n_measured == det.n_triggers
    assert_honest_devices(sampler, det)
    assert summary.coverage == pytest.approx(0.06, abs=0.01)
    assert "max_coverage" in summary.stop_reason

    run = load_run(store, summary.run_uids[0])
    assert run.metadata["stop"]["exit_status"] == "success"
    md = run.metadata["start"]
    assert md["sample"] == "flakes"
    assert md["fastscan"]["grid"] == GRID.to_dict()
    assert md["fastscan"]["sampler_params"]["batch_size"] == 20
    assert md["fastscan"]["version"] == fastscan.__version__
    assert len(md["fastscan"]["model"]["sha256"]) == 64

    points, values, order = replay_points(run)
    assert len(run["primary"].read()["fastscan_seq"]) == summary.n_points
    np.testing.assert_array_equal(order, np.arange(summary.n_points))
    np.testing.assert_array_equal(points, sampler.measured_points)
    np.testing.assert_array_equal(values, image[points[:, 0], points[:, 1]])
    table = run["primary"].read()
    np.testing.assert_allclose(table["x"], GRID.to_positions(points)[:, 0])
    np.testing.assert_allclose(table["y"], GRID.to_positions(points)[:, 1])

    # reconstruction stream: external HDF5 arrays with the grid's shape, last one = final state
    snapshots = run["reconstruction"]
    data_keys = snapshots.metadata["data_keys"]
    assert data_keys["fastscan_reconstruction"]["external"] == "STREAM:"
    assert data_keys["fastscan_measured"]["dtype_numpy"] == "|u1"
    recon = snapshots["fastscan_reconstruction"].read()
    assert recon.shape == (len(snapshots["fastscan_batch"].read()), *SHAPE)
    np.testing.assert_array_equal(recon[-1], sampler.reconstruction)
    measured = snapshots["fastscan_measured"].read()[-1]
    np.testing.assert_array_equal(measured.astype(bool), sampler.measured_mask)

    # the stored run rebuilds the sampler's state: same reconstruction, same next batch
    replay = sampler_from_run(run, max_coverage=0.2)
    assert replay.n_measured == sampler.n_measured and replay.batch_size == 20
    np.testing.assert_allclose(replay.reconstruction, sampler.reconstruction)
    np.testing.assert_array_equal(replay.erd, sampler.erd)
    assert normalized_root_mse(image, replay.reconstruction) < 0.6

    # progress: one report before and one after each batch
    assert len(reports) == 2 * summary.n_batches
    assert reports[-1].actual_s is not None and reports[-1].n_measured == summary.n_points


def test_arguments_are_validated_before_running(rig):
    _, _, det, x, y = rig
    with pytest.raises(TypeError, match=r"grid must be a fastscan\.plans\.Grid"):
        autonomous_scan([det], x, y, grid=(40, 60), signal="det_value")
    with pytest.raises(ValueError, match=r"differs from grid\.shape"):
        autonomous_scan([det], x, y, grid=GRID, signal="det_value", sampler=Sampler((10, 10)))
    with pytest.raises(ValueError, match="max_coverage"):
        autonomous_scan([det], x, y, grid=GRID, signal="det_value", max_coverage=1.5)
    with pytest.raises(ValueError, match="apply only to a sampler the plan creates"):
        autonomous_scan([det], x, y, grid=GRID, signal="v", sampler=_sampler(), max_coverage=0.1)
    with pytest.raises(ValueError, match="at least one readable"):
        autonomous_scan([], x, y, grid=GRID, signal="det_value")
    with pytest.raises(TypeError, match="not movable"):
        autonomous_scan([det], det, y, grid=GRID, signal="det_value")


def test_unknown_signal_stops_with_available_keys(rig, monkeypatch):
    RE, store, det, x, y = rig
    # refused when the plan is made (tests/test_bluesky_user_pass.py); a detector that
    # cannot describe itself before the run is caught at its first reading:
    import fastscan.plans.autonomous as autonomous

    monkeypatch.setattr(autonomous, "check_reading_keys", lambda *args: None)
    with pytest.raises(ScanFault, match=r"signal 'nope' is not among the readings.*det_value"):
        RE(autonomous_scan([det], x, y, grid=GRID, signal="nope", sampler=_sampler()))
    run = load_run(store, -1)
    assert run.metadata["stop"]["exit_status"] == "fail"
    assert len(run["primary"].read()["det_value"]) == 1  # stored before it was used


def _pause_from_thread(RE, defer):
    # request_pause blocks on the RunEngine's loop: call it from another thread,
    # as a Ctrl-C handler would.
    threading.Thread(target=RE.request_pause, kwargs={"defer": defer}).start()


def test_pause_resume_abort_lose_no_reading(rig, image):
    RE, store, det, x, y = rig
    sampler = _sampler(coverage=0.1)
    seen = {"n": 0}

    def pauser(name, doc):
        if name == "event" and "det_value" in doc["data"]:
            seen["n"] += 1
            if seen["n"] == 30:
                _pause_from_thread(RE, defer=False)  # hard pause: rewinds to the checkpoint
            elif seen["n"] == 70:
                _pause_from_thread(RE, defer=True)  # pause at the next checkpoint

    RE.subscribe(pauser)
    with pytest.raises(RunEngineInterrupted):
        RE(autonomous_scan([det], x, y, grid=GRID, signal="det_value", sampler=sampler))
    assert RE.state == "paused"
    with pytest.raises(RunEngineInterrupted):
        RE.resume()
    measured_before_abort = det.n_triggers
    result = RE.abort()
    assert result.exit_status == "abort"

    run = load_run(store, -1)
    assert run.metadata["stop"]["exit_status"] == "abort"
    points, values, order = replay_points(run)
    # every stored point reached the sampler, and nothing the sampler has is unstored
    assert len(points) == sampler.n_measured == len(sampler.measured_points)
    assert 70 <= len(points) <= measured_before_abort
    np.testing.assert_array_equal(points, sampler.measured_points)
    np.testing.assert_array_equal(values, sampler.measured_values)
    np.testing.assert_array_equal(values, image[points[:, 0], points[:, 1]])
    np.testing.assert_array_equal(order, np.arange(len(points)))
    assert_honest_devices(sampler, det)  # a reading the rewind dropped was read again


def test_rel_scan_is_centred_and_returns_motors(image, catalog, writer):
    x, y = SynAxis(name="x"), SynAxis(name="y")
    x.set(2.0)
    y.set(1.5)
    relative = Grid.centered(0.0, 0.0, width=2.0, height=1.0, n_cols=21, n_rows=11)
    absolute = relative.shifted(2.0, 1.5)
    det = SimDetector("det", image[:11, :21], absolute, x, y)
    RE = RunEngine({}, call_returns_result=True)
    RE.subscribe(writer)
    result = RE(
        rel_autonomous_scan([det], x, y, width=2.0, height=1.0, n_cols=21, n_rows=11,
                            signal="det_value", max_coverage=0.2)
    )  # fmt: skip
    summary = result.plan_result
    assert summary.n_points == det.n_triggers > 0
    assert (x.position, y.position) == (2.0, 1.5)
    run = load_run(catalog, summary.run_uids[0])
    assert run.metadata["start"]["plan_name"] == "rel_autonomous_scan"
    assert run.metadata["start"]["fastscan"]["grid"] == absolute.to_dict()
    xs = run["primary"].read()["x"].values
    assert xs.min() >= 1.0 - 1e-9 and xs.max() <= 3.0 + 1e-9
    assert_honest_devices(Stored(replay_points(run)[0], (11, 21)), det)  # the plan's sampler


def test_live_feedback_callbacks(rig, tmp_path):
    RE, _, det, x, y = rig
    lines = []
    plot = LivePlot(tmp_path / "png", every=1)
    RE.subscribe(TextProgress(every=25, write=lines.append))
    RE.subscribe(plot)
    sampler = _sampler(0.04)
    RE(autonomous_scan([det], x, y, grid=GRID, signal="det_value", sampler=sampler,
                       recon_every=3))  # fmt: skip
    assert_honest_devices(sampler, det)
    assert lines[-1].startswith("points 96, pixels 96, coverage 4.00 %")
    assert lines[-1].endswith("run success")
    assert len(plot.files) >= 2 and all(p.stat().st_size > 5000 for p in plot.files)

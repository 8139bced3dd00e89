"""autonomous_scan driven by several signals (XRF element ROIs), in-process with ophyd.sim axes."""

from __future__ import annotations

import numpy as np
import pytest
from bluesky import RunEngine
from honesty import Stored, assert_honest_devices
from ophyd.sim import SynAxis

from fastscan import Sampler
from fastscan.phantoms import XRF_ELEMENTS, make_xrf_maps
from fastscan.plans import Grid, autonomous_scan, load_run, replay_points
from fastscan.sim.detector import SimDetector

SHAPE = (40, 60)
GRID = Grid(0.0, 5.9, 60, 0.0, 3.9, 40)
ELEMENTS = ("Fe", "Ca", "Cu")


@pytest.fixture
def rig(catalog, writer):
    maps, names = make_xrf_maps(SHAPE, seed=41)
    maps = maps[[names.index(e) for e in ELEMENTS]]
    x, y = SynAxis(name="x"), SynAxis(name="y")
    # one simulated ROI per element: reading keys Fe_value, Ca_value, Cu_value
    rois = [SimDetector(e, m, GRID, x, y) for e, m in zip(ELEMENTS, maps)]
    RE = RunEngine({}, call_returns_result=True)
    RE.subscribe(writer)
    return RE, catalog, rois, x, y, maps


def test_every_channel_drives_the_scan_and_every_reading_is_stored(rig):
    RE, store, rois, x, y, maps = rig
    keys = [f"{e}_value" for e in ELEMENTS]
    result = RE(
        autonomous_scan(rois, x, y, grid=GRID, signal=keys, max_coverage=0.15, recon_every=2,
                        sampler_kwargs={"batch_size": 20, "seed": 0})
    )  # fmt: skip
    summary = result.plan_result
    assert result.exit_status == "success" and summary.n_points == int(0.15 * maps[0].size)
    run = load_run(store, summary.run_uids[0])
    assert run.metadata["start"]["fastscan"]["signal"] == keys
    assert run.metadata["start"]["fastscan"]["sampler_params"]["channels"] == keys
    table = run["primary"].read()
    points = GRID.to_indices(np.stack([table["x"].values, table["y"].values], 1))
    for roi in rois:  # each ROI revealed exactly the pixels of the run
        assert_honest_devices(Stored(points, SHAPE), roi)
    for key, truth in zip(keys, maps):
        np.testing.assert_allclose(table[key].values, truth[points[:, 0], points[:, 1]])
    data_keys = run["reconstruction"].metadata["data_keys"]
    assert data_keys["fastscan_reconstruction"]["shape"] == [len(keys), *SHAPE]
    last = run["reconstruction"]["fastscan_reconstruction"].read()[-1]
    assert last.shape == (len(keys), *SHAPE)
    errors = np.linalg.norm(last - maps, axis=(1, 2)) / np.linalg.norm(maps, axis=(1, 2))
    assert np.all(errors < 0.8), errors


def test_hinted_fields_drive_the_scan_when_no_signal_is_given(rig):
    RE, store, rois, x, y, _ = rig
    result = RE(
        autonomous_scan(rois, x, y, grid=GRID, max_coverage=0.05,
                        sampler_kwargs={"batch_size": 20, "seed": 0})
    )  # fmt: skip
    run = load_run(store, result.plan_result.run_uids[0])
    assert run.metadata["start"]["fastscan"]["signal"] == [f"{e}_value" for e in ELEMENTS]
    points = replay_points(run, signal="Fe_value")[0]  # (signal=None: a list, refused)
    for roi in rois:
        assert_honest_devices(Stored(points, SHAPE), roi)
    last = run["reconstruction"]["fastscan_reconstruction"].read()[-1]
    assert last.shape == (len(ELEMENTS), *SHAPE)
    # one hinted field: a single-channel scan, as with signal="Fe_value"
    one = RE(autonomous_scan(rois[:1], x, y, grid=GRID, max_coverage=0.03))
    run = load_run(store, one.plan_result.run_uids[0])
    assert run.metadata["start"]["fastscan"]["signal"] == "Fe_value"


def test_signal_lists_are_validated_before_running(rig):
    _, _, rois, x, y, _ = rig
    with pytest.raises(TypeError, match="distinct non-empty strings"):
        autonomous_scan(rois, x, y, grid=GRID, signal=["Fe_value", "Fe_value"])
    with pytest.raises(TypeError, match="reading key or a list of keys"):
        autonomous_scan(rois, x, y, grid=GRID, signal=[])
    rois[0].value.kind = "normal"  # no hinted field left on this detector
    with pytest.raises(ValueError, match=r"signal=None needs hinted fields"):
        autonomous_scan(rois[:1], x, y, grid=GRID)
    sampler = Sampler(SHAPE, channels=list(XRF_ELEMENTS), pixel_pitch=GRID.pitch)
    with pytest.raises(ValueError, match="the sampler has 5 channels but signal names 2"):
        autonomous_scan(rois, x, y, grid=GRID, signal=["Fe_value", "Ca_value"], sampler=sampler)

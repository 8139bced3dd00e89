"""autonomous_scan with streamed ingest: each reading reaches the sampler on a worker
thread right after its event; the scan equals the whole-batch one and loses nothing."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from bluesky import RunEngine
from honesty import assert_honest_devices
from ophyd.sim import SynAxis

from fastscan import Sampler
from fastscan.phantoms import make_phantom
from fastscan.plans import Grid, ScanFault, autonomous_scan, load_run, replay_points
from fastscan.sim.detector import SimDetector

SHAPE = (40, 60)
GRID = Grid(0.0, 5.9, 60, 0.0, 3.9, 40)


class FailingDetector(SimDetector):
    """A SimDetector whose trigger number ``fail_at`` fails (the beam is lost)."""

    def __init__(self, *args, fail_at: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.fail_at = fail_at

    def trigger(self):
        status = super().trigger()
        if self.n_triggers == self.fail_at:
            status = type(status)(self)
            status.set_exception(RuntimeError("beam lost"))
        return status


@pytest.fixture(scope="module")
def image():
    return make_phantom("flakes", SHAPE, seed=0)


def _scan(image, catalog, writer, stream, detector=SimDetector, **det_kwargs):
    x, y = SynAxis(name="x"), SynAxis(name="y")
    det = detector("det", image, GRID, x, y, **det_kwargs)
    RE = RunEngine({}, call_returns_result=True)
    RE.subscribe(writer)
    sampler = Sampler(SHAPE, batch_size=15, max_coverage=0.05, seed=0, pixel_pitch=GRID.pitch)
    reports = []
    plan = autonomous_scan(
        [det], x, y, grid=GRID, signal="det_value", sampler=sampler, stream=stream,
        progress=reports.append,
    )  # fmt: skip
    return RE, plan, sampler, reports, det


def test_streamed_scan_equals_the_whole_batch_scan(image, catalog, writer, caplog):
    caplog.set_level(logging.DEBUG, logger="fastscan.plans")
    RE, plan, streamed, reports, det = _scan(image, catalog, writer, stream=None)  # on
    summary = RE(plan).plan_result
    assert_honest_devices(streamed, det)
    assert load_run(catalog, -1).metadata["start"]["fastscan"]["settings"]["stream"] is True
    RE, plan, whole, _, det = _scan(image, catalog, writer, stream=False)
    assert RE(plan).plan_result.n_points == summary.n_points == streamed.n_measured
    assert_honest_devices(whole, det)
    np.testing.assert_array_equal(streamed.measured_points, whole.measured_points)
    np.testing.assert_array_equal(streamed.erd, whole.erd)
    np.testing.assert_array_equal(streamed.reconstruction, whole.reconstruction)
    assert list(streamed.stop_rule._changes) == list(whole.stop_rule._changes)
    # the wait for each decision after a batch's last reading is reported and logged
    decisions = [r.decision_s for r in reports if r.actual_s is None]
    assert decisions[0] is None and all(d >= 0 for d in decisions[1:])
    assert len(decisions) == summary.n_batches >= 3
    assert sum("after the last reading" in r.getMessage() for r in caplog.records) >= 2


def test_a_fault_in_mid_batch_loses_no_reading(image, catalog, writer):
    # the initial pattern has 24 points, then batches of 15: trigger 31 is mid-batch
    RE, plan, sampler, _, _ = _scan(
        image, catalog, writer, stream=True, detector=FailingDetector, fail_at=31
    )
    with pytest.raises(ScanFault, match="beam lost"):
        RE(plan)
    run = load_run(catalog, -1)
    assert run.metadata["stop"]["exit_status"] == "fail"
    points, values, _ = replay_points(run)
    assert len(points) == 30 == sampler.n_measured
    np.testing.assert_array_equal(points, sampler.measured_points)
    np.testing.assert_array_equal(values, sampler.measured_values)


def test_stream_is_validated_before_running(image, catalog, writer):
    x, y = SynAxis(name="x"), SynAxis(name="y")
    det = SimDetector("det", image, GRID, x, y)
    with pytest.raises(TypeError, match="stream must be True, False or None, got 'yes'"):
        autonomous_scan([det], x, y, grid=GRID, signal="det_value", stream="yes")

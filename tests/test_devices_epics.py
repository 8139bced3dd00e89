"""NanoprobeStage and EpicsScalarDetector against the simulated IOC over Channel Access."""

from __future__ import annotations

import statistics
import time

import epics
import numpy as np
import pytest
from honesty import IocRecord, Stored, assert_honest_devices
from ophyd.utils import LimitError
from ophyd.utils.errors import WaitTimeoutError

from fastscan.devices import EpicsScalarDetector, NanoprobeStage
from fastscan.phantoms import make_phantom

pytestmark = pytest.mark.epics


def test_constructor_validation():
    with pytest.raises(ValueError, match="prefix_x and prefix_y must differ"):
        NanoprobeStage("A:m1", "A:m1", name="s")
    with pytest.raises(ValueError, match="prefix_y must be a non-empty PV name"):
        NanoprobeStage("A:m1", "", name="s")
    with pytest.raises(ValueError, match="prefix must be a non-empty"):
        EpicsScalarDetector("", name="d")


def test_move_and_read_image_value(devices):
    stage, det = devices
    image = make_phantom("flakes", (40, 60), seed=0)
    for row, col in [(0, 5), (17, 33), (39, 59), (22, 2)]:
        stage.x.move(float(col), wait=True, timeout=10)
        stage.y.move(float(row), wait=True, timeout=10)
        assert stage.x.position == col and stage.y.position == row
        det.trigger().wait(timeout=5)
        reading = det.read()
        assert reading["det_value"]["value"] == image[row, col]
    assert {"stage_x", "stage_y"} <= set(stage.read())


def test_motion_is_trapezoidal_and_updates_readback(devices):
    stage, _ = devices
    stage.x.move(0.0, wait=True, timeout=10)
    stage.x.velocity.put(100.0, wait=True)
    stage.x.acceleration.put(0.1, wait=True)  # seconds to full speed -> 1000 units/s^2
    readbacks = []
    cid = stage.x.user_readback.subscribe(lambda value, **kw: readbacks.append(value), run=False)
    try:
        t0 = time.monotonic()
        stage.x.move(30.0, wait=True, timeout=10)
        elapsed = time.monotonic() - t0
    finally:
        stage.x.user_readback.unsubscribe(cid)
        stage.x.velocity.put(1000.0, wait=True)
        stage.x.acceleration.put(0.0, wait=True)
    # 30 units at 100 units/s: 0.3 s at constant speed, 0.4 s with the 0.1 s ramps
    assert 0.38 <= elapsed < 3.0
    assert len(readbacks) > 10  # the readback moves while the motor does
    assert np.all(np.diff(readbacks) >= 0) and readbacks[-1] == 30.0


def test_soft_limits_are_enforced(devices):
    stage, _ = devices
    low, high = stage.x.limits
    assert (low, high) == (-0.5, 59.5)
    with pytest.raises(LimitError):
        stage.x.move(high + 1.0, wait=True, timeout=5)


def test_stall_fault_never_completes_until_stopped(sim_ioc, devices):
    stage, _ = devices
    epics.caput(sim_ioc.pv("fault:stall"), 1, wait=True)
    try:
        status = stage.x.set(12.0)
        with pytest.raises(WaitTimeoutError):
            status.wait(timeout=0.5)
        assert not status.done
        start = stage.x.position
        stage.x.stop()
        status.wait(timeout=5)  # STOP ends the move where the motor is
        assert stage.x.position == start != 12.0
    finally:
        epics.caput(sim_ioc.pv("fault:stall"), 0, wait=True)
    stage.x.move(1.0, wait=True, timeout=10)
    assert stage.x.position == 1.0


def test_nan_fault_and_fresh_values(sim_ioc, devices):
    _, det = devices
    count = epics.caget(sim_ioc.pv("det:count"), use_monitor=False)
    epics.caput(sim_ioc.pv("det:nan"), 1, wait=True)
    try:
        det.trigger().wait(timeout=5)
        assert np.isnan(det.read()["det_value"]["value"])
    finally:
        epics.caput(sim_ioc.pv("det:nan"), 0, wait=True)
    det.trigger().wait(timeout=5)
    assert np.isfinite(det.read()["det_value"]["value"])
    assert epics.caget(sim_ioc.pv("det:count"), use_monitor=False) == count + 2


def test_the_ioc_records_each_pixel_it_revealed_until_cleared(sim_ioc, devices):
    stage, det = devices
    record = IocRecord(sim_ioc, (40, 60))
    record.clear()
    assert not record.asked_mask.any()
    for x, y in ((3.0, 2.0), (7.0, 11.0), (3.0, 2.0)):
        stage.x.move(x, wait=True, timeout=10)
        stage.y.move(y, wait=True, timeout=10)
        det.trigger().wait(timeout=5)
    expected = np.zeros((40, 60), bool)
    expected[[2, 11], [3, 7]] = True
    np.testing.assert_array_equal(record.asked_mask, expected)
    assert epics.caget(sim_ioc.pv("det:n_asked"), use_monitor=False) == 2
    with pytest.raises(AssertionError, match=r"the detector read 1 pixel\(s\), first \(row, "
                       r"col\): \[\(11, 7\)\] the sampler did not ask for"):  # fmt: skip
        assert_honest_devices(Stored([(2, 3)], (40, 60)), record)
    record.clear()
    assert not record.asked_mask.any()


def test_put_completion_round_trip_is_fast(devices):
    """TCP_NODELAY on the IOC's sockets: a put-with-callback takes milliseconds, not ~40 ms."""
    _, det = devices
    times = []
    for _ in range(40):
        t0 = time.perf_counter()
        det.trigger().wait(timeout=5)
        times.append(time.perf_counter() - t0)
    assert statistics.median(times) < 0.02

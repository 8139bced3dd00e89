"""Faults that take hardware away mid-scan: detector disconnect, IOC killed.

Each test has its own IOC (no module IOC may run beside it on the session's port).
The plan must stop within its timeouts with a message naming the PV and the point,
and every stored reading must have reached the sampler.
"""

from __future__ import annotations

import threading
import time

import epics
import pytest
from bluesky import RunEngine

from fastscan import Sampler
from fastscan.devices import EpicsScalarDetector, NanoprobeStage
from fastscan.plans import Grid, ScanFault, autonomous_scan, load_run, replay_points

pytestmark = [pytest.mark.epics, pytest.mark.timeout(90)]

SHAPE = (40, 60)
GRID = Grid(0.0, 59.0, 60, 0.0, 39.0, 40)


def _connect(ioc):
    stage = NanoprobeStage(ioc.pv("x"), ioc.pv("y"), name="stage")
    det = EpicsScalarDetector(ioc.pv("det:"), name="det")
    stage.wait_for_connection(timeout=20)
    det.wait_for_connection(timeout=20)
    return stage, det


def _run_until_fault(ioc, catalog, writer, inject, n_event=25):
    stage, det = _connect(ioc)
    RE = RunEngine({}, call_returns_result=True)
    RE.subscribe(writer)
    count = {"n": 0}

    def callback(name, doc):
        if name == "event" and "det_value" in doc["data"]:
            count["n"] += 1
            if count["n"] == n_event:
                inject()

    RE.subscribe(callback)
    sampler = Sampler(SHAPE, batch_size=10, max_coverage=0.1, seed=0, pixel_pitch=GRID.pitch)
    t0 = time.monotonic()
    with pytest.raises(ScanFault) as info:
        RE(autonomous_scan([det], stage.x, stage.y, grid=GRID, signal="det_value",
                           sampler=sampler, move_timeout=2.0, read_timeout=2.0))  # fmt: skip
    elapsed = time.monotonic() - t0
    run = load_run(catalog, -1)
    assert run.metadata["stop"]["exit_status"] == "fail"
    points, _, _ = replay_points(run)
    assert len(points) == sampler.n_measured >= n_event
    # the point that failed is the next one after the last stored reading
    assert f"point #{len(points)} (row=" in str(info.value)
    return str(info.value), elapsed, (stage, det)


def test_detector_disconnect_stops_with_pv_and_point(ioc_factory, catalog, writer):
    ioc = ioc_factory()

    def disconnect():
        epics.caput(ioc.pv("det:disconnect"), 1, wait=False)

    message, elapsed, devices = _run_until_fault(ioc, catalog, writer, disconnect)
    assert f"det (PV {ioc.pv('det:')})" in message
    assert elapsed < 30
    for dev in devices:
        dev.destroy()


def test_ioc_killed_mid_scan_stops_without_hanging(ioc_factory, catalog, writer):
    ioc = ioc_factory()

    def kill():
        threading.Thread(target=ioc.kill).start()

    message, elapsed, devices = _run_until_fault(ioc, catalog, writer, kill)
    assert not ioc.alive
    assert "point #" in message and ("stage_" in message or "det (PV" in message)
    assert ioc.prefix in message
    assert elapsed < 30
    for dev in devices:
        dev.destroy()

"""End to end: caproto IOC, RunEngine and ``fastscan serve`` in separate processes.

The service is killed (SIGKILL) and restarted in the middle of an autonomous
scan; the scan finishes with every reading in the documents exactly once, the
service's session holds the same readings, and the result equals an
uninterrupted in-process run with the same seed.
"""

from __future__ import annotations

import numpy as np
import pytest
from bluesky import RunEngine

from fastscan import Sampler
from fastscan.phantoms import make_phantom
from fastscan.plans import Grid, autonomous_scan
from fastscan.service import Connection, RemoteSampler
from fastscan.service.process import start_service_subprocess

pytestmark = [pytest.mark.epics, pytest.mark.slow]

SHAPE = (40, 60)  # the conftest IOC: 40 x 60 'flakes' phantom, seed 0, pixel units
GRID = Grid(0.0, 59.0, 60, 0.0, 39.0, 40)
OPTS = {"batch_size": 20, "seed": 5, "max_coverage": 0.09, "pixel_pitch": GRID.pitch}
KILL_BEFORE_BATCH = 3


def test_service_killed_mid_scan_loses_and_duplicates_nothing(devices, tmp_path) -> None:
    stage, det = devices
    state = tmp_path / "state"
    procs = [start_service_subprocess(state_dir=state, wait=False)]
    try:
        # the uninterrupted in-process run with the same seed, while the service starts
        truth = make_phantom("flakes", SHAPE, seed=0)
        reference = Sampler(SHAPE, **OPTS)
        ref_batches = []
        while not reference.should_stop():
            pts = reference.suggest()
            reference.ingest(pts, truth[pts[:, 0], pts[:, 1]])
            ref_batches.append({tuple(p) for p in pts.tolist()})

        endpoint = procs[0].wait_ready()
        sampler = RemoteSampler(SHAPE, address=endpoint, session="e2e", timeout=2.0,
                                retries=20, **OPTS)  # fmt: skip
        kills = []

        def crash_service(report) -> None:
            if report.actual_s is None and report.batch == KILL_BEFORE_BATCH and not kills:
                procs[-1].process.kill()  # SIGKILL: no chance to save anything
                procs[-1].process.wait()
                kills.append(sampler.n_measured)
                # ready a few seconds later; the RemoteSampler retries meanwhile
                procs.append(start_service_subprocess(endpoint, state_dir=state, wait=False))

        docs = []
        RE = RunEngine({}, call_returns_result=True)
        RE.subscribe(lambda name, doc: docs.append((name, doc)))
        result = RE(
            autonomous_scan([det], stage.x, stage.y, grid=GRID, signal="det_value",
                            sampler=sampler, recon_every=0, progress=crash_service)
        )  # fmt: skip
        assert result.exit_status == "success" and kills, "the service was not killed mid-scan"
        assert procs[-1].process.poll() is None and procs[0].process.returncode != 0

        events = [
            doc["data"] for name, doc in docs if name == "event" and "det_value" in doc["data"]
        ]
        points = np.array([[e["fastscan_row"], e["fastscan_col"]] for e in events])
        values = np.array([e["det_value"] for e in events])
        assert kills[0] < len(points)  # readings were taken after the restart
        # every reading in the documents once, and in the service's session once
        assert len({tuple(p) for p in points.tolist()}) == len(points)
        conn = Connection(endpoint, timeout=10.0, retries=1)
        try:
            header, arrays = conn.request(
                "state", session="e2e", args={"arrays": ["measured_points", "measured_values"]}
            )
        finally:
            conn.close()
        assert header["ok"], header
        np.testing.assert_array_equal(arrays["measured_points"], points)
        np.testing.assert_array_equal(arrays["measured_values"], values)
        assert header["result"]["last_seq"] == result.plan_result.n_batches

        # the uninterrupted in-process run with the same seed measured the same pixels
        np.testing.assert_array_equal(values, truth[points[:, 0], points[:, 1]])
        batch_of = np.array([e["fastscan_batch"] for e in events])
        got = [{tuple(p) for p in points[batch_of == b].tolist()} for b in np.unique(batch_of)]
        assert got == ref_batches  # same pixels per batch (the route's order may differ)
        assert sampler.stop_reason == reference.stop_reason
        np.testing.assert_allclose(sampler.reconstruction, reference.reconstruction)
        sampler.close(end_session=True)
    finally:
        for proc in procs:
            proc.stop()

"""fastscan under bluesky-queueserver: Redis + RE Manager + the example profile, the sim IOC.

The test starts and stops redis-server and start-re-manager itself (loopback, free
ports), submits ``fastscan_scan`` against the simulated IOC over Channel Access, and
checks that the run lands in the catalogue with every point.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fastscan.phantoms import make_phantom
from fastscan.sim.ioc import free_port

pytestmark = [pytest.mark.queue, pytest.mark.epics, pytest.mark.timeout(300)]

PROFILE = Path(__file__).resolve().parents[1] / "examples" / "queueserver_profile"


def _wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        assert proc.poll() is None, f"{what} exited with status {proc.returncode}"
        assert time.monotonic() < deadline, f"{what} did not listen on port {port}"
        time.sleep(0.1)


def _wait_manager(RM, manager: subprocess.Popen, log: Path, timeout: float = 120.0) -> None:
    """Poll until the RE Manager answers a status request; fail at once if it exited."""
    from bluesky_queueserver_api.comm_base import RequestTimeoutError

    deadline = time.monotonic() + timeout
    while True:
        assert manager.poll() is None, f"the manager exited: {log.read_text()[-3000:]}"
        try:
            RM.status()
            return
        except RequestTimeoutError:
            assert time.monotonic() < deadline, f"the manager did not answer: {log.read_text()}"


def _zmq_contexts() -> set:
    import gc

    import zmq

    # type(), not isinstance(): isinstance reads __class__, which some lazy modules (torch)
    # answer with a deprecation warning
    return {o for o in gc.get_objects() if issubclass(type(o), zmq.Context) and not o.closed}


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_autonomous_scan_through_the_queue_server(sim_ioc, tmp_path):
    qs = pytest.importorskip("bluesky_queueserver_api")
    from bluesky_queueserver_api.zmq import REManagerAPI

    redis_port, control, info = free_port(), free_port(), free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    manager = log = None
    catalog_dir = tmp_path / "catalog"
    try:
        _wait_port(redis_port, redis, "redis-server")
        # the profile's own connection wait (FASTSCAN_CONNECT_TIMEOUT, default 20 s) gives up
        # only after 20 s in which no further PV connected: a dead IOC fails in 20 s, a live
        # one on a loaded machine keeps connecting and is waited for
        env = {**os.environ, "FASTSCAN_CATALOG": str(catalog_dir),
               "FASTSCAN_PREFIX": sim_ioc.prefix, "PYTHONWARNINGS": "ignore"}  # fmt: skip
        manager_cmd = [
            str(Path(sys.executable).with_name("start-re-manager")),
            "--startup-dir", str(PROFILE),
            "--existing-plans-devices", str(tmp_path / "existing.yaml"),
            "--update-existing-plans-devices", "ENVIRONMENT_OPEN",
            "--user-group-permissions", str(PROFILE / "user_group_permissions.yaml"),
            "--redis-addr", f"127.0.0.1:{redis_port}",
            "--zmq-control-addr", f"tcp://127.0.0.1:{control}",
            "--zmq-info-addr", f"tcp://127.0.0.1:{info}",
            "--zmq-publish-console", "OFF",
        ]  # fmt: skip
        log = (tmp_path / "manager.log").open("w")
        manager = subprocess.Popen(manager_cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        before = _zmq_contexts()
        # a loaded machine answers requests late: 10 s per request, not the API's 2 s
        RM = REManagerAPI(zmq_control_addr=f"tcp://127.0.0.1:{control}",
                          zmq_info_addr=f"tcp://127.0.0.1:{info}", timeout_recv=10.0)  # fmt: skip
        try:
            _wait_manager(RM, manager, tmp_path / "manager.log")
            RM.environment_open()
            RM.wait_for_idle(timeout=180)
            assert RM.status()["worker_environment_exists"], (tmp_path / "manager.log").read_text()
            plan = qs.BPlan(
                "fastscan_scan", ["det"], "x", "y",
                x_start=0.0, x_stop=59.0, n_cols=60, y_start=0.0, y_stop=39.0, n_rows=40,
                max_coverage=0.05, batch_size=10, md={"sample": "queue-test"},
            )  # fmt: skip
            fly = qs.BPlan(
                "fastscan_fly_scan", "flyer", "x", "y",
                x_start=0.0, x_stop=59.0, n_cols=60, y_start=0.0, y_stop=39.0, n_rows=40,
                max_coverage=0.05, md={"sample": "queue-fly"},
            )  # fmt: skip
            RM.item_add(plan)
            RM.item_add(fly)
            RM.queue_start()
            RM.wait_for_idle(timeout=240)
            history = RM.history_get()["items"]
            log_tail = (tmp_path / "manager.log").read_text()[-4000:]
            results = [item["result"] for item in history[-2:]]
            assert [r["exit_status"] for r in results] == ["completed"] * 2, (results, log_tail)
            uids = results[0]["run_uids"]
            fly_uids = results[1]["run_uids"]
            RM.environment_close()
            RM.wait_for_idle(timeout=60)  # the worker exits: its catalogue server stops
        finally:
            RM.send_request(method="manager_stop", params={"option": "safe_off"})
            RM.close()
            # bluesky-queueserver-api 0.0.13 closes its sockets but not its ZMQ contexts
            for ctx in _zmq_contexts() - before:
                ctx.destroy(linger=0)
            manager.wait(timeout=60)
    finally:
        if manager is not None and manager.poll() is None:
            manager.kill()
            manager.wait()
        if log is not None:
            log.close()
        redis.terminate()
        redis.wait(timeout=10)
    # the profile waited for the IOC's PVs with its polling wait, and said how long it took
    assert "fastscan profile: the PVs of" in (tmp_path / "manager.log").read_text()

    from fastscan.plans import load_run, replay_points
    from fastscan.plans.catalog import local_catalog

    catalog = local_catalog(catalog_dir)
    try:
        assert len(uids) == 1
        run = load_run(catalog, uids[0])
        assert run.metadata["start"]["sample"] == "queue-test"
        assert run.metadata["stop"]["exit_status"] == "success"
        points, values, _ = replay_points(run)
        assert len(points) == round(0.05 * 40 * 60)
        image = make_phantom("flakes", (40, 60), seed=0)  # the IOC's default phantom
        np.testing.assert_array_equal(values, image[points[:, 0], points[:, 1]])
        fly_run = load_run(catalog, fly_uids[0])
        assert fly_run.metadata["start"]["sample"] == "queue-fly"
        assert fly_run.metadata["stop"]["exit_status"] == "success"
        assert len(fly_run["fly"].read()["time"]) > 0  # the samples of every flight
    finally:
        catalog.context.close()

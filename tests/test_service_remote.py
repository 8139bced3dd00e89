"""RemoteSampler against an in-process service thread on loopback (real sockets)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from fastscan import Sampler
from fastscan.service import (
    Connection,
    RemoteError,
    RemoteSampler,
    SamplerServer,
    ServiceUnavailable,
)

SHAPE = (40, 60)
OPTS = {"batch_size": 12, "seed": 3, "max_coverage": 0.15}
TRUTH = np.add.outer(np.sin(np.arange(40.0) / 4.0), np.cos(np.arange(60.0) / 6.0))


def measure(points: np.ndarray) -> np.ndarray:
    return TRUTH[points[:, 0], points[:, 1]]


def run(sampler, steps: int | None = None) -> list[np.ndarray]:
    """Scan until the stop rule fires (or for ``steps`` batches); returns the batches."""
    batches = []
    while not sampler.should_stop() and (steps is None or len(batches) < steps):
        points = sampler.suggest()
        sampler.ingest(points, measure(points))
        batches.append(points)
    return batches


def as_sets(batches: list[np.ndarray]) -> list[set]:
    """Batches as sets of pixels: the route inside a batch has a wall-clock budget, so its
    order may differ between runs on a loaded machine; which pixels a batch holds may not."""
    return [set(map(tuple, b.tolist())) for b in batches]


def remote_batches(rs: RemoteSampler) -> list[np.ndarray]:
    return [points for points, _ in rs._log]


@pytest.fixture(scope="module")
def reference() -> tuple[Sampler, list[set]]:
    sampler = Sampler(SHAPE, **OPTS)
    batches = as_sets(run(sampler))
    return sampler, batches


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SamplerServer]:
    with SamplerServer("tcp://127.0.0.1:0", state_dir=tmp_path / "state") as srv:
        yield srv


def remote(address: str, session: str = "scan", **kwargs) -> RemoteSampler:
    kwargs.setdefault("timeout", 1.0)
    kwargs.setdefault("retries", 2)
    return RemoteSampler(SHAPE, address=address, session=session, **{**OPTS, **kwargs})


def test_remote_sampler_matches_in_process_sampler(server, reference) -> None:
    ref, ref_batches = reference
    with remote(server.endpoint) as rs:
        assert as_sets(run(rs)) == ref_batches
        assert rs.stop_reason == ref.stop_reason
        assert rs.n_measured == ref.n_measured and rs.coverage == ref.coverage
        assert np.array_equal(rs.measured_mask, ref.measured_mask)
        assert np.allclose(rs.reconstruction, ref.reconstruction)
        assert np.allclose(rs.erd, ref.erd)
        assert tuple(rs.position) == tuple(rs.measured_points[-1])
        assert rs.get_params() == ref.get_params()
        assert rs.batch_size == OPTS["batch_size"] and rs.shape == SHAPE
        assert len(rs.suggest()) == 0


def test_suggest_n_and_invalid_input(server) -> None:
    with remote(server.endpoint) as rs:
        run(rs, steps=2)  # initial pattern, then one ERD batch
        assert rs.suggest(5).shape == (5, 2)
        assert np.array_equal(rs.suggest(5), rs.suggest(5))
        with pytest.raises(ValueError, match="outside the grid"):
            rs.ingest([[40, 0]], [1.0])
        with pytest.raises(ValueError, match="must be finite"):
            rs.ingest([[0, 0]], [np.nan])
        with pytest.raises(ValueError, match="n must be"):
            rs.suggest(-1)
        assert rs.n_pending == 0
        n = rs.n_measured
        pixel = rs.suggest(1)
        rs.ingest(np.vstack([pixel, pixel]), [1.0, 3.0])  # a repeat is averaged, counted once
        assert rs.n_measured == n + 1
        assert rs.state()[0]["n_measured"] == n + 1


def test_retried_ingest_is_applied_once(server) -> None:
    with remote(server.endpoint) as rs:
        run(rs, steps=1)
        n_before, last = rs.n_measured, len(rs.measured_points)
    points = np.array([[0, 1], [2, 3]])
    conn = Connection(server.endpoint, timeout=1.0, retries=0)
    try:
        state = conn.request("state", session="scan")[0]["result"]
        seq = state["last_seq"] + 1
        arrays = {"points": points, "values": np.array([1.0, 2.0])}
        first, _ = conn.request("ingest", session="scan", seq=seq, arrays=arrays)
        again, _ = conn.request("ingest", session="scan", seq=seq, arrays=arrays)
        older, _ = conn.request("ingest", session="scan", seq=1, arrays=arrays)
        gap, _ = conn.request("ingest", session="scan", seq=seq + 5, arrays=arrays)
    finally:
        conn.close()
    assert first["ok"] and not first["result"]["duplicate"]
    assert again["result"] == first["result"]  # the cached reply, not a second application
    assert again["id"] != first["id"]
    assert older["ok"] and older["result"]["duplicate"] and older["result"]["last_seq"] == seq
    assert first["result"]["n_measured"] == n_before + 2 == older["result"]["n_measured"]
    assert not gap["ok"] and gap["error"]["code"] == "seq_gap"
    assert gap["result"]["last_seq"] == seq
    assert seq == 2 and last == n_before  # one batch (the initial pattern) came before


def test_restart_with_state_dir_continues_the_same_scan(tmp_path, reference) -> None:
    state = tmp_path / "state"
    srv = SamplerServer("tcp://127.0.0.1:0", state_dir=state).start()
    endpoint = srv.endpoint
    rs = remote(endpoint, retries=8, timeout=0.5)
    try:
        run(rs, steps=3)
        srv.stop()
        assert (state / "scan.npz").is_file()
        srv = SamplerServer(endpoint, state_dir=state).start()  # same port, fresh process state
        run(rs)
        assert as_sets(remote_batches(rs)) == reference[1]
        info, arrays = rs.state(("measured_points",))
        assert np.array_equal(arrays["measured_points"], rs.measured_points)
        assert info["last_seq"] == len(reference[1])
    finally:
        rs.close()
        srv.stop()


def test_service_that_lost_its_last_batch_gets_it_again(tmp_path, caplog, reference) -> None:
    """A service killed between its reply and its autosave comes back one batch short."""
    state, older = tmp_path / "state", tmp_path / "older"
    srv = SamplerServer("tcp://127.0.0.1:0", state_dir=state).start()
    endpoint = srv.endpoint
    rs = remote(endpoint, retries=8, timeout=0.5)
    try:
        run(rs, steps=2)
        srv.stop()  # a clean stop writes a snapshot with 2 batches
        shutil.copytree(state, older)
        srv = SamplerServer(endpoint, state_dir=state).start()
        run(rs, steps=1)
        srv.stop()
        shutil.rmtree(state)
        shutil.copytree(older, state)  # as if batch 3 never reached the disk
        srv = SamplerServer(endpoint, state_dir=state).start()
        with caplog.at_level(logging.WARNING, logger="fastscan.service"):
            run(rs)
        assert "re-sending" in caplog.text
        assert as_sets(remote_batches(rs)) == reference[1]
        info, arrays = rs.state(("measured_points",))
        assert info["last_seq"] == len(reference[1])
        assert np.array_equal(arrays["measured_points"], rs.measured_points)
    finally:
        rs.close()
        srv.stop()


def test_restart_without_state_replays_every_batch(caplog, reference) -> None:
    srv = SamplerServer("tcp://127.0.0.1:0").start()
    endpoint = srv.endpoint
    rs = remote(endpoint, retries=8, timeout=0.5)
    try:
        run(rs, steps=3)
        srv.stop()
        srv = SamplerServer(endpoint).start()  # knows nothing
        with caplog.at_level(logging.WARNING, logger="fastscan.service"):
            run(rs)
        assert "re-creating" in caplog.text
        assert as_sets(remote_batches(rs)) == reference[1]
        _, arrays = rs.state(("measured_points", "measured_values"))
        assert np.array_equal(arrays["measured_points"], rs.measured_points)
        assert np.array_equal(arrays["measured_values"], rs.measured_values)
    finally:
        rs.close()
        srv.stop()


def test_unreachable_service_raises_and_keeps_readings(server) -> None:
    endpoint = server.endpoint
    rs = remote(endpoint)
    try:
        points = rs.suggest()
        server.stop()
        rs.timeout, rs.retries = 0.2, 0
        with pytest.raises(ServiceUnavailable, match="kept"):
            rs.ingest(points, measure(points))
        assert rs.n_pending == 1 and rs.n_measured == len(points)
        with pytest.raises(ServiceUnavailable, match="no reply"):
            rs.suggest()
        again = SamplerServer(endpoint, state_dir=server.store.state_dir).start()
        rs.timeout, rs.retries = 2.0, 2
        try:
            nxt = rs.suggest()  # sends the kept batch first
            assert rs.n_pending == 0 and len(nxt) == OPTS["batch_size"]
            assert not rs.measured_mask[nxt[:, 0], nxt[:, 1]].any()
        finally:
            again.stop()
    finally:
        rs.close()


def test_halton_fallback_scans_on_and_sends_readings_later(caplog, tmp_path) -> None:
    srv = SamplerServer("tcp://127.0.0.1:0", state_dir=tmp_path).start()
    endpoint = srv.endpoint
    rs = remote(endpoint, fallback="halton", reconnect_interval=0.0)
    try:
        run(rs, steps=2)
        srv.stop()
        rs.timeout, rs.retries = 0.2, 0
        with caplog.at_level(logging.INFO, logger="fastscan.service"):
            for _ in range(3):  # the first batch was prefetched before the service went away
                points = rs.suggest()
                assert len(points) == OPTS["batch_size"]
                assert not rs.measured_mask[points[:, 0], points[:, 1]].any()
                rs.ingest(points, measure(points))
                assert rs.offline
            assert rs.n_pending == 3
            assert "Halton fallback" in caplog.text
            srv = SamplerServer(endpoint, state_dir=tmp_path).start()
            rs.timeout, rs.retries = 2.0, 2
            nxt = rs.suggest()
        assert not rs.offline and rs.n_pending == 0 and "is back" in caplog.text
        assert not rs.measured_mask[nxt[:, 0], nxt[:, 1]].any()
        info, arrays = rs.state(("measured_points",))
        assert info["n_measured"] == rs.n_measured
        assert np.array_equal(arrays["measured_points"], rs.measured_points)
    finally:
        rs.close()
        srv.stop()


def test_halton_fallback_from_the_start_stops_at_max_coverage() -> None:
    rs = RemoteSampler(
        (10, 12),
        address="tcp://127.0.0.1:9",
        session="x",
        fallback="halton",
        timeout=0.1,
        retries=0,
        reconnect_interval=60.0,
        batch_size=7,
        max_coverage=0.3,
        seed=1,
    )
    try:
        assert rs.offline
        run(rs)
        assert rs.coverage >= 0.3 and "checked locally" in rs.stop_reason
        assert len(set(map(tuple, rs.measured_points.tolist()))) == len(rs.measured_points)
        with pytest.raises(ServiceUnavailable):
            _ = rs.reconstruction
    finally:
        rs.close()


def test_sessions_attach_conflict_save_load_close(server, tmp_path) -> None:
    a = remote(server.endpoint, session="a")
    try:
        run(a, steps=2)
        with pytest.raises(RemoteError, match="exists with batch_size"):
            RemoteSampler(SHAPE, address=server.endpoint, session="a", batch_size=5)
        b = remote(server.endpoint, session="a")  # a restarted plan adopts the readings
        assert np.array_equal(b.measured_points, a.measured_points)
        assert np.array_equal(b.suggest(), a.suggest())
        b.close()
        path = a.save(tmp_path / "a.npz")
        local = Sampler.load(path)
        assert np.array_equal(local.measured_points, a.measured_points)
        c = RemoteSampler.load(path, address=server.endpoint, session="c", timeout=1.0)
        assert np.array_equal(c.suggest(), local.suggest())
        with pytest.raises(RemoteError, match="exists"):
            RemoteSampler.load(path, address=server.endpoint, session="c", timeout=1.0)
        c.close(end_session=True)
        assert not (server.store.state_dir / "c.npz").exists()
        assert (server.store.state_dir / "c.closed.npz").is_file()
    finally:
        a.close()


def test_bad_create_arguments_are_value_errors(server) -> None:
    with pytest.raises(ValueError, match="max_coverage"):
        RemoteSampler(SHAPE, address=server.endpoint, session="bad", max_coverage=2.0)
    with pytest.raises(ValueError, match="session name"):
        RemoteSampler(SHAPE, address=server.endpoint, session="../etc", timeout=1.0)
    with pytest.raises(ValueError, match="cannot send a model"):
        RemoteSampler(SHAPE, address=server.endpoint, model="x")
    with pytest.raises(ValueError, match="fallback"):
        RemoteSampler(SHAPE, address=server.endpoint, fallback="pray")


def test_non_loopback_bind_needs_allow_remote() -> None:
    with pytest.raises(ValueError, match="not a loopback address"):
        SamplerServer("tcp://0.0.0.0:0")
    with pytest.raises(ValueError, match="not a loopback address"):
        SamplerServer("tcp://*:0")


def test_non_loopback_bind_without_curve_is_refused() -> None:
    with pytest.raises(ValueError, match="without CurveZMQ"):
        SamplerServer("tcp://0.0.0.0:0", allow_remote=True)

"""A service started without a model lets each session choose the shipped models as an
in-process Sampler does (the late switch included); a service given a model never switches."""

from __future__ import annotations

import numpy as np
import pytest

from fastscan import Sampler
from fastscan.erd.estimator import DEFAULT_MODEL, ERDModel, load_model
from fastscan.sampler import LATE_COVERAGE, LATE_MODEL
from fastscan.service import RemoteSampler, SamplerServer
from fastscan.service.sessions import ServiceError, SessionStore

SHAPE = (48, 64)
ARGS = {"batch_size": 12, "seed": 3, "max_coverage": 0.3}
_rows, _cols = np.meshgrid(np.arange(48.0), np.arange(64.0), indexing="ij")
#: a disk on a gentle slope: outside the texture band, floor level 0, so the late switch runs
TRUTH = (np.hypot(_rows - 24, _cols - 30) < 14) + 0.01 * (_rows + _cols)


def measure(points: np.ndarray) -> np.ndarray:
    return TRUTH[points[:, 0], points[:, 1]]


def in_process(model=None, stop: float = 0.3) -> tuple[Sampler, list[np.ndarray]]:
    sampler = Sampler(SHAPE, model=model, **ARGS)
    batches = []
    while not sampler.should_stop() and sampler.coverage < stop:
        points = sampler.suggest()
        sampler.ingest(points, measure(points))
        batches.append(points)
    return sampler, batches


def store_run(store: SessionStore, name: str, first_seq: int = 1, stop: float = 0.3) -> list:
    batches, seq = [], first_seq
    while True:
        state, _ = store.handle("state", name, None, {}, {})
        if state["stop_reason"] is not None or state["coverage"] >= stop:
            return batches
        _, out = store.handle("suggest", name, None, {}, {})
        points = out["points"]
        if len(points) == 0:
            return batches
        store.handle("ingest", name, seq, {}, {"points": points, "values": measure(points)})
        batches.append(points)
        seq += 1


def create(store: SessionStore, name: str = "s") -> None:
    store.handle("create", name, None, {"shape": list(SHAPE), **ARGS}, {})


def session_model(store: SessionStore, name: str = "s") -> str:
    return store._sessions[name].sampler.model.name


def same_batches(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def reference() -> tuple[Sampler, list[np.ndarray]]:
    return in_process()


def test_a_session_switches_models_as_in_process(reference) -> None:
    ref, ref_batches = reference
    assert ref.model.name == LATE_MODEL  # the scan this test is about does switch
    store = SessionStore()
    create(store)
    assert same_batches(store_run(store, "s"), ref_batches)
    assert session_model(store) == LATE_MODEL


def test_a_service_given_a_model_runs_it_unswitched(reference) -> None:
    fixed, fixed_batches = in_process(model=DEFAULT_MODEL)
    store = SessionStore(model=DEFAULT_MODEL)
    create(store)
    assert same_batches(store_run(store, "s"), fixed_batches)
    assert session_model(store) == fixed.model.name == DEFAULT_MODEL
    assert not same_batches(fixed_batches, reference[1])  # the switch changes the scan


def test_restore_after_the_switch_continues_the_same_scan(tmp_path, reference) -> None:
    store = SessionStore(tmp_path, snapshot_every=4)
    create(store)
    first = store_run(store, "s", stop=0.2)
    assert session_model(store) == LATE_MODEL and 0.2 > LATE_COVERAGE
    store.flush()
    again = SessionStore(tmp_path)  # a restarted service
    assert again.restore_all() == ["s"]
    _restored(again, "s")
    rest = store_run(again, "s", first_seq=len(first) + 1)
    assert session_model(again) == LATE_MODEL
    assert same_batches(first + rest, reference[1])


def _saved(tmp_path, model, *, default: bool, stop: float) -> np.ndarray:
    sampler = Sampler(SHAPE, model=model, **ARGS)
    while sampler.coverage < stop:
        points = sampler.suggest()
        sampler.ingest(points, measure(points))
    sampler._model_default = default  # what the state file records (a forged upload: True)
    path = sampler.save(tmp_path / "upload.npz")
    return np.frombuffer(path.read_bytes(), np.uint8)


def _restored(store: SessionStore, name: str) -> Sampler:
    job = store._restoring[name][0]
    assert job.done.wait(60)
    store.handle("state", name, None, {}, {})  # raises the job's error, if any
    return store._sessions[name].sampler


def test_a_fixed_default_state_continues_without_switching(tmp_path) -> None:
    """States saved before sessions chose their models ran the default model as given."""
    _, fixed_batches = in_process(model=DEFAULT_MODEL)
    store = SessionStore(tmp_path / "svc")
    state = _saved(tmp_path, DEFAULT_MODEL, default=False, stop=0.1)
    store.handle("load", "old", None, {}, {"state": state})
    sampler = _restored(store, "old")
    n_saved = sampler.n_measured
    rest = store_run(store, "old", first_seq=store._sessions["old"].last_seq + 1)
    assert session_model(store, "old") == DEFAULT_MODEL
    done = sum(len(b) for b in fixed_batches)
    assert n_saved + sum(len(b) for b in rest) == done
    assert np.array_equal(np.concatenate(rest), np.concatenate(fixed_batches)[n_saved:])


@pytest.mark.parametrize("default", [True, False])
def test_a_state_with_a_foreign_model_is_refused(tmp_path, default) -> None:
    arrays = dict(load_model(None).to_arrays())
    arrays["intercept_2"] = arrays["intercept_2"] + np.float32(0.5)
    state = _saved(tmp_path, ERDModel.from_arrays(arrays), default=default, stop=0.02)
    store = SessionStore(tmp_path / "svc")
    store.handle("load", "up", None, {}, {"state": state})
    assert store._restoring["up"][0].done.wait(60)
    with pytest.raises(ServiceError, match="another ERD model") as info:
        store.handle("state", "up", None, {}, {})
    assert info.value.code == "bad_state"


def test_remote_sampler_over_zmq_switches_as_in_process(tmp_path, reference) -> None:
    ref, ref_batches = reference
    as_sets = [set(map(tuple, b.tolist())) for b in ref_batches]
    with SamplerServer("tcp://127.0.0.1:0", state_dir=tmp_path / "state") as server:
        with RemoteSampler(SHAPE, address=server.endpoint, session="scan", **ARGS) as rs:
            while not rs.should_stop():
                points = rs.suggest()
                rs.ingest(points, measure(points))
            got = [set(map(tuple, points.tolist())) for points, _ in rs._log]
            assert got == as_sets  # the route inside a batch may differ; its pixels may not
            assert np.allclose(rs.erd, ref.erd)
        assert server.store._sessions["scan"].sampler.model.name == LATE_MODEL

"""SessionStore: sequence numbers, autosave and restore, without sockets."""

from __future__ import annotations

import time

import numpy as np
import pytest

from fastscan.service.sessions import ServiceError, SessionStore

TRUTH = np.add.outer(np.arange(30.0), np.arange(40.0) ** 1.5)


def step(store: SessionStore, name: str, seq: int) -> dict:
    _, out = store.handle("suggest", name, None, {}, {})
    points = out["points"]
    arrays = {"points": points, "values": TRUTH[points[:, 0], points[:, 1]]}
    result, _ = store.handle("ingest", name, seq, {}, arrays)
    return result


def wait_ready(store: SessionStore, name: str) -> tuple[dict, int]:
    """State of a session being restored; counts the 'busy' answers on the way."""
    busy = 0
    for _ in range(2000):
        try:
            result, _ = store.handle("state", name, None, {}, {})
            return result, busy
        except ServiceError as exc:
            assert exc.code == "busy" and exc.extra["retry_after"] > 0
            busy += 1
            time.sleep(0.01)
    raise AssertionError("session never finished restoring")


def test_state_dir_autosave_and_restore(tmp_path) -> None:
    store = SessionStore(tmp_path)
    store.handle("create", "s", None, {"shape": [30, 40], "batch_size": 8, "seed": 2}, {})
    for seq in (1, 2, 3):
        step(store, "s", seq)
    store.flush()
    assert (tmp_path / "s.npz").is_file()
    before, _ = store.handle("state", "s", None, {"arrays": ["reconstruction"]}, {})

    again = SessionStore(tmp_path)  # a restarted service
    assert again.restore_all() == ["s"] and again.names == ["s"]
    restored, _ = wait_ready(again, "s")
    assert restored["last_seq"] == 3 and restored["n_measured"] == before["n_measured"]
    with pytest.raises(ServiceError, match="has batches up to seq 3") as info:
        step(again, "s", 5)
    assert info.value.code == "seq_gap" and info.value.extra["last_seq"] == 3
    assert step(again, "s", 4)["last_seq"] == 4


def test_journal_between_snapshots_and_a_torn_last_record(tmp_path) -> None:
    store = SessionStore(tmp_path, snapshot_every=3)
    store.handle("create", "j", None, {"shape": [30, 40], "batch_size": 6, "seed": 4}, {})
    store.flush()
    sizes = []
    for seq in range(1, 6):  # snapshot after batch 3, journal holds 4 and 5
        step(store, "j", seq)
        store.flush()
        sizes.append((tmp_path / "j.journal").stat().st_size if seq != 3 else 0)
    assert sizes[0] < sizes[1] and sizes[3] < sizes[4]  # appended, not rewritten
    full, _ = store.handle("state", "j", None, {"arrays": ["measured_points"]}, {})
    journal = tmp_path / "j.journal"
    data = journal.read_bytes()
    journal.write_bytes(data[:-5])  # a crash in the middle of appending batch 5
    again = SessionStore(tmp_path, snapshot_every=3)
    again.restore_all()
    restored, _ = wait_ready(again, "j")
    assert restored["last_seq"] == 4  # batch 5 is lost here; the client re-sends it
    _, pts = again.handle("state", "j", None, {"arrays": ["measured_points"]}, {})
    n4 = len(pts["measured_points"])
    assert n4 < full["n_measured"]
    again.snapshot_all()
    assert not journal.exists()


def test_broken_state_file_is_reported_not_fatal(tmp_path) -> None:
    (tmp_path / "bad.npz").write_bytes(b"not an npz file")
    store = SessionStore(tmp_path)
    assert store.restore_all() == []  # refused up front, logged
    with pytest.raises(ServiceError, match="cannot restore session 'bad'") as info:
        store.handle("state", "bad", None, {}, {})
    assert info.value.code == "bad_state"
    store.handle("create", "good", None, {"shape": [30, 40]}, {})
    assert "good" in store.names


def test_load_uploads_a_state_and_restores_it_in_the_background(tmp_path) -> None:
    store = SessionStore(tmp_path / "a")
    store.handle("create", "s", None, {"shape": [30, 40], "batch_size": 8, "seed": 1}, {})
    for seq in (1, 2):
        step(store, "s", seq)
    _, out = store.handle("export", "s", None, {}, {})
    other = SessionStore(tmp_path / "b")
    result, _ = other.handle("load", "copy", None, {}, {"state": out["state"]})
    assert result == {"session": "copy", "last_seq": 2, "restoring": True}
    restored, _ = wait_ready(other, "copy")
    assert restored["last_seq"] == 2
    other.flush()
    assert (tmp_path / "b" / "copy.npz").is_file()
    with pytest.raises(ServiceError, match="not a usable sampler state"):
        other.handle("load", "junk", None, {}, {"state": np.frombuffer(b"junk", np.uint8)})
    with pytest.raises(ServiceError, match="exists"):
        other.handle("load", "copy", None, {}, {"state": out["state"]})


def test_limits_on_sessions_and_grid_size(tmp_path) -> None:
    store = SessionStore(max_sessions=2, max_pixels=10_000)
    store.handle("create", "a", None, {"shape": [30, 40]}, {})
    store.handle("create", "b", None, {"shape": [30, 40]}, {})
    with pytest.raises(ServiceError, match="max_sessions") as info:
        store.handle("create", "c", None, {"shape": [30, 40]}, {})
    assert info.value.code == "too_many_sessions"
    store.handle("close", "b", None, {}, {})
    with pytest.raises(ServiceError, match="max_pixels"):
        store.handle("create", "c", None, {"shape": [200, 200]}, {})
    with pytest.raises(ServiceError, match="unknown Sampler option"):
        store.handle("create", "c", None, {"shape": [30, 40], "model": "x.npz"}, {})


def test_quotas_on_total_pixels_points_per_ingest_and_batch_size() -> None:
    store = SessionStore(
        max_pixels=2000, max_total_pixels=3000, max_points_per_ingest=10, max_batch_size=20
    )
    store.handle("create", "a", None, {"shape": [30, 40]}, {})  # 1200 pixels
    with pytest.raises(ServiceError, match="max_total_pixels=3000") as info:
        store.handle("create", "b", None, {"shape": [40, 50]}, {})  # 2000 more
    assert info.value.code == "too_large"
    store.handle("create", "b", None, {"shape": [30, 40]}, {})  # 2400 in all: fits
    with pytest.raises(ServiceError, match="max_batch_size=20"):
        store.handle("create", "c", None, {"shape": [10, 10], "batch_size": 21}, {})
    with pytest.raises(ServiceError, match="max_batch_size=20"):
        store.handle("suggest", "a", None, {"n": 21}, {})
    points = np.array([[r, 0] for r in range(11)])
    arrays = {"points": points, "values": np.ones(len(points))}
    with pytest.raises(ServiceError, match="max_points_per_ingest=10"):
        store.handle("ingest", "a", 1, {}, arrays)
    result, _ = store.handle("state", "a", None, {}, {})
    assert result["n_measured"] == 0 and result["last_seq"] == 0
    store.handle("close", "b", None, {}, {})
    store.handle("create", "c", None, {"shape": [30, 40]}, {})  # room again


def test_session_names_must_match_in_full() -> None:
    store = SessionStore()
    for name in ("scan42\n", "scan42\r", "scan42\n\n", "-x", "a" * 65, "a/b", ""):
        with pytest.raises(ServiceError, match="session name") as info:
            store.handle("create", name, None, {"shape": [10, 10]}, {})
        assert info.value.code == "bad_args"
    assert store.names == []


def test_attaching_compares_every_setting_not_only_those_sent() -> None:
    store = SessionStore()
    store.handle("create", "s", None, {"shape": [30, 40], "batch_size": 12, "k": 6}, {})
    # a client that leaves batch_size at its default must not attach to batch_size=12
    with pytest.raises(ServiceError, match=r"batch_size=12.*not sent") as info:
        store.handle("create", "s", None, {"shape": [30, 40], "k": 6}, {})
    assert info.value.code == "session_exists"
    result, _ = store.handle("create", "s", None, {"shape": [30, 40], "batch_size": 12, "k": 6}, {})
    assert result["created"] is False


def _other_model_state(tmp_path) -> np.ndarray:
    """A saved Sampler state made with an ERD model that is not the service's."""
    from fastscan import Sampler
    from fastscan.erd.estimator import ERDModel, load_model

    arrays = dict(load_model(None).to_arrays())
    arrays["intercept_2"] = arrays["intercept_2"] + np.float32(0.5)
    sampler = Sampler((30, 40), batch_size=8, model=ERDModel.from_arrays(arrays))
    points = sampler.suggest()
    sampler.ingest(points, TRUTH[points[:, 0], points[:, 1]])
    path = sampler.save(tmp_path / "other.npz")
    return np.frombuffer(path.read_bytes(), np.uint8)


def test_load_refuses_a_state_made_with_another_model(tmp_path) -> None:
    store = SessionStore(tmp_path / "svc")
    store.handle("load", "up", None, {}, {"state": _other_model_state(tmp_path)})
    job = store._restoring["up"][0]
    assert job.done.wait(30)
    with pytest.raises(ServiceError, match="another ERD model") as info:
        store.handle("state", "up", None, {}, {})
    assert info.value.code == "bad_state"
    assert not (tmp_path / "svc" / "up.npz").exists()  # never saved as a session


def test_restore_of_a_replaced_session_stops(tmp_path) -> None:
    store = SessionStore(tmp_path, snapshot_every=10_000)
    store.handle("create", "r", None, {"shape": [30, 40], "batch_size": 4, "seed": 3}, {})
    store.flush()
    for seq in range(1, 40):
        step(store, "r", seq)
    store.flush()  # one snapshot (empty) and a 39-batch journal
    _, exported = store.handle("export", "r", None, {}, {})

    again = SessionStore(tmp_path, snapshot_every=10_000)
    assert again.restore_all() == ["r"]
    job = again._restoring["r"][0]
    again.handle("load", "r", None, {"overwrite": True}, {"state": exported["state"]})
    job.thread.join(30)
    assert not job.thread.is_alive() and job.cancelled and job.sampler is None
    restored, _ = wait_ready(again, "r")
    assert restored["last_seq"] == 39  # the uploaded state, not a mix of both


def test_restore_export_and_restore_again_keep_the_batch_count(tmp_path) -> None:
    """A state loaded and saved again may list an empty batch; it is not counted as one."""
    from fastscan.service.sessions import read_state_log

    store = SessionStore(tmp_path, snapshot_every=2)
    store.handle("create", "s", None, {"shape": [30, 40], "batch_size": 6, "seed": 2}, {})
    store.flush()  # snapshot with no readings
    again = SessionStore(tmp_path, snapshot_every=2)
    again.restore_all()
    assert again._restoring["s"][0].done.wait(30)
    for seq in range(1, 6):  # snapshots (every 2 batches) of a loaded state, journal between
        step(again, "s", seq)
        again.flush()
    _, out = again.handle("export", "s", None, {}, {})
    (tmp_path / "e.npz").write_bytes(out["state"].tobytes())
    _, batches = read_state_log(tmp_path / "e.npz")
    assert len(batches) == 5 and all(len(p) > 0 for p, _ in batches)
    third = SessionStore(tmp_path, snapshot_every=2)
    third.restore_all()
    restored, _ = wait_ready(third, "s")
    assert restored["last_seq"] == 5
    assert step(third, "s", 6)["last_seq"] == 6

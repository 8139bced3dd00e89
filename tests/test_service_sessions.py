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

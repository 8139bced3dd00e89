"""Sampler state files (schema /2): O(state) load, bit-identical resume, model identity."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastscan import ERDModel, Sampler
from fastscan.erd.estimator import DEFAULT_MODEL, load_model
from fastscan.phantoms import make_phantom

SHAPE = (40, 56)


@pytest.fixture(scope="module")
def truth():
    return make_phantom("flakes", SHAPE, seed=3)


def step(sampler, image, rng=None):
    """One batch; with ``rng`` also re-measure two earlier pixels with other readings."""
    points = sampler.suggest()
    values = image[points[:, 0], points[:, 1]]
    if rng is not None and sampler.n_measured:
        earlier = sampler.measured_points[rng.integers(0, len(sampler.measured_points), 2)]
        points = np.concatenate([points, earlier])
        values = np.concatenate([values, image[earlier[:, 0], earlier[:, 1]] + rng.normal(size=2)])
    if len(points):
        sampler.ingest(points, values)
    return points


def assert_same_state(a, b):
    np.testing.assert_array_equal(a.reconstruction, b.reconstruction)
    np.testing.assert_array_equal(a._erd, b._erd)
    np.testing.assert_array_equal(a.measured_points, b.measured_points)
    np.testing.assert_array_equal(a.measured_values, b.measured_values)
    assert a.should_stop() == b.should_stop() and a.stop_reason == b.stop_reason
    assert a.stop_rule.recent_change == b.stop_rule.recent_change


@pytest.mark.parametrize("n_steps", [0, 1, 3, 9])
def test_loaded_sampler_resumes_bit_identically(truth, tmp_path, n_steps):
    kwargs = dict(batch_size=12, seed=4, max_coverage=0.3, patience=3, change_tolerance=0.02)
    sampler = Sampler(SHAPE, **kwargs)
    rng = np.random.default_rng(0)
    if n_steps == 1:  # stop half-way through the initial pattern
        first = sampler.suggest(10)
        sampler.ingest(first, truth[first[:, 0], first[:, 1]])
    for i in range(n_steps if n_steps != 1 else 0):
        step(sampler, truth, rng)
        if i == 5:  # a reading far outside the range: the intensity scale changes
            sampler.ingest(sampler.suggest(1), [truth.max() + 10 * np.ptp(truth)])
    restored = Sampler.load(sampler.save(tmp_path / "state.npz"))
    assert restored.get_params() == sampler.get_params()
    assert_same_state(restored, sampler)
    for _ in range(100):
        np.testing.assert_array_equal(restored.suggest(), sampler.suggest())
        if sampler.should_stop():
            break
        points = step(sampler, truth)
        restored.ingest(points, truth[points[:, 0], points[:, 1]])
        assert_same_state(restored, sampler)
    assert sampler.should_stop() and restored.stop_reason == sampler.stop_reason


def test_load_reads_arrays_instead_of_replaying(truth, tmp_path, monkeypatch):
    sampler = Sampler(SHAPE, batch_size=20, seed=1)
    for _ in range(4):
        step(sampler, truth)
    path = sampler.save(tmp_path / "state.npz")
    monkeypatch.setattr(Sampler, "_apply", lambda *a: pytest.fail("load replayed a reading"))
    monkeypatch.setattr(Sampler, "_full_update", lambda *a: pytest.fail("load recomputed"))
    restored = Sampler.load(path)
    assert restored.n_measured == sampler.n_measured
    with np.load(path, allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
        assert header["schema"] == "fastscan.sampler-state/2"
        assert header["model"] == {"name": DEFAULT_MODEL, "sha256": load_model().sha256}
        assert all(data[key].dtype != object for key in data.files)


def write_schema_1(sampler, path):
    """A state file as fastscan wrote it before schema /2: the reading log and the model."""
    header = {
        "schema": "fastscan.sampler-state/1",
        "params": sampler.get_params(),
        "motion": None,
        "batches": [len(p) for p in sampler._log_points],
    }
    arrays = {
        "header": np.array(json.dumps(header)),
        "points": sampler.measured_points,
        "values": sampler.measured_values,
        "initial": sampler._initial,
    }
    arrays.update({f"model/{k}": v for k, v in sampler.model.to_arrays().items()})
    np.savez(path, **arrays)
    return path


def test_schema_1_files_still_load_by_replay(truth, tmp_path):
    sampler = Sampler(SHAPE, batch_size=15, seed=2)
    for _ in range(5):
        step(sampler, truth)
    restored = Sampler.load(write_schema_1(sampler, tmp_path / "old.npz"))
    assert restored.model.name == DEFAULT_MODEL  # recognised by its SHA-256
    assert_same_state(restored, sampler)
    np.testing.assert_array_equal(restored.suggest(), sampler.suggest())


def test_model_argument_must_match_the_stored_model(truth, tmp_path):
    sampler = Sampler(SHAPE, batch_size=15, seed=2)
    step(sampler, truth)
    path = sampler.save(tmp_path / "state.npz")
    same = Sampler.load(path, model=DEFAULT_MODEL)  # the default model, by name
    assert same.model.name == DEFAULT_MODEL
    other = load_model("fast-classic")
    stored = rf"'{DEFAULT_MODEL}' \(SHA-256 {sampler.model.sha256}\)"
    message = rf"{stored}.*'fast-classic'.*{other.sha256}"
    with pytest.raises(ValueError, match=message):
        Sampler.load(path, model=other)
    with pytest.raises(ValueError, match=other.sha256):
        Sampler.load(write_schema_1(sampler, tmp_path / "old.npz"), model="fast-classic")


def test_a_custom_model_round_trips(truth, tmp_path):
    rng = np.random.default_rng(0)
    features = rng.uniform(0, 10, (300, 6))
    custom = ERDModel(max_iter=3, random_state=5).fit(features, features[:, 0])
    sampler = Sampler(SHAPE, batch_size=10, seed=0, model=custom)
    for _ in range(3):
        step(sampler, truth)
    restored = Sampler.load(sampler.save(tmp_path / "state.npz"))
    assert restored.model.name == "custom" and restored.model.sha256 == custom.sha256
    np.testing.assert_array_equal(restored.suggest(), sampler.suggest())


def test_damaged_state_files_are_refused(truth, tmp_path):
    sampler = Sampler(SHAPE, batch_size=15, seed=2)
    step(sampler, truth)
    step(sampler, truth)
    path = sampler.save(tmp_path / "state.npz")
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}

    def tampered(**changes):
        out = tmp_path / "bad.npz"
        np.savez(out, **{**arrays, **changes})
        return out

    counts = arrays["counts"].copy()
    counts[0, 0] += 1
    with pytest.raises(ValueError, match="counts do not match the reading log"):
        Sampler.load(tampered(counts=counts))
    with pytest.raises(ValueError, match=r"recon must be float64 of shape \(40, 56\)"):
        Sampler.load(tampered(recon=np.zeros((4, 4))))
    with pytest.raises(ValueError, match="points lie outside"):
        Sampler.load(tampered(points=arrays["points"] + 100))
    weights = arrays["model/coef_0"].copy()
    weights[0, 0] += 1
    with pytest.raises(ValueError, match=r"hash to .* but the header says"):
        Sampler.load(tampered(**{"model/coef_0": weights}))
    header = json.loads(str(arrays["header"]))
    header["params"]["warp_drive"] = True
    with pytest.raises(ValueError, match=r"settings this fastscan cannot use.*warp_drive"):
        Sampler.load(tampered(header=np.array(json.dumps(header))))
    with pytest.raises(ValueError, match="state schema 'x/9'"):
        Sampler.load(tampered(header=np.array('{"schema": "x/9"}')))


def test_a_state_without_readings_round_trips_twice(tmp_path):
    fresh = Sampler((30, 40), batch_size=5, seed=3)
    path = fresh.save(tmp_path / "empty.npz")
    loaded = Sampler.load(path)
    assert loaded.position is None and loaded.n_measured == 0
    assert loaded.measured_points.shape == (0, 2)
    # saving the loaded sampler again writes no phantom batch, and it loads again
    again = Sampler.load(loaded.save(tmp_path / "again.npz"))
    np.testing.assert_array_equal(again.suggest(), fresh.suggest())

"""The autonomous sampler: contract, exact local updates, honesty, persistence."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from fastscan import Sampler
from fastscan.phantoms import make_phantom
from fastscan.reconstruction import idw_reconstruction

SHAPE = (48, 64)


@pytest.fixture(scope="module")
def truth():
    return make_phantom("flakes", SHAPE, seed=11)


def run(sampler, image, n_batches=None):
    """Drive ``sampler`` against ``image``; returns every suggestion in order."""
    history = []
    while not sampler.should_stop() and (n_batches is None or len(history) < n_batches):
        points = sampler.suggest()
        if len(points) == 0:
            break
        history.append(points)
        sampler.ingest(points, image[points[:, 0], points[:, 1]])
    return history


def test_suggestions_are_new_distinct_and_inside(truth):
    sampler = Sampler(SHAPE, batch_size=20, seed=1, max_coverage=0.3, change_tolerance=None)
    seen = set()
    for points in run(sampler, truth):
        assert points.dtype == np.int64 and points.shape[1] == 2
        keys = {tuple(p) for p in points.tolist()}
        assert len(keys) == len(points), "duplicate inside a batch"
        assert not keys & seen, "re-suggested a measured pixel"
        assert (points >= 0).all() and (points < SHAPE).all()
        seen |= keys
    assert sampler.n_measured == len(seen)
    assert sampler.coverage == pytest.approx(0.3, abs=1 / truth.size)
    assert "max_coverage" in sampler.stop_reason


def test_initial_pattern_then_batches(truth):
    sampler = Sampler(SHAPE, batch_size=7, seed=0, initial_fraction=0.02)
    first = sampler.suggest()
    assert len(first) == round(0.02 * truth.size)
    np.testing.assert_array_equal(sampler.suggest(), first)  # no ingest: same answer
    sampler.ingest(first, truth[first[:, 0], first[:, 1]])
    batch = sampler.suggest()
    assert len(batch) == 7
    assert sampler.erd.shape == SHAPE and (sampler.erd >= 0).all()
    assert (sampler.erd[sampler.measured_mask] == 0).all()


def test_same_seed_same_scan_and_other_seed_differs(truth):
    a = run(Sampler(SHAPE, batch_size=15, seed=3, max_coverage=0.15), truth)
    b = run(Sampler(SHAPE, batch_size=15, seed=3, max_coverage=0.15), truth)
    c = run(Sampler(SHAPE, batch_size=15, seed=4, max_coverage=0.15), truth)
    assert all(np.array_equal(x, y) for x, y in zip(a, b)) and len(a) == len(b)
    assert not np.array_equal(a[0], c[0])


def test_local_updates_equal_full_recompute(truth):
    sampler = Sampler(SHAPE, batch_size=25, seed=2, max_coverage=0.25, change_tolerance=None)
    run(sampler, truth, n_batches=12)
    points = np.argwhere(sampler.measured_mask)
    np.testing.assert_allclose(
        sampler.reconstruction,
        idw_reconstruction(SHAPE, points, truth[points[:, 0], points[:, 1]]),
        rtol=1e-12,
        atol=1e-12,
    )
    fresh = copy.deepcopy(sampler)
    # recompute everything from scratch at the same intensity scale
    fresh._value_max = fresh._value_min + sampler._ref_range
    fresh._full_update()
    assert fresh._scale == sampler._scale
    np.testing.assert_allclose(sampler.erd, fresh.erd, rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(sampler._dk, fresh._dk)


def test_honesty_unmeasured_pixels_never_matter(truth):
    """Two images that differ only where the sampler never measured: same suggestions."""
    kwargs = dict(batch_size=20, seed=5, max_coverage=0.2, change_tolerance=None)
    first = Sampler(SHAPE, **kwargs)
    history_a = run(first, truth)
    other = truth.copy()
    never = ~first.measured_mask
    other[never] = np.random.default_rng(0).uniform(-5, 5, size=never.sum())
    history_b = run(Sampler(SHAPE, **kwargs), other)
    assert len(history_a) == len(history_b)
    for a, b in zip(history_a, history_b):
        np.testing.assert_array_equal(a, b)


def test_fast_beats_random_on_a_phantom():
    big = make_phantom("particles", (160, 240), seed=11)
    sampler = Sampler(big.shape, batch_size=100, seed=0, max_coverage=0.1, change_tolerance=None)
    run(sampler, big)
    rng = np.random.default_rng(0)
    flat = rng.choice(big.size, sampler.n_measured, replace=False)
    pts = np.stack(np.unravel_index(flat, big.shape), 1)
    random_recon = idw_reconstruction(big.shape, pts, big[pts[:, 0], pts[:, 1]])
    err_fast = np.linalg.norm(sampler.reconstruction - big)
    err_random = np.linalg.norm(random_recon - big)
    assert err_fast < 0.7 * err_random


def test_save_load_resumes_identically(truth, tmp_path):
    sampler = Sampler(SHAPE, batch_size=10, seed=7, max_coverage=0.2, spread=0.3)
    run(sampler, truth, n_batches=6)
    path = sampler.save(tmp_path / "state.npz")
    restored = Sampler.load(path)
    assert restored.get_params() == sampler.get_params()
    np.testing.assert_array_equal(restored.measured_points, sampler.measured_points)
    np.testing.assert_array_equal(restored.reconstruction, sampler.reconstruction)
    np.testing.assert_array_equal(restored.suggest(), sampler.suggest())
    rest_a, rest_b = run(sampler, truth), run(restored, truth)
    assert len(rest_a) == len(rest_b)
    assert all(np.array_equal(a, b) for a, b in zip(rest_a, rest_b))
    assert not list(tmp_path.glob("*.tmp"))


def test_load_rejects_other_files(tmp_path):
    np.savez(
        tmp_path / "x.npz",
        header=np.array('{"schema": "something-else/9"}'),
        points=np.zeros((0, 2)),
        values=np.zeros(0),
        initial=np.zeros((0, 2)),
    )
    with pytest.raises(ValueError, match="state schema 'something-else/9'"):
        Sampler.load(tmp_path / "x.npz")
    with pytest.raises(FileNotFoundError, match="not found"):
        Sampler.load(tmp_path / "missing.npz")


def test_repeated_readings_are_averaged(truth):
    sampler = Sampler(SHAPE, batch_size=5, seed=0)
    first = sampler.suggest()
    sampler.ingest(first, truth[first[:, 0], first[:, 1]])
    point = sampler.suggest(1)
    sampler.ingest(np.repeat(point, 2, axis=0), [1.0, 3.0])
    assert sampler.reconstruction[tuple(point[0])] == 2.0
    assert sampler.n_measured == len(first) + 1
    assert len(sampler.measured_values) == len(first) + 2


@pytest.mark.parametrize(
    ("points", "values", "message"),
    [
        ([[0, 64]], [1.0], r"point \(row=0, col=64\) is outside the grid"),
        ([[-1, 0]], [1.0], "outside the grid"),
        ([[0, 0]], [np.nan], "reading 0 is nan"),
        ([[0, 0]], [np.inf], "reading 0 is inf"),
        ([[0, 0], [1, 1]], [1.0], "got 1 values for 2 points"),
        ([0, 0, 1], [1.0], "must be an .n, 2. array"),
        ([[0.5, 1]], [1.0], "integer"),
    ],
)
def test_ingest_rejects_bad_input_and_changes_nothing(points, values, message):
    sampler = Sampler(SHAPE, batch_size=5, seed=0)
    with pytest.raises(ValueError, match=message):
        sampler.ingest(np.array(points), np.array(values))
    assert sampler.n_measured == 0 and len(sampler.measured_points) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"initial_fraction": 0.0}, r"initial_fraction must be in \(0, 1\]"),
        ({"max_coverage": 1.5}, r"max_coverage must be in \(0, 1\]"),
        ({"k": 0}, "k must be an integer"),
        ({"spread": -1.0}, "spread must be"),
        ({"change_tolerance": -0.1}, "change_tolerance must be"),
        ({"pixel_pitch": (1.0, 0.0)}, "pixel_pitch"),
        ({"model": "no-such-model.npz"}, "no-such-model"),
    ],
)
def test_constructor_rejects_bad_settings(kwargs, message):
    with pytest.raises((ValueError, FileNotFoundError, OSError), match=message):
        Sampler(SHAPE, **kwargs)


@pytest.mark.parametrize("shape", [(1, 10), (10,), "ab", (0, 5)])
def test_constructor_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match="grid shape"):
        Sampler(shape)


def test_stops_when_image_stops_changing():
    flat = np.full(SHAPE, 3.0)
    flat[:, 32:] = 4.0  # one edge: measured quickly, then nothing changes
    sampler = Sampler(
        SHAPE, batch_size=10, seed=0, max_coverage=0.9, change_tolerance=1e-3, patience=3
    )
    run(sampler, flat)
    assert sampler.stop_reason.startswith("reconstruction change")
    assert sampler.coverage < 0.9


def test_erd_threshold_and_full_coverage():
    tiny = np.arange(64.0).reshape(8, 8)
    sampler = Sampler((8, 8), batch_size=8, seed=0, max_coverage=1.0, change_tolerance=None)
    run(sampler, tiny)
    assert sampler.stop_reason == "every pixel is measured"
    assert sampler.measured_mask.all()
    assert len(sampler.suggest()) == 0
    high = Sampler(SHAPE, batch_size=10, seed=0, erd_threshold=1e9)
    run(high, np.random.default_rng(0).random(SHAPE))
    assert "erd_threshold" in high.stop_reason


def test_batch_size_one_and_explicit_n(truth):
    sampler = Sampler(SHAPE, batch_size=1, seed=0, max_coverage=0.05)
    history = run(sampler, truth)
    assert all(len(h) == 1 for h in history[1:])
    other = Sampler(SHAPE, seed=0)
    first = other.suggest(n=5)
    assert len(first) == 5
    with pytest.raises(ValueError, match="n must be an integer >= 0"):
        other.suggest(n=-1)


def test_reconstruction_is_read_only(truth):
    sampler = Sampler(SHAPE, seed=0)
    run(sampler, truth, n_batches=2)
    with pytest.raises(ValueError, match="read-only"):
        sampler.reconstruction[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        sampler.measured_mask[0, 0] = True

"""Early activation and ingest granularity: a scan is the same whether its readings
come in whole batches, one at a time, or across a save and load."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastscan import Sampler
from fastscan._change_kernels import change_units, keep_first
from fastscan.phantoms import make_phantom
from fastscan.sampler import ACTIVATION_TAIL

SHAPE = (48, 64)


@pytest.fixture(scope="module")
def truth() -> np.ndarray:
    return 100.0 * make_phantom("flakes", SHAPE, seed=101)


def _scan(truth, mode, tmp_path=None, batches=6, far=None, **knobs):
    """Suggestions of each call and the final ERD and reconstruction of a scan whose
    readings come in whole (``"batch"``), one by one (``"point"``) or in two halves with
    a save and load between them (``"save"``); ``far``: (batch, index) of a reading far
    outside the range (a rescale in mid-batch)."""
    sampler = Sampler(SHAPE, batch_size=16, seed=0, **knobs)
    suggested = []
    for step in range(batches):
        points = sampler.suggest()
        suggested.append(points.copy())
        values = truth[points[:, 0], points[:, 1]].copy()
        if far is not None and far[0] == step:
            values[far[1]] = 5.0 * truth.max()
        if mode == "point":
            for point, value in zip(points, values):
                sampler.ingest(point[None], value[None])
        elif mode == "save":
            half = len(points) // 2
            sampler.ingest(points[:half], values[:half])
            sampler = Sampler.load(sampler.save(tmp_path / f"state{step}.npz"))
            sampler.ingest(points[half:], values[half:])
        else:
            sampler.ingest(points, values)
    return suggested, sampler


def _assert_same(first, second):
    (points_a, a), (points_b, b) = first, second
    assert len(points_a) == len(points_b)
    for pa, pb in zip(points_a, points_b):
        np.testing.assert_array_equal(pa, pb)
    np.testing.assert_array_equal(a.erd, b.erd)
    np.testing.assert_array_equal(a.reconstruction, b.reconstruction)
    assert list(a.stop_rule._changes) == list(b.stop_rule._changes)


@pytest.mark.parametrize("far", [None, (3, 7)], ids=["plain", "rescale-mid-batch"])
def test_batch_point_and_saved_scans_are_identical(truth, tmp_path, far):
    batch = _scan(truth, "batch", far=far)
    assert len(batch[0][0]) > 16 and all(len(p) == 16 for p in batch[0][1:])
    _assert_same(batch, _scan(truth, "point", far=far))
    _assert_same(batch, _scan(truth, "save", tmp_path, far=far))


def test_the_erd_map_is_made_at_the_documented_count_and_the_pattern_still_completes(truth):
    sampler = Sampler(SHAPE, batch_size=16, seed=0)
    initial = sampler.suggest()
    n = len(initial)
    expected = n - max(1, math.ceil(ACTIVATION_TAIL * n))
    assert sampler.activation_count == expected
    for i, point in enumerate(initial):
        assert sampler._active == (i >= expected)
        assert not sampler.initial_complete
        # until the whole pattern is in, suggest hands out what is left of it, in order
        np.testing.assert_array_equal(sampler.suggest(), initial[i:])
        sampler.ingest(point[None], truth[point[0], point[1]][None])
    assert sampler._active and sampler.initial_complete
    batch = sampler.suggest()
    assert len(batch) == 16 and not sampler.measured_mask[batch[:, 0], batch[:, 1]].any()
    # the ERD map and the scale came from the pattern without its tail
    tail = initial[expected:]
    assert (sampler.erd[tail[:, 0], tail[:, 1]] == 0).all()


def test_one_ingest_of_the_whole_pattern_is_split_at_the_count(truth):
    whole = Sampler(SHAPE, batch_size=16, seed=0)
    parts = Sampler(SHAPE, batch_size=16, seed=0)
    initial = whole.suggest()
    values = truth[initial[:, 0], initial[:, 1]]
    whole.ingest(initial, values)
    cut = parts.activation_count
    parts.ingest(initial[:cut], values[:cut])
    assert parts._active and not parts.initial_complete
    parts.ingest(initial[cut:], values[cut:])
    np.testing.assert_array_equal(whole.erd, parts.erd)
    np.testing.assert_array_equal(whole._scale, parts._scale)
    np.testing.assert_array_equal(whole.suggest(), parts.suggest())


def test_the_tail_is_at_least_one_reading_and_leaves_k_plus_one():
    small = Sampler((8, 8), initial_fraction=0.05, k=3)  # 2 k + 2 = 8 initial points
    assert small.activation_count == 7
    tiny = Sampler((8, 8), k=3)
    tiny._initial = np.array([[0, 0], [1, 1], [2, 2], [3, 3]])
    assert tiny.activation_count == 4  # fewer than k + 2 points: all of them


def _until_stop(truth, mode, **knobs):
    sampler = Sampler(SHAPE, batch_size=16, seed=0, max_coverage=0.9, **knobs)
    while not sampler.should_stop():
        points = sampler.suggest()
        values = truth[points[:, 0], points[:, 1]]
        if mode == "point":
            for point, value in zip(points, values):
                sampler.ingest(point[None], value[None])
        else:
            sampler.ingest(points, values)
    return sampler


def test_the_change_rule_watches_batches_whatever_the_ingest_granularity(truth):
    # one record a suggested batch, not one a reading
    knobs = {"change_tolerance": 0.1, "patience": 2}
    batch, point = _until_stop(truth, "batch", **knobs), _until_stop(truth, "point", **knobs)
    assert batch.stop_reason.startswith("reconstruction change")
    assert point.stop_reason == batch.stop_reason
    assert point.n_measured == batch.n_measured < 0.9 * truth.size
    assert list(point.stop_rule._changes) == list(batch.stop_rule._changes)
    n_batches = (batch.n_measured - len(batch._initial)) // 16
    watched = Sampler(SHAPE, batch_size=16, seed=0, patience=1000, change_tolerance=None)
    first = watched.suggest()
    watched.ingest(first, truth[first[:, 0], first[:, 1]])
    assert len(watched.stop_rule._changes) == 0  # the initial pattern is not watched
    for _ in range(n_batches):
        points = watched.suggest()
        for point in points:
            watched.ingest(point[None], truth[point[0], point[1]][None])
    assert len(watched.stop_rule._changes) == n_batches


def test_readings_nobody_suggested_count_one_batch_a_call(truth):
    sampler = Sampler(SHAPE, batch_size=16, seed=0, patience=1000)
    first = sampler.suggest()
    sampler.ingest(first, truth[first[:, 0], first[:, 1]])
    free = np.argwhere(~sampler.measured_mask)[::97][:6]
    sampler.ingest(free[:2], truth[free[:2, 0], free[:2, 1]])
    sampler.ingest(free[2:], truth[free[2:, 0], free[2:, 1]])
    assert len(sampler.stop_rule._changes) == 2


def test_change_kernels_equal_numpy():
    rng = np.random.default_rng(3)
    recon = rng.normal(size=(2, 12 * 9))
    stamp = np.zeros(12 * 9, np.int32)
    stamp[[5, 40]] = 7  # kept already in batch 7
    pixels = np.array([[0, 5], [1, 2], [4, 4], [1, 2], [8, 1], [0, 0]])
    flat, old = keep_first(stamp, 7, pixels, 9, recon)
    want = [
        f
        for i, f in enumerate(pixels @ [9, 1])
        if f not in (5, 40) and f not in (pixels @ [9, 1])[:i]
    ]
    np.testing.assert_array_equal(flat, want)  # first touch only, in order
    np.testing.assert_array_equal(old, recon[:, want])
    assert (stamp[want] == 7).all()
    changed = recon.copy()
    changed[:, want] += rng.normal(size=(2, len(want)))
    for c in range(2):
        per_value = 2.0**30 / 3.7
        expect = np.rint(np.abs(changed[c, flat] - old[c]) * per_value).astype(np.int64).sum()
        assert change_units(changed[c], flat, old[c], per_value) == expect

"""Early activation and ingest granularity: a scan is the same whether its readings
come in whole batches, one at a time, or across a save and load."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastscan import Sampler
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

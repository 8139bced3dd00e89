"""Four-lane rescoring of the fly planner: the same bits as one line at a time, and split
over two threads the same scores as on one."""

from __future__ import annotations

import numpy as np
import pytest
from test_fly_planner import brute_best_interval

import fastscan._threads as threads_module
from fastscan.fly import _kernels as _k
from fastscan.fly import planner as planner_module
from fastscan.fly._interval_lanes import _best_rows
from fastscan.fly.planner import SegmentPlanner


def random_scores(rng, weights, n_lines):
    """Hints of every kind: none (-1), valid, stale (another interval), out of range."""
    n = weights.shape[1]
    ratio = rng.random(n_lines)
    start = rng.integers(-1, n, n_lines)
    end = np.where(rng.random(n_lines) < 0.8, start + rng.integers(0, n, n_lines), -1)
    end[rng.random(n_lines) < 0.1] = n + 3  # past the line's end: not a valid hint
    return ratio, start.astype(np.int64), end.astype(np.int64)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("costs", [(0.26, 0.001), (0.26, 0.1), (0.0, 0.5), (3.0, 0.01)])
def test_lanes_equal_one_line_at_a_time_bit_for_bit(seed, costs):
    rng = np.random.default_rng(seed)
    n_lines, n = int(rng.integers(1, 23)), int(rng.integers(1, 40))
    weights = rng.exponential(1.0, (n_lines, n)) * (rng.random((n_lines, n)) < 0.3)
    if seed % 3 == 0:
        weights[rng.random(weights.shape) < 0.1] = -1.0  # negative entries too
    lines = rng.permutation(n_lines)[: int(rng.integers(1, n_lines + 1))].astype(np.int64)
    ratio, start, end = random_scores(rng, weights, n_lines)
    ref = (ratio.copy(), start.copy(), end.copy())
    _k._best_intervals(weights, 0, lines, *costs, *ref)
    out = (ratio.copy(), start.copy(), end.copy())
    _best_rows(weights, lines, *costs, *out)
    for a, b in zip(ref, out):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    untouched = np.setdiff1d(np.arange(n_lines), lines)  # only the given lines are written
    assert np.array_equal(out[0][untouched], ratio[untouched])
    assert np.array_equal(out[1][untouched], start[untouched])


@pytest.mark.parametrize("seed", range(6))
def test_lanes_find_the_brute_force_best(seed):
    rng = np.random.default_rng(100 + seed)
    weights = rng.exponential(1.0, (9, 21)) * (rng.random((9, 21)) < 0.5)
    lines = np.arange(9, dtype=np.int64)
    ratio, start, end = np.zeros(9), np.full(9, -1, np.int64), np.full(9, -1, np.int64)
    _best_rows(weights, lines, 0.26, 0.05, ratio, start, end)
    for line in lines:
        best = brute_best_interval(weights[line], 0.26, 0.05)[0]
        assert ratio[line] == pytest.approx(best, rel=1e-9)
        if best > 0:  # the interval found is worth that ratio
            total = weights[line, start[line] : end[line] + 1].sum()
            assert total / (0.26 + (end[line] - start[line] + 1) * 0.05) == pytest.approx(best)
        else:
            assert start[line] == end[line] == -1


def planner_scores(erd, staged):
    planner = SegmentPlanner(erd.shape, fixed=0.26, pixel_time=0.01)
    planner.update(np.zeros_like(erd))
    planner.update(staged)
    planner.update(erd)  # every line changed: a rescore of all of them, hinted
    return [np.concatenate([planner._ratio[a], planner._start[a], planner._end[a]]) for a in (0, 1)]


def test_rescore_split_over_two_threads_equals_one_thread(monkeypatch):
    rng = np.random.default_rng(5)
    erd = rng.exponential(1.0, (90, 70)) * (rng.random((90, 70)) < 0.4)
    staged = erd * rng.random(erd.shape)
    monkeypatch.setattr(planner_module, "_SPLIT_PIXELS", 10**12)
    one = planner_scores(erd, staged)
    calls = []
    real_split = threads_module.split_rows

    def recording_split(run, n_rows, **kwargs):
        calls.append((n_rows, kwargs["min_rows"]))
        return real_split(run, n_rows, **kwargs)

    monkeypatch.setattr(planner_module, "_SPLIT_PIXELS", 64)  # any rescore of 1+ lines
    monkeypatch.setattr(threads_module, "MAX_LOAD_PER_CORE", float("inf"))  # even when busy
    monkeypatch.setattr(threads_module, "split_rows", recording_split)
    two = planner_scores(erd, staged)
    assert any(n >= 2 * min_rows for n, min_rows in calls)  # some rescores were split
    for a, b in zip(one, two):
        assert np.array_equal(a, b)

"""Fly planner: Numba kernels against NumPy references, greedy choice, ordering."""

from __future__ import annotations

import numpy as np
import pytest
from docstring_examples import assert_examples_pass
from fly_source import planner_state

from fastscan.fly import Segment
from fastscan.fly import _kernels as _k
from fastscan.fly.planner import SegmentPlanner, order_segments


def brute_best_interval(w: np.ndarray, fixed: float, pixel_time: float):
    best = (0.0, -1, -1)
    for a in range(len(w)):
        for b in range(a, len(w)):
            total = w[a : b + 1].sum()
            if total <= 0:
                continue
            ratio = total / (fixed + (b - a + 1) * pixel_time)
            if ratio > best[0] + 1e-12:
                best = (ratio, a, b)
    return best


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("costs", [(0.26, 0.001), (0.26, 0.1), (0.26, 1.0), (0.0, 0.5)])
def test_best_interval_matches_brute_force(seed, costs):
    rng = np.random.default_rng(seed)
    weights = rng.exponential(1.0, (3, 23)) * (rng.random((3, 23)) < 0.6)
    for axis, grid in ((0, weights), (1, np.ascontiguousarray(weights.T))):
        for line in range(3):
            ratio, a, b = _k._best_interval(grid, axis, line, *costs)
            ref = brute_best_interval(weights[line], *costs)
            assert ratio == pytest.approx(ref[0], rel=1e-9)
            total = weights[line, a : b + 1].sum()
            assert total / (costs[0] + (b - a + 1) * costs[1]) == pytest.approx(ref[0], rel=1e-9)


def test_best_interval_of_an_empty_line_is_nothing():
    assert _k._best_interval(np.zeros((2, 9)), 0, 1, 0.2, 0.01) == (0.0, -1, -1)


def reference_suppress(weights, planned, axis, line, a, b, reach, power):
    w = weights if axis == 0 else weights.T
    p = planned if axis == 0 else planned.T
    w_out, p_out = w.copy(), p.copy()
    n_perp = w.shape[0]
    for i in range(a, b + 1):
        above = [k for k in range(line - 1, max(-1, line - reach - 1), -1) if p[k, i]]
        below = [k for k in range(line + 1, min(n_perp, line + reach + 1)) if p[k, i]]
        before = above[0] if above else None
        after = below[0] if below else None
        first = before + 1 if before is not None else max(0, line - reach)
        last = after - 1 if after is not None else min(n_perp - 1, line + reach)
        for k in range(first, last + 1):
            if k == line:
                continue
            d_old = min(
                k - before if before is not None else np.inf,
                after - k if after is not None else np.inf,
            )
            d_new = abs(k - line)
            if d_new < d_old:
                scale = reach + 1.0 if np.isinf(d_old) else d_old
                w_out[k, i] *= (d_new / scale) ** power
        w_out[line, i] = 0.0
        p_out[line, i] = True
    return (w_out, p_out) if axis == 0 else (w_out.T, p_out.T)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("axis", [0, 1])
def test_suppress_matches_reference(seed, axis):
    rng = np.random.default_rng(seed)
    weights = rng.random((17, 19))
    planned = rng.random((17, 19)) < 0.15
    n_lines = weights.shape[axis]
    line = int(rng.integers(n_lines))
    length = weights.shape[1 - axis]
    a = int(rng.integers(length))
    b = int(rng.integers(a, length))
    reach = int(rng.integers(2, 12))
    expect_w, expect_p = reference_suppress(weights, planned, axis, line, a, b, reach, 2.0)
    w, p, w_t = weights.copy(), planned.copy(), np.ascontiguousarray(weights.T)
    room = (b - a + 1) * (2 * reach + 1)
    log = (np.empty(room, np.int64), np.empty(room))
    *_, n_log = _k._suppress(w, p, axis, line, a, b, reach, 2.0, w_t, True, *log)
    np.testing.assert_allclose(w, expect_w)
    np.testing.assert_array_equal(p, expect_p)
    assert (w <= weights + 1e-15).all()  # suppression never adds weight
    np.testing.assert_array_equal(w_t, w.T)  # mirrored into the transposed copy
    changed = np.flatnonzero(w != weights)
    assert set(changed) <= set(log[0][:n_log])  # every change logged
    _k._restore(w, w_t, True, *log, n_log)
    np.testing.assert_array_equal(w, weights)  # and undone exactly
    np.testing.assert_array_equal(w_t, weights.T)


def test_planner_first_pick_is_the_best_line_interval():
    rng = np.random.default_rng(3)
    erd = rng.exponential(1.0, (14, 21)) * (rng.random((14, 21)) < 0.3)
    planner = SegmentPlanner(erd.shape, fixed=0.3, pixel_time=0.05)
    planner.update(erd)
    pick = planner.choose(np.zeros(erd.shape, bool), max_segments=1)[0]
    rows = [brute_best_interval(erd[r], 0.3, 0.05)[0] for r in range(14)]
    cols = [brute_best_interval(erd[:, c], 0.3, 0.05)[0] for c in range(21)]
    assert pick.rate == pytest.approx(max(rows + cols))
    assert planner.best_rate() == pytest.approx(max(rows + cols))


def test_incremental_update_equals_fresh_scores():
    rng = np.random.default_rng(4)
    erd = rng.random((30, 40))
    planner = SegmentPlanner(erd.shape, fixed=0.26, pixel_time=0.01)
    planner.update(erd)
    erd2 = erd.copy()
    erd2[10:13, 5:9] = 0.0  # a local change, as after one ingest
    planner.update(erd2)
    fresh = SegmentPlanner(erd.shape, fixed=0.26, pixel_time=0.01)
    fresh.update(erd2)
    for axis in (0, 1):
        np.testing.assert_array_equal(planner._ratio[axis], fresh._ratio[axis])
        np.testing.assert_array_equal(planner._start[axis], fresh._start[axis])


@pytest.mark.parametrize("rescore_pixels", [250_000, 400, 90])
@pytest.mark.parametrize("seed", [0, 1])
def test_staged_updates_equal_one_update(rescore_pixels, seed):
    """stage() per batch of changes + update() == one update() with all of them, bit for bit.

    At 400 and 90 line pixels per update the limit cuts the rescoring short
    (30 x 40: 10 and 2 rows, 13 and 3 columns), as on a 2048 x 2048 grid.
    """
    rng = np.random.default_rng(seed)
    shape = (30, 40)
    erd = rng.random(shape)
    kwargs = dict(fixed=0.26, pixel_time=0.01, rescore_pixels=rescore_pixels)
    staged, plain = SegmentPlanner(shape, **kwargs), SegmentPlanner(shape, **kwargs)
    staged.update(erd)
    plain.update(erd)
    overflowed = False
    for decision in range(12):
        boxes = []
        for _ in range(rng.integers(0, 4)):  # the ingests of one decision
            r0, c0 = rng.integers(shape[0]), rng.integers(shape[1])
            box = (r0, r0 + int(rng.integers(1, 12)), c0, c0 + int(rng.integers(1, 30)))
            erd[box[0] : box[1], box[2] : box[3]] = rng.random() * rng.random(
                erd[box[0] : box[1], box[2] : box[3]].shape
            )
            staged.stage(erd, [box])
            boxes.append(box)
        if rescore_pixels == 250_000:  # the stages did the rescoring
            assert not (staged._dirty[0].any() or staged._dirty[1].any())
        overflowed |= any(np.count_nonzero(staged._touched[a]) > staged._limit(a) for a in (0, 1))
        last = boxes[-1:] if decision % 2 else []  # the last changes at the update or staged
        if last:
            erd[last[0][0] : last[0][1], last[0][2] : last[0][3]] *= 0.5
        staged.update(erd, last)
        plain.update(erd, boxes + last)
        for a, b in zip(planner_state(staged), planner_state(plain)):
            np.testing.assert_array_equal(a, b)
        measured = rng.random(shape) < 0.2
        picks = [p.segment for p in staged.choose(measured, max_segments=4)]
        assert picks == [p.segment for p in plain.choose(measured, max_segments=4)]
    assert overflowed == (rescore_pixels < 250_000)


def test_short_dwell_flies_long_segments_and_long_dwell_short_ones():
    erd = np.zeros((40, 200))
    erd[20, 50:150] = 0.05  # a weak band
    erd[20, 100] = 5.0  # one strong pixel inside it
    fast = SegmentPlanner(erd.shape, fixed=0.26, pixel_time=0.001, axes=("rows",))
    slow = SegmentPlanner(erd.shape, fixed=0.26, pixel_time=1.0, axes=("rows",))
    for planner in (fast, slow):
        planner.update(erd)
    long = fast.choose(np.zeros(erd.shape, bool), max_segments=1)[0].segment
    short = slow.choose(np.zeros(erd.shape, bool), max_segments=1)[0].segment
    assert long.n_pixels == 100 and short.n_pixels == 1
    assert short.start == (20, 100)


def test_suppression_spreads_picks_over_the_gaps():
    erd = np.ones((33, 50))
    mask = np.zeros(erd.shape, bool)
    mask[[0, 32]] = True
    erd[mask] = -1
    planner = SegmentPlanner(erd.shape, fixed=0.26, pixel_time=0.001, axes=("rows",))
    planner.update(erd)
    rows = sorted(p.segment.start[0] for p in planner.choose(mask, max_segments=3))
    assert rows[1] - rows[0] > 4 and rows[2] - rows[1] > 4  # not three neighbouring rows
    no_suppression = SegmentPlanner(erd.shape, fixed=0.26, pixel_time=0.001, power=0.0)
    no_suppression.update(erd)
    assert len(no_suppression.choose(mask, max_segments=3)) == 3


def test_time_budget_bounds_a_decision():
    erd = np.ones((20, 30))
    planner = SegmentPlanner(erd.shape, fixed=0.5, pixel_time=0.1, axes=("rows",))
    planner.update(erd)
    picks = planner.choose(np.zeros(erd.shape, bool), max_segments=50, time_budget=7.0)
    seconds = [p.seconds for p in picks]
    assert sum(seconds[:-1]) < 7.0 <= sum(seconds)


def test_order_segments_flies_nearest_end_first():
    segments = [Segment((10, 0), (10, 9)), Segment((0, 0), (0, 9)), Segment((5, 0), (5, 9))]
    order = order_segments(segments, (0, 9), lambda dr, dc: max(abs(dr), abs(dc)))
    assert order == [Segment((0, 9), (0, 0)), Segment((5, 0), (5, 9)), Segment((10, 9), (10, 0))]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fixed": -1.0, "pixel_time": 0.1}, "fixed"),
        ({"fixed": 0.1, "pixel_time": 0.0}, "pixel_time"),
        ({"fixed": 0.1, "pixel_time": 0.1, "axes": ("diagonal",)}, "axes"),
        ({"fixed": 0.1, "pixel_time": 0.1, "power": -2}, "power"),
    ],
)
def test_planner_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SegmentPlanner((10, 10), **kwargs)


@pytest.mark.parametrize(
    "name",
    [
        "fastscan.fly.planner",
        "fastscan.fly.sampler",
        "fastscan.fly.defaults",
        "fastscan.fly._flat",
        "fastscan.fly.level_map",  # (fastscan.fly.levels: tests/test_fly_mode.py)
    ],
)
def test_docstring_examples(name):
    import doctest

    assert_examples_pass(name, doctest.ELLIPSIS)


@pytest.mark.parametrize("transposed", [True, False])
def test_take_region_matches_numpy(transposed):
    rng = np.random.default_rng(8)
    old = np.maximum(rng.normal(size=(19, 23)), 0.0)
    erd = old.copy()
    erd[4:9, 6:15] = rng.normal(size=(5, 9))  # some pixels change, some stay, some go negative
    weights, weights_t = old.copy(), np.ascontiguousarray(old.T)
    dirty_rows, dirty_cols = np.zeros(19, bool), np.zeros(23, bool)
    _k._take_region(erd, weights, weights_t, dirty_rows, dirty_cols, 2, 12, 3, 20, transposed)
    expected = old.copy()
    expected[2:12, 3:20] = np.maximum(erd[2:12, 3:20], 0.0)
    changed = expected != old
    np.testing.assert_array_equal(weights, expected)
    np.testing.assert_array_equal(weights_t, expected.T if transposed else old.T)
    np.testing.assert_array_equal(dirty_rows, changed.any(axis=1))
    np.testing.assert_array_equal(dirty_cols, changed.any(axis=0))
    assert changed.any() and not changed.all()

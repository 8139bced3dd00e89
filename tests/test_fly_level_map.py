"""Incremental level weights (LevelMap): each kernel against the full computation, and scans."""

from __future__ import annotations

import numpy as np
import pytest
from fly_source import planner_state
from honesty import assert_honest_scan

from fastscan.fly import FlySampler
from fastscan.fly import _kernels as _k
from fastscan.fly import _level_kernels as _lk
from fastscan.fly.level_map import LevelMap, _runs
from fastscan.fly.levels import midpoint_gaps, union_level_weights
from fastscan.fly.planner import SegmentPlanner
from fastscan.motion import NANOPROBE
from fastscan.phantoms import make_phantom
from fastscan.replay import SimulatedDetector


def random_batch(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """(row, col) points of a row segment, a column segment or scattered pixels."""
    n_rows, n_cols = shape
    kind = rng.integers(3)
    if kind == 0:
        r, a, b = rng.integers(n_rows), *np.sort(rng.integers(n_cols, size=2))
        return np.column_stack([np.full(b - a + 1, r), np.arange(a, b + 1)])
    if kind == 1:
        c, a, b = rng.integers(n_cols), *np.sort(rng.integers(n_rows, size=2))
        return np.column_stack([np.arange(a, b + 1), np.full(b - a + 1, c)])
    return np.column_stack([rng.integers(n_rows, size=5), rng.integers(n_cols, size=5)])


def test_line_meta_matches_numpy():
    rng = np.random.default_rng(0)
    mask = rng.random((30, 9)) < 0.2
    mask[0] = False
    mask[1, :] = False
    mask[1, 4] = True  # one measured position
    meta = np.full((30, 4), -7, np.int64)
    _lk._line_meta(mask, meta)
    for line in range(30):
        pos = np.flatnonzero(mask[line])
        padded = np.concatenate(([-1, -1], pos, [-1, -1]))
        expected = [
            pos[0] if len(pos) else -1,
            pos[1] if len(pos) > 1 else -1,
            pos[-2] if len(pos) > 1 else -1,
            pos[-1] if len(pos) else -1,
        ]
        assert meta[line].tolist() == expected, (line, padded)
    assert (meta[0] == -1).all() and meta[1].tolist() == [4, -1, -1, 4]


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("origin", [0, 2, 5])
@pytest.mark.parametrize("start", [0.0, 0.05, "raster"])
def test_insert_keeps_gap_midpoints_exact(transposed, origin, start):
    """After every batch of new points the gaps equal _gap_midpoints of the new mask."""
    rng = np.random.default_rng(origin + 10 * transposed)
    n_lines, n = 13, 41  # gap lines of n positions
    if start == "raster":
        mask = np.zeros((n_lines, n), bool)
        mask[:, 2::8] = True
    else:
        mask = rng.random((n_lines, n)) < start
    full = midpoint_gaps(np.ascontiguousarray(mask.T), "rows", origin).T  # [line, pos]
    gaps = np.ascontiguousarray(full.T) if transposed else full.copy()
    meta = np.empty((n_lines, 4), np.int64)
    _lk._line_meta(mask, meta)
    n_changes = 0
    for _ in range(25):
        points = random_batch(rng, (n_lines, n))
        order = np.lexsort((points[:, 1], points[:, 0]))
        lines, positions = points[order, 0].copy(), points[order, 1].copy()
        changed = np.empty((6 * len(points), 2), np.int64)
        before = gaps.copy()
        count = _lk._insert(mask, meta, gaps, transposed, lines, positions, origin, changed)
        expected = midpoint_gaps(np.ascontiguousarray(mask.T), "rows", origin).T
        got = gaps.T if transposed else gaps
        np.testing.assert_array_equal(got, expected)
        # every cell that changed is listed
        diff = np.argwhere((before.T if transposed else before) != expected)
        listed = {tuple(p) for p in changed[:count]}
        assert {tuple(p) for p in diff} <= listed
        n_changes += len(diff)
        check = np.empty_like(meta)
        _lk._line_meta(mask, check)
        np.testing.assert_array_equal(meta, check)
    assert n_changes > 0 and mask.any()


def test_floors_match_the_floor_weights_kernel():
    rng = np.random.default_rng(4)
    erd = rng.normal(size=(21, 17))
    measured = rng.random(erd.shape) < 0.2
    for axis, origin in (("rows", 2), ("columns", 0)):
        gaps = midpoint_gaps(measured, axis, origin)
        floors = np.full(erd.shape[0] if axis == "rows" else erd.shape[1], np.nan)
        lines = np.arange(len(floors))
        along_rows = axis == "rows"
        _lk._line_floors(gaps, erd, lines, 0.5, floors, along_rows)
        line_axis = 1 if axis == "rows" else 0
        cand = gaps > 0
        mean = np.where(cand, np.maximum(erd, 0), 0).sum(axis=line_axis) / np.maximum(
            cand.sum(axis=line_axis), 1
        )
        np.testing.assert_allclose(floors, 0.5 * mean, rtol=1e-13)
        if axis == "columns":  # the one-pass version: the same sums in the same order
            every = np.full(len(floors), np.nan)
            _k._all_line_floors(gaps, erd, 0.5, False, every)
            np.testing.assert_array_equal(every, floors)
        _lk._line_floors(gaps, erd, lines, 0.0, floors, along_rows)
        assert (floors == 0).all()


@pytest.mark.parametrize("shape", [(1, 1), (64, 64), (70, 131)])
def test_transpose_matches_numpy(shape):
    src = np.random.default_rng(1).random(shape) < 0.4
    dst = np.empty(shape[::-1], bool)
    _lk._transpose(src, dst)
    np.testing.assert_array_equal(dst, src.T)


@pytest.mark.parametrize(
    ("origins", "floor", "gap_power"),
    [
        ({"rows": 2, "columns": 0}, 0.5, 0.0),
        ({"rows": 2, "columns": 0}, 0.0, 1.0),
        ({"rows": 0}, 0.8, 0.0),
        ({"columns": 3}, 0.5, 2.0),
    ],
)
def test_level_map_equals_union_level_weights_bit_for_bit(origins, floor, gap_power):
    """Random segments, each with a changed ERD box: the weights stay exactly the full map,
    and the returned boxes and pixels hold every weight that changed."""
    rng = np.random.default_rng(len(origins) + int(10 * floor))
    shape = (37, 45)
    erd = rng.normal(size=shape)
    measured = np.zeros(shape, bool)
    measured[2::8] = True
    levels = LevelMap(erd, measured, origins, gap_power=gap_power, floor=floor)
    full = union_level_weights(erd, measured, origins, gap_power=gap_power, floor=floor)
    np.testing.assert_array_equal(levels.weights, full)
    changed_total = 0
    for _ in range(30):
        boxes = []
        for _ in range(rng.integers(1, 3)):
            points = random_batch(rng, shape)
            measured[points[:, 0], points[:, 1]] = True
            lo, hi = points.min(axis=0) - 3, points.max(axis=0) + 4
            box = (int(lo[0]), int(hi[0]), int(lo[1]), int(hi[1]))
            erd[max(box[0], 0) : box[1], max(box[2], 0) : box[3]] = rng.normal(
                size=(
                    min(box[1], shape[0]) - max(box[0], 0),
                    min(box[3], shape[1]) - max(box[2], 0),
                )
            )
            boxes.append(box)
        before = full
        regions, pixels = levels.update(erd, measured, boxes)
        full = union_level_weights(erd, measured, origins, gap_power=gap_power, floor=floor)
        np.testing.assert_array_equal(levels.weights, full)
        covered = np.zeros(shape, bool)
        for r0, r1, c0, c1 in regions:
            covered[max(r0, 0) : r1, max(c0, 0) : c1] = True
        covered[pixels[:, 0], pixels[:, 1]] = True
        moved = before != full
        assert not (moved & ~covered).any()
        changed_total += moved.sum()
    assert changed_total > 0


def test_level_map_rejects_bad_input():
    erd, measured = np.zeros((5, 6)), np.zeros((5, 6), bool)
    with pytest.raises(ValueError, match="floor"):
        LevelMap(erd, measured, {"rows": 0}, floor=-1.0)
    with pytest.raises(ValueError, match="gap_power"):
        LevelMap(erd, measured, {"rows": 0}, gap_power=np.nan)
    with pytest.raises(ValueError, match="origins"):
        LevelMap(erd, measured, {"diagonals": 0})
    with pytest.raises(ValueError, match="shape"):
        LevelMap(erd[:-1], measured, {"rows": 0})
    with pytest.raises(ValueError, match="2-D bool"):
        LevelMap(erd, measured.astype(int), {"rows": 0})
    with pytest.raises(ValueError, match="origin must be"):
        LevelMap(erd, measured, {"rows": -2})
    levels = LevelMap(erd, measured, {"rows": 0})
    with pytest.raises(ValueError, match="shape"):
        levels.update(erd[:, :-1], measured, [])


def test_scan_box_matches_numpy():
    rng = np.random.default_rng(6)
    shape = (15, 19)
    seen = rng.random(shape) < 0.3
    mask = seen | (rng.random(shape) < 0.3)
    gaps_rows = ((rng.random(shape) < 0.2) * rng.integers(1, 9, size=shape)).astype(np.int32)
    gaps_cols = ((rng.random(shape) < 0.05) * 7).astype(np.int32)
    boxes = [(2, 9, 3, 12), (5, 14, 0, 6)]  # overlapping
    expect_seen, expect_rows, expect_cols = seen.copy(), np.zeros(15, bool), np.zeros(19, bool)
    expect_points, expect_cands = [], []
    for r0, r1, c0, c1 in boxes:
        for r in range(r0, r1):
            for c in range(c0, c1):
                if mask[r, c] and not expect_seen[r, c]:
                    expect_seen[r, c] = True
                    expect_points.append([r, c])
                if gaps_rows[r, c] > 0 or gaps_cols[r, c] > 0:
                    expect_cands.append([r, c])
        expect_rows[r0:r1] |= (gaps_rows[r0:r1, c0:c1] > 0).any(axis=1)
        expect_cols[c0:c1] |= (gaps_cols[r0:r1, c0:c1] > 0).any(axis=0)
    area = sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in boxes)
    points, cands = np.empty((area, 2), np.int64), np.empty((area, 2), np.int64)
    counts, rows, cols = np.zeros(2, np.int64), np.zeros(15, bool), np.zeros(19, bool)
    for box in boxes:
        _lk._scan_box(
            seen, mask, gaps_rows, gaps_cols, True, True, *box, points, cands, counts, rows, cols
        )
    assert points[: counts[0]].tolist() == expect_points and counts[0] > 0
    assert cands[: counts[1]].tolist() == expect_cands and counts[1] > 0
    np.testing.assert_array_equal(seen, expect_seen)
    np.testing.assert_array_equal(rows, expect_rows)
    np.testing.assert_array_equal(cols, expect_cols)
    assert rows.any() and cols.any() and not rows.all()


def test_runs_and_take_pixels_match_numpy():
    assert _runs(np.array([1, 2, 3, 7, 9, 10])) == [(1, 4), (7, 8), (9, 11)]
    assert _runs(np.zeros(0, np.int64)) == []
    rng = np.random.default_rng(2)
    old = np.maximum(rng.normal(size=(11, 13)), 0.0)
    erd = rng.normal(size=old.shape)
    rows, cols = rng.integers(11, size=20), rng.integers(13, size=20)
    for transposed in (True, False):
        weights, weights_t = old.copy(), np.ascontiguousarray(old.T)
        dirty_rows, dirty_cols = np.zeros(11, bool), np.zeros(13, bool)
        _k._take_pixels(erd, weights, weights_t, dirty_rows, dirty_cols, rows, cols, transposed)
        expected = old.copy()
        expected[rows, cols] = np.maximum(erd[rows, cols], 0.0)
        moved = expected != old
        np.testing.assert_array_equal(weights, expected)
        np.testing.assert_array_equal(weights_t, expected.T if transposed else old.T)
        np.testing.assert_array_equal(dirty_rows, moved.any(axis=1))
        np.testing.assert_array_equal(dirty_cols, moved.any(axis=0))
        assert moved.any()


def flown(sampler: FlySampler, truth: np.ndarray) -> list:
    detector = SimulatedDetector(truth)
    segments = []
    while not sampler.should_stop():
        batch = sampler.suggest_segments()
        if not batch:
            break
        for segment in batch:
            points = segment.pixels()
            sampler.ingest(points, detector.measure(points))
            segments.append(segment)
    assert_honest_scan(sampler, detector, sampler.motion)
    return segments


@pytest.mark.parametrize(
    ("kind", "dwell", "shape", "axes"),
    [
        ("particles", 0.01, (72, 88), ("rows", "columns")),
        ("grains", 0.001, (72, 88), ("rows", "columns")),
        ("flakes", 1.0, (40, 120), ("rows", "columns")),
        ("particles", 0.01, (64, 64), ("columns",)),
        ("bright", 0.01, (72, 88), ("rows", "columns")),
    ],
)
def test_scan_is_bit_identical_to_rebuilding_the_levels(kind, dwell, shape, axes, monkeypatch):
    """Same segments, beam time and ERD as rebuilding union_level_weights every decision."""
    truth = np.asarray(make_phantom(kind.replace("bright", "particles"), shape, seed=3), float)
    if kind == "bright":  # off the coarse rows, far brighter: the intensities are rescaled
        truth[30:34, 40:50] += 5.0
        truth[51:53, 10:20] += 20.0
    builds = []
    build = FlySampler._build_levels
    monkeypatch.setattr(
        FlySampler, "_build_levels", lambda self: (builds.append(self.coverage), build(self))
    )
    # what each decision's choice reads (the planner's weights and scores); the incremental
    # scan updates them in each ingest (stage) and settles them in the decision
    choices: list[list] = []
    stages = [0]
    choose, stage = SegmentPlanner.choose, SegmentPlanner.stage
    monkeypatch.setattr(
        SegmentPlanner,
        "choose",
        lambda self, *a, **kw: (
            self.shape == shape  # not the kernels' warm-up (level_map)
            and choices[-1].append([x.copy() for x in planner_state(self)]),
            choose(self, *a, **kw),
        )[1],
    )
    monkeypatch.setattr(
        SegmentPlanner, "stage", lambda self, *a: (stages.append(1), stage(self, *a))[1]
    )
    runs, n_builds, n_stages = [], [], []
    for incremental in (True, False):
        motion = NANOPROBE.replace(dwell=dwell)
        # erd_floor 0: the auto floor's even fill (default at 10 ms and up) removes the
        # partial segments and the rescale these scenes were chosen to exercise
        fs = FlySampler(shape, motion=motion, max_coverage=0.45, axes=axes, erd_floor=0.0)
        fs._incremental_levels = incremental
        choices.append([])
        runs.append((flown(fs, truth), fs))
        n_builds.append(len(builds))
        n_stages.append(len(stages))
        builds.clear()
        stages.clear()
    (seg_a, fs_a), (seg_b, fs_b) = runs
    assert len(seg_a) > 20
    # the incremental scan staged in its ingests: more than one per decision
    assert n_stages[0] > len(choices[-2]) >= 3 and n_stages[1] == 0
    assert len(choices[-2]) == len(choices[-1])
    for state_a, state_b in zip(choices[-2], choices[-1]):
        for a, b in zip(state_a, state_b):
            np.testing.assert_array_equal(a, b)
    # incremental: one map at activation, one per rescale; rebuilding: one per decision
    assert n_builds[0] == (2 if kind == "bright" else 1) and n_builds[1] > n_builds[0]
    if axes == ("columns",):  # after the coarse rows, column segments
        assert sum(not s.is_row for s in seg_a) > 20
    elif kind == "particles":  # partial segments: few lines' floors change
        assert any(s.n_pixels < shape[1] for s in seg_a)
    assert seg_a == seg_b
    assert fs_a.beam_time == fs_b.beam_time
    np.testing.assert_array_equal(fs_a.erd, fs_b.erd)
    # the last ingest: staged in the incremental scan, taken by a rebuild in the other
    fs_b._build_levels()
    fs_b._planner.update(fs_b._planner_weights()[0])  # (with flat_pixel_share's discount)
    np.testing.assert_array_equal(fs_a._levels.weights, fs_b._levels.weights)
    np.testing.assert_array_equal(fs_a._planner._weights, fs_b._planner._weights)


def test_insert_writes_at_most_five_changes_a_point():
    """The caller gives _insert room for 8 changed cells a point (Numba checks no bounds)."""
    rng = np.random.default_rng(9)
    worst = 0
    for _ in range(2000):
        n = int(rng.integers(2, 40))
        mask = rng.random((1, n)) < rng.random() * 0.5
        origin = int(rng.integers(0, 4)) % n
        gaps = midpoint_gaps(np.ascontiguousarray(mask.T), "rows", origin).T.copy()
        meta = np.empty((1, 4), np.int64)
        _lk._line_meta(mask, meta)
        changed = np.empty((8, 2), np.int64)
        point = np.array([int(rng.integers(n))])
        count = _lk._insert(mask, meta, gaps, False, np.zeros(1, np.int64), point, origin, changed)
        worst = max(worst, count)
        np.testing.assert_array_equal(
            gaps, midpoint_gaps(np.ascontiguousarray(mask.T), "rows", origin).T
        )
    assert 3 <= worst <= 5

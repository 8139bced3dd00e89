"""The row path of the affected-pixel merge (fastscan._row_merge) against the per-point one."""

from __future__ import annotations

import numpy as np
import pytest
from honesty import assert_honest_scan

import fastscan._threads as threads_module
import fastscan.sampler as sampler_module
from fastscan import _row_merge, _update
from fastscan._neighbor_lists import NeighborLists
from fastscan.fly import FlySampler
from fastscan.motion import NANOPROBE
from fastscan.phantoms import make_phantom
from fastscan.replay import SimulatedDetector


def tile_bounds(mask, dk, tile):
    bound = np.zeros((-(-mask.shape[0] // tile), -(-mask.shape[1] // tile)))
    return _update.tile_dk_max(mask, dk, tile, bound)


def knn_reference(mask, pixels, k):
    """Brute force: sort by squared distance, then row offset, then col offset."""
    m_rows, m_cols = np.nonzero(mask)
    d_row, d_col = m_rows[None] - pixels[:, :1], m_cols[None] - pixels[:, 1:]
    d2 = d_row * d_row + d_col * d_col
    order = np.lexsort((d_col, d_row, d2), axis=-1)[:, :k]
    take = np.take_along_axis
    return (
        take(d_row, order, 1) + pixels[:, :1],
        take(d_col, order, 1) + pixels[:, 1:],
        (np.sqrt(take(d2, order, 1).astype(np.float64))),
    )


def stored_lists(mask, k):
    """Lists of every unmeasured pixel from a search, and the k-th distances."""
    pixels = np.argwhere(~mask)
    lists = NeighborLists(mask.shape, k)
    nbr = knn_reference(mask, pixels, k)
    lists.store(pixels, nbr[0], nbr[1])
    dk = np.zeros(mask.shape)
    dk[pixels[:, 0], pixels[:, 1]] = nbr[2][:, -1]
    return lists, dk


def copy_lists(lists):
    twin = NeighborLists(lists.shape, lists.k)
    twin.offsets[:] = lists.offsets
    twin.valid[:] = lists.valid
    return twin


def segment_rows(mask, rng, rows):
    """New points: a run of unmeasured pixels on each of ``rows`` (gaps where measured)."""
    n_cols = mask.shape[1]
    new = []
    for r in rows:
        lo = int(rng.integers(0, n_cols // 2))
        hi = int(rng.integers(lo + n_cols // 4, n_cols + 1))
        new += [(r, c) for c in range(lo, hi) if not mask[r, c]]
    return np.array(sorted(new), np.int64).reshape(-1, 2)


@pytest.mark.parametrize("split_rows", [10**9, 2])  # bands on one or two threads
@pytest.mark.parametrize(
    ("shape", "fraction", "k", "tile", "n_seg_rows", "columns"),
    [
        ((40, 90), 0.03, 4, 8, 1, False),
        ((50, 70), 0.01, 10, 16, 2, False),
        ((150, 300), 1e-4, 3, 16, 1, False),
        ((90, 40), 0.03, 4, 8, 1, True),
        ((70, 50), 0.01, 10, 16, 2, True),
    ],
)
def test_row_path_equals_the_per_point_merge(
    monkeypatch, shape, fraction, k, tile, n_seg_rows, columns, split_rows
):
    """Same pixels in the same order, same valid flags and lists (the last grid is so
    sparse that some points within reach lie beyond int8 offsets and invalidate lists)."""
    monkeypatch.setattr(threads_module, "MIN_ROWS", split_rows)
    monkeypatch.setattr(threads_module, "MAX_LOAD_PER_CORE", float("inf"))
    rng = np.random.default_rng(3)
    mask = rng.random(shape) < fraction
    mask[0, 0] = mask[-1, -1] = True
    lists, dk = stored_lists(mask, k)
    twin = copy_lists(lists)
    invalidated = 0
    for _ in range(3):
        seen = mask.T if columns else mask  # segments along columns: made on the transpose
        rows = np.sort(rng.choice(np.flatnonzero(~seen.all(1)), n_seg_rows, replace=False))
        new = segment_rows(seen, rng, rows)
        if columns:
            new = new[np.lexsort((new[:, 0], new[:, 1]))][:, ::-1].copy()  # by row, then col
        is_new = np.ones(len(new), bool)
        assert _row_merge.line_layout(new, is_new)[0] == columns
        bound = tile_bounds(mask, dk, tile)
        mask[new[:, 0], new[:, 1]] = True
        dk[new[:, 0], new[:, 1]] = 0.0
        touched = np.zeros(shape, bool)
        valid_before = lists.valid.copy()
        want = twin.affected_merge(mask, dk, bound, tile, new, is_new, touched)
        got = _row_merge.affected_merge(lists, mask, dk, bound, tile, new, is_new, touched)
        assert len(want) > 0 and not touched.any()
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(lists.valid, twin.valid)
        kept = lists.valid
        np.testing.assert_array_equal(lists.offsets[kept], twin.offsets[kept])
        # and both equal a fresh search where the lists are still valid
        rest = np.argwhere(~mask)
        fresh = knn_reference(mask, rest, k)
        ok = lists.valid_of(rest)
        for a, b in zip(lists.gather(rest[ok]), fresh):
            np.testing.assert_array_equal(a, b[ok])
        invalidated += int(np.count_nonzero(valid_before & ~lists.valid))
        dk[rest[:, 0], rest[:, 1]] = fresh[2][:, -1]
    if shape == (150, 300):
        assert invalidated > 0  # the int8 limit was met


def test_scattered_or_repeated_points_take_the_per_point_path():
    def fits(points: np.ndarray, is_new: np.ndarray) -> bool:
        return _row_merge.line_layout(points, is_new) is not None

    points = np.array([[0, c] for c in range(10)])
    assert fits(points, np.ones(10, bool))
    assert not fits(points, np.r_[np.ones(9, bool), False])  # a repeat
    assert not fits(points[::-1], np.ones(10, bool))  # not sorted
    scattered = np.stack([np.arange(10), np.arange(10)], 1)
    assert not fits(scattered, np.ones(10, bool))
    column = points[:, ::-1].copy()
    assert _row_merge.line_layout(column, np.ones(10, bool))[0]  # flipped: along a column
    assert not fits(points[:3], np.ones(3, bool))


def fly_scan(image, decisions, axes, on_refine=None):
    """``on_refine()`` is called once, when the coarse raster is complete."""
    fs = FlySampler(image.shape, motion=NANOPROBE.replace(dwell=0.01), seed=0, axes=axes)
    detector = SimulatedDetector(image)
    for _ in range(decisions):
        if on_refine is not None and fs._sampler.initial_complete:
            on_refine()
            on_refine = None
        segments = fs.suggest_segments()
        if fs.should_stop() or not segments:
            break
        for segment in segments:
            points = segment.pixels()
            fs.ingest(points, detector.measure(points))
    assert_honest_scan(fs, detector, fs.motion)
    return fs


@pytest.mark.parametrize("two_threads", [False, True])
@pytest.mark.parametrize("axes", [("rows", "columns"), ("columns",)])
def test_a_fly_scan_is_bit_identical_with_and_without_the_row_path(monkeypatch, axes, two_threads):
    """The same scan with the line path (on one or two threads) and without it."""
    image = make_phantom("flakes", (96, 128), seed=4)
    monkeypatch.setattr(sampler_module, "_warm", True)  # no warm-up scan: this one's calls only
    flips = []  # the line path's flip flag, call by call
    real = _row_merge._affected_merge_rows
    monkeypatch.setattr(
        _row_merge, "_affected_merge_rows", lambda *a: flips.append(a[8]) or real(*a)
    )
    with monkeypatch.context() as patch:
        if two_threads:
            patch.setattr(threads_module, "MIN_ROWS", 2)
            patch.setattr(threads_module, "MAX_LOAD_PER_CORE", float("inf"))
        refine_from = []  # the calls after the coarse raster
        fast = fly_scan(image, 25, axes, lambda: refine_from.append(len(flips)))
    # the coarse raster's rows after the ERD map is made, then the refinement
    coarse, refine = flips[: refine_from[0]], flips[refine_from[0] :]
    assert coarse and not any(coarse)
    assert refine and all(refine) == (axes == ("columns",))  # columns only: all flipped
    monkeypatch.setattr(_row_merge, "MIN_POINTS_PER_ROW", 10**9)
    flips.clear()
    slow = fly_scan(image, 25, axes)
    assert not flips
    np.testing.assert_array_equal(fast.measured_points, slow.measured_points)
    np.testing.assert_array_equal(fast.reconstruction, slow.reconstruction)
    np.testing.assert_array_equal(fast.erd, slow.erd)
    assert fast.beam_time == slow.beam_time and fast.coverage == slow.coverage


def test_small_kernels_against_numpy():
    rng = np.random.default_rng(0)
    # _half_width: the largest w with dr2 + w*w <= limit, as d_k**2 + 0.5 from sqrt(n)
    for n in range(0, 300, 7):
        limit = np.sqrt(float(n)) ** 2 + 0.5
        for dr2 in (0, 1, 4, 9, n, n + 1):
            w = np.arange(0, 40)
            ok = w[dr2 + w * w <= limit]
            assert _row_merge._half_width(dr2, limit, 40) == (ok.max() if len(ok) else -1)
            assert _row_merge._half_width(dr2, limit, 3) == (min(ok.max(), 3) if len(ok) else -1)
    assert _row_merge._half_width(4, np.inf, 25) == 25
    # _next_point: searchsorted of each run of columns
    points = segment_rows(np.zeros((6, 30), bool), rng, [1, 4])
    starts, rows = _row_merge.row_groups(points)
    assert rows.tolist() == [1, 4]
    cols = np.ascontiguousarray(points[:, 1])
    table = _row_merge._next_point(starts, cols, 30)
    for g in range(2):
        run = cols[starts[g] : starts[g + 1]]
        want = starts[g] + np.searchsorted(run, np.arange(31), side="left")
        np.testing.assert_array_equal(table[g], want)
    # _row_runs: runs of rows, or -1 unless strictly sorted by (row, col)
    assert _row_merge._row_runs(points[:, 0].copy(), cols) == 2
    shuffled = points[rng.permutation(len(points))]
    assert _row_merge._row_runs(shuffled[:, 0].copy(), shuffled[:, 1].copy()) == -1
    twice = np.repeat(points, 2, axis=0)
    assert _row_merge._row_runs(twice[:, 0].copy(), twice[:, 1].copy()) == -1


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("k", [1, 4, 9])
def test_merge_row_keeps_the_k_first_of_the_union(k, flip):
    """_merge_row against sorting the old list and the new points by (d2, dr, dc); the
    new points lie on one row (or column, ``flip``), ``across`` lines from the pixel."""
    rng = np.random.default_rng(k)

    def offset(across, d):
        return (d, across) if flip else (across, d)

    for _ in range(40):
        x, across = int(rng.integers(0, 40)), int(rng.integers(-5, 6))
        along = np.sort(rng.choice(40, int(rng.integers(1, 12)), replace=False)).astype(np.int64)
        new = [offset(across, int(q) - x) for q in along]
        old = [(int(a), int(b)) for a, b in rng.integers(-9, 10, (k + 5, 2))]
        old = sorted(set(old) - set(new) - {(0, 0)})
        old = sorted(old, key=lambda o: (o[0] ** 2 + o[1] ** 2, o[0], o[1]))[:k]
        if len(old) < k:
            continue
        offsets = np.array([old], np.int8)
        mid = int(np.searchsorted(along, x))
        merged = np.empty((k, 2), np.int64)
        _row_merge._merge_row(offsets, 0, across, x, along, flip, 0, mid, len(along), merged)
        want = sorted(old + new, key=lambda o: (o[0] ** 2 + o[1] ** 2, o[0], o[1]))[:k]
        assert [tuple(o) for o in offsets[0].tolist()] == want

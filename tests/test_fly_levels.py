"""Coarse-to-fine fly refinement: gap midpoints (kernel vs NumPy) and the planner's behaviour."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from honesty import assert_honest_scan

from fastscan.fly import FlySampler
from fastscan.fly import _kernels as _k
from fastscan.fly.levels import level_weights, midpoint_gaps, union_level_weights
from fastscan.motion import NANOPROBE
from fastscan.replay import SimulatedDetector


def dyadic(lo: int, hi: int) -> int:
    """The integer of lo..hi divisible by the largest power of two (by brute force)."""
    if lo == 0:
        return 0
    return max(range(lo, hi + 1), key=lambda v: v & -v)


def candidate(lo: int, hi: int, origin: int) -> int:
    if lo >= origin:
        return origin + dyadic(lo - origin, hi - origin)
    if hi < origin:
        return origin - dyadic(origin - hi, origin - lo)
    return origin


def reference_midpoints(measured: np.ndarray, origin: int = 0) -> np.ndarray:
    """Gap length at each column gap's dyadic midpoint, edge runs gated (plain Python).

    An edge run is a candidate only once the gap on the other side of its measured
    pixel is at most twice the candidate's distance to that pixel.
    """
    n_rows, n_cols = measured.shape
    out = np.zeros(measured.shape, np.int64)
    for c in range(n_cols):
        rows = np.flatnonzero(measured[:, c])
        if len(rows) == 0:
            out[candidate(0, n_rows - 1, origin), c] = 2 * n_rows
            continue
        for a, b in itertools.pairwise(rows):
            if b - a >= 2:
                out[candidate(a + 1, b - 1, origin), c] = b - a
        inner = np.diff(rows)
        if rows[0] >= 1:
            x = candidate(0, rows[0] - 1, origin)
            if len(rows) == 1 or inner[0] <= 2 * (rows[0] - x):
                out[x, c] = 2 * rows[0]
        if rows[-1] <= n_rows - 2:
            x = candidate(rows[-1] + 1, n_rows - 1, origin)
            if len(rows) == 1 or inner[-1] <= 2 * (x - rows[-1]):
                out[x, c] = 2 * (n_rows - 1 - rows[-1])
    return out


def test_dyadic_candidate_matches_brute_force():
    for lo in range(0, 40):
        for hi in range(lo, 45):
            assert _k._dyadic(lo, hi) == dyadic(lo, hi)
            for origin in (0, 2, 5):
                assert _k._candidate(lo, hi, origin) == candidate(lo, hi, origin)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("density", [0.0, 0.05, 0.3, 0.9])
def test_gap_midpoints_match_reference(seed, density):
    rng = np.random.default_rng(seed)
    measured = rng.random((23, 17)) < density
    out = np.full(measured.shape, -1, np.int64)
    _k._gap_midpoints(measured, out, 0)
    np.testing.assert_array_equal(out, reference_midpoints(measured))
    for origin in (1, 2, 7):
        np.testing.assert_array_equal(
            midpoint_gaps(measured, "rows", origin), reference_midpoints(measured, origin)
        )
    np.testing.assert_array_equal(midpoint_gaps(measured, "rows"), out)
    np.testing.assert_array_equal(
        midpoint_gaps(measured, "columns"), reference_midpoints(measured.T).T
    )
    assert not (out[measured] > 0).any()  # a measured pixel is never a candidate


def reference_level_weights(erd, gaps, axis, floor, gap_power):
    """The floor and gap weighting of level_weights in plain NumPy."""
    candidate = gaps > 0
    weights = np.where(candidate, np.maximum(erd, 0.0), 0.0)
    if floor:
        line_axis = 1 if axis == "rows" else 0  # average along the line
        count = candidate.sum(axis=line_axis, keepdims=True)
        mean = weights.sum(axis=line_axis, keepdims=True) / np.maximum(count, 1)
        weights = np.where(candidate, np.maximum(weights, floor * mean), 0.0)
    if gap_power:
        n_line = gaps.shape[0] if axis == "rows" else gaps.shape[1]  # the gaps run along it
        factor = (np.maximum(gaps, 1) / 2.0) ** gap_power
        weights *= np.where(gaps >= 2 * n_line, 1.0, factor)  # an empty line: no gap factor
    return weights


@pytest.mark.parametrize("axis", ["rows", "columns"])
@pytest.mark.parametrize(("floor", "gap_power"), [(0.0, 0.0), (0.5, 0.0), (0.8, 1.5)])
def test_level_weights_kernel_matches_numpy(axis, floor, gap_power):
    rng = np.random.default_rng(11)
    erd = rng.normal(size=(37, 29))  # negative values: nothing to gain
    measured = rng.random(erd.shape) < 0.1
    measured[2::8] = True
    gaps = midpoint_gaps(measured, axis, 2 if axis == "rows" else 0)
    weights = level_weights(
        erd, measured, axis, floor=floor, gap_power=gap_power, origin=2 if axis == "rows" else 0
    )
    expected = reference_level_weights(erd, gaps, axis, floor, gap_power)
    np.testing.assert_allclose(weights, expected, rtol=1e-12, atol=0)
    assert (weights[gaps == 0] == 0).all() and (weights > 0).any()
    with pytest.raises(ValueError, match="gap_power"):
        level_weights(erd, measured, axis, gap_power=-1.0)
    with pytest.raises(ValueError, match="shape"):
        level_weights(erd[:-1], measured, axis)


def test_level_weights_keep_the_erd_only_at_midpoints():
    rng = np.random.default_rng(3)
    erd = rng.random((16, 12))
    measured = np.zeros(erd.shape, bool)
    measured[::4] = True
    weights = level_weights(erd, measured, "rows")
    mid = midpoint_gaps(measured, "rows") > 0
    np.testing.assert_array_equal(weights[mid], erd[mid])
    assert (weights[~mid] == 0).all() and mid.any()
    with pytest.raises(ValueError, match="axis must be"):
        midpoint_gaps(measured, "diagonals")
    with pytest.raises(ValueError, match="2-D bool"):
        midpoint_gaps(measured.astype(int), "rows")


def scan(sampler: FlySampler, truth: np.ndarray, decisions: int = 400):
    """Run the sampler; per segment after the coarse raster: (segment, gaps before it)."""
    detector = SimulatedDetector(truth)
    flown = []
    for _ in range(decisions):
        if sampler.should_stop():
            break
        active = sampler._sampler.initial_complete
        gaps = midpoint_gaps(sampler.measured_mask, "rows", sampler._origin)
        segments = sampler.suggest_segments()
        if not segments:
            break
        for segment in segments:
            points = segment.pixels()
            sampler.ingest(points, detector.measure(points))
            if active:
                flown.append((segment, gaps))
    assert_honest_scan(sampler, detector, sampler.motion)
    return flown


@pytest.mark.parametrize(("dwell", "n_rows"), [(0.001, 64), (0.001, 63), (0.01, 64)])
def test_texture_is_refined_in_whole_rows_at_bisection_levels(dwell, n_rows):
    """Detail everywhere (flat ERD): (nearly) whole rows, each halving a gap, as a fly raster."""
    rng = np.random.default_rng(0)
    shape = (n_rows, 48)
    truth = rng.random(shape) * 100.0
    # a portrait grid: "auto" would fly columns (fewer lines); this is the rows' refinement
    fs = FlySampler(
        shape, motion=NANOPROBE.replace(dwell=dwell), max_coverage=0.5, seed=0, fly_axis="rows"
    )
    flown = scan(fs, truth)
    assert len(flown) >= 8
    for segment, gaps in flown:
        assert segment.is_row
        pixels = segment.pixels()
        assert (gaps[pixels[:, 0], pixels[:, 1]] > 0).all()  # each pixel halves its gap
    lengths = np.array([segment.n_pixels for segment, _ in flown])
    assert lengths.mean() >= 0.9 * shape[1]
    if dwell < 0.005:  # a segment's fixed cost is worth hundreds of pixels: whole rows only
        assert (lengths == shape[1]).all()
        # the scan ends exactly as the fly raster of every 2nd row
        np.testing.assert_array_equal(
            np.flatnonzero(fs.measured_mask.any(axis=1)), np.arange(0, shape[0], 2)
        )


@pytest.mark.parametrize("n_rows", [17, 31, 32, 33, 40, 63, 64, 171, 250, 256])
def test_bisection_levels_from_row_2_reach_the_fly_rasters_every_2nd_row(n_rows):
    """Every 8th row from row 2 (two rows or more), bisected: rows 2 (mod 4), then the even rows."""
    measured = np.zeros((n_rows, 3), bool)
    measured[2::8] = True
    levels = []
    while not measured.all():
        candidates = np.flatnonzero(midpoint_gaps(measured, "rows", 2)[:, 0])
        assert len(candidates)
        levels.append(candidates)
        measured[candidates] = True
    # no odd row before every even row: the raster of every 2nd row is a state of the scan
    flown = np.concatenate(levels)
    first_odd = np.flatnonzero(flown % 2 == 1)
    even_before = flown[: first_odd[0]] if len(first_odd) else flown
    expected = np.setdiff1d(np.arange(0, n_rows, 2), np.arange(2, n_rows, 8))
    np.testing.assert_array_equal(np.sort(even_before), expected)
    if n_rows >= 16:  # the first level falls between the every-4th rows (2 mod 4)
        assert (levels[0] % 4 == 2).all()


def test_sparse_sample_is_refined_in_partial_segments():
    """A few particles on an empty field: the refinement starts with short segments on them."""
    shape = (64, 96)
    truth = np.zeros(shape)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    # between the coarse rows (every 8th from row 2), none on one
    for r, c in ((19, 14), (40, 70), (29, 40)):
        truth += 100.0 * np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / 8.0)
    fs = FlySampler(shape, motion=NANOPROBE.replace(dwell=0.01), max_coverage=0.3, seed=0)
    first = [segment for segment, _ in scan(fs, truth)][:3]
    assert len(first) == 3
    assert all(segment.n_pixels < shape[1] / 4 for segment in first)
    # they cross the particles, not the empty field
    pixels = np.concatenate([segment.pixels() for segment in first])
    assert truth[pixels[:, 0], pixels[:, 1]].mean() > 2 * truth.mean()


def test_union_level_weights_is_the_maximum_over_axes():
    rng = np.random.default_rng(5)
    erd = rng.normal(size=(33, 27))
    measured = rng.random(erd.shape) < 0.15
    measured[2::8] = True
    origins = {"rows": 2, "columns": 0}
    union = union_level_weights(erd, measured, origins, floor=0.5, gap_power=1.0)
    each = [
        level_weights(erd, measured, axis, floor=0.5, gap_power=1.0, origin=origin)
        for axis, origin in origins.items()
    ]
    np.testing.assert_array_equal(union, np.maximum(*each))
    assert (each[0] != each[1]).any()
    with pytest.raises(ValueError, match="floor"):
        union_level_weights(erd, measured, origins, floor=-1.0)

"""Coarse-to-fine fly refinement: gap midpoints (kernel vs NumPy) and the planner's behaviour."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fastscan.fly import FlySampler
from fastscan.fly import _kernels as _k
from fastscan.fly.levels import level_weights, midpoint_gaps
from fastscan.motion import NANOPROBE
from fastscan.replay import SimulatedDetector


def edge_span(run: int) -> int:
    return int(2 ** (np.floor(np.log2(run)) + 1))  # smallest power of two above run


def reference_midpoints(measured: np.ndarray) -> np.ndarray:
    """Gap length at each column gap's midpoint, edge runs as power-of-two gaps (NumPy).

    An edge run is a candidate only once the gap on the other side of its measured
    pixel is no longer than its own power-of-two span.
    """
    n_rows, n_cols = measured.shape
    out = np.zeros(measured.shape, np.int64)
    for c in range(n_cols):
        rows = np.flatnonzero(measured[:, c])
        if len(rows) == 0:
            out[n_rows // 2, c] = 2 * n_rows
            continue
        inner = np.diff(rows)  # an edge run waits until the gap next to it is no longer
        if rows[0] >= 1 and (len(rows) == 1 or inner[0] <= edge_span(rows[0])):
            out[rows[0] - edge_span(rows[0]) // 2, c] = edge_span(rows[0])
        for a, b in itertools.pairwise(rows):
            if b - a >= 2:
                out[(a + b) // 2, c] = b - a
        if rows[-1] <= n_rows - 2:
            span = edge_span(n_rows - 1 - rows[-1])
            if len(rows) == 1 or inner[-1] <= span:
                out[rows[-1] + span // 2, c] = span
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("density", [0.0, 0.05, 0.3, 0.9])
def test_gap_midpoints_match_reference(seed, density):
    rng = np.random.default_rng(seed)
    measured = rng.random((23, 17)) < density
    out = np.full(measured.shape, -1, np.int64)
    _k._gap_midpoints(measured, out)
    np.testing.assert_array_equal(out, reference_midpoints(measured))
    np.testing.assert_array_equal(midpoint_gaps(measured, "rows"), out)
    np.testing.assert_array_equal(
        midpoint_gaps(measured, "columns"), reference_midpoints(measured.T).T
    )
    assert not (out[measured] > 0).any()  # a measured pixel is never a candidate


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
        active = sampler._sampler._active
        gaps = midpoint_gaps(sampler.measured_mask, "rows")
        segments = sampler.suggest_segments()
        if not segments:
            break
        for segment in segments:
            points = segment.pixels()
            sampler.ingest(points, detector.measure(points))
            if active:
                flown.append((segment, gaps))
    return flown


@pytest.mark.parametrize(("dwell", "n_rows"), [(0.001, 64), (0.001, 63), (0.01, 64)])
def test_texture_is_refined_in_whole_rows_at_bisection_levels(dwell, n_rows):
    """Detail everywhere (flat ERD): (nearly) whole rows, each halving a gap, as a fly raster."""
    rng = np.random.default_rng(0)
    shape = (n_rows, 48)
    truth = rng.random(shape) * 100.0
    fs = FlySampler(shape, motion=NANOPROBE.replace(dwell=dwell), max_coverage=0.5, seed=0)
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
        # the scan ends exactly as the fly raster of every 2nd row from row 0
        np.testing.assert_array_equal(
            np.flatnonzero(fs.measured_mask.any(axis=1)), np.arange(0, shape[0], 2)
        )


@pytest.mark.parametrize("n_rows", [17, 31, 32, 33, 40, 63, 64, 250, 256])
def test_bisection_levels_are_the_fly_raster_rows(n_rows):
    """From every 8th row (row 0 first), the midpoints are every 4th row's, then every 2nd's."""
    measured = np.zeros((n_rows, 3), bool)
    measured[::8] = True
    for spacing in (4, 2, 1):
        candidates = np.flatnonzero(midpoint_gaps(measured, "rows")[:, 0])
        expected = np.setdiff1d(np.arange(0, n_rows, spacing), np.flatnonzero(measured[:, 0]))
        np.testing.assert_array_equal(candidates, expected)
        measured[candidates] = True  # the next level
    assert measured.all()


@pytest.mark.parametrize("run", [1, 2, 3, 4, 7, 8, 9, 100])
def test_edge_runs_are_bisected_as_power_of_two_gaps(run):
    n_rows = run + 5
    measured = np.zeros((n_rows, 1), bool)
    measured[n_rows - 1 - run] = True  # `run` unmeasured rows below it ...
    measured[: n_rows - 1 - run] = True
    gaps = midpoint_gaps(measured, "rows")[:, 0]
    (row,) = np.flatnonzero(gaps)
    span = gaps[row]
    assert span & (span - 1) == 0 and span // 2 <= run < span  # smallest power of two above
    assert row == n_rows - 1 - run + span // 2
    flipped = midpoint_gaps(measured[::-1].copy(), "rows")[::-1, 0]  # ... or above it
    np.testing.assert_array_equal(flipped, gaps)


def test_sparse_sample_is_refined_in_partial_segments():
    """A few particles on an empty field: the refinement starts with short segments on them."""
    shape = (64, 96)
    truth = np.zeros(shape)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    # between the coarse rows (every 8th from row 0), none on one
    for r, c in ((17, 14), (38, 70), (27, 40)):
        truth += 100.0 * np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / 8.0)
    fs = FlySampler(shape, motion=NANOPROBE.replace(dwell=0.01), max_coverage=0.3, seed=0)
    first = [segment for segment, _ in scan(fs, truth)][:3]
    assert len(first) == 3
    assert all(segment.n_pixels < shape[1] / 4 for segment in first)
    # they cross the particles, not the empty field
    pixels = np.concatenate([segment.pixels() for segment in first])
    assert truth[pixels[:, 0], pixels[:, 1]].mean() > 2 * truth.mean()

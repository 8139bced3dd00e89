"""fly_axis="coarse": the axis test read off the coarse raster's own lines, no extra line."""

from __future__ import annotations

import numpy as np
import pytest
from fly_source import fly_replay, honest_fly_replay
from honesty import assert_honest_scan

from fastscan.fly import FlySampler
from fastscan.fly.axis_coarse import coarse_raster_errors, coarse_time_ratio
from fastscan.motion import NANOPROBE
from fastscan.replay import SimulatedDetector

MOTION = NANOPROBE.replace(dwell=0.001)


def reference(image, first, spacing, origin, steps):
    """Pixel by pixel on the image: lattice pixels (first + i spacing, origin + j spacing)."""
    rows = list(range(first, image.shape[0], spacing))
    cols = list(range(origin, image.shape[1], spacing))

    def rebuilt(values, step):  # keep every step-th, linear between, nearest outside
        kept = list(range(0, len(values), step))
        out = []
        for i in range(len(values)):
            left = max(p for p in kept if p <= i)
            right = min((p for p in kept if p >= i), default=left)
            share = 0.0 if right == left else (i - left) / (right - left)
            out.append(values[left] + share * (values[right] - values[left]))
        return np.array(out)

    across, along = [], []
    for step in steps:
        down = [image[rows, c] for c in cols]  # each lattice column, down the coarse rows
        across.append(np.mean([((rebuilt(v, step) - v) ** 2).mean() for v in down]))
        flat = [image[r, cols] for r in rows]  # each coarse row, along its lattice pixels
        along.append(np.mean([((rebuilt(v, step) - v) ** 2).mean() for v in flat]))
    return np.array(across), np.array(along)


def test_coarse_raster_errors_match_a_pixel_by_pixel_reference():
    rng = np.random.default_rng(5)
    image = rng.normal(size=(70, 61))
    for spacing, origin, steps in ((8, 2, (4, 2)), (4, 2, (8, 4, 2)), (5, 0, (3, 1))):
        lines = image[None, 2::spacing]
        got = coarse_raster_errors(lines, spacing, origin=origin, steps=steps)
        want = reference(image, 2, spacing, origin, steps)
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # two channels with gains: the gain-weighted sum of each channel's errors
    two = np.stack([image, image[::-1]])[:, 2::8]
    both = coarse_raster_errors(two, 8, origin=2, gains=np.array([1.0, 3.0]))
    each = [coarse_raster_errors(two[c : c + 1], 8, origin=2) for c in (0, 1)]
    for axis in (0, 1):
        np.testing.assert_allclose(both[axis], each[0][axis] + 3 * each[1][axis], rtol=1e-12)


def test_coarse_time_ratio_is_reciprocal_and_prices_the_lines():
    rows, columns = np.array([9.0, 4.0]), np.array([3.0, 1.0])
    ratio = coarse_time_ratio(rows, columns, (64, 48), (1.0, 1.5), (32, 16))
    back = coarse_time_ratio(columns, rows, (48, 64), (1.5, 1.0), (32, 16))
    assert ratio < 1 and ratio * back == pytest.approx(1.0)
    # equal errors: the raster with fewer, cheaper lines wins by its price
    same = coarse_time_ratio(rows, rows, (64, 64), (1.0, 2.0), (32, 16))
    assert same == pytest.approx(2.0)


def striped(orientation: str, size: int = 72) -> np.ndarray:
    """Stripes of varying period; "vertical": the image changes along the rows."""
    rows, cols = np.mgrid[0:size, 0:size]
    across = cols if orientation == "vertical" else rows
    rng = np.random.default_rng(2)
    wave = np.sin(2 * np.pi * across / (4.0 + across / 24.0))
    return 50 + 40 * wave + rng.normal(0, 1, (size, size))


@pytest.mark.parametrize(
    ("orientation", "refined"), [("vertical", None), ("horizontal", "columns")]
)
def test_coarse_switches_to_columns_only_where_the_coarse_rows_show_them_cheaper(
    orientation, refined
):
    """Horizontal stripes: whole coarse rows are flat, the stripes alias between them."""
    truth = striped(orientation)
    detector = SimulatedDetector(truth)
    fs = FlySampler(
        truth.shape, motion=MOTION, max_coverage=0.4, seed=0, fly_axis="coarse", switch_ratio=0.75
    )
    assert fs.axis_ratio is None and fs._line_axis == "rows"
    coarse = fs._initial_lines
    assert len(coarse) == len(range(2, 72, 8))  # only the coarse rows: no extra line
    fly_replay(fs, detector, 400)
    assert fs.stop_reason.startswith("coverage")
    assert (fs.axis_ratio < fs.switch_ratio) == (refined == "columns")
    assert_honest_scan(fs, detector, MOTION)
    if refined is None:
        assert fs.refine_axes == ("rows", "columns")  # as "auto"
        return
    assert fs.refine_axes == ("columns",)
    points, segments = fs.trajectory.points, fs.trajectory.segment
    after = [segments == s for s in np.unique(segments)[len(coarse) :]]
    assert after and all(len(np.unique(points[f][:, 1])) == 1 for f in after)


def test_coarse_is_auto_where_it_keeps_the_axis_and_its_ratio_is_reciprocal():
    truth = striped("vertical")
    runs = {}
    for fly_axis in ("auto", "coarse"):
        fs = FlySampler(truth.shape, motion=MOTION, max_coverage=0.3, seed=0, fly_axis=fly_axis)
        honest_fly_replay(fs, SimulatedDetector(truth), 400)
        runs[fly_axis] = fs
    assert runs["coarse"].axis_ratio > 1  # rows: it keeps the coarse axis
    a, b = runs["auto"].trajectory, runs["coarse"].trajectory
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.t_end, b.t_end)
    square = striped("vertical")[:64, :64] + np.add.outer(np.arange(64.0), np.zeros(64))
    ratios = []
    for image in (square, square.T.copy()):
        fs = FlySampler(image.shape, motion=MOTION, max_coverage=0.4, seed=0, fly_axis="coarse")
        honest_fly_replay(fs, SimulatedDetector(image), len(fs._initial_lines) + 1)
        ratios.append(fs.axis_ratio)
    assert ratios[0] * ratios[1] == pytest.approx(1.0, rel=1e-9)


def test_coarse_level_one_waits_for_the_first_bisection_level_and_bad_values_are_named():
    truth = striped("vertical")
    fs = FlySampler(
        truth.shape, motion=MOTION, max_coverage=0.4, seed=0, fly_axis="coarse", coarse_level=1
    )
    detector = SimulatedDetector(truth)
    chosen_with = None
    while not fs.should_stop():
        ready = bool(fs.measured_mask[2::4].all())
        segments = fs.suggest_segments()
        if chosen_with is None and fs.axis_ratio is not None:
            chosen_with = ready  # the test ran at this decision: was every 4th row in?
        for segment in segments:
            fs.ingest(segment.pixels(), detector.measure(segment.pixels()))
    assert_honest_scan(fs, detector, MOTION)
    assert chosen_with is True  # it waited for every 4th row (rows: kept)
    assert fs.axis_ratio > 1 and fs.refine_axes == ("rows", "columns")
    params = fs.get_params()
    assert params["fly_axis"] == "coarse" and params["coarse_level"] == 1
    for bad in (2, -1, 0.5, True):
        with pytest.raises(ValueError, match=f"coarse_level must be 0 or 1, got {bad}"):
            FlySampler((32, 32), fly_axis="coarse", coarse_level=bad)
    lines = np.zeros((1, 9, 40))
    with pytest.raises(ValueError, match="spacing must be an integer >= 1, got 0"):
        coarse_raster_errors(lines, 0)
    with pytest.raises(ValueError, match=r"origin must be an integer in \[0, 40\), got 40"):
        coarse_raster_errors(lines, 8, origin=40)
    with pytest.raises(ValueError, match="steps must be integers >= 1, got 0"):
        coarse_raster_errors(lines, 8, steps=(2, 0))
    with pytest.raises(ValueError, match=r"lines must be a \(C, n_lines, n\) array"):
        coarse_raster_errors(lines[0], 8)
    with pytest.raises(ValueError, match="one value per k"):
        coarse_time_ratio(np.ones(3), np.ones(2), (64, 64), (1.0, 1.0), (32, 16))

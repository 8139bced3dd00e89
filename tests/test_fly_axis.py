"""Fly scans along rows or columns: the axis choice, its variograms, the empty-line gap fix."""

from __future__ import annotations

import numpy as np
import pytest
from fly_source import honest_fly_replay
from honesty import assert_honest_scan

from fastscan.fly import FlySampler
from fastscan.fly.axis import axis_time_ratio, directional_variograms, lag_for
from fastscan.fly.levels import union_level_weights
from fastscan.fly.sampler import default_initial_spacing, line_costs
from fastscan.motion import NANOPROBE
from fastscan.phantoms import make_phantom
from fastscan.replay import SimulatedDetector

MOTION = NANOPROBE.replace(dwell=0.001)


def run(sampler: FlySampler, detector: SimulatedDetector, max_decisions: int = 400) -> int:
    """Fly ``sampler`` on its own ``detector``; the scan is checked honest."""
    return honest_fly_replay(sampler, detector, max_decisions)


def reference_variograms(values, mask, max_lag, weights):
    """Pair by pair, in plain Python loops."""
    n_rows, n_cols = mask.shape
    out = np.full((2, max_lag), np.nan)
    for axis, (d_row, d_col) in enumerate(((0, 1), (1, 0))):
        for lag in range(1, max_lag + 1):
            sums, count = np.zeros(len(values)), 0
            for r in range(n_rows - lag * d_row):
                for c in range(n_cols - lag * d_col):
                    r2, c2 = r + lag * d_row, c + lag * d_col
                    if mask[r, c] and mask[r2, c2]:
                        sums += (values[:, r, c] - values[:, r2, c2]) ** 2
                        count += 1
            if count:
                out[axis, lag - 1] = float(weights @ (sums / count))
    return out


def test_directional_variograms_match_pair_by_pair_reference():
    rng = np.random.default_rng(4)
    values = rng.normal(size=(2, 13, 17))
    mask = rng.random((13, 17)) < 0.6
    weights = np.array([1.0, 0.25])
    gamma_x, gamma_y = directional_variograms(values, mask, 5, weights)
    expected = reference_variograms(values, mask, 5, weights)
    np.testing.assert_allclose(gamma_x, expected[0], rtol=1e-12)
    np.testing.assert_allclose(gamma_y, expected[1], rtol=1e-12)
    only_rows = np.zeros((13, 17), bool)
    only_rows[3] = True  # one row: nothing measured down the columns
    gamma_x, gamma_y = directional_variograms(values, only_rows, 3)
    assert np.isfinite(gamma_x).all() and np.isnan(gamma_y).all()
    with pytest.raises(ValueError, match="max_lag"):
        directional_variograms(values, mask, 0)
    with pytest.raises(ValueError, match="values"):
        directional_variograms(values[0], mask, 2)


def test_lag_for_inverts_power_laws_and_the_time_ratio_counts_line_costs():
    lags = np.arange(1.0, 9.0)
    rng = np.random.default_rng(1)
    for exponent in (0.5, 1.0, 2.0):
        gamma = lags**exponent
        for target in rng.uniform(0.2, 100.0, 5):
            assert lag_for(gamma, target) == pytest.approx(target ** (1 / exponent), rel=1e-9)
    assert lag_for(np.zeros(4), 1.0) == np.inf
    # isotropic: the ratio is that of the rasters' times (lines x seconds per line)
    ratio = axis_time_ratio(lags, lags, (0.5, 0.3), (100, 200))
    assert ratio == pytest.approx(200 * 0.3 / (100 * 0.5))
    # the image changing 4x faster across the current lines: the other axis pays
    assert axis_time_ratio(lags, 4 * lags, (1.0, 1.0), (100, 100)) < 0.5 < ratio + 0.5
    assert axis_time_ratio(4 * lags, lags, (1.0, 1.0), (100, 100)) > 2.0


def test_gap_power_gives_an_empty_line_no_gap_factor():
    shape = (64, 256)
    measured = np.zeros(shape, bool)
    measured[2::8] = True  # the coarse rows: every other row is empty along the rows
    erd = np.ones(shape)
    weights = union_level_weights(erd, measured, {"rows": 2, "columns": 0}, gap_power=1.0)
    row_candidates = weights[6]  # the midpoints between the coarse rows: gap 8
    assert row_candidates.min() == pytest.approx(4.0)
    # an empty row's column candidate sits at column 0; it used to weigh 256 (= 2 * 256 / 2):
    # now column 0 weighs what its row's other pixels do (the row candidates, or the ERD)
    empty = ~measured.any(axis=1)
    np.testing.assert_array_equal(weights[empty, 0], np.maximum(weights[empty, 1], 1.0))
    assert weights.max() <= 5.0  # the bottom edge run: 2 * 5 rows / 2
    # and a fly scan with gap_power flies the rows first, not the first column
    truth = make_phantom("grains", (64, 96), seed=3)
    fs = FlySampler((64, 96), motion=MOTION, seed=0, gap_power=1.0, fly_axis="rows")
    detector = SimulatedDetector(truth)
    while not fs._sampler.initial_complete:
        (segment,) = fs.suggest_segments()
        fs.ingest(segment.pixels(), detector.measure(segment.pixels()))
    assert_honest_scan(fs, detector, MOTION)
    first = fs.suggest_segments()
    assert first and all(segment.is_row for segment in first)


def test_auto_flies_the_cheaper_raster_axis_and_stays_honest():
    truth = make_phantom("flakes", (96, 64), seed=5)  # portrait: fewer, longer columns
    (row_fixed, col_fixed), (row_px, col_px) = line_costs(MOTION)
    rows_time = 96 * (row_fixed + 64 * row_px)
    columns_time = 64 * (col_fixed + 96 * col_px)
    assert columns_time < rows_time
    detector = SimulatedDetector(truth)
    fs = FlySampler(truth.shape, motion=MOTION, max_coverage=0.3, seed=0)
    (first,) = fs.suggest_segments()
    assert not first.is_row and first.n_pixels == 96 and first.start[1] == 2
    run(fs, detector)
    assert fs.stop_reason.startswith("coverage")
    assert_honest_scan(fs, detector, MOTION)
    coarse = fs.measured_mask[:, 2 :: fs.initial_spacing]
    assert coarse.all()  # every coarse column flown whole
    # on a landscape grid "auto" is "rows": the same scan, reading for reading
    wide = truth.T.copy()
    scans = []
    for fly_axis in ("auto", "rows"):
        fs = FlySampler(wide.shape, motion=MOTION, max_coverage=0.2, seed=0, fly_axis=fly_axis)
        run(fs, SimulatedDetector(wide))
        scans.append(fs.trajectory)
    np.testing.assert_array_equal(scans[0].points, scans[1].points)
    assert scans[0].beam_time == scans[1].beam_time


@pytest.mark.parametrize(("stripes", "refined"), [("horizontal", "columns"), ("vertical", "rows")])
def test_probe_refines_along_the_axis_the_stripes_run_across(stripes, refined):
    """Horizontal stripes change down the columns: columns see them, rows need every row."""
    rows, cols = np.mgrid[0:64, 0:96]
    across = rows if stripes == "horizontal" else cols
    rng = np.random.default_rng(2)
    truth = 50 + 40 * np.sin(2 * np.pi * across / 5.0) + rng.normal(0, 1, (64, 96))
    detector = SimulatedDetector(truth)
    fs = FlySampler(truth.shape, motion=MOTION, max_coverage=0.4, seed=0, fly_axis="probe")
    assert fs.axis_ratio is None and fs.refine_axes == ("rows", "columns")
    run(fs, detector)
    assert fs.axis_ratio is not None
    assert (fs.axis_ratio < fs.switch_ratio) == (refined == "columns")
    assert_honest_scan(fs, detector, MOTION)
    segments = fs.trajectory.segment
    flown = [segments == s for s in np.unique(segments)]
    after = flown[len(fs._initial_lines) + fs.probe_lines :]
    assert after, "the scan refined after the probes"
    points = fs.trajectory.points
    is_column = [len(np.unique(points[f][:, 1])) == 1 and f.sum() > 1 for f in after]
    if refined == "columns":
        assert fs.refine_axes == ("columns",) and all(is_column)
    else:
        assert fs.refine_axes == ("rows", "columns") and not all(is_column)


def test_fly_axis_knobs_are_validated():
    with pytest.raises(ValueError, match="fly_axis must be one of"):
        FlySampler((32, 32), fly_axis="diagonal")
    with pytest.raises(ValueError, match="probe_lines must be an integer >= 1, got 0"):
        FlySampler((32, 32), probe_lines=0)
    with pytest.raises(ValueError, match="switch_ratio must be a number in"):
        FlySampler((32, 32), switch_ratio=1.5)
    # the default spacing counts the coarse axis's lines: 24 columns -> every 2nd (12 lines)
    narrow = FlySampler((64, 24), motion=MOTION)
    assert narrow.suggest_segments()[0].is_row is False
    assert narrow.initial_spacing == default_initial_spacing((24, 64), MOTION.dwell) == 2
    assert FlySampler((64, 24), motion=MOTION, fly_axis="rows").initial_spacing == 8
    params = FlySampler((32, 32), fly_axis="probe").get_params()
    assert params["fly_axis"] == "probe" and params["probe_lines"] >= 1

"""fly_axis="grid": a coarse grid of rows and columns, and the axis its whole lines choose."""

from __future__ import annotations

import numpy as np
import pytest
from fly_source import honest_fly_replay
from honesty import assert_honest_scan

from fastscan.fly import FlySampler
from fastscan.fly.axis_grid import grid_time_ratio, line_raster_errors, time_to_error
from fastscan.motion import NANOPROBE
from fastscan.replay import SimulatedDetector

MOTION = NANOPROBE.replace(dwell=0.001)


def run(sampler: FlySampler, detector: SimulatedDetector, max_decisions: int = 400) -> int:
    """Fly ``sampler`` on its own ``detector``; the scan is checked honest."""
    return honest_fly_replay(sampler, detector, max_decisions)


def reference_errors(lines, ks, gains, origin):
    """Pixel by pixel: the two kept neighbours, linear in between, nearest outside."""
    out = []
    for k in ks:
        total = 0.0
        for c, gain in enumerate(gains):
            for line in lines[c]:
                n = len(line)
                kept = list(range(origin, n, k))
                sq = 0.0
                for x in range(n):
                    if x <= kept[0]:
                        value = line[kept[0]]
                    elif x >= kept[-1]:
                        value = line[kept[-1]]
                    else:
                        left = max(p for p in kept if p <= x)
                        right = min(p for p in kept if p >= x)
                        share = 0.0 if right == left else (x - left) / (right - left)
                        value = line[left] + share * (line[right] - line[left])
                    sq += (value - line[x]) ** 2
                total += gain * sq / n
        out.append(total / lines.shape[1])
    return np.array(out)


def test_line_raster_errors_match_a_pixel_by_pixel_reference():
    rng = np.random.default_rng(7)
    lines = rng.normal(size=(2, 3, 37))
    gains = np.array([1.0, 0.5])
    for origin in (0, 2):
        ks = (16, 8, 4, 2, 1)
        got = line_raster_errors(lines, ks, gains, origin)
        np.testing.assert_allclose(got, reference_errors(lines, ks, gains, origin), rtol=1e-12)
    assert line_raster_errors(lines, (1,))[0] == 0.0
    with pytest.raises(ValueError, match="ks must be integers >= 1, got 0"):
        line_raster_errors(lines, (4, 0))
    with pytest.raises(ValueError, match=r"lines must be a \(C, n_lines, n\) array"):
        line_raster_errors(lines[0], (4,))
    with pytest.raises(ValueError, match="gains must have one value per channel"):
        line_raster_errors(lines, (4,), np.ones(3))


def test_time_to_error_interpolates_and_the_ratio_is_reciprocal_on_a_transpose():
    errors, seconds = np.array([8.0, 4.0, 2.0, 1.0]), np.array([1.0, 2.0, 4.0, 8.0])
    for j in range(4):  # the measured spacings themselves
        assert time_to_error(errors, seconds, errors[j]) == pytest.approx(seconds[j])
    assert time_to_error(errors, seconds, 100.0) == seconds[0]
    assert time_to_error(errors, seconds, 0.0) == pytest.approx(2 * seconds[-1])
    between = time_to_error(errors, seconds, 3.0)
    assert seconds[1] < between < seconds[2]
    # a bump in the errors does not make a later time look worse than an earlier one
    bumpy = np.array([8.0, 4.0, 5.0, 1.0])
    assert time_to_error(bumpy, seconds, 4.0) == pytest.approx(seconds[1])
    rng = np.random.default_rng(3)
    rows, columns = np.sort(rng.uniform(0, 5, 4))[::-1], np.sort(rng.uniform(0, 5, 4))[::-1]
    t_rows, t_columns = np.array([1.0, 2.0, 4.0, 8.0]), np.array([1.5, 3.0, 6.0, 12.0])
    ratio = grid_time_ratio(rows, columns, t_rows, t_columns)
    assert ratio * grid_time_ratio(columns, rows, t_columns, t_rows) == pytest.approx(1.0)
    # the same errors on both axes: the cheaper raster wins, by its price
    assert grid_time_ratio(rows, rows, t_rows, t_columns) == pytest.approx(1.5)


def striped(orientation: str) -> np.ndarray:
    """Stripes varying in period; "vertical": the image changes along the rows."""
    rows, cols = np.mgrid[0:72, 0:72]
    across = cols if orientation == "vertical" else rows
    rng = np.random.default_rng(2)
    return 50 + 40 * np.sin(2 * np.pi * across / (4.0 + across / 24.0)) + rng.normal(0, 1, (72, 72))


@pytest.mark.parametrize(
    ("orientation", "refined"), [("vertical", "rows"), ("horizontal", "columns")]
)
def test_grid_refines_along_the_axis_that_reads_the_structure(orientation, refined):
    """Vertical stripes change along the rows: whole rows see them, a row raster is cheap."""
    truth = striped(orientation)
    detector = SimulatedDetector(truth)
    fs = FlySampler(truth.shape, motion=MOTION, max_coverage=0.4, seed=0, fly_axis="grid")
    assert fs.axis_ratio is None
    step = 8  # grid_spacing 32 halved until each axis has 8 lines
    assert fs._grid_steps == {"rows": step, "columns": step} and fs.initial_spacing == step
    coarse = fs._initial_lines
    assert len(coarse) == 2 * len(range(2, 72, step))  # rows and columns, whole
    run(fs, detector)
    assert fs.stop_reason.startswith("coverage")
    assert (fs.axis_ratio < 1.0) == (refined == "columns")
    assert fs.refine_axes == (refined,)
    assert_honest_scan(fs, detector, MOTION)
    assert fs.measured_mask[2::step].all() and fs.measured_mask[:, 2::step].all()
    points, segments = fs.trajectory.points, fs.trajectory.segment
    after = [segments == s for s in np.unique(segments)[len(coarse) :]]
    assert after, "the scan refined after the coarse grid"
    along = 0 if refined == "rows" else 1  # a row segment keeps its row
    assert all(len(np.unique(points[f][:, along])) == 1 for f in after)


def test_grid_ratio_of_a_transpose_is_the_reciprocal():
    truth = striped("vertical")[:, :60] + np.add.outer(np.arange(72.0), np.zeros(60))
    ratios = []
    for image in (truth, truth.T.copy()):
        fs = FlySampler(image.shape, motion=MOTION, max_coverage=0.4, seed=0, fly_axis="grid")
        run(fs, SimulatedDetector(image), max_decisions=len(fs._initial_lines) + 1)
        ratios.append(fs.axis_ratio)
    assert ratios[0] * ratios[1] == pytest.approx(1.0, rel=1e-9)
    params = FlySampler((32, 32), fly_axis="grid").get_params()
    assert params["fly_axis"] == "grid" and params["grid_spacing"] == 32
    wide = FlySampler((300, 40), fly_axis="grid", grid_spacing=16)
    assert wide._grid_steps == {"rows": 16, "columns": 4}
    with pytest.raises(ValueError, match="fly_axis must be one of"):
        FlySampler((32, 32), fly_axis="grids")
    assert FlySampler((300, 40), fly_axis="grid", grid_lines=2)._grid_steps["columns"] == 16
    with pytest.raises(ValueError, match="grid_lines must be an integer >= 1, got 0"):
        FlySampler((32, 32), fly_axis="grid", grid_lines=0)
    again = FlySampler((32, 32), **{k: v for k, v in params.items() if k != "shape"})
    assert again.get_params() == params  # its own initial_spacing is accepted back
    with pytest.raises(ValueError, match="initial_spacing must be None or 4, got 8"):
        FlySampler((32, 32), fly_axis="grid", initial_spacing=8)
    for bad in (1, 2.5, True):
        with pytest.raises(ValueError, match=f"grid_spacing must be an integer >= 2, got {bad}"):
            FlySampler((32, 32), fly_axis="grid", grid_spacing=bad)

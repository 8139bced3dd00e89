"""Short-dwell line choice: flat-bounded lines discounted (``flat_lines``), sweep passes
(``sweep_window``), and the planner's window and rate floor they use."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from fly_source import honest_decisions
from scipy import ndimage

from fastscan.fly import FlySampler
from fastscan.fly.planner import SegmentPlanner
from fastscan.fly.sampler import (
    FLAT_LINE_SHARE,
    FLAT_LINES,
    FLAT_LINES_EVERYWHERE,
    flat_line_scale,
)
from fastscan.motion import NANOPROBE
from fastscan.replay import SimulatedDetector

SHAPE = (64, 80)
SHORT = NANOPROBE.replace(dwell=0.001)


def _flat_line_scale_reference(measured, values, tolerance, share, edges=False):
    n_rows = measured.shape[0]
    whole = [r for r in range(n_rows) if measured[r].all()]

    def agree(a, b):
        return all(
            abs(values[c, b, j] - values[c, a, j]) <= tolerance[c, 0]
            for c in range(values.shape[0])
            for j in range(measured.shape[1])
        )

    out = []
    for r in range(n_rows):
        above = [a for a in whole if a < r]
        below = [b for b in whole if b > r]
        if r in whole:
            out.append(1.0)
        elif above and below:
            out.append(share if agree(above[-1], below[0]) else 1.0)
        elif edges and len(below) >= 2:  # before the first whole line
            out.append(share if agree(below[0], below[1]) else 1.0)
        elif edges and len(above) >= 2:  # after the last
            out.append(share if agree(above[-2], above[-1]) else 1.0)
        else:
            out.append(1.0)
    return out


@pytest.mark.parametrize("edges", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_flat_line_scale_matches_a_plain_reference(seed, edges):
    rng = np.random.default_rng(seed)
    n_rows, n_cols, n_channels = 24, 7, 1 + seed % 2
    measured = np.zeros((n_rows, n_cols), bool)
    measured[rng.choice(n_rows, 8, replace=False)] = True
    measured[rng.integers(0, n_rows, 5), rng.integers(0, n_cols, 5)] = True  # partial rows
    values = np.round(rng.random((n_channels, n_rows, n_cols)) * 3) * measured  # many ties
    tolerance = np.full((n_channels, 1), 1.0)
    got = flat_line_scale(measured, values, tolerance, 0.1, edges=edges)
    assert got.tolist() == _flat_line_scale_reference(measured, values, tolerance, 0.1, edges)
    # columns: the same lines, read off the transposed grid
    columns = flat_line_scale(
        measured.T, values.transpose(0, 2, 1), tolerance, 0.1, axis=1, edges=edges
    )
    assert columns.tolist() == got.tolist()


def test_planner_window_and_rate_floor():
    rng = np.random.default_rng(0)
    erd = rng.random((30, 40))
    planner = SegmentPlanner(erd.shape, fixed=0.26, pixel_time=0.001)
    planner.update(erd)
    none = np.zeros(erd.shape, bool)
    plain = planner.choose(none, max_segments=6, position=(0.0, 0.0))
    same = planner.choose(none, max_segments=6, position=(0.0, 0.0), window=None, min_rate=0.0)
    assert [p.segment for p in plain] == [p.segment for p in same]
    inside = planner.choose(none, max_segments=6, window=(0, 10, 15))
    assert inside and all(p.segment.is_row and 10 <= p.segment.start[0] < 15 for p in inside)
    columns = planner.choose(none, max_segments=3, window=(1, 0, 5))
    assert columns and all(p.segment.is_column and p.segment.start[1] < 5 for p in columns)
    best = plain[0].rate
    assert planner.choose(none, min_rate=2 * best) == []
    # scaling one line's rate up makes it the first pick
    scale = np.ones(30)
    scale[plain[-1].segment.start[0]] = 100.0
    first = planner.choose(none, max_segments=1, line_scale=(scale, np.zeros(40)))
    assert first[0].segment.start[0] == plain[-1].segment.start[0] and first[0].segment.is_row
    with pytest.raises(ValueError, match="window axis"):
        SegmentPlanner(erd.shape, fixed=0.26, pixel_time=0.001, axes=("rows",)).choose(
            none, window=(1, 0, 5)
        )


def _two_halves() -> np.ndarray:
    """Flat (0) top half; structure (random blocks) in the bottom half."""
    truth = np.zeros(SHAPE)
    rng = np.random.default_rng(3)
    truth[SHAPE[0] // 2 :] = np.kron(rng.random((8, 10)), np.ones((4, 8))) * 100.0
    return truth


def _scan(truth: np.ndarray, **params) -> tuple[FlySampler, list]:
    fs = FlySampler(SHAPE, motion=SHORT, max_coverage=0.45, seed=0, **params)
    return fs, honest_decisions(fs, truth)


def test_flat_lines_fly_the_structure_before_the_flat_gaps():
    truth = _two_halves()
    # flat_pixel_share off in both: it discounts the same flat gaps pixel by pixel
    _, plain_decisions = _scan(truth, flat_lines=0.0, flat_pixel_share=1.0)  # the knob off
    flat, decisions = _scan(truth, flat_pixel_share=1.0)  # on by default

    def lines_in_flat_half(decisions_, n):
        lines = [s.start[0] for d in decisions_ for s in d if s.is_row][:n]
        return sum(r < SHAPE[0] // 2 - 4 for r in lines)  # clear of the boundary

    n = 20  # the default bisects the flat half's gaps within its first 20 lines
    assert lines_in_flat_half(decisions, n) < lines_in_flat_half(plain_decisions, n)
    assert flat.get_params()["flat_lines"] == FLAT_LINES > 0


def test_sweep_passes_move_monotonically_until_they_reverse():
    truth = _two_halves()
    fs = FlySampler(SHAPE, motion=SHORT, max_coverage=0.45, seed=0, sweep_window=8, flat_lines=0.0)
    passes = []  # (pass number, direction, lines of the decision)

    def record(sampler, segments) -> None:
        lines = [s.start[0] if s.is_row else s.start[1] for s in segments]
        passes.append((sampler.n_passes, sampler._pass_direction, lines))

    honest_decisions(fs, truth, record)
    assert len(passes) > 3 and fs.n_passes >= 2
    for (n0, d0, lines0), (n1, d1, lines1) in pairwise(passes):
        assert max(lines1) - min(lines1) < 8  # one window
        assert sorted(lines1) in (lines1, lines1[::-1])  # monotone within the decision
        if n1 == n0:  # the same pass: further along its direction
            assert min(d1 * np.array(lines1)) > max(d0 * np.array(lines0))
        else:  # a new pass goes back
            assert d1 == -d0


def test_knobs_are_idle_at_long_dwells():
    truth = _two_halves()
    base, _ = _scan(truth)
    explicit, _ = _scan(truth, flat_lines=FLAT_LINES, flat_share=FLAT_LINE_SHARE)
    np.testing.assert_array_equal(base.measured_points, explicit.measured_points)
    long_dwell = NANOPROBE.replace(dwell=0.01)  # sweep 0: both knobs idle (flat_lines only
    # while flat_lines_everywhere, test_flat_lines_everywhere_discounts_flat_gaps_at_long_dwells)
    a = FlySampler(SHAPE, motion=long_dwell, max_coverage=0.3, flat_lines=0.0)
    b = FlySampler(SHAPE, motion=long_dwell, max_coverage=0.3, flat_lines=0.5, sweep_window=8,
                   flat_lines_everywhere=False)  # fmt: skip
    assert a.sweep == b.sweep == 0
    for fs in (a, b):
        detector = SimulatedDetector(truth)
        while not fs.should_stop() and (segments := fs.suggest_segments()):
            for segment in segments:
                fs.ingest(segment.pixels(), detector.measure(segment.pixels()))
    np.testing.assert_array_equal(a.measured_points, b.measured_points)


def _spots_below() -> np.ndarray:
    """A few blurred spots (an XRF trace map) in rows 36-59; rows above them are flat 0."""
    rng = np.random.default_rng(100)
    truth = np.zeros(SHAPE)
    truth[rng.integers(36, 60, 6), rng.integers(4, 76, 6)] = 1.0
    truth = ndimage.gaussian_filter(truth, 1.5)
    return 100.0 * truth / truth.max()


def test_flat_lines_everywhere_discounts_flat_gaps_at_long_dwells():
    """The default: flat-bounded lines are discounted at 10 ms too (no sweeps there)."""
    truth = _spots_below()
    long_dwell = NANOPROBE.replace(dwell=0.01)  # sweep 0

    def scan(**params):
        fs = FlySampler(SHAPE, motion=long_dwell, max_coverage=0.45, seed=0, **params)
        return fs, [s for d in honest_decisions(fs, truth) for s in d]

    plain, plain_segments = scan(flat_lines_everywhere=False)
    everywhere, segments = scan()  # the default
    assert plain.sweep == everywhere.sweep == 0
    assert plain._flat_line_scale() is None
    rows, _ = everywhere._flat_line_scale()
    gaps = ~everywhere.measured_mask[3:28].all(axis=1)  # between the coarse rows 2 .. 26
    assert gaps.any() and (rows[3:28][gaps] == FLAT_LINE_SHARE).all()

    def pixels_in_flat_rows(segments_, n):  # of the first n segments after the coarse raster
        return sum(s.n_pixels for s in segments_[:n] if s.is_row and s.start[0] < 28)

    # the floor makes the flat gaps worth flying; flat_lines flies the spots' rows first
    assert plain._sampler._floor_level > 0
    assert pixels_in_flat_rows(segments, 12) < pixels_in_flat_rows(plain_segments, 12)
    # without flat_lines the knob has nothing to apply: the plain scan
    off, _ = scan(flat_lines=0.0)
    np.testing.assert_array_equal(off.measured_points, plain.measured_points)
    assert everywhere.get_params()["flat_lines_everywhere"] is FLAT_LINES_EVERYWHERE is True


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"flat_lines": -0.1}, "flat_lines"),
        ({"flat_lines": 1.0}, "flat_lines"),
        ({"flat_share": 1.5}, "flat_share"),
        ({"sweep_window": -1}, "sweep_window"),
        ({"sweep_window": 2.5}, "sweep_window"),
        ({"flat_edges": "yes"}, "flat_edges"),
        ({"flat_lines_everywhere": 1}, "flat_lines_everywhere must be True or False, got 1"),
    ],
)
def test_bad_knobs_are_named(params, name):
    with pytest.raises(ValueError, match=name):
        FlySampler(SHAPE, **params)

"""Short-dwell picks without their flat end runs (``FlySampler(flat_ends=...)``)."""

from __future__ import annotations

import numpy as np
import pytest
from fly_source import honest_decisions

from fastscan.fly import FlySampler
from fastscan.fly.lattice import _is_flat, flat_runs, trim_flat_ends
from fastscan.fly.sampler import FLAT_ENDS, FLAT_ENDS_KEEP
from fastscan.motion import NANOPROBE

SHAPE = (64, 80)
SHORT = NANOPROBE.replace(dwell=0.001)


def _trim_reference(values, measured, line, first, last, reach, tol):
    """flat_runs over the whole line (span: every reading's range), ends cut off."""
    flat = flat_runs(values, measured, line, reach=reach, tol=tol)[first : last + 1]
    keep = np.flatnonzero(~flat)
    if len(keep) == 0:
        return first, last
    return first + int(keep[0]), first + int(keep[-1])


@pytest.mark.parametrize("seed", range(6))
def test_trim_flat_ends_matches_flat_runs(seed):
    rng = np.random.default_rng(seed)
    n_rows, n_cols, n_channels = 20, 30, 1 + seed % 2
    measured = np.zeros((n_rows, n_cols), bool)
    measured[rng.choice(n_rows, 7, replace=False)] = True
    measured[rng.integers(0, n_rows, 20), rng.integers(0, n_cols, 20)] = True
    values = np.zeros((n_rows, n_cols, n_channels))
    blocks = rng.integers(0, n_cols, 3)
    for c in blocks:  # flat background with a few bright columns
        values[:, c : c + 3] = rng.random(n_channels) * 10 + 1
    values *= measured[:, :, None]  # only readings are known
    known = values[measured]
    span = known.max(axis=0) - known.min(axis=0)
    for line in range(n_rows):
        first, last = sorted(rng.integers(0, n_cols, 2).tolist())
        for tol in (0.0, 0.05):
            got = trim_flat_ends(values, measured, line, first, last, reach=4, tol=tol, span=span)
            want = _trim_reference(values, measured, line, first, last, 4, tol)
            assert got == want


def test_is_flat_kernel_matches_flat_runs():
    rng = np.random.default_rng(7)
    measured = rng.random((12, 15)) < 0.4
    values = np.round(rng.random((12, 15, 2)) * 2) * measured[:, :, None]
    known = values[measured]
    span = known.max(axis=0) - known.min(axis=0)
    for line in range(12):
        want = flat_runs(values, measured, line, reach=3, tol=0.5)
        got = [_is_flat(values / 1.0, measured, line, c, 3, 0.5, span) for c in range(15)]
        assert got == want.tolist()


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros((4, 5)), 1, 0, 4), "values must be"),
        ((np.zeros((4, 5, 1)), 1, 3, 2), "first <= last"),
        ((np.zeros((4, 5, 1)), 1, 0, 5), "last < 5"),
    ],
)
def test_trim_flat_ends_names_bad_input(args, match):
    values, line, first, last = args
    with pytest.raises(ValueError, match=match):
        trim_flat_ends(values, np.ones((4, 5), bool), line, first, last, reach=2, tol=0.1,
                       span=np.ones(1))  # fmt: skip


def _box() -> np.ndarray:
    """A flat background with one bright box (columns 20..69) and a textured stripe."""
    truth = np.zeros(SHAPE)
    truth[:, 20:70] = 100.0
    rng = np.random.default_rng(1)
    truth[:, 40:44] += rng.random((SHAPE[0], 4)) * 50.0
    return truth


def test_flat_ends_leave_out_flat_runs_at_the_ends_only():
    truth = _box()
    # (flat_pixel_share off throughout: it moves the picks' ends itself, when choosing)
    fs = FlySampler(SHAPE, motion=SHORT, max_coverage=0.3, seed=0, flat_pixel_share=1.0)
    decisions = honest_decisions(fs, truth)
    rows = [s for d in decisions for s in d if s.is_row]
    assert rows, "no adaptive row was flown"
    short = [s for s in rows if s.n_pixels < SHAPE[1]]
    assert short, "no pick was trimmed"
    for segment in short:  # the box's edges and the stripe are never trimmed away
        cols = segment.pixels()[:, 1]
        assert cols.min() <= 20 and cols.max() >= 69
    # off: longer segments, as before the knob
    plain = FlySampler(SHAPE, motion=SHORT, max_coverage=0.3, seed=0, flat_ends=0.0,
                       flat_pixel_share=1.0)  # fmt: skip
    plain_rows = [s for d in honest_decisions(plain, truth) for s in d]
    assert np.mean([s.n_pixels for s in plain_rows]) > np.mean([s.n_pixels for s in rows])
    assert all(s.n_pixels >= FLAT_ENDS_KEEP * SHAPE[1] for s in short)
    # a box too narrow to keep half a line: its picks are flown as without the knob
    narrow = np.zeros(SHAPE)
    narrow[:, 35:45] = 100.0
    thin = FlySampler(SHAPE, motion=SHORT, max_coverage=0.3, seed=0, flat_ends=0.01,
                      flat_pixel_share=1.0)  # fmt: skip
    off = FlySampler(SHAPE, motion=SHORT, max_coverage=0.3, seed=0, flat_ends=0.0,
                     flat_pixel_share=1.0)  # fmt: skip
    assert honest_decisions(thin, narrow) == honest_decisions(off, narrow)
    assert fs.get_params()["flat_ends"] == FLAT_ENDS > 0 and plain.get_params()["flat_ends"] == 0


def test_flat_ends_idle_at_long_dwells():
    truth = _box()
    long_dwell = NANOPROBE.replace(dwell=0.01)
    a = FlySampler(SHAPE, motion=long_dwell, max_coverage=0.3, seed=0, flat_ends=0.0)
    b = FlySampler(SHAPE, motion=long_dwell, max_coverage=0.3, seed=0, flat_ends=0.5)
    assert a.sweep == b.sweep == 0
    for fs in (a, b):
        honest_decisions(fs, truth)
    np.testing.assert_array_equal(a.measured_points, b.measured_points)


@pytest.mark.parametrize("value", [-0.1, 1.0, float("nan")])
def test_bad_flat_ends_is_named(value):
    with pytest.raises(ValueError, match="flat_ends"):
        FlySampler(SHAPE, flat_ends=value)


def test_a_short_dwell_sampler_loads_the_trim_kernel_when_made():
    # the first decision after the coarse raster must not load it (about 7 ms a layout):
    # the sampler loads it when made, in the layouts of its own calls (rows and columns,
    # one channel and several), so a scan's decisions add none
    from fastscan.fly import lattice

    fs = FlySampler(SHAPE, motion=NANOPROBE.replace(dwell=0.001), seed=0, max_coverage=0.3)
    assert fs.sweep > 0 and fs.flat_ends > 0 and lattice._warm
    loaded = set(lattice._flat_end_bounds.signatures)
    layouts = {(s[0].layout, s[1].layout) for s in loaded}
    assert {("C", "C"), ("F", "F"), ("A", "C")} <= layouts  # rows, columns; 2 channels
    truth = np.zeros(SHAPE)
    truth[10:20, 12:30] = 1.0
    truth[:, 40:] = np.linspace(0.0, 1.0, SHAPE[1] - 40)
    assert honest_decisions(fs, truth)
    assert set(lattice._flat_end_bounds.signatures) == loaded

"""fast-fly's opt-in lattice completion (``FlySampler(lattice=..., lattice_trim=...)``)."""

from __future__ import annotations

import numpy as np
import pytest
from fly_source import fly_replay
from honesty import assert_honest_scan

from fastscan.fly import FlySampler
from fastscan.fly.lattice import flat_runs, fly_runs, lattice_levels, min_flat_run
from fastscan.fly.sampler import line_costs
from fastscan.motion import NANOPROBE
from fastscan.phantoms import make_phantom
from fastscan.replay import SimulatedDetector

MOTION = NANOPROBE.replace(dwell=0.01)


def _flat_runs_loop(values, measured, line, reach, tol):
    """Plain reference of :func:`flat_runs` for one channel."""
    known = values[measured]
    span = known.max() - known.min() or 1.0
    n_rows, n_cols = values.shape
    near = np.full((2, n_cols), np.nan)
    for i, side in enumerate((-1, 1)):
        for c in range(n_cols):
            for d in range(1, reach + 1):
                r = line + side * d
                if 0 <= r < n_rows and measured[r, c]:
                    near[i, c] = values[r, c] / span
                    break
    out = np.zeros(n_cols, bool)
    for c in range(n_cols):
        window = near[:, max(c - 1, 0) : c + 2]
        if c == 0 or c == n_cols - 1:  # the edge pixel counts itself twice (clip)
            window = near[:, [max(c - 1, 0), c, min(c + 1, n_cols - 1)]]
        if np.isnan(window).any():
            continue
        out[c] = window.max() - window.min() <= tol
    return out


def _fly_runs_loop(flat, min_run):
    skip = np.zeros(len(flat), bool)
    c = 0
    while c < len(flat):
        if flat[c]:
            e = c
            while e < len(flat) and flat[e]:
                e += 1
            if e - c >= min_run:
                skip[c:e] = True
            c = e
        else:
            c += 1
    return [(c, c) for c in np.flatnonzero(~skip)]


def _merge(pixels):
    runs = []
    for a, b in pixels:
        if runs and a == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], b)
        else:
            runs.append((a, b))
    return runs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flat_runs_and_fly_runs_match_loops(seed):
    rng = np.random.default_rng(seed)
    values = np.round(rng.random((12, 30)) * 3) / 3  # many exact ties
    measured = rng.random((12, 30)) < 0.5
    for line in (0, 5, 11):
        for tol in (0.0, 0.34):
            got = flat_runs(values, measured, line, reach=3, tol=tol)
            np.testing.assert_array_equal(got, _flat_runs_loop(values, measured, line, 3, tol))
            for min_run in (1, 2, 4):
                assert fly_runs(got, min_run) == _merge(_fly_runs_loop(got, min_run))


def test_lattice_levels_bisect_the_coarse_raster():
    levels = lattice_levels(64, origin=2, initial_spacing=8, spacing=2)
    assert [s for s, _ in levels] == [4, 2]
    coarse = set(range(2, 64, 8))
    first = coarse | set(levels[0][1])
    assert first == set(range(2, 64, 4))  # every 4th line after level 4
    assert first | set(levels[1][1]) == set(range(0, 64, 2))  # every 2nd after level 2
    assert lattice_levels(64, origin=2, initial_spacing=4, spacing=4) == []
    fixed, pixel_time = (c[0] for c in line_costs(MOTION))
    n = min_flat_run(fixed, pixel_time)
    assert (n - 1) * pixel_time <= fixed < n * pixel_time


def test_lattice_completes_before_refining_and_stays_honest():
    truth = make_phantom("particles", (64, 96), seed=101)
    detector = SimulatedDetector(truth)
    fs = FlySampler(truth.shape, motion=MOTION, max_coverage=0.4, seed=0, lattice=4)
    fly_replay(fs, detector)
    assert fs.stop_reason.startswith("coverage")
    assert_honest_scan(fs, detector, MOTION)
    rows = fs.trajectory.points[:, 0]
    lattice = np.isin(rows, np.arange(2, 64, 4))
    n_lattice = 16 * 96
    assert lattice[:n_lattice].all()  # the whole every-4th lattice first, whole lines
    assert not lattice[n_lattice:].all()  # then the ERD refines elsewhere


def test_lattice_off_is_the_old_scan_and_trim_skips_only_flat_runs():
    truth = np.zeros((64, 128))
    truth[20:27, 90:97] = 100.0  # one particle, on a flat background
    runs = {}
    for kw in ({}, {"lattice": 0}, {"lattice": 4, "lattice_trim": 0.02}):
        fs = FlySampler(truth.shape, motion=MOTION, max_coverage=0.3, seed=0, **kw)
        detector = SimulatedDetector(truth)
        fly_replay(fs, detector)
        assert_honest_scan(fs, detector, MOTION)
        runs[str(kw)] = fs
    old, off, trim = runs.values()
    np.testing.assert_array_equal(old.trajectory.points, off.trajectory.points)
    assert trim.stop_reason.startswith("coverage")
    # replay only the coarse raster and the lattice phase
    fs = FlySampler(truth.shape, motion=MOTION, max_coverage=0.3, lattice=4, lattice_trim=0.02)
    detector = SimulatedDetector(truth)
    while fs._lattice_todo is None or any(lines for _, lines in fs._lattice_todo):
        for segment in fs.suggest_segments():
            fs.ingest(segment.pixels(), detector.measure(segment.pixels()))
    assert_honest_scan(fs, detector, MOTION)
    # lattice row 22 crosses the particle between coarse rows 18 and 26: flown there (and
    # one pixel either side); elsewhere both sides read 0 and the flat runs are skipped
    flown = np.flatnonzero(fs.measured_mask[22])
    assert flown.min() <= 89 and flown.max() >= 97 and len(flown) < 20
    assert not fs.measured_mask[[6, 14, 38, 46, 54]].any()  # wholly flat on both sides
    assert fs.measured_mask[62].all()  # no reading below it: not trimmed
    # "busy": the other way round, the lattice fills in only where both sides agree
    busy = FlySampler(truth.shape, motion=MOTION, lattice=4, lattice_trim=0.02, lattice_skip="busy")
    detector = SimulatedDetector(truth)
    while busy._lattice_todo is None or any(lines for _, lines in busy._lattice_todo):
        for segment in busy.suggest_segments():
            busy.ingest(segment.pixels(), detector.measure(segment.pixels()))
    assert_honest_scan(busy, detector, MOTION)
    assert busy.measured_mask[[6, 14, 38, 46, 54, 62]].all()
    assert not busy.measured_mask[22, 90:97].any() and busy.measured_mask[22, :80].all()
    assert trim.get_params()["lattice"] == 4
    # at 1 ms no run of a 128-pixel row is longer than a segment's fixed cost: whole rows
    fast = NANOPROBE.replace(dwell=0.001)
    fs = FlySampler(truth.shape, motion=fast, max_coverage=0.3, lattice=4, lattice_trim=0.02)
    detector = SimulatedDetector(truth)
    fly_replay(fs, detector)
    assert_honest_scan(fs, detector, fast)
    assert fs.measured_mask[2::4].all()


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"lattice": 3}, "lattice must be 0 .* got 3"),
        ({"lattice": 1}, "lattice must be 0 .* got 1"),
        ({"lattice": True}, "lattice must be 0 .* got True"),
        ({"lattice": 4.0}, "lattice must be 0 .* got 4.0"),
        ({"lattice_trim": 1.0}, r"lattice_trim must be a number in \[0, 1\), got 1.0"),
        ({"lattice_trim": float("nan")}, "lattice_trim .* got nan"),
        ({"lattice_skip": "edges"}, "lattice_skip must be one of .* got 'edges'"),
    ],
)
def test_bad_lattice_arguments_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        FlySampler((32, 32), **kw)

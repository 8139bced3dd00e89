"""Short-dwell choice that sees the trim (``FlySampler(flat_pixel_share=...)``)."""

from __future__ import annotations

import numpy as np
import pytest
from fly_source import adaptive_decisions, honest_decisions
from honesty import assert_honest_scan

from fastscan.fly import FlySampler
from fastscan.fly.lattice import _is_flat, _refresh_end_runs, flat_end_runs, flat_pixel_map
from fastscan.fly.sampler import FLAT_ENDS, FLAT_PIXEL_SHARE
from fastscan.motion import NANOPROBE
from fastscan.replay import SimulatedDetector

SHAPE = (64, 80)
SHORT = NANOPROBE.replace(dwell=0.001)


@pytest.mark.parametrize("seed", range(4))
def test_flat_pixel_map_matches_the_one_pixel_test(seed):
    rng = np.random.default_rng(seed)
    n_rows, n_cols, n_channels = 24, 31, 1 + seed % 2
    measured = np.zeros((n_rows, n_cols), bool)
    measured[rng.choice(n_rows, 8, replace=False)] = True
    measured[rng.integers(0, n_rows, 30), rng.integers(0, n_cols, 30)] = True
    values = np.round(rng.random((n_rows, n_cols, n_channels)) * 1.5) * measured[:, :, None]
    span = np.array([2.0, 0.5][:n_channels])
    for reach, tol in ((3, 0.0), (5, 0.6), (8, 2.5)):
        got = flat_pixel_map(values, measured, reach=reach, tol=tol, span=span)
        want = np.zeros((n_rows, n_cols), bool)
        for r in range(n_rows):
            for c in range(n_cols):
                if not measured[r, c]:
                    want[r, c] = _is_flat(values, measured, r, c, reach, tol, span)
        np.testing.assert_array_equal(got, want)
        assert got.any() or tol == 0.0  # the case is not vacuous
        for _ in range(5):  # a box is the whole map's slice, edges included
            r0, r1 = sorted(rng.integers(-2, n_rows + 3, 2).tolist())
            c0, c1 = sorted(rng.integers(-2, n_cols + 3, 2).tolist())
            part = flat_pixel_map(values, measured, reach=reach, tol=tol, span=span,
                                  box=(r0, r1, c0, c1))  # fmt: skip
            np.testing.assert_array_equal(part, want[max(r0, 0) : r1, max(c0, 0) : c1])


@pytest.mark.parametrize(
    ("values", "reach", "match"),
    [
        (np.zeros((4, 5)), 2, "values must be"),
        (np.zeros((4, 5, 2)), 2, "values must be"),
        (np.zeros((4, 5, 1)), 0, "reach must be"),
    ],
)
def test_flat_pixel_map_names_bad_input(values, reach, match):
    with pytest.raises(ValueError, match=match):
        flat_pixel_map(values, np.ones((4, 5), bool), reach=reach, tol=0.1, span=np.ones(1))


def _end_runs_reference(flat, measured):
    out = np.zeros(flat.shape, bool)
    for r in range(flat.shape[0]):
        passable = flat[r] | measured[r]
        stops = np.flatnonzero(~passable)
        left, right = (stops[0], stops[-1]) if len(stops) else (flat.shape[1], -1)
        out[r, :left] = flat[r, :left] & ~measured[r, :left]
        out[r, right + 1 :] = flat[r, right + 1 :] & ~measured[r, right + 1 :]
    return out


@pytest.mark.parametrize("seed", range(4))
def test_flat_end_runs_match_a_plain_reference(seed):
    rng = np.random.default_rng(seed)
    measured = rng.random((30, 17)) < 0.2
    flat = (rng.random((30, 17)) < [0.3, 0.7, 0.95][seed % 3]) & ~measured
    flat[0] = ~measured[0]  # a row that is all end run
    got = flat_end_runs(flat, measured)
    np.testing.assert_array_equal(got, _end_runs_reference(flat, measured))
    assert got.any() and (flat & ~got).any()  # ends found, inner runs kept
    with pytest.raises(ValueError, match="one shape"):
        flat_end_runs(flat, measured.T)


@pytest.mark.parametrize("seed", range(3))
def test_refresh_end_runs_keeps_the_union_and_names_its_changes(seed):
    rng = np.random.default_rng(seed)
    shape = (20, 13)
    measured = rng.random(shape) < 0.2
    flat = (rng.random(shape) < 0.6) & ~measured
    other = rng.random(shape) < 0.3  # the other axis's end runs
    ends = flat_end_runs(flat, measured)
    out = ends | other
    lo, hi = 5, 12  # new readings and flatness on these rows only
    measured[lo:hi] |= rng.random((hi - lo, shape[1])) < 0.2
    flat[lo:hi] = (rng.random((hi - lo, shape[1])) < 0.6) & ~measured[lo:hi]
    before = out.copy()
    changed = np.empty((shape[1] * (hi - lo), 2), np.int64)
    n = _refresh_end_runs(flat, measured, ends, other, out, lo, hi, changed)
    np.testing.assert_array_equal(ends, flat_end_runs(flat, measured))
    np.testing.assert_array_equal(out, ends | other)
    assert n > 0
    assert sorted(map(tuple, changed[:n].tolist())) == sorted(
        map(tuple, np.argwhere(before != out).tolist())
    )


def _disk() -> np.ndarray:
    """A textured disk on a flat background: every row crosses flat ends."""
    rr, cc = np.mgrid[: SHAPE[0], : SHAPE[1]]
    inside = (rr - 32) ** 2 + (cc - 40) ** 2 < 20**2
    rng = np.random.default_rng(3)
    return np.where(inside, 50.0 + 50.0 * rng.random(SHAPE), 0.0)


def _flat_share(fs: FlySampler, segments) -> float:
    """Share of the planned, unmeasured pixels that were flat-bounded when planned."""
    sampler = fs._sampler
    values, mask = np.moveaxis(sampler._values, 0, -1), sampler._mask
    flat = flat_pixel_map(values, mask, reach=fs.initial_spacing, tol=FLAT_ENDS,
                          span=np.asarray(sampler._ref_range, float))  # fmt: skip
    pixels = np.concatenate([s.pixels() for s in segments])
    new = ~mask[pixels[:, 0], pixels[:, 1]]
    return float(flat[pixels[new, 0], pixels[new, 1]].mean()) if new.any() else 0.0


def test_flat_pixel_share_plans_fewer_flat_pixels_and_reveals_nothing_else():
    truth = _disk()
    shares = {}
    for share in (1.0, 0.1):
        fs = FlySampler(SHAPE, motion=SHORT, max_coverage=0.3, seed=0, flat_pixel_share=share)
        seen: list[float] = []

        def record(f, segments, seen=seen):
            seen.append(_flat_share(f, segments))

        honest_decisions(fs, truth, record=record)
        assert fs.sweep > 0 and seen
        shares[share] = seen[0]  # the first decision after the same coarse raster
    assert shares[0.1] < shares[1.0]


def test_flat_pixel_share_idle_at_long_dwells_and_off_at_one():
    truth = _disk()
    long_dwell = NANOPROBE.replace(dwell=0.01)
    runs = []
    for share in (None, 0.1, 1.0):
        kwargs = {} if share is None else {"flat_pixel_share": share}
        fs = FlySampler(SHAPE, motion=long_dwell, max_coverage=0.3, seed=0, **kwargs)
        assert fs.sweep == 0
        runs.append(honest_decisions(fs, truth))
    assert runs[0] == runs[1] == runs[2]
    # at 1 ms the default acts; 1.0 leaves the planner the level map's weights
    scans = {}
    for share in (FLAT_PIXEL_SHARE, 1.0):
        fs = FlySampler(SHAPE, motion=SHORT, max_coverage=0.3, seed=0, flat_pixel_share=share)
        untouched = []

        def record(f, segments, untouched=untouched):
            untouched.append(np.array_equal(f._planner._weights, f._levels.weights))

        scans[share] = honest_decisions(fs, truth, record=record)
        assert all(untouched) == (share == 1.0)
        assert fs.get_params()["flat_pixel_share"] == share
    assert scans[FLAT_PIXEL_SHARE] != scans[1.0]
    assert FlySampler(SHAPE).flat_pixel_share == FLAT_PIXEL_SHARE < 1


class _TwoChannels:
    """The disk and a step as two channels of one reading (only the pixels asked for)."""

    def __init__(self, truth: np.ndarray) -> None:
        self.maps = np.stack([truth, np.where(np.arange(SHAPE[1]) > 50, 10.0, 0.0)[None]
                              * np.ones(SHAPE)], axis=-1)  # fmt: skip
        self.asked_mask = np.zeros(SHAPE, bool)  # every pixel read, for the honesty check

    def measure(self, points: np.ndarray) -> np.ndarray:
        self.asked_mask[points[:, 0], points[:, 1]] = True
        return self.maps[points[:, 0], points[:, 1]]


@pytest.mark.parametrize(("ends", "channels"), [(False, 1), (True, 1), (True, 2)])
def test_flat_pixel_share_keeps_the_planner_exact(ends, channels):
    """After each decision the planner's weights are the level map's with the discount,
    flat-bounded pixels found from scratch (the sampler keeps them up to date by boxes)."""
    truth = _disk()
    detector = SimulatedDetector(truth) if channels == 1 else _TwoChannels(truth)
    fs = FlySampler(SHAPE, motion=SHORT, max_coverage=0.3, seed=0, flat_pixel_share=0.1,
                    flat_pixel_ends=ends)  # fmt: skip
    checked = []

    def check(f, segments):
        sampler = f._sampler
        values, mask = np.moveaxis(sampler._values, 0, -1), sampler._mask
        weights = f._levels.weights
        flat = np.zeros(mask.shape, bool)
        for axis in f._planner._axis_ids:
            v, m = (values, mask) if axis == 0 else (values.transpose(1, 0, 2), mask.T)
            found = flat_pixel_map(v, m, reach=f.initial_spacing, tol=FLAT_ENDS,
                                   span=np.asarray(sampler._ref_range, float))  # fmt: skip
            if ends:  # only each line's end runs
                found = flat_end_runs(found, m)
            flat |= found if axis == 0 else found.T
        want = np.where(flat & (weights > 0), 0.1 * weights, weights)
        # (the ingests of the flown picks since have not reached the level map yet)
        np.testing.assert_array_equal(f._planner._weights, want)
        checked.append(flat.any())

    fs_decide = fs._decide

    def decide():
        picks = fs_decide()
        check(fs, [p.segment for p in picks])
        return picks

    fs._decide = decide
    adaptive_decisions(fs, detector)
    assert_honest_scan(fs, detector, fs.motion)
    assert checked and any(checked) and fs._sampler._values.shape[0] == channels


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan"), True, "0.5"])
def test_bad_flat_pixel_share_is_named(value):
    with pytest.raises(ValueError, match="flat_pixel_share"):
        FlySampler(SHAPE, flat_pixel_share=value)


@pytest.mark.parametrize("value", [1, "yes", None])
def test_bad_flat_pixel_ends_is_named(value):
    with pytest.raises(ValueError, match="flat_pixel_ends"):
        FlySampler(SHAPE, flat_pixel_ends=value)

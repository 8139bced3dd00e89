"""``FlySampler(line_jump=...)``: the jump map and line factors, the factors the planner
receives, the same scan before the switch, idle at long dwells and off by default."""

from __future__ import annotations

import numpy as np
import pytest
from fly_source import honest_decisions

from fastscan.fly import FlySampler
from fastscan.fly.jump import JUMP_FLOOR, jump_line_scale, jump_map
from fastscan.motion import NANOPROBE

SHAPE = (64, 80)
SHORT = NANOPROBE.replace(dwell=0.001)


def _jump_reference(values, measured, reach, span):
    """Pixel by pixel: the nearest readings above and below within reach, or 0."""
    n_rows, n_cols = measured.shape
    out = np.zeros(measured.shape)
    for r in range(n_rows):
        for c in range(n_cols):
            if measured[r, c]:
                continue
            up = [u for u in range(r - 1, max(r - reach, 0) - 1, -1) if measured[u, c]]
            down = [d for d in range(r + 1, min(r + reach, n_rows - 1) + 1) if measured[d, c]]
            if up and down:
                d = (values[up[0], c] - values[down[0], c]) / span
                out[r, c] = min(float(np.sqrt(np.mean(d**2))), 1.0)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jump_map_matches_a_plain_reference(seed):
    rng = np.random.default_rng(seed)
    measured = rng.random((23, 17)) < 0.3
    values = rng.random((23, 17, 2)) * np.array([1.0, 3.0])
    span = np.array([0.4, 1.2])
    want = _jump_reference(values, measured, 4, span)
    np.testing.assert_allclose(jump_map(values, measured, reach=4, span=span), want)
    np.testing.assert_allclose(
        jump_map(values, measured, reach=4, span=span, box=(3, 15, 2, 9)), want[3:15, 2:9]
    )
    assert (want > 0).any() and (want == 1.0).any() and ((want > 0) & (want < 1)).any()


@pytest.mark.parametrize(
    ("reach", "values", "match"),
    [(0, np.zeros((4, 3, 1)), "reach"), (1.5, np.zeros((4, 3, 1)), "reach"),
     (2, np.zeros((4, 3)), "values")],
)  # fmt: skip
def test_jump_map_names_bad_input(reach, values, match):
    with pytest.raises(ValueError, match=match):
        jump_map(values, np.zeros((4, 3), bool), reach=reach, span=np.ones(1))


def test_jump_line_scale_is_the_floor_plus_the_mean_over_candidates():
    rng = np.random.default_rng(5)
    measured = rng.random((12, 9)) < 0.4
    values = rng.random((12, 9, 1))
    candidates = rng.random((12, 9)) < 0.5
    span = np.ones(1)
    rows, cols = jump_line_scale(values, measured, candidates, reach=3, span=span)
    jump = jump_map(values, measured, reach=3, span=span)
    jump_t = jump_map(values.transpose(1, 0, 2), measured.T, reach=3, span=span)
    cand = candidates & ~measured
    for r in range(12):
        want = jump[r][cand[r]].mean() if cand[r].any() else 0.0
        assert rows[r] == pytest.approx(JUMP_FLOOR + want)
    for c in range(9):
        want = jump_t[c][cand[:, c]].mean() if cand[:, c].any() else 0.0
        assert cols[c] == pytest.approx(JUMP_FLOOR + want)
    assert (rows > JUMP_FLOOR).any() and jump_line_scale(
        values, measured, candidates, reach=3, span=span, axes=(1,)
    )[0] is None


def _disk() -> np.ndarray:
    """A disk with a textured half on a flat background."""
    rr, cc = np.mgrid[: SHAPE[0], : SHAPE[1]]
    inside = (rr - 32) ** 2 + (cc - 40) ** 2 < 20**2
    rng = np.random.default_rng(3)
    return np.where(inside, 50.0 + 50.0 * rng.random(SHAPE) * (cc > 40), 0.0)


@pytest.mark.parametrize("line_jump", [0.0, 0.2])
def test_line_jump_scales_the_lines_from_its_coverage_on(line_jump):
    """Each decision's line factors are flat_lines' times the jump's, recomputed from
    scratch, from line_jump's coverage on; before it the scan is the default's."""
    truth = _disk()
    fs = FlySampler(SHAPE, motion=SHORT, max_coverage=0.35, seed=0, line_jump=line_jump)
    seen = []

    def check(f, segments):
        sampler = f._sampler
        got, flat = f._line_scale(), f._flat_line_scale()
        active = sampler.n_measured >= line_jump * sampler._mask.size
        if not active:
            assert got is flat or all(a is b or np.array_equal(a, b) for a, b in zip(got, flat))
        else:
            jump = jump_line_scale(
                np.moveaxis(sampler._values, 0, -1), sampler._mask, f._levels.weights > 0,
                reach=f.initial_spacing, span=np.asarray(sampler._ref_range, float),
            )  # fmt: skip
            for axis in f._planner._axis_ids:
                want = jump[axis] if flat is None else flat[axis] * jump[axis]
                np.testing.assert_allclose(got[axis], want, rtol=1e-12)
        seen.append((active, len(segments)))

    decisions = honest_decisions(fs, truth, record=check)
    assert any(a for a, _ in seen)
    assert all(a for a, _ in seen) == (line_jump == 0.0)
    if line_jump > 0:  # the same scan as the default up to the switch
        default = honest_decisions(
            FlySampler(SHAPE, motion=SHORT, max_coverage=0.35, seed=0), truth
        )
        n = sum(1 for a, _ in seen if not a)
        assert decisions[:n] == default[:n] and decisions != default


def test_line_jump_idle_at_long_dwells_and_off_by_default():
    truth = _disk()
    long_dwell = NANOPROBE.replace(dwell=0.01)
    runs = []
    for kwargs in ({}, {"line_jump": 0.0}):
        fs = FlySampler(SHAPE, motion=long_dwell, max_coverage=0.3, seed=0, **kwargs)
        assert fs.sweep == 0
        runs.append(honest_decisions(fs, truth))
    assert runs[0] == runs[1]
    scans = {}
    for line_jump in (None, 0.0):
        fs = FlySampler(SHAPE, motion=SHORT, max_coverage=0.3, seed=0, line_jump=line_jump)
        scans[line_jump] = honest_decisions(fs, truth)
        assert fs.get_params()["line_jump"] == line_jump
    assert scans[None] != scans[0.0]
    assert FlySampler(SHAPE).line_jump is None


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan"), True, "0.5"])
def test_bad_line_jump_is_named(value):
    with pytest.raises(ValueError, match="line_jump"):
        FlySampler(SHAPE, line_jump=value)

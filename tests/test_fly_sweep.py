"""Short-dwell sweeps: a decision's segments flown as one monotone serpentine pass."""

from __future__ import annotations

import numpy as np
import pytest
from fly_source import honest_decisions

from fastscan.fly import FlySampler, Segment
from fastscan.fly.planner import sweep_order
from fastscan.fly.sampler import SWEEP_SEGMENTS, default_sweep, line_costs
from fastscan.motion import NANOPROBE
from fastscan.phantoms import make_phantom

SHAPE = (64, 80)


def _random_segments(rng: np.random.Generator, n: int) -> list[Segment]:
    out = []
    for _ in range(n):
        if rng.random() < 0.7:
            row = int(rng.integers(0, SHAPE[0]))
            a, b = sorted(int(v) for v in rng.integers(0, SHAPE[1], 2))
            out.append(Segment((row, a), (row, b)))
        else:
            col = int(rng.integers(0, SHAPE[1]))
            a, b = sorted(int(v) for v in rng.integers(0, SHAPE[0], 2))
            out.append(Segment((a, col), (b, col)))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_sweep_order_is_a_monotone_serpentine_permutation(seed):
    rng = np.random.default_rng(seed)
    segments = _random_segments(rng, 9)
    position = (float(rng.integers(0, SHAPE[0])), float(rng.integers(0, SHAPE[1])))
    flown = sweep_order(segments, position)
    # the same lines, each flown once, in one direction or the other
    assert sorted(sorted((s.start, s.end)) for s in flown) == sorted(
        sorted((s.start, s.end)) for s in segments
    )
    first_rows = [min(s.start[0], s.end[0]) for s in flown]
    steps = np.diff(first_rows)
    assert (steps >= 0).all() or (steps <= 0).all()
    # it starts at the end of the sweep nearer the stage
    assert abs(first_rows[0] - position[0]) <= abs(first_rows[-1] - position[0])
    here = position
    for s in flown:  # each from its end nearer the previous end
        to_start = abs(s.start[0] - here[0]) + abs(s.start[1] - here[1])
        to_end = abs(s.end[0] - here[0]) + abs(s.end[1] - here[1])
        assert to_start <= to_end
        here = s.end
    assert sweep_order([], position) == []


def test_default_sweep_is_on_only_where_a_line_costs_about_its_readings():
    for dwell in (0.0005, 0.001, 0.002, 0.005, 0.01, 0.1):
        motion = NANOPROBE.replace(dwell=dwell)
        (fixed, _), (pixel_time, _) = line_costs(motion)
        for shape in ((64, 80), (256, 256), (400, 600)):
            short = fixed >= 0.5 * shape[1] * pixel_time
            assert default_sweep(shape, motion) == (SWEEP_SEGMENTS if short else 0)
    assert FlySampler(SHAPE, motion=NANOPROBE.replace(dwell=0.001)).sweep == SWEEP_SEGMENTS
    assert FlySampler(SHAPE, motion=NANOPROBE.replace(dwell=0.1)).sweep == 0
    assert FlySampler(SHAPE, motion=NANOPROBE.replace(dwell=0.001), sweep=0).sweep == 0


@pytest.mark.parametrize("bad", [-1, 1.5, True, "8"])
def test_bad_sweep_is_named(bad):
    with pytest.raises(ValueError, match="sweep must"):
        FlySampler(SHAPE, sweep=bad)
    with pytest.raises(ValueError, match="sweep_share"):
        FlySampler(SHAPE, sweep_share=1.5 if bad != -1 else -0.1)


def _scan(truth: np.ndarray, sweep: int) -> tuple[FlySampler, list]:
    motion = NANOPROBE.replace(dwell=0.001)
    fs = FlySampler(SHAPE, motion=motion, max_coverage=0.4, seed=0, sweep=sweep)
    return fs, honest_decisions(fs, truth)


def _move_seconds(fs: FlySampler) -> float:
    """Beam time less every segment's fixed cost and readings: the stage moves."""
    (fixed, _), (pixel_time, _) = line_costs(fs.motion)
    traj = fs.trajectory
    n_segments = len(np.unique(traj.segment))
    return traj.beam_time - n_segments * fixed - traj.n_readings * pixel_time


@pytest.mark.parametrize("kind", ["texture", "flakes"])
def test_short_dwell_decisions_are_honest_sweeps(kind):
    if kind == "texture":
        truth = np.random.default_rng(0).random(SHAPE) * 100.0
    else:
        truth = make_phantom("flakes", SHAPE, seed=101)
    fs, decisions = _scan(truth, SWEEP_SEGMENTS)
    assert fs.stop_reason.startswith("coverage")
    for segments in decisions:
        assert len(segments) <= SWEEP_SEGMENTS
        # parallel lines only (a one-pixel segment, which a pick whose flat ends weigh
        # nothing can be, lies along both axes)
        assert len({s.is_row for s in segments if s.n_pixels > 1}) <= 1
        rows = [min(s.start[0], s.end[0]) for s in segments]
        steps = np.diff(rows)
        assert (steps >= 0).all() or (steps <= 0).all()
    if kind == "texture":  # flat ERD: the picks are worth the same, and one sweep flies them
        assert max(len(d) for d in decisions) > fs.batch_size
        # the same scan in the planner's nearest-first order moves the stage longer
        plain, _ = _scan(truth, 0)
        assert _move_seconds(fs) < _move_seconds(plain)

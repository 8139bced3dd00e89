"""The order of a sweep's segments with the least stage-move time (``FlySampler(sweep_tour=True)``,
:func:`fastscan.fly.sweep_tour.shortest_tour`)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from fly_source import honest_decisions

from fastscan.beamtime import time_breakdown
from fastscan.fly import FlySampler
from fastscan.fly.segment import Segment
from fastscan.fly.sweep_tour import shortest_tour, tour_seconds
from fastscan.motion import NANOPROBE, axis_time
from fastscan.phantoms import make_phantom

SHAPE = (64, 80)
SHORT = NANOPROBE.replace(dwell=0.001)
STAGE = (1000.0, 1e4, 1000.0, 1e4)  # NANOPROBE's axes, in pixels


def _move(a, b) -> float:
    return max(float(axis_time(abs(a[0] - b[0]), 1000.0, 1e4)),
               float(axis_time(abs(a[1] - b[1]), 1000.0, 1e4)))  # fmt: skip


def _plain_seconds(segments, position) -> float:
    here, total = position, 0.0
    for seg in segments:
        total += _move(here, seg.start)
        here = seg.end
    return total


def _random_segments(rng, n) -> list[Segment]:
    rows = rng.choice(60, n, replace=False)
    out = []
    for r in rows:
        a, b = sorted(rng.choice(80, 2, replace=False))
        out.append(Segment((int(r), int(a)), (int(r), int(b))))
    return out


def _key(segments) -> list[tuple]:
    """A decision's segments, whichever way each is flown, in a fixed order."""
    return sorted(tuple(sorted((s.start, s.end))) for s in segments)


def test_tour_seconds_is_the_plain_sum_of_moves():
    rng = np.random.default_rng(0)
    for _ in range(50):
        segs = _random_segments(rng, int(rng.integers(1, 12)))
        position = (float(rng.uniform(0, 60)), float(rng.uniform(0, 80)))
        assert tour_seconds(segs, position, STAGE) == pytest.approx(_plain_seconds(segs, position))


def test_shortest_tour_never_worse_and_the_same_segments():
    rng = np.random.default_rng(1)
    gained = 0
    for _ in range(60):
        segs = _random_segments(rng, int(rng.integers(1, 17)))
        position = (float(rng.uniform(0, 60)), float(rng.uniform(0, 80)))
        tour = shortest_tour(segs, position, STAGE)
        assert _key(tour) == _key(segs)
        before, after = _plain_seconds(segs, position), _plain_seconds(tour, position)
        assert after <= before + 1e-12
        gained += after < before - 1e-9
    assert gained > 30  # random orders are rarely the best


def test_shortest_tour_finds_the_best_of_a_few():
    # brute force over every order and way round: 2-opt and or-opt reach it on small cases
    rng = np.random.default_rng(2)
    hits = 0
    for _ in range(20):
        segs = _random_segments(rng, 5)
        position = (float(rng.uniform(0, 60)), 0.0)
        best = min(
            _plain_seconds([s if f == 0 else s.reversed() for s, f in zip(p, flips, strict=True)],
                           position)
            for p in itertools.permutations(segs)
            for flips in itertools.product((0, 1), repeat=5)
        )  # fmt: skip
        got = _plain_seconds(shortest_tour(segs, position, STAGE), position)
        assert got >= best - 1e-12
        hits += got <= best + 1e-9
    assert hits >= 16


def test_shortest_tour_bad_input_named():
    segs = [Segment((0, 0), (0, 9))]
    assert shortest_tour([], None, STAGE) == []
    with pytest.raises(ValueError, match="stage"):
        shortest_tour(segs, None, (1.0, 0.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="position"):
        shortest_tour(segs, (float("nan"), 0.0), STAGE)
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match="max_rounds"):
            shortest_tour(segs, None, STAGE, max_rounds=bad)


def _spots() -> np.ndarray:
    """A few round spots on a flat background: the flat ends trim most picks."""
    rng = np.random.default_rng(5)
    rows, cols = np.mgrid[: SHAPE[0], : SHAPE[1]]
    truth = np.zeros(SHAPE)
    for _ in range(7):
        r, c = rng.uniform(8, 56), rng.uniform(10, 70)
        truth += np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / (2 * 2.5**2))
    return truth


def _run(**kwargs) -> tuple[FlySampler, list[list[Segment]]]:
    truth = _spots()
    fs = FlySampler(SHAPE, motion=SHORT, max_coverage=0.4, seed=0, **kwargs)
    return fs, honest_decisions(fs, truth)


def test_tour_flies_the_same_decisions_with_fewer_moves():
    base, base_decisions = _run()
    assert base.sweep > 0 and not base.sweep_tour
    fs, decisions = _run(sweep_tour=True)
    assert fs.get_params()["sweep_tour"] is True
    assert decisions != base_decisions  # flown in another order
    # the same segments in every decision, and each sweep ends where it did
    assert [_key(d) for d in decisions] == [_key(d) for d in base_decisions]
    assert [d[-1] for d in decisions] == [d[-1] for d in base_decisions]
    np.testing.assert_array_equal(fs.measured_mask, base.measured_mask)
    moves = [time_breakdown(f.trajectory, f.motion)["moves"] for f in (base, fs)]
    assert moves[1] < moves[0]
    for before, after in zip(base_decisions, decisions, strict=True):
        start = before[0].start  # (any position: each decision's moves, timed alike)
        assert tour_seconds(after, start, STAGE) <= tour_seconds(before, start, STAGE) + 1e-12


def test_tour_idle_at_long_dwells():
    truth = make_phantom("flakes", SHAPE, seed=100)
    runs = []
    for tour in (False, True):
        fs = FlySampler(
            SHAPE, motion=NANOPROBE.replace(dwell=0.01), max_coverage=0.3, seed=0, sweep_tour=tour
        )
        assert fs.sweep == 0
        runs.append(honest_decisions(fs, truth))
    assert runs[0] == runs[1] and runs[0]


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_bad_sweep_tour_is_named(value):
    with pytest.raises(ValueError, match="sweep_tour"):
        FlySampler(SHAPE, sweep_tour=value)

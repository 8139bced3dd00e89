"""A compact sweep out of a larger pool of picks (``FlySampler(sweep_pool=...)``,
:func:`fastscan.fly.sweep_band.compact_sweep`)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from fly_source import honest_decisions

from fastscan.fly import FlySampler
from fastscan.fly.planner import Pick
from fastscan.fly.segment import Segment
from fastscan.fly.sweep_band import compact_sweep
from fastscan.motion import NANOPROBE, axis_time
from fastscan.phantoms import make_phantom

SHAPE = (64, 80)
SHORT = NANOPROBE.replace(dwell=0.001)


def _move(d: float) -> float:
    return float(axis_time(d, 1000.0, 1e4))


def _rows(lines, erd=None, width=10) -> list[Pick]:
    erd = [1.0] * len(lines) if erd is None else erd
    return [Pick(Segment((r, 0), (r, width - 1)), e, 0.5) for r, e in zip(lines, erd, strict=True)]


def _reference(picks, size, position, move):
    """Every run of ``size`` neighbours in line order holding picks[0], scored from scratch."""
    here = 0.0 if position is None else position[0]
    order = sorted(range(len(picks)), key=lambda i: picks[i].segment.start[0])
    best = None
    for first in range(len(picks) - size + 1):
        run = order[first : first + size]
        if 0 not in run:
            continue
        lines = [picks[i].segment.start[0] for i in run]
        seconds = sum(picks[i].seconds for i in run)
        seconds += sum(move(b - a) for a, b in itertools.pairwise(lines))
        seconds += move(min(abs(here - lines[0]), abs(here - lines[-1])))
        rate = sum(picks[i].erd for i in run) / seconds
        if best is None or rate > best[0]:
            best = (rate, set(run))
    return [p for i, p in enumerate(picks) if i in best[1]]


def test_compact_sweep_matches_a_plain_reference():
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(2, 30))
        lines = rng.choice(200, n, replace=False).tolist()
        picks = _rows(lines, rng.uniform(0.1, 2.0, n).tolist())
        size = int(rng.integers(1, n + 2))
        position = (float(rng.uniform(0, 200)), 0.0)
        kept = compact_sweep(picks, size, position, _move)
        want = picks if n <= size else _reference(picks, size, position, _move)
        assert kept == want
        assert len(kept) == min(n, size) and kept[0] is picks[0]


def test_compact_sweep_prefers_neighbours_near_the_stage():
    # two clusters of equal worth: the one the stage is at is kept, with the best pick
    picks = _rows([100, 0, 4, 8, 96, 104])
    kept = compact_sweep(picks, 3, (110.0, 0.0), _move)
    assert sorted(p.segment.start[0] for p in kept) == [96, 100, 104]
    # worth beats nearness: a far, rich cluster holding the best pick
    picks = _rows([0, 100, 104, 4, 8, 96], [1.0, 1.0, 1.0, 5.0, 5.0, 1.0])
    kept = compact_sweep(picks, 3, (110.0, 0.0), _move)
    assert sorted(p.segment.start[0] for p in kept) == [0, 4, 8]


def test_compact_sweep_columns_and_bad_input():
    picks = [Pick(Segment((0, c), (9, c)), 1.0, 0.5) for c in (50, 0, 48, 2, 52)]
    kept = compact_sweep(picks, 3, (0.0, 60.0), _move)
    assert sorted(p.segment.start[1] for p in kept) == [48, 50, 52]
    for size in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="size"):
            compact_sweep(picks, size, None, _move)
    mixed = [*picks, Pick(Segment((5, 0), (5, 9)), 1.0, 0.5)]
    with pytest.raises(ValueError, match="one axis"):
        compact_sweep(mixed, 3, None, _move)


def _run(**kwargs) -> tuple[FlySampler, list[list[Segment]]]:
    truth = make_phantom("flakes", SHAPE, seed=100)
    fs = FlySampler(SHAPE, motion=SHORT, max_coverage=0.4, seed=0, **kwargs)
    return fs, honest_decisions(fs, truth)


def test_pool_flies_sweeps_of_at_most_sweep_neighbours():
    # small sweeps, so that more picks than one sweep flies pass the share on this grid
    base, base_decisions = _run(sweep=6)
    assert base.sweep_pool == 0 and max(len(d) for d in base_decisions) == 6
    fs, decisions = _run(sweep=6, sweep_pool=24)
    assert fs.get_params()["sweep_pool"] == 24
    assert decisions != base_decisions
    assert all(len(d) <= 6 for d in decisions)
    assert all(len({s.is_row for s in d}) == 1 for d in decisions)

    def mean_gap(runs):  # lines between neighbouring picks of one sweep
        pairs = [(a, b) for d in runs for a, b in itertools.pairwise(d)]
        return np.mean([abs(b.start[0] - a.start[0]) for a, b in pairs])

    assert mean_gap(decisions) < mean_gap(base_decisions)


def test_pool_idle_at_or_below_sweep_and_at_long_dwells():
    base, base_decisions = _run()
    assert _run(sweep_pool=base.sweep)[1] == base_decisions
    truth = make_phantom("flakes", SHAPE, seed=100)
    runs = []
    for pool in (0, 64):
        fs = FlySampler(
            SHAPE, motion=NANOPROBE.replace(dwell=0.01), max_coverage=0.3, seed=0, sweep_pool=pool
        )
        assert fs.sweep == 0
        runs.append(honest_decisions(fs, truth))
    assert runs[0] == runs[1] and runs[0]


@pytest.mark.parametrize("value", [-1, 1.5, True, "32", None])
def test_bad_sweep_pool_is_named(value):
    with pytest.raises(ValueError, match="sweep_pool"):
        FlySampler(SHAPE, sweep_pool=value)

"""Short-dwell sweeps only up to a coverage, or with another share past it
(``FlySampler(sweep_until=..., sweep_share_late=...)``)."""

from __future__ import annotations

import numpy as np
import pytest
from fly_source import honest_decisions

from fastscan.fly import FlySampler
from fastscan.motion import NANOPROBE
from fastscan.phantoms import make_phantom

SHAPE = (64, 80)
SHORT = NANOPROBE.replace(dwell=0.001)


def _truth() -> np.ndarray:
    return make_phantom("flakes", SHAPE, seed=100)


def _run(truth: np.ndarray, **kwargs) -> tuple[FlySampler, list, list[float]]:
    """Decisions after the coarse raster and the coverage each was made at."""
    fs = FlySampler(SHAPE, motion=SHORT, max_coverage=0.4, seed=0, **kwargs)
    coverage: list[float] = []

    def record(f, segments):
        coverage.append(f._sampler.n_measured / f._sampler._mask.size)

    return fs, honest_decisions(fs, truth, record=record), coverage


def test_sweeps_stop_at_the_coverage():
    truth = _truth()
    base, base_decisions, base_coverage = _run(truth)
    assert base.sweep > 0 and base.sweep_until == 1.0
    # sweeps of more than batch_size picks happen late in the default scan
    late = [d for d, c in zip(base_decisions, base_coverage, strict=True) if c >= 0.2]
    assert any(len(d) > base.batch_size for d in late)
    fs, decisions, coverage = _run(truth, sweep_until=0.2)
    assert fs.get_params()["sweep_until"] == 0.2
    before = [d for d, c in zip(decisions, coverage, strict=True) if c < 0.2]
    after = [d for d, c in zip(decisions, coverage, strict=True) if c >= 0.2]
    assert before and after
    # the same scan up to the switch, then at most batch_size picks per decision
    assert before == base_decisions[: len(before)]
    assert all(len(d) <= fs.batch_size for d in after)
    assert decisions != base_decisions


def test_sweep_until_one_is_the_default_and_idle_without_sweeps():
    truth = _truth()
    assert _run(truth, sweep_until=1.0)[1] == _run(truth)[1]
    long_dwell = NANOPROBE.replace(dwell=0.01)
    runs = []
    for until in (1.0, 0.1):
        fs = FlySampler(SHAPE, motion=long_dwell, max_coverage=0.3, seed=0, sweep_until=until)
        assert fs.sweep == 0
        runs.append(honest_decisions(fs, truth))
    assert runs[0] == runs[1] and runs[0]


def test_late_sweeps_take_their_own_share():
    truth = _truth()
    _, base_decisions, _ = _run(truth)
    # the same share late is the default scan
    assert _run(truth, sweep_until=0.2, sweep_share_late=0.5)[1] == base_decisions
    fs, decisions, coverage = _run(truth, sweep_until=0.2, sweep_share_late=0.0)
    assert fs.get_params()["sweep_share_late"] == 0.0
    before = [d for d, c in zip(decisions, coverage, strict=True) if c < 0.2]
    after = [d for d, c in zip(decisions, coverage, strict=True) if c >= 0.2]
    assert before and after and before == base_decisions[: len(before)]
    assert decisions != base_decisions
    # every late decision is one sweep of parallel lines (share 0: all the planner's picks
    # along the best one's axis), so late decisions are no fewer segments than before
    assert all(len({s.is_row for s in d}) == 1 for d in after)
    late_base = base_decisions[len(before) :]
    assert np.mean([len(d) for d in after]) >= np.mean([len(d) for d in late_base])


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan"), True, "0.5"])
def test_bad_sweep_share_late_is_named(value):
    with pytest.raises(ValueError, match="sweep_share_late"):
        FlySampler(SHAPE, sweep_share_late=value)


@pytest.mark.parametrize("value", [0, 0.0, -0.1, 1.5, float("nan"), True, "0.5", None])
def test_bad_sweep_until_is_named(value):
    with pytest.raises(ValueError, match="sweep_until"):
        FlySampler(SHAPE, sweep_until=value)

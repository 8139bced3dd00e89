"""Short-dwell sweeps only up to a coverage (``FlySampler(sweep_until=...)``)."""

from __future__ import annotations

import numpy as np
import pytest
from fly_source import adaptive_decisions

from fastscan.beamtime import check_trajectory
from fastscan.fly import FlySampler
from fastscan.motion import NANOPROBE
from fastscan.phantoms import make_phantom
from fastscan.replay import SimulatedDetector

SHAPE = (64, 80)
SHORT = NANOPROBE.replace(dwell=0.001)


def _truth() -> np.ndarray:
    return make_phantom("flakes", SHAPE, seed=100)


def _run(truth: np.ndarray, **kwargs) -> tuple[FlySampler, list, list[float]]:
    """Decisions after the coarse raster and the coverage each was made at."""
    detector = SimulatedDetector(truth)
    fs = FlySampler(SHAPE, motion=SHORT, max_coverage=0.4, seed=0, **kwargs)
    coverage: list[float] = []

    def record(f, segments):
        coverage.append(f._sampler.n_measured / f._sampler._mask.size)

    decisions = adaptive_decisions(fs, detector, record=record)
    np.testing.assert_array_equal(detector.asked_mask, fs.measured_mask)
    assert check_trajectory(fs.trajectory, fs.motion) == []
    return fs, decisions, coverage


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
        runs.append(adaptive_decisions(fs, SimulatedDetector(truth)))
    assert runs[0] == runs[1] and runs[0]


@pytest.mark.parametrize("value", [0, 0.0, -0.1, 1.5, float("nan"), True, "0.5", None])
def test_bad_sweep_until_is_named(value):
    with pytest.raises(ValueError, match="sweep_until"):
        FlySampler(SHAPE, sweep_until=value)

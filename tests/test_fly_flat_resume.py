"""Planning on past flat pixels instead of stopping (``FlySampler(flat_pixel_resume=...)``)."""

from __future__ import annotations

import numpy as np
import pytest
from fly_source import honest_decisions

from fastscan.fly import FlySampler
from fastscan.fly.sampler import FLAT_PIXEL_RESUME
from fastscan.motion import NANOPROBE

SHAPE = (64, 80)
SHORT = NANOPROBE.replace(dwell=0.001)
STOP = "no segment has any ERD left to gain"


def _spots() -> np.ndarray:
    """Five small spots on a flat background: at share 0 the flat pixels end the plan."""
    rr, cc = np.mgrid[: SHAPE[0], : SHAPE[1]]
    out = np.zeros(SHAPE)
    for r, c in ((10, 12), (30, 55), (50, 20), (44, 70), (20, 38)):
        out += 100.0 * np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / 4.0)
    return out


def _scan(motion=SHORT, **kwargs) -> tuple[FlySampler, list]:
    fs = FlySampler(SHAPE, motion=motion, max_coverage=0.5, seed=0, flat_pixel_share=0.0, **kwargs)
    return fs, honest_decisions(fs, _spots())


def test_resume_plans_on_to_max_coverage_after_the_same_decisions():
    stopped, before = _scan(flat_pixel_resume=None)
    assert stopped.stop_reason == STOP and stopped.coverage < 0.45
    resumed, after = _scan(flat_pixel_resume=0.1)
    assert "max_coverage" in resumed.stop_reason and resumed.coverage >= 0.5
    # every decision up to the early stop is the same; the resumed scan flies on
    assert len(after) > len(before)
    assert after[: len(before)] == before
    assert resumed._flat_share_now == 0.1 and stopped._flat_share_now == 0.0
    assert resumed.get_params()["flat_pixel_resume"] == 0.1


def test_resume_at_or_below_the_share_stops_as_before():
    stopped, before = _scan(flat_pixel_resume=None)
    same, again = _scan(flat_pixel_resume=0.0)
    assert again == before and same.stop_reason == STOP == stopped.stop_reason


def test_resume_idle_at_long_dwells():
    long_dwell = NANOPROBE.replace(dwell=0.01)
    runs = [_scan(long_dwell, flat_pixel_resume=r)[1] for r in (None, 0.1)]
    assert runs[0] == runs[1] and runs[0]


def test_default_resume_is_the_documented_one():
    assert FlySampler(SHAPE).flat_pixel_resume == FLAT_PIXEL_RESUME


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan"), True, "0.1"])
def test_bad_flat_pixel_resume_is_named(value):
    with pytest.raises(ValueError, match="flat_pixel_resume"):
        FlySampler(SHAPE, flat_pixel_resume=value)

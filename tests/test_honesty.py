"""tests/honesty.py: the shared honesty check fails, saying what, on a dishonest scan."""

from __future__ import annotations

import dataclasses
import re
from types import SimpleNamespace

import numpy as np
import pytest
from fly_source import RowRasterSource, fly_replay
from honesty import PeekingDetector, assert_honest_scan, mask_problems

from fastscan.beamtime import Trajectory, TrajectoryBuilder, check_trajectory
from fastscan.fly import Segment
from fastscan.motion import NANOPROBE
from fastscan.replay import FIRST_PIXELS, SimulatedDetector

SHAPE = (16, 12)


def _truth() -> np.ndarray:
    return np.add.outer(np.arange(SHAPE[0], dtype=float), np.arange(SHAPE[1], dtype=float))


def _trajectory() -> Trajectory:
    """An honest record under NANOPROBE: one flown row, then one step point."""
    builder = TrajectoryBuilder(NANOPROBE, shape=SHAPE)
    builder.add_segment(Segment((1, 0), (1, SHAPE[1] - 1)))
    builder.add_points([[5, 5]])
    return builder.trajectory()


def _scanned(trajectory: Trajectory) -> tuple[SimpleNamespace, SimulatedDetector]:
    """A sampler stand-in holding exactly what ``trajectory`` read, and that detector."""
    detector = SimulatedDetector(_truth())
    detector.measure(trajectory.points)
    mask = np.zeros(SHAPE, bool)
    mask[tuple(trajectory.points.T)] = True
    return SimpleNamespace(measured_mask=mask, trajectory=trajectory), detector


def test_an_honest_replay_passes():
    source, detector = RowRasterSource(SHAPE, step=4), SimulatedDetector(_truth())
    fly_replay(source, detector)
    assert source.coverage == 1.0
    assert_honest_scan(source, detector)
    sampler, detector = _scanned(_trajectory())
    assert_honest_scan(sampler, detector, NANOPROBE)
    assert_honest_scan(sampler, detector, NANOPROBE, trajectory=_trajectory())


def test_a_detector_that_reveals_pixels_not_asked_for_fails_naming_them():
    source = RowRasterSource(SHAPE, step=4, max_rows=2)  # rows 0 and 4 only
    detector = PeekingDetector(_truth())
    fly_replay(source, detector)
    np.testing.assert_array_equal(np.flatnonzero(source.measured_mask.any(axis=1)), [0, 4])
    extra = "24 pixel(s), first (row, col): [(1, 0), (1, 1), (1, 2), (1, 3), (1, 4)]"
    message = f"dishonest scan: the detector read {extra} the sampler did not ask for"
    with pytest.raises(AssertionError, match=f"^{re.escape(message)}$"):
        assert_honest_scan(source, detector)


def test_a_sampler_that_holds_pixels_never_read_fails_naming_them():
    sampler, detector = _scanned(_trajectory())
    sampler.measured_mask[9, 2:4] = True
    problems = mask_problems(sampler, detector)
    assert problems == [
        "the sampler holds 2 pixel(s), first (row, col): [(9, 2), (9, 3)] the detector never read"
    ]
    with pytest.raises(AssertionError, match=re.escape(problems[0])):
        assert_honest_scan(sampler, detector, NANOPROBE)


def test_a_message_lists_only_the_first_pixels():
    sampler, detector = _scanned(_trajectory())
    detector.measure(np.argwhere(np.ones(SHAPE, bool))[-7:])  # the last row's last 7 pixels
    (problem,) = mask_problems(sampler, detector)
    first = [(SHAPE[0] - 1, c) for c in range(SHAPE[1] - 7, SHAPE[1] - 7 + FIRST_PIXELS)]
    read = f"the detector read 7 pixel(s), first (row, col): {first}"
    assert problem == f"{read} the sampler did not ask for"


def test_a_grid_mismatch_is_named():
    sampler, _ = _scanned(_trajectory())
    problems = mask_problems(sampler, SimulatedDetector(np.zeros((4, 4))))
    assert problems == ["the detector's grid is (4, 4) but the sampler's is (16, 12)"]


@pytest.mark.parametrize("which", ["sampler.trajectory", "the given trajectory"])
def test_a_trajectory_faster_than_the_motion_model_fails_listing_its_violations(which):
    honest = _trajectory()
    hurried = dataclasses.replace(honest, t_end=honest.t_end * 0.5)
    violations = check_trajectory(hurried, NANOPROBE)
    assert len(violations) == 3  # too little dwell in the row, too short a move before each
    own, given = (hurried, honest) if which == "sampler.trajectory" else (honest, hurried)
    sampler, detector = _scanned(own)
    assert_honest_scan(sampler, detector)  # the pixels alone are honest
    message = f"dishonest scan: {which} breaks the time model: {violations}"
    with pytest.raises(AssertionError, match=f"^{re.escape(message)}$"):
        assert_honest_scan(sampler, detector, NANOPROBE, trajectory=given)


def test_every_dishonest_thing_is_listed_at_once():
    honest = _trajectory()
    hurried = dataclasses.replace(honest, t_end=honest.t_end * 0.5)
    sampler, detector = _scanned(hurried)
    detector.measure([[0, 0]])
    with pytest.raises(AssertionError) as raised:
        assert_honest_scan(sampler, detector, NANOPROBE, trajectory=hurried)
    text = str(raised.value)
    assert "the detector read 1 pixel(s), first (row, col): [(0, 0)]" in text
    assert "sampler.trajectory breaks" in text and "the given trajectory breaks" in text


def test_a_trajectory_without_a_motion_model_is_refused():
    sampler, detector = _scanned(_trajectory())
    with pytest.raises(ValueError, match="pass motion too"):
        assert_honest_scan(sampler, detector, trajectory=_trajectory())


def test_a_sampler_without_a_trajectory_is_timed_by_the_given_one():
    honest = _trajectory()
    hurried = dataclasses.replace(honest, t_end=honest.t_end * 0.5)
    sampler, detector = _scanned(honest)
    del sampler.trajectory  # a step sampler, or a static fly raster: no trajectory of its own
    assert_honest_scan(sampler, detector, NANOPROBE, trajectory=honest)
    message = f"the given trajectory breaks the time model: {check_trajectory(hurried, NANOPROBE)}"
    with pytest.raises(AssertionError, match=re.escape(message)) as raised:
        assert_honest_scan(sampler, detector, NANOPROBE, trajectory=hurried)
    assert "sampler.trajectory" not in str(raised.value)


def test_motion_with_no_trajectory_to_check_is_refused():
    sampler, detector = _scanned(_trajectory())
    del sampler.trajectory
    with pytest.raises(ValueError, match=r"^motion is given but SimpleNamespace has no trajectory"):
        assert_honest_scan(sampler, detector, NANOPROBE)


def test_a_sampler_trajectory_that_fails_is_not_taken_for_none():
    class Broken:
        measured_mask = np.zeros(SHAPE, bool)

        @property
        def trajectory(self) -> Trajectory:
            raise AttributeError("no builder")

    with pytest.raises(AttributeError, match="no builder"):
        assert_honest_scan(
            Broken(), SimulatedDetector(_truth()), NANOPROBE, trajectory=_trajectory()
        )

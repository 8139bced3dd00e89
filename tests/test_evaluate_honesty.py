"""`fastscan evaluate` refuses a dishonest replay, naming the pixels (replay.mask_problems)."""

from __future__ import annotations

import re

import pytest
from honesty import ForgetfulDetector, PeekingDetector

from fastscan.compare.evaluate import score_strategy
from fastscan.compare.imagesets import TestImage
from fastscan.phantoms import make_phantom
from fastscan.replay import SimulatedDetector

SHAPE = (24, 32)


class _Image(TestImage):
    """A phantom (not a set image) whose detector is ``kind`` of detector."""

    def detector(self, seed: int | None = 0) -> SimulatedDetector:
        return {"honest": SimulatedDetector, "peeking": PeekingDetector,
                "forgetful": ForgetfulDetector}[self.source](self.truth, seed=seed)  # fmt: skip


def _image(detector: str) -> _Image:
    truth = make_phantom("flakes", SHAPE, seed=0)
    return _Image(name="flakes", kind="flakes", truth=truth, source=detector)


def test_an_honest_replay_is_scored():
    rows = score_strategy(_image("honest"), "random", seed=0, coverages=(0.1,))
    assert [(r["strategy"], r["coverage"]) for r in rows] == [("random", 0.1)]


def test_a_detector_that_reveals_unasked_pixels_is_refused_naming_them():
    with pytest.raises(RuntimeError) as raised:
        score_strategy(_image("peeking"), "random", seed=0, coverages=(0.1,))
    message = str(raised.value)
    start = "random on flakes: detector and sampler disagree: the detector read "
    assert message.startswith(start), message
    assert re.fullmatch(r"\d+ pixel\(s\), first \(row, col\): \[.*\] the sampler did not ask for",
                        message[len(start):])  # fmt: skip


def test_a_sampler_holding_unread_pixels_is_refused_naming_them():
    with pytest.raises(RuntimeError, match=r"disagree: the sampler holds 1 pixel\(s\), first "
                       r"\(row, col\): \[\(\d+, \d+\)\] the detector never read$"):  # fmt: skip
        score_strategy(_image("forgetful"), "random", seed=0, coverages=(0.1,))

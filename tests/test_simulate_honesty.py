"""``fastscan simulate`` refuses a dishonest replay, naming the pixels (replay.mask_problems).

The check is the one ``fastscan evaluate`` makes (test_evaluate_honesty.py): after
every scan the simulated detector must have read exactly the pixels the sampler
holds. A peeking detector (it also reads the pixel below each one asked for) and a
forgetful one (its record drops the first reading) are swapped in for the honest
one, on one channel and on element maps.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from honesty import ForgetfulDetector, PeekingDetector

import fastscan.compare.channels as channels
import fastscan.compare.run as run
from fastscan.compare.channels import ChannelDetector
from fastscan.compare.run import SimulateConfig, check_honest, run_simulate
from fastscan.phantoms import make_phantom, make_xrf_maps

SHAPE = (24, 32)
UNASKED = (
    r"the detector read \d+ pixel\(s\), first \(row, col\): \[.*\] the sampler did not ask for"
)
UNREAD = (
    r"the sampler holds 1 pixel\(s\), first \(row, col\): \[\(\d+, \d+\)\] the detector never read"
)


class PeekingChannelDetector(ChannelDetector):
    """Element maps read dishonestly: with every reading, the pixel below too."""

    def measure(self, points: np.ndarray) -> np.ndarray:
        below = np.asarray(points) + np.array([1, 0])
        super().measure(below[below[:, 0] < self.shape[0]])
        return super().measure(points)


def _simulate(tmp_path, image: np.ndarray, strategies: tuple[str, ...]) -> dict:
    np.save(tmp_path / "truth.npy", image)
    config = SimulateConfig(image=str(tmp_path / "truth.npy"), strategies=strategies,
                            coverages=(0.05, 0.1), biharmonic=False, quiet=True,
                            out=str(tmp_path / "out"))  # fmt: skip
    return run_simulate(config)


def test_check_honest_passes_equal_masks_and_names_the_strategy_otherwise():
    asked = np.zeros((3, 4), bool)
    asked[1, :3] = True
    check_honest("fast", asked, asked.copy())
    held = asked.copy()
    held[1, 2] = False
    with pytest.raises(RuntimeError, match=r"^fast: detector and sampler disagree: the detector "
                       r"read 1 pixel\(s\), first \(row, col\): \[\(1, 2\)\] the sampler did not "
                       r"ask for$"):  # fmt: skip
        check_honest("fast", asked, held)


@pytest.mark.parametrize("strategy", ["fast", "random", "fly-raster"])
def test_an_honest_simulation_runs(tmp_path, strategy):
    _simulate(tmp_path, make_phantom("flakes", SHAPE, seed=0), (strategy,))
    assert np.load(tmp_path / "out" / f"points_{strategy}.npy").shape[1] == 2


@pytest.mark.parametrize("strategy", ["fast", "raster", "fast-fly"])
def test_a_detector_that_reveals_unasked_pixels_fails_the_simulation(
    tmp_path, monkeypatch, strategy
):
    monkeypatch.setattr(run, "SimulatedDetector", PeekingDetector)
    with pytest.raises(RuntimeError) as raised:
        _simulate(tmp_path, make_phantom("flakes", SHAPE, seed=0), (strategy,))
    start = f"{strategy}: detector and sampler disagree: "
    message = str(raised.value)
    assert message.startswith(start), message
    assert re.fullmatch(UNASKED, message[len(start) :]), message


def test_a_sampler_holding_unread_pixels_fails_the_simulation(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "SimulatedDetector", ForgetfulDetector)
    with pytest.raises(RuntimeError, match=f"^random: detector and sampler disagree: {UNREAD}$"):
        _simulate(tmp_path, make_phantom("flakes", SHAPE, seed=0), ("random",))


@pytest.mark.parametrize("strategy", ["fast", "halton"])
def test_element_maps_read_dishonestly_fail_the_simulation(tmp_path, monkeypatch, strategy):
    maps, _ = make_xrf_maps(SHAPE, seed=0)
    honest = tmp_path / "honest"
    honest.mkdir()
    _simulate(honest, maps, (strategy,))  # the same scan read honestly passes
    monkeypatch.setattr(channels, "ChannelDetector", PeekingChannelDetector)
    with pytest.raises(RuntimeError) as raised:
        _simulate(tmp_path, maps, (strategy,))
    start = f"{strategy}: detector and sampler disagree: "
    message = str(raised.value)
    assert message.startswith(start), message
    assert re.fullmatch(UNASKED, message[len(start) :]), message


def test_channel_detector_asked_mask_is_a_copy_of_its_record():
    detector = ChannelDetector(np.arange(24.0).reshape(2, 3, 4))
    detector.measure(np.array([[1, 2], [0, 0]]))
    mask = detector.asked_mask
    assert np.argwhere(mask).tolist() == [[0, 0], [1, 2]]
    mask[:] = True
    assert detector.asked.sum() == 2

"""Which shipped ERD model a sampler runs when none is given (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest

from fastscan import Sampler
from fastscan.erd.estimator import DEFAULT_MODEL, load_model
from fastscan.fly import FlySampler
from fastscan.phantoms import make_xrf_maps
from fastscan.sampler import MULTICHANNEL_MODEL


def test_one_channel_default_is_the_l2_model():
    assert DEFAULT_MODEL == "l2" and load_model().name == "l2"
    sampler = Sampler((30, 40))
    assert sampler.model.name == "l2"
    assert sampler.model.sha256 == load_model("l2").sha256 != load_model("default").sha256


@pytest.mark.parametrize(
    "kwargs", [{"channels": 3}, {"channels": ["Fe", "Ca"]}, {"channel_weights": [1.0, 2.0]}]
)
def test_multichannel_default_is_the_l1_model(kwargs):
    assert MULTICHANNEL_MODEL == "default"
    assert Sampler((30, 40), **kwargs).model.name == "default"
    assert Sampler((30, 40), model="l2", **kwargs).model.name == "l2"  # a given model stays


def _scan(sampler: Sampler, maps: np.ndarray, steps: int) -> Sampler:
    for _ in range(steps):
        points = sampler.suggest()
        sampler.ingest(points, maps[:, points[:, 0], points[:, 1]].T)
    return sampler


def test_first_multichannel_reading_switches_the_default_to_the_l1_model():
    maps = make_xrf_maps((48, 64), seed=1000)[0]
    undecided = _scan(Sampler((48, 64), batch_size=20, seed=3), maps, 4)
    assert undecided.n_channels == len(maps) and undecided.model.name == "default"
    explicit = _scan(Sampler((48, 64), batch_size=20, seed=3, model="default"), maps, 4)
    np.testing.assert_array_equal(undecided.measured_points, explicit.measured_points)
    np.testing.assert_array_equal(undecided.erd, explicit.erd)
    assert undecided._sparsity_area == explicit._sparsity_area
    given = _scan(Sampler((48, 64), batch_size=20, seed=3, model="l2"), maps, 4)
    assert given.model.name == "l2"  # a given model is never switched


def test_fast_fly_keeps_the_l1_model():
    fly = FlySampler((32, 48))
    assert fly._sampler.model.name == "default"
    assert FlySampler((32, 48), model="l2")._sampler.model.name == "l2"

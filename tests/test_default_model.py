"""Which shipped ERD model a sampler runs when none is given (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest

import fastscan.erd.estimator as estimator_module
import fastscan.sampler as sampler_module
from fastscan import Sampler
from fastscan.erd.estimator import DEFAULT_MODEL, load_model
from fastscan.fly import FlySampler
from fastscan.phantoms import make_xrf_maps
from fastscan.sampler import MULTICHANNEL_MODEL


def test_one_channel_default_is_the_l1_model():
    # l2 is not the default: it loses to a static pattern on two validation textures
    # (docs/erd-model.md)
    assert DEFAULT_MODEL == "default" and load_model().name == "default"
    sampler = Sampler((30, 40))
    assert sampler.model.name == "default"
    assert sampler.model.sha256 == load_model("default").sha256 != load_model("l2").sha256
    assert Sampler((30, 40), model="l2").model.name == "l2"


@pytest.fixture
def l2_default(monkeypatch):
    """The one-channel default switched to l2 (one constant, as docs/erd-model.md describes)."""
    monkeypatch.setattr(estimator_module, "DEFAULT_MODEL", "l2")
    monkeypatch.setattr(sampler_module, "DEFAULT_MODEL", "l2")


@pytest.mark.parametrize(
    "kwargs", [{"channels": 3}, {"channels": ["Fe", "Ca"]}, {"channel_weights": [1.0, 2.0]}]
)
def test_multichannel_default_is_the_l1_model(l2_default, kwargs):
    assert MULTICHANNEL_MODEL == "default"
    assert Sampler((30, 40)).model.name == "l2"  # the switched one-channel default
    assert Sampler((30, 40), **kwargs).model.name == "default"
    assert Sampler((30, 40), model="l2", **kwargs).model.name == "l2"  # a given model stays


def _scan(sampler: Sampler, maps: np.ndarray, steps: int) -> Sampler:
    for _ in range(steps):
        points = sampler.suggest()
        sampler.ingest(points, maps[:, points[:, 0], points[:, 1]].T)
    return sampler


def test_first_multichannel_reading_switches_to_the_l1_model(l2_default):
    maps = make_xrf_maps((48, 64), seed=1000)[0]
    undecided = Sampler((48, 64), batch_size=20, seed=3)
    assert undecided.model.name == "l2"  # one channel until a reading says otherwise
    _scan(undecided, maps, 4)
    assert undecided.n_channels == len(maps) and undecided.model.name == "default"
    explicit = _scan(Sampler((48, 64), batch_size=20, seed=3, model="default"), maps, 4)
    np.testing.assert_array_equal(undecided.measured_points, explicit.measured_points)
    np.testing.assert_array_equal(undecided.erd, explicit.erd)
    assert undecided._sparsity_area == explicit._sparsity_area
    given = _scan(Sampler((48, 64), batch_size=20, seed=3, model="l2"), maps, 4)
    assert given.model.name == "l2"  # a given model is never switched


def test_fast_fly_keeps_the_l1_model(l2_default):
    assert FlySampler((32, 48))._sampler.model.name == "default"
    assert FlySampler((32, 48), model="l2")._sampler.model.name == "l2"

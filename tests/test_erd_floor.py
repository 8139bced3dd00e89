"""The exploration floor under the ERD (fastscan.erd.floor) and the Sampler's erd_floor."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from fastscan import Sampler
from fastscan.erd.estimator import ERDModel, load_model
from fastscan.erd.floor import apply_floor, check_floor, erd_floor, model_error_power
from fastscan.erd.target import rd_target


@pytest.mark.parametrize("power", [1.0, 2.0])
@pytest.mark.parametrize("d1", [3.0, 6.0, 10.0])
def test_floor_is_the_target_of_a_uniform_error(power, d1):
    # the RD target (a Gaussian window sum of E**p, to the 1/p) of an error e everywhere
    shape = (81, 81)
    level = 0.7
    truth = np.full(shape, level)
    recon = np.zeros(shape)
    pixel = np.array([[40, 40]])
    target = rd_target(truth, recon, pixel, np.array([d1]), power=power)[0]
    features = np.zeros((1, 6))
    features[0, 2] = d1
    floor = erd_floor(features, level, power)[0]
    # the continuous Gaussian area pi d1**2 / 2 against the window's discrete sum
    assert floor == pytest.approx(target, rel=0.02)


def test_floor_grows_with_distance_and_level():
    features = np.zeros((4, 6))
    features[:, 2] = [1.0, 2.0, 3.0, 5.0]
    for power in (1.0, 2.0, 1.5):
        low, high = erd_floor(features, 0.2, power), erd_floor(features, 0.4, power)
        assert (np.diff(low) > 0).all()
        np.testing.assert_allclose(high, 2.0 * low)
    np.testing.assert_allclose(erd_floor(features, 1.0, 2.0) / features[:, 2], np.sqrt(np.pi / 2))


def test_apply_floor_raises_only_what_is_below():
    rng = np.random.default_rng(3)
    features = rng.random((200, 6)) * 6.0
    erd = rng.random(200) * 10.0
    floor = erd_floor(features, 0.8, 2.0)
    out = apply_floor(erd.copy(), features, 0.8, 2.0)
    np.testing.assert_array_equal(out, np.where(erd >= floor, erd, floor))
    assert (floor > erd).any() and (floor < erd).any()  # both cases were exercised
    np.testing.assert_array_equal(apply_floor(erd.copy(), features, 0.0, 2.0), erd)


def test_error_power_of_the_shipped_and_an_unrecorded_model():
    assert model_error_power(load_model("default")) == 1.0
    assert model_error_power(load_model("l2")) == 2.0
    rng = np.random.default_rng(0)
    features = rng.random((300, 6))
    custom = ERDModel(max_iter=2).fit(features, features[:, 0])
    assert model_error_power(custom) == 1.0  # no training record: the L1 target
    custom.info_ = {"config": {"error_power": 3}}
    assert model_error_power(custom) == 3.0


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "high", True, None])
def test_bad_floor_is_named(bad):
    with pytest.raises(ValueError, match="erd_floor") as info:
        check_floor(bad)
    assert repr(bad) in str(info.value)
    with pytest.raises(ValueError, match="erd_floor"):
        Sampler((20, 20), erd_floor=bad)


def _activated(image: np.ndarray, **kwargs) -> Sampler:
    sampler = Sampler(image.shape, seed=1, max_coverage=0.5, change_tolerance=None, **kwargs)
    points = sampler.suggest()
    sampler.ingest(points, image[points[:, 0], points[:, 1]])
    return sampler


def test_sampler_erd_is_the_floored_model_erd():
    # without shaping, the floored ERD is max(ERD, floor(d_1)) pixel by pixel; a
    # structured left half (the model's ERD wins) and a flat right half (the floor wins)
    rng = np.random.default_rng(5)
    image = ndimage.gaussian_filter(rng.random((48, 64)), 2) * 100
    image[:, 32:] = 50.0
    plain = dict(contrast=0.0, fill=0.0, lattice=0.0, model="l2")
    without = _activated(image, erd_floor=0.0, **plain)
    level = 0.5
    floored = _activated(image, erd_floor=level, **plain)
    d1 = ndimage.distance_transform_edt(~floored.measured_mask)
    floor = level * np.sqrt(0.5 * np.pi) * d1
    unmeasured = ~floored.measured_mask
    expected = np.maximum(without.erd, floor)[unmeasured]
    np.testing.assert_allclose(floored.erd[unmeasured], expected, rtol=1e-12)
    raised = floor[unmeasured] > without.erd[unmeasured]
    assert raised.any() and not raised.all()
    assert floored.get_params()["erd_floor"] == level


def test_floor_explores_a_flat_background_farthest_first():
    # a flat image: the model sees nothing anywhere, the floor sends the batch far out
    image = np.full((60, 60), 10.0)
    image[0, 0] = 90.0  # one reading off, so the intensity range is not empty
    plain = dict(contrast=0.0, fill=0.0, lattice=0.0, model="l2", batch_size=5, spread=0.0)
    sampler = _activated(image, erd_floor=1.0, **plain)
    d1 = ndimage.distance_transform_edt(~sampler.measured_mask)
    batch = sampler.suggest()
    picked = d1[batch[:, 0], batch[:, 1]]
    assert picked.max() == d1.max()
    assert picked.mean() > np.quantile(d1[~sampler.measured_mask], 0.95)


def test_floor_survives_save_and_load(tmp_path):
    rng = np.random.default_rng(2)
    image = ndimage.gaussian_filter(rng.random((40, 40)), 2) * 100
    sampler = _activated(image, erd_floor=0.3, model="l2", batch_size=10)
    path = sampler.save(tmp_path / "state.npz")
    loaded = Sampler.load(path)
    assert loaded.erd_floor == 0.3
    np.testing.assert_array_equal(loaded.suggest(), sampler.suggest())

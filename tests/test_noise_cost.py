"""The ERD net of counting noise (:mod:`fastscan.erd.noise_cost`) and the ``noise_cost`` knob."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastscan import Sampler
from fastscan.classic import ClassicSampler
from fastscan.erd.noise_cost import FALLBACK, net_of_count_noise
from fastscan.phantoms import make_phantom


def reference(erd: np.ndarray, counts: np.ndarray, cost: float, scale: float) -> np.ndarray:
    """Pixel by pixel: the gain net of the noise, or the small division form without one."""
    out = np.empty_like(erd)
    for i, (e, c) in enumerate(zip(erd, counts)):
        noise = cost * scale * np.sqrt(max(c, 0.0))
        out[i] = max(e - noise, 0.0) + FALLBACK * e / (1.0 + noise)
    return out


def test_net_of_count_noise_matches_the_reference_and_orders_gains_first():
    rng = np.random.default_rng(5)
    erd = rng.gamma(1.0, 8.0, 400)
    counts = rng.poisson(20.0, 400).astype(float) - 2.0  # a few negative reconstructions
    expected = reference(erd, counts, 2.0, 0.7)
    noise = 2.0 * 0.7 * np.sqrt(np.maximum(counts, 0.0))
    gain = erd - noise
    net = erd.copy()
    net_of_count_noise(net, counts, 2.0, 0.7)
    np.testing.assert_allclose(net, expected, rtol=1e-12, atol=1e-15)
    # a pixel whose gain beats the largest fallback term ranks above every pixel without one
    clear = gain > FALLBACK * erd.max()
    assert clear.any() and (gain <= 0).any()
    assert net[clear].min() > net[gain <= 0].max() > 0
    # without a gain, of two equal ERDs the dimmer pixel (less noise) ranks higher
    pair = np.array([5.0, 5.0])
    net_of_count_noise(pair, np.array([100.0, 25.0]), cost=1.0, scale=1.0)
    assert pair[1] > pair[0] > 0


def test_net_of_count_noise_zero_cost_and_bad_input():
    erd = np.array([1.0, 2.0, 3.0])
    net_of_count_noise(erd, np.array([10.0, 10.0, 10.0]), cost=0.0, scale=1.0)
    assert erd.tolist() == [1.0, 2.0, 3.0]
    for cost in (-1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="cost must be a finite number >= 0"):
            net_of_count_noise(erd, erd, cost, 1.0)
    with pytest.raises(ValueError, match=r"scale must be a finite number > 0, got 0\.0"):
        net_of_count_noise(erd, erd, 1.0, 0.0)


@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf")])
def test_sampler_rejects_a_bad_noise_cost_by_name(bad):
    with pytest.raises(ValueError, match=r"noise_cost must be None or a finite number >= 0"):
        Sampler((32, 32), noise_cost=bad)


def test_noise_cost_is_saved_and_old_files_load_with_the_cost_off(tmp_path):
    image = 1.0 + 24.0 * make_phantom("flakes", (48, 64), seed=3)
    rng = np.random.default_rng(1)
    sampler = Sampler(image.shape, batch_size=40, seed=0, noise_cost=1.5, change_tolerance=None)
    for _ in range(3):
        points = sampler.suggest()
        sampler.ingest(points, rng.poisson(image[points[:, 0], points[:, 1]]).astype(float))
    assert sampler.get_params()["noise_cost"] == 1.5
    path = sampler.save(tmp_path / "state.npz")
    loaded = Sampler.load(path)
    assert loaded.noise_cost == 1.5
    np.testing.assert_array_equal(loaded.suggest(), sampler.suggest())
    assert Sampler.load(Sampler(image.shape).save(tmp_path / "none.npz")).noise_cost is None
    with np.load(path) as data:  # a file from before the knob: made with the cost off
        arrays = dict(data)
    header = json.loads(str(arrays["header"]))
    del header["params"]["noise_cost"]
    arrays["header"] = np.array(json.dumps(header))
    np.savez(tmp_path / "old.npz", **arrays)
    assert Sampler.load(tmp_path / "old.npz").noise_cost == 0.0


def test_classic_sampler_fixes_the_noise_cost_off():
    assert ClassicSampler((32, 32)).noise_cost == 0.0
    with pytest.raises(ValueError, match=r"fast-classic fixes noise_cost=0\.0"):
        ClassicSampler((32, 32), noise_cost=2.0)


def test_a_service_state_without_readings_from_before_the_knob_restores_with_the_cost_off(
    tmp_path,
):
    from fastscan.service.restore import load_sampler

    path = Sampler((32, 48), noise_cost=None).save(tmp_path / "empty.npz")
    assert load_sampler(path, None).noise_cost is None  # the file's own setting
    with np.load(path) as data:
        arrays = dict(data)
    header = json.loads(str(arrays["header"]))
    del header["params"]["noise_cost"]
    arrays["header"] = np.array(json.dumps(header))
    np.savez(tmp_path / "old.npz", **arrays)
    assert load_sampler(tmp_path / "old.npz", None).noise_cost == 0.0

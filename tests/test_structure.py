"""Structure-adaptive ERD shaping (fastscan._structure): texture spreads, sparse keeps its gain."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from fastscan import Sampler
from fastscan._structure import GINI_SPARSE, GINI_TEXTURE, exponents, gradient_gini, shape_erd
from fastscan.baselines import HaltonSampler, RandomSampler, RasterSampler
from fastscan.metrics import nrmse
from fastscan.phantoms import make_phantom
from fastscan.replay import SimulatedDetector, replay

PLAIN = {"contrast": 0.0, "fill": 0.0}


def _snapshot(sampler, image: np.ndarray, coverage: float):
    return replay(sampler, SimulatedDetector(image), [coverage])[0]


def _fast(image: np.ndarray, coverage: float, **knobs):
    sampler = Sampler(image.shape, seed=1, max_coverage=coverage, change_tolerance=None, **knobs)
    return sampler, _snapshot(sampler, image, coverage)


def _texture() -> np.ndarray:
    noise = ndimage.gaussian_filter(np.random.default_rng(0).random((96, 96)), 1.0)
    return 100.0 * (noise - noise.min()) / np.ptp(noise)


def _mean_gap(mask: np.ndarray) -> float:
    """Dispersion: mean distance from a pixel to the nearest measured pixel."""
    return float(ndimage.distance_transform_edt(~mask).mean())


def test_gini_matches_the_pairwise_definition():
    rng = np.random.default_rng(3)
    recon = rng.random((2, 9, 11)) * np.array([1.0, 5.0])[:, None, None]
    scales, gains = np.array([2.0, 0.5]), np.array([1.0, 3.0])
    power = sum(
        w * s**2 * sum(g**2 for g in np.gradient(c))
        for c, s, w in zip(recon, scales, gains / gains.sum())
    )
    values = np.sqrt(power).ravel()
    pairwise = np.abs(values[:, None] - values[None, :]).sum() / (2 * len(values) ** 2)
    assert gradient_gini(recon, scales, gains) == pytest.approx(pairwise / values.mean())
    assert gradient_gini(np.zeros((1, 5, 5)), np.ones(1), np.ones(1)) == 0.0


def test_exponents_and_shaping():
    assert exponents(GINI_TEXTURE, 0.7, 2.0) == (0.0, 2.0)
    assert exponents(GINI_SPARSE, 0.7, 2.0) == (0.7, 0.0)
    a, b = exponents(0.5 * (GINI_TEXTURE + GINI_SPARSE), 1.0, 2.0)
    assert a == pytest.approx(0.5) and b == pytest.approx(1.0)
    erd = np.array([1.0, 2.0, 0.0])
    shape_erd(erd, np.array([3.0, 0.0, 5.0]), np.array([2.0, 3.0, 4.0]), 0.0, 2.0)
    np.testing.assert_array_equal(erd, [4.0, 18.0, 0.0])  # flat ERD: the farthest pixel wins
    erd = np.ones(2)
    shape_erd(erd, np.array([4.0, 1.0]), np.ones(2), 1.0, 0.0)
    assert erd[0] > 3.9 * erd[1]


@pytest.mark.parametrize("knob", ["contrast", "fill"])
def test_bad_knob(knob):
    with pytest.raises(ValueError, match=knob):
        Sampler((20, 20), **{knob: -1.0})
    with pytest.raises(ValueError, match=knob):
        Sampler((20, 20), **{knob: float("nan")})


def test_texture_spreads_at_least_as_evenly_as_halton():
    image = _texture()
    sampler, shaped = _fast(image, 0.1)
    assert sampler._gini < GINI_TEXTURE and sampler._exponents == (0.0, sampler.fill) != (0, 0)
    _, plain = _fast(image, 0.1, **PLAIN)
    halton = _snapshot(HaltonSampler(image.shape, max_coverage=0.1, seed=1), image, 0.1)
    assert shaped.n_measured == halton.n_measured
    gap = _mean_gap(shaped.measured_mask)
    assert gap <= _mean_gap(halton.measured_mask)
    assert gap < _mean_gap(plain.measured_mask)  # the plain ERD clumps more
    assert nrmse(image, shaped.reconstruction) <= nrmse(image, halton.reconstruction)


def test_sparse_phantom_keeps_its_gain():
    image = make_phantom("particles", (96, 128), seed=3)
    coverage = 0.1
    sampler, shaped = _fast(image, coverage)
    assert sampler._gini > GINI_SPARSE  # sparse structure: no space-filling term
    _, plain = _fast(image, coverage, **PLAIN)
    best_static = min(
        nrmse(image, _snapshot(cls(image.shape, max_coverage=coverage, seed=1), image, coverage)
              .reconstruction)
        for cls in (RasterSampler, RandomSampler, HaltonSampler)
    )  # fmt: skip
    ratio = nrmse(image, shaped.reconstruction) / best_static
    assert ratio <= nrmse(image, plain.reconstruction) / best_static < 1.0


def test_structure_level_survives_save_and_load(tmp_path):
    image = _texture()
    sampler = Sampler(image.shape, batch_size=20, seed=2, change_tolerance=None)
    for _ in range(4):
        points = sampler.suggest()
        sampler.ingest(points, image[points[:, 0], points[:, 1]])
    assert sampler._exponents != (0.0, 0.0)
    loaded = Sampler.load(sampler.save(tmp_path / "state.npz"))
    assert loaded._gini == sampler._gini and loaded._exponents == sampler._exponents
    assert (loaded.contrast, loaded.fill) == (sampler.contrast, sampler.fill)
    for _ in range(3):
        expected = sampler.suggest()
        np.testing.assert_array_equal(loaded.suggest(), expected)
        values = image[expected[:, 0], expected[:, 1]]
        sampler.ingest(expected, values)
        loaded.ingest(expected, values)
        np.testing.assert_array_equal(loaded.erd, sampler.erd)


@pytest.mark.parametrize("combine", ["features", "erd"])
def test_channels_go_through_the_same_shaping(combine):
    texture = _texture()
    maps = np.stack([texture, 100.0 - texture])  # two channels of one texture
    sampler = Sampler(
        texture.shape, batch_size=30, seed=1, change_tolerance=None, channel_combine=combine
    )
    single = Sampler(texture.shape, batch_size=30, seed=1, change_tolerance=None)
    for _ in range(3):
        for s, readings in ((sampler, maps), (single, maps[:1])):
            points = s.suggest()
            s.ingest(points, readings[:, points[:, 0], points[:, 1]].T)
    # the mirrored channel has the same gradients: the same structure level as one channel
    assert sampler._gini == pytest.approx(single._gini)
    assert sampler._exponents == pytest.approx(single._exponents)
    assert sampler._exponents[1] > 0

"""Structure-adaptive ERD shaping (fastscan._structure): texture spreads, sparse keeps its gain."""

from __future__ import annotations

import numpy as np
import pytest
from honesty import honest_replay
from scipy import ndimage

from fastscan import Sampler
from fastscan._lattice import lattice_levels
from fastscan._structure import (
    GINI_SPARSE,
    GINI_TEXTURE,
    LATTICE_FILL,
    exponents,
    gradient_gini,
    lattice_power,
    shape_erd,
)
from fastscan.baselines import HaltonSampler, RandomSampler, RasterSampler
from fastscan.metrics import nrmse
from fastscan.patterns import raster_points
from fastscan.phantoms import make_phantom
from fastscan.reconstruction import idw_reconstruction
from fastscan.replay import SimulatedDetector

PLAIN = {"contrast": 0.0, "fill": 0.0, "lattice": 0.0}
BEFORE_LATTICE = {"lattice": 0.0}  # the texture mode of the previous main


def _snapshot(sampler, image: np.ndarray, coverage: float):
    return honest_replay(sampler, SimulatedDetector(image), [coverage])[0]


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


@pytest.mark.parametrize("knob", ["contrast", "fill", "lattice"])
def test_bad_knob(knob):
    with pytest.raises(ValueError, match=knob):
        Sampler((20, 20), **{knob: -1.0})
    with pytest.raises(ValueError, match=knob):
        Sampler((20, 20), **{knob: float("nan")})


def test_texture_spreads_at_least_as_evenly_as_halton():
    image = _texture()
    sampler, shaped = _fast(image, 0.1)
    assert sampler._gini < GINI_TEXTURE
    assert sampler._exponents == (0.0, LATTICE_FILL * sampler.fill) != (0, 0)
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
    assert loaded.lattice == sampler.lattice and loaded._lattice_power == sampler._lattice_power > 0
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


def _idw_nrmse(image: np.ndarray, mask: np.ndarray) -> float:
    points = np.argwhere(mask)
    values = image[points[:, 0], points[:, 1]]
    return nrmse(image, idw_reconstruction(image.shape, points, values, k=10))


def test_lattice_levels_nest_and_double():
    levels = lattice_levels((40, 48), base=1 / 16)
    counts = [int((levels <= k).sum()) for k in range(-2, 3)]
    assert counts == [30, 60, 120, 240, 480]  # each level doubles the one before
    # level 0 is the step raster of that density, level 2 every second row and column
    raster = np.zeros(levels.shape, bool)
    raster[tuple(raster_points(levels.shape, 120).T)] = True
    np.testing.assert_array_equal(levels <= 0, raster)
    even = np.zeros(levels.shape, bool)
    even[::2, ::2] = True
    np.testing.assert_array_equal(levels <= 2, even)
    # level 1 adds the centres of level 0's cells: a diagonal lattice
    centres = (levels == 1).nonzero()
    assert set((centres[0] % 4).tolist()) == set((centres[1] % 4).tolist()) == {0}
    # stopping at a level gives the same map, clipped there (what the sampler keeps)
    np.testing.assert_array_equal(lattice_levels((40, 48), 1 / 16, finest=0), np.minimum(levels, 1))
    with pytest.raises(ValueError, match="base"):
        lattice_levels((10, 10), base=0.0)


def test_lattice_power_and_weight():
    assert lattice_power(GINI_TEXTURE, 3.0) == 3.0 and lattice_power(GINI_SPARSE, 3.0) == 0.0
    erd = np.ones(3)
    shape_erd(erd, np.zeros(3), np.ones(3), 0.0, 0.0, np.array([-1, 0, 1], np.int8), 3.0)
    np.testing.assert_array_equal(erd, [8.0, 1.0, 0.125])


def test_texture_is_measured_on_the_lattice_and_beats_the_raster():
    image = _texture()
    coverages = [0.05, 0.1, 0.2, 0.3]

    def run(**knobs):
        # the L1 model, with which fill and lattice were tuned (with the l2 model the lattice
        # is 0.3 % worse than no lattice at 30 % here: NRMSE 0.1203 against 0.1199)
        sampler = Sampler(
            image.shape, seed=1, max_coverage=0.3, change_tolerance=None, model="default", **knobs
        )
        return sampler, honest_replay(sampler, SimulatedDetector(image), coverages)

    sampler, snaps = run()
    assert sampler._gini < GINI_TEXTURE and sampler._lattice_power == sampler.lattice > 0
    _, before = run(**BEFORE_LATTICE)
    # beyond the initial Halton pattern, most of the first 5 % are the 5 % raster's points
    # (5 % of all pixels), several times the share without the lattice weight
    levels = lattice_levels(image.shape)

    def on_lattice(mask: np.ndarray) -> float:
        chosen = mask.copy()
        chosen[tuple(sampler._initial.T)] = False
        return float((levels[chosen] <= 0).mean())

    share = on_lattice(snaps[0].measured_mask)
    assert share > 0.75 and share > 3 * on_lattice(before[0].measured_mask)
    errors = [_idw_nrmse(image, s.measured_mask) for s in snaps]
    for coverage, error, old in zip(coverages[1:], errors[1:], before[1:]):
        assert error < _idw_nrmse(image, old.measured_mask), coverage
    # at 20 % (the 5 % lattice, its cell centres, then those of the diagonal lattice)
    # the chosen points beat the step raster of that coverage, computed here
    raster = _snapshot(RasterSampler(image.shape, max_coverage=0.2), image, 0.2)
    assert snaps[2].n_measured == raster.n_measured
    assert errors[2] <= _idw_nrmse(image, raster.measured_mask)


def test_sparse_phantom_is_not_shaped_and_beats_the_raster():
    image = make_phantom("particles", (96, 128), seed=3)
    sampler, shaped = _fast(image, 0.2)
    assert sampler._lattice_power == 0.0 and sampler._levels is None
    _, unshaped = _fast(image, 0.2, fill=0.0, lattice=0.0)
    np.testing.assert_array_equal(shaped.measured_mask, unshaped.measured_mask)
    raster = _snapshot(RasterSampler(image.shape, max_coverage=0.2), image, 0.2)
    assert _idw_nrmse(image, shaped.measured_mask) < _idw_nrmse(image, raster.measured_mask)


def test_counts_keep_the_spread_without_lattice(tmp_path):
    # Poisson counts: a low g is mostly counting noise, so the lattice stays off
    image = _texture() * 0.2 + 2.0
    detector = SimulatedDetector(image, noise="poisson", seed=4)
    sampler = Sampler(image.shape, seed=1, max_coverage=0.1, change_tolerance=None)
    counts = honest_replay(sampler, detector, [0.1])[0]
    assert sampler._counting and sampler._gini < GINI_TEXTURE and sampler._lattice_power == 0.0
    assert sampler._exponents == (0.0, sampler.fill)
    plain = Sampler(image.shape, seed=1, max_coverage=0.1, change_tolerance=None, lattice=0.0)
    detector = SimulatedDetector(image, noise="poisson", seed=4)
    np.testing.assert_array_equal(
        honest_replay(plain, detector, [0.1])[0].measured_mask, counts.measured_mask
    )
    loaded = Sampler.load(sampler.save(tmp_path / "counts.npz"))
    assert loaded._counting and loaded._exponents == sampler._exponents

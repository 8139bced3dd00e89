"""The lattice hedge (Sampler(hedge=...)): a softer lattice on textures whose edges vary."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from fastscan import Sampler
from fastscan._lattice import lattice_levels
from fastscan._structure import (
    GINI_TEXTURE,
    V_STATIONARY,
    V_VARYING,
    VARIATION_SPACINGS,
    energy_variation,
    shaping,
)
from fastscan.compare.textures import band_noise
from fastscan.phantoms import make_phantom

SHAPE = (96, 128)
ONE = np.ones(1)


def _varying_texture() -> np.ndarray:
    """Fine noise on the left third, a gentle ramp elsewhere (edges gathered in one part)."""
    noise = band_noise(SHAPE, 1.2, seed=7)
    ramp = np.add.outer(np.zeros(SHAPE[0]), np.linspace(0.0, 100.0, SHAPE[1]))
    left = np.arange(SHAPE[1]) < SHAPE[1] // 3
    return np.where(left[None, :], noise, 0.8 * ramp + 0.2 * noise)


def _scan(image: np.ndarray, coverage: float, **knobs) -> Sampler:
    sampler = Sampler(image.shape, seed=1, max_coverage=coverage, change_tolerance=None, **knobs)
    while not sampler.should_stop():
        points = sampler.suggest()
        sampler.ingest(points, image[points[:, 0], points[:, 1]])
    return sampler


def test_energy_variation_matches_its_definition_and_ignores_scale():
    rng = np.random.default_rng(2)
    recon = rng.random((2, 40, 50)) * np.array([1.0, 3.0])[:, None, None]
    scales, gains, spacing = np.array([2.0, 0.5]), np.array([1.0, 3.0]), 3.0
    power = sum(
        w * s**2 * sum(g**2 for g in np.gradient(c))
        for c, s, w in zip(recon, scales, gains / gains.sum())
    )
    smooth = ndimage.gaussian_filter(power, VARIATION_SPACINGS * spacing)
    expected = smooth.std() / smooth.mean()
    assert energy_variation(recon, scales, gains, spacing) == pytest.approx(expected, rel=1e-12)
    assert energy_variation(7.0 * recon, scales, gains, spacing) == pytest.approx(expected)
    assert energy_variation(np.zeros((1, 8, 8)), ONE, ONE, 2.0) == 0.0  # flat: no variation


def test_stationary_and_varying_textures_fall_on_either_side_of_the_band():
    stationary = band_noise(SHAPE, 1.2, seed=7)[None]
    varying = _varying_texture()[None]
    assert energy_variation(stationary, ONE, ONE, 10.0) < V_STATIONARY
    assert energy_variation(varying, ONE, ONE, 10.0) > V_VARYING


def test_shaping_scales_only_the_lattice_exponent():
    base = shaping(0.3, 0.0, 2.0, 3.0, False)
    assert shaping(0.3, 0.0, 2.0, 3.0, False, V_STATIONARY, 1.0) == base  # stationary: whole
    a, b, c = shaping(0.3, 0.0, 2.0, 3.0, False, V_VARYING, 0.5)
    assert (a, b) == base[:2] and c == pytest.approx(0.5 * base[2])
    middle = 0.5 * (V_STATIONARY + V_VARYING)
    assert shaping(0.3, 0.0, 2.0, 3.0, False, middle, 1.0)[2] == pytest.approx(0.5 * base[2])
    assert shaping(0.9, 0.0, 2.0, 3.0, False, 5.0, 1.0) == (0.0, 0.0, 0.0)  # sparse: no lattice
    assert shaping(0.3, 0.0, 2.0, 3.0, True, 5.0, 1.0)[2] == 0.0  # counts: no lattice


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), float("inf")])
def test_bad_hedge_is_named(bad):
    with pytest.raises(ValueError, match=r"hedge must be a number in \[0, 1\], got"):
        Sampler(SHAPE, hedge=bad)


def test_varying_texture_leaves_the_lattice_for_the_erd():
    image = _varying_texture()
    plain, hedged = _scan(image, 0.05), _scan(image, 0.05, hedge=1.0)
    assert plain._gini < GINI_TEXTURE and hedged._variation > V_VARYING
    assert hedged._lattice_power == 0.0 < plain._lattice_power
    levels = lattice_levels(SHAPE)

    def lattice_share(sampler: Sampler) -> float:
        chosen = sampler.measured_mask.copy()
        chosen[tuple(sampler._initial.T)] = False
        return float((levels[chosen] <= 0).mean())

    # without the lattice the picks follow the ERD: fewer on the 5 % lattice, more where
    # the edges are (the noisy left third)
    assert lattice_share(hedged) < 0.8 * lattice_share(plain)
    left = np.arange(SHAPE[1]) < SHAPE[1] // 3
    assert hedged.measured_mask[:, left].sum() > plain.measured_mask[:, left].sum()


@pytest.mark.parametrize("kind", ["stationary", "sparse"])
def test_stationary_texture_and_sparse_scene_keep_their_picks(kind):
    if kind == "stationary":
        image = band_noise(SHAPE, 1.2, seed=7)
    else:
        image = 100.0 * make_phantom("particles", SHAPE, seed=3)
    plain, hedged = _scan(image, 0.08), _scan(image, 0.08, hedge=1.0)
    assert hedged._lattice_power == plain._lattice_power
    np.testing.assert_array_equal(hedged.measured_points, plain.measured_points)


def test_variation_survives_save_and_load_and_old_files_load_unhedged(tmp_path):
    image = _varying_texture()
    sampler = Sampler(SHAPE, batch_size=20, seed=2, change_tolerance=None, hedge=0.5)
    for _ in range(3):
        points = sampler.suggest()
        sampler.ingest(points, image[points[:, 0], points[:, 1]])
    path = sampler.save(tmp_path / "state.npz")
    loaded = Sampler.load(path)
    assert (loaded.hedge, loaded._variation) == (0.5, sampler._variation)
    assert loaded._lattice_power == sampler._lattice_power
    np.testing.assert_array_equal(loaded.suggest(), sampler.suggest())
    # a file from before the knob: no hedge in the settings, no variation in the state
    with np.load(path) as data:
        arrays = dict(data)
    header = json.loads(str(arrays["header"]))
    del header["params"]["hedge"], header["state"]["variation"]
    arrays["header"] = np.array(json.dumps(header))
    np.savez(tmp_path / "old.npz", **arrays)
    old = Sampler.load(tmp_path / "old.npz")
    assert (old.hedge, old._variation) == (0.0, 0.0)

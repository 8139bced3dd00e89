"""erd_floor="auto": the exploration floor's level measured from the initial pattern."""

import numpy as np
import pytest
from scipy import ndimage
from skimage.data import binary_blobs

from fastscan import Sampler
from fastscan.erd.floor import FLAT_RANGE, MIN_FLAT_SHARE, check_floor, flat_surprise_level


def _reference_level(
    points: np.ndarray, values: np.ndarray, k: int, scale: float, power: float
) -> float:
    """Leave-one-out IDW by brute force, point by point."""
    errors, n_flat = [], 0
    for i in range(len(points)):
        others = np.delete(np.arange(len(points)), i)
        distance = np.hypot(*(points[others] - points[i]).T)
        nearest = others[np.argsort(distance, kind="stable")[:k]]
        d = np.hypot(*(points[nearest] - points[i]).T)
        w = 1.0 / d**2
        if values[nearest].max() - values[nearest].min() < FLAT_RANGE:
            n_flat += 1
            errors.append(abs(w @ values[nearest] / w.sum() - values[i]) ** power)
    mean = sum(errors) / max(n_flat, MIN_FLAT_SHARE * len(points), 1.0)
    return scale * mean ** (1 / power)


@pytest.mark.parametrize("seed, power", [(0, 1.0), (1, 1.0), (2, 2.0)])
def test_level_matches_a_brute_force_leave_one_out(seed, power):
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, 60, (150, 2))  # no distance ties: one neighbour order
    values = np.where(rng.random(150) < 0.1, rng.uniform(0, 100, 150), 20.0)
    expected = _reference_level(points, values, 10, 0.5, power)
    assert expected > 0
    level = flat_surprise_level(points, values, 10, 0.5, power)
    assert level == pytest.approx(expected, rel=1e-12)


def test_level_is_zero_without_flat_surprises_and_tiny_inputs():
    rows, cols = np.mgrid[0:50:5, 0:50:5]
    points = np.column_stack([rows.ravel(), cols.ravel()])
    assert flat_surprise_level(points, np.full(len(points), 7.0)) == pytest.approx(0, abs=1e-12)
    ramp = points[:, 1] * 2.0  # a smooth ramp: neighbours disagree, nothing is flat
    assert flat_surprise_level(points, ramp) == 0.0
    assert flat_surprise_level(points[:2], np.array([0.0, 100.0])) == 0.0


def test_auto_is_accepted_and_bad_names_are_named():
    assert check_floor("auto") == "auto"
    for bad in ("Auto", "automatic", ""):
        with pytest.raises(ValueError, match="'auto'") as info:
            Sampler((20, 20), erd_floor=bad)
        assert repr(bad) in str(info.value)


def _activated(image: np.ndarray, **kwargs) -> Sampler:
    sampler = Sampler(image.shape, seed=0, max_coverage=0.5, change_tolerance=None, **kwargs)
    points = sampler.suggest()
    sampler.ingest(points, image[points[:, 0], points[:, 1]])
    sampler.suggest()  # activation: the structure level and the floor's level
    return sampler


def _particles(seed: int) -> np.ndarray:
    blobs = binary_blobs(256, blob_size_fraction=0.03, volume_fraction=0.04, rng=seed)
    return ndimage.gaussian_filter(blobs.astype(np.float64), 1.0) * 100


def test_sparse_particles_get_a_floor_and_smooth_scenes_none():
    # particles the 1 % pattern skips leave flat-context errors; a smooth scene none
    particles = _activated(_particles(7), erd_floor="auto")
    assert particles._floor_level > 0.3
    rng = np.random.default_rng(3)
    smooth = ndimage.gaussian_filter(rng.random((256, 256)), 12)
    smooth = 100 * (smooth - smooth.min()) / np.ptp(smooth)
    assert _activated(smooth, erd_floor="auto")._floor_level < 0.05
    assert _activated(_particles(7))._floor_level == particles._floor_level  # the default
    assert _activated(_particles(7), erd_floor=0.0)._floor_level == 0.0
    assert _activated(_particles(7), erd_floor=0.4)._floor_level == 0.4


def test_auto_floor_is_the_fixed_floor_at_the_measured_level():
    # the ERD with "auto" is exactly the ERD with the level it measured, given as a number
    image = _particles(8)[:128, :128]
    auto = _activated(image, erd_floor="auto")
    level = auto._floor_level
    assert level > 0
    fixed = _activated(image, erd_floor=level)
    np.testing.assert_array_equal(auto.erd, fixed.erd)
    plain = _activated(image, erd_floor=0.0)
    raised = auto.erd > plain.erd
    assert raised.any()
    d1 = ndimage.distance_transform_edt(~auto.measured_mask)
    floor = level * 0.5 * np.pi * d1**2  # the L1 default model: power 1
    np.testing.assert_allclose(auto.erd[raised], floor[raised], rtol=1e-9)


def test_auto_level_survives_save_and_load(tmp_path):
    sampler = _activated(_particles(9)[:128, :128], erd_floor="auto", batch_size=20)
    path = sampler.save(tmp_path / "state.npz")
    loaded = Sampler.load(path)
    assert loaded.erd_floor == "auto"
    assert loaded._floor_level == sampler._floor_level > 0
    np.testing.assert_array_equal(loaded.suggest(), sampler.suggest())

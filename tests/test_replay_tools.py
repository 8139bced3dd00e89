"""Baselines, metrics, image loading and the replay loop."""

from __future__ import annotations

import numpy as np
import pytest
from honesty import assert_honest_scan

from fastscan.baselines import STATIC_SAMPLERS, HaltonSampler, RandomSampler, RasterSampler
from fastscan.imageio import ImageError, check_image, load_image
from fastscan.metrics import biharmonic_reconstruction, image_scores, nrmse, psnr, ssim
from fastscan.phantoms import PHANTOMS, make_phantom, make_phantom_with_labels
from fastscan.replay import SimulatedDetector, make_sampler, replay

SHAPE = (40, 56)


@pytest.fixture(scope="module")
def truth():
    return make_phantom("grains", SHAPE, seed=4)


@pytest.mark.parametrize("name", sorted(STATIC_SAMPLERS))
def test_static_samplers_share_the_interface(name, truth):
    sampler = STATIC_SAMPLERS[name](SHAPE, batch_size=32, max_coverage=0.25, seed=1)
    seen = set()
    while not sampler.should_stop():
        points = sampler.suggest()
        keys = {tuple(p) for p in points.tolist()}
        assert len(keys) == len(points) and not keys & seen
        seen |= keys
        sampler.ingest(points, truth[points[:, 0], points[:, 1]])
    assert sampler.n_measured == round(0.25 * truth.size) == len(seen)
    assert "max_coverage" in sampler.stop_reason
    assert sampler.reconstruction.shape == SHAPE
    np.testing.assert_array_equal(
        sampler.reconstruction[sampler.measured_mask], truth[sampler.measured_mask]
    )
    assert len(sampler.suggest()) == 0


def test_raster_is_a_regular_grid():
    points = RasterSampler((40, 60), max_coverage=0.04, batch_size=1000).suggest()
    rows, cols = np.unique(points[:, 0]), np.unique(points[:, 1])
    assert len(rows) * len(cols) == len(points)
    assert len(set(np.diff(cols).tolist())) <= 2  # evenly spaced up to rounding


def test_random_and_halton_depend_on_seed():
    a = RandomSampler(SHAPE, seed=0).suggest()
    assert not np.array_equal(a, RandomSampler(SHAPE, seed=1).suggest())
    np.testing.assert_array_equal(a, RandomSampler(SHAPE, seed=0).suggest())
    h = HaltonSampler(SHAPE, seed=0).suggest()
    assert not np.array_equal(h, HaltonSampler(SHAPE, seed=1).suggest())


def test_metrics_match_definitions():
    rng = np.random.default_rng(0)
    truth = rng.random((30, 30)) * 10 + 5
    estimate = truth + rng.normal(0, 0.5, truth.shape)
    assert nrmse(truth, estimate) == pytest.approx(
        np.linalg.norm(truth - estimate) / np.linalg.norm(truth)
    )
    mse = np.mean((truth - estimate) ** 2)
    assert psnr(truth, estimate) == pytest.approx(10 * np.log10(np.ptp(truth) ** 2 / mse))
    assert ssim(truth, truth) == pytest.approx(1.0)
    assert 0 < ssim(truth, estimate) < 1
    assert psnr(truth, truth) == float("inf")
    assert set(image_scores(truth, estimate)) == {"nrmse", "ssim", "psnr"}
    with pytest.raises(ValueError, match="one shape"):
        nrmse(truth, estimate[:-1])


def test_biharmonic_uses_only_measured_pixels(truth):
    mask = np.zeros(SHAPE, bool)
    mask[::3, ::3] = True
    spoiled = np.where(mask, truth, 1e6)
    np.testing.assert_allclose(
        biharmonic_reconstruction(mask, spoiled), biharmonic_reconstruction(mask, truth)
    )
    assert nrmse(truth, biharmonic_reconstruction(mask, truth)) < 0.3
    with pytest.raises(ValueError, match="at least one measured"):
        biharmonic_reconstruction(np.zeros(SHAPE, bool), truth)


def test_detector_reveals_only_what_is_asked(truth):
    detector = SimulatedDetector(truth)
    sampler = make_sampler("fast", SHAPE, max_coverage=0.15, batch_size=20)
    snaps = replay(sampler, detector, [0.05, 0.15])
    assert_honest_scan(sampler, detector)
    assert detector.n_readings == len(sampler.measured_points)
    assert [s.n_measured for s in snaps] == [round(0.05 * truth.size), round(0.15 * truth.size)]
    for snap in snaps:
        np.testing.assert_array_equal(
            snap.measured_image[snap.measured_mask], truth[snap.measured_mask]
        )
        assert (snap.measured_image[~snap.measured_mask] == 0).all()


def test_poisson_detector_is_seeded():
    image = np.full((8, 8), 50.0)
    points = np.argwhere(np.ones((8, 8), bool))
    a = SimulatedDetector(image, noise="poisson", seed=1).measure(points)
    b = SimulatedDetector(image, noise="poisson", seed=1).measure(points)
    np.testing.assert_array_equal(a, b)
    assert a.std() > 0 and abs(a.mean() - 50) < 5
    with pytest.raises(ValueError, match="noise must be"):
        SimulatedDetector(image, noise="gauss")
    with pytest.raises(ValueError, match="outside the grid"):
        SimulatedDetector(image).measure(np.array([[8, 0]]))


def test_replay_and_strategy_validation(truth):
    with pytest.raises(ValueError, match="coverages must be numbers in"):
        replay(RandomSampler(SHAPE), SimulatedDetector(truth), [0.0])
    with pytest.raises(ValueError, match="unknown strategy 'rastr'"):
        make_sampler("rastr", SHAPE, max_coverage=0.1)


def test_check_image_errors_and_rgb_note():
    grey, note = check_image(np.dstack([np.ones((6, 6))] * 3))
    assert grey.shape == (6, 6) and "RGB" in note
    for bad, message in [
        (np.ones(7), "2-D"),
        (np.ones((0, 5)), "empty"),
        (np.ones((2, 2, 2, 2)), "2-D"),
        (np.where(np.eye(5) > 0, np.nan, 1.0), "non-finite"),
        (np.full((5, 5), np.inf), "non-finite"),
        (np.array([["a", "b"]] * 5), "numbers"),
    ]:
        with pytest.raises(ImageError, match=message):
            check_image(bad)


def test_load_image_formats(tmp_path, truth):
    import tifffile
    from skimage.io import imsave

    np.save(tmp_path / "a.npy", truth)
    tifffile.imwrite(tmp_path / "a.tif", truth.astype(np.float32))
    imsave(tmp_path / "a.png", (truth * 255).astype(np.uint8), check_contrast=False)
    rgb = np.dstack([(truth * 255).astype(np.uint8)] * 3)
    imsave(tmp_path / "rgb.png", rgb, check_contrast=False)
    assert np.array_equal(load_image(tmp_path / "a.npy")[0], truth)
    np.testing.assert_allclose(load_image(tmp_path / "a.tif")[0], truth, rtol=1e-6)
    assert load_image(tmp_path / "a.png")[0].shape == SHAPE
    image, note = load_image(tmp_path / "rgb.png")
    assert image.shape == SHAPE and "converted to grey" in note
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.tif")
    (tmp_path / "b.jpg").write_bytes(b"x")
    with pytest.raises(ImageError, match="unsupported file type"):
        load_image(tmp_path / "b.jpg")
    (tmp_path / "broken.tif").write_bytes(b"not a tiff")
    with pytest.raises(ImageError, match="cannot read"):
        load_image(tmp_path / "broken.tif")


@pytest.mark.parametrize("name", PHANTOMS)
def test_phantoms_are_deterministic_with_labels(name):
    image, labels = make_phantom_with_labels(name, (64, 80), seed=3)
    again, _ = make_phantom_with_labels(name, (64, 80), seed=3)
    other = make_phantom(name, (64, 80), seed=4)
    np.testing.assert_array_equal(image, again)
    assert not np.array_equal(image, other)
    assert image.min() == 0.0 and image.max() == 1.0
    assert labels.shape == image.shape and labels.max() >= 1
    with pytest.raises(ValueError, match="unknown phantom"):
        make_phantom("nope")


def test_fast_classic_is_fasts_recipe():
    sampler = make_sampler("fast-classic", SHAPE, max_coverage=0.1)
    params = sampler.get_params()
    assert params["spread"] == 0.0 and params["tie_break"] == 0.0
    assert sampler.model.sparsity_clip is None  # FAST's image-size dependent feature

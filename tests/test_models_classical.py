"""Classical denoisers and segmenters, scores and the report helper."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from fastscan import idw_reconstruction
from fastscan.models import create_model
from fastscan.models.classical import drop_small_regions
from fastscan.models.evaluation import evaluate_models, save_model_figure
from fastscan.models.protocols import normalise
from fastscan.models.scores import foreground_scores, image_scores, instance_iou
from fastscan.phantoms import make_phantom_with_labels


def _frame(truth, coverage, seed=0):
    rng = np.random.default_rng(seed)
    mask = rng.random(truth.shape) < coverage
    recon = idw_reconstruction(truth.shape, np.argwhere(mask), truth[mask])
    return recon, mask


@pytest.fixture(scope="module")
def flakes():
    image, labels = make_phantom_with_labels("flakes", (64, 64), seed=1000)
    return image * 2e5, labels


def test_idw_passthrough_is_identity(flakes):
    recon, mask = _frame(flakes[0], 0.2)
    out = create_model("idw")(recon, mask)
    np.testing.assert_array_equal(out, recon)
    assert out is not recon


@pytest.mark.parametrize("name", ["tv", "biharmonic"])
def test_denoisers_keep_measured_and_units(name, flakes):
    truth = flakes[0]
    recon, mask = _frame(truth, 0.2)
    out = create_model(name)(recon, mask)
    assert out.shape == truth.shape and out.dtype == np.float64
    np.testing.assert_array_equal(out[mask], recon[mask])
    # same detector units: the result's scale follows the input
    assert 0.5 * truth.max() < out.max() < 2.0 * truth.max()


def test_biharmonic_beats_idw_on_a_smooth_image():
    rows, cols = np.mgrid[0:48, 0:48]
    truth = np.sin(rows / 7.0) * np.cos(cols / 9.0) * 1e3
    recon, mask = _frame(truth, 0.1)
    bih = create_model("biharmonic")(recon, mask)
    assert image_scores(truth, bih)["nrmse"] < image_scores(truth, recon)["nrmse"]


def test_tv_removes_noise():
    rng = np.random.default_rng(1)
    truth = np.zeros((48, 48))
    truth[12:36, 12:36] = 1.0
    noisy = truth + 0.2 * rng.standard_normal(truth.shape)
    mask = np.ones(truth.shape, bool)
    out = create_model("tv", weight=0.15, keep_measured=False)(noisy, mask)
    assert image_scores(truth, out)["psnr"] > image_scores(truth, noisy)["psnr"] + 3


def test_otsu_and_watershed_find_the_features(flakes):
    truth, labels = flakes
    recon, mask = _frame(truth, 0.3)
    for name in ("otsu", "watershed"):
        predicted = create_model(name)(recon, mask)
        assert predicted.dtype == np.int32 and predicted.shape == truth.shape
        assert foreground_scores(labels, predicted)["iou"] > 0.6, name


def test_watershed_splits_touching_features():
    image = np.zeros((40, 60))
    image[10:30, 8:30] = 1.0
    image[10:30, 30:52] = 0.6  # touching, different brightness
    mask = np.ones(image.shape, bool)
    otsu = create_model("otsu")(image, mask)
    ws = create_model("watershed")(image, mask)
    truth = np.zeros(image.shape, np.int32)
    truth[10:30, 8:30], truth[10:30, 30:52] = 1, 2
    assert instance_iou(truth, ws) > instance_iou(truth, otsu)
    assert len(np.unique(ws[ws > 0])) == 2


def test_segmenters_on_flat_frame_give_background():
    flat = np.full((32, 32), 5.0)
    mask = np.ones((32, 32), bool)
    for name in ("otsu", "watershed"):
        assert not create_model(name)(flat, mask).any()


def test_drop_small_regions():
    labels = np.zeros((10, 10), np.int64)
    labels[0, 0] = 3
    labels[5:9, 5:9] = 7
    out = drop_small_regions(labels, 4)
    assert out.dtype == np.int32 and set(np.unique(out)) == {0, 1}
    assert (out == 1).sum() == 16


def test_scores_against_hand_counts():
    truth = np.zeros((10, 10), np.int32)
    truth[0:4, 0:4] = 1  # 16 px
    truth[6:10, 6:10] = 2  # 16 px
    pred = np.zeros((10, 10), np.int32)
    pred[0:4, 0:2] = 5  # 8 px inside feature 1
    fg = foreground_scores(truth, pred)
    assert fg["iou"] == pytest.approx(8 / 32) and fg["dice"] == pytest.approx(16 / 40)
    assert instance_iou(truth, pred) == pytest.approx((8 / 16 + 0.0) / 2)
    assert foreground_scores(np.zeros_like(truth), np.zeros_like(truth))["iou"] == 1.0
    with pytest.raises(ValueError, match="non-negative integers"):
        foreground_scores(truth, pred.astype(float))
    with pytest.raises(ValueError, match="differ in shape"):
        instance_iou(truth, pred[:5])


def test_image_scores_match_definitions():
    rng = np.random.default_rng(2)
    truth = rng.random((32, 32)) * 10
    est = truth + 0.1
    s = image_scores(truth, est)
    data_range = truth.max() - truth.min()
    assert s["psnr"] == pytest.approx(10 * np.log10(data_range**2 / 0.01))
    assert s["nrmse"] == pytest.approx(np.sqrt(np.mean(0.01)) / np.sqrt(np.mean(truth**2)))
    with pytest.raises(ValueError, match="flat"):
        image_scores(np.ones((8, 8)), np.ones((8, 8)))


def test_evaluate_models_and_figure(tmp_path, flakes):
    truth, labels = flakes
    recon, mask = _frame(truth, 0.2)
    result = evaluate_models(truth, recon, mask, denoise="tv", segment="otsu", labels=labels)
    metrics = result["metrics"]
    assert metrics["input_psnr"] == pytest.approx(image_scores(truth, recon)["psnr"])
    assert metrics["denoise_psnr"] == pytest.approx(image_scores(truth, result["denoised"])["psnr"])
    assert metrics["segment_iou"] == foreground_scores(labels, result["segmentation"])["iou"] > 0.5
    assert metrics["segment_regions"] >= 1 and metrics["denoise_model"] == "tv"
    path = save_model_figure(tmp_path / "sub" / "models.png", truth, recon, mask, result)
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 5000
    only_seg = evaluate_models(truth, recon, mask, segment=create_model("watershed"))
    assert only_seg["denoised"] is None and "denoise_psnr" not in only_seg["metrics"]
    assert evaluate_models(truth, recon, mask)["metrics"] == {}
    with pytest.raises(ValueError, match="is a segmenter, not a denoiser"):
        evaluate_models(truth, recon, mask, denoise="otsu")
    with pytest.raises(ValueError, match="is not a denoiser"):
        evaluate_models(truth, recon, mask, denoise=create_model("otsu"))
    with pytest.raises(ValueError, match="unknown model 'tvv'"):
        evaluate_models(truth, recon, mask, denoise="tvv")
    with pytest.raises(ValueError, match="truth shape"):
        evaluate_models(truth[:32], recon, mask, denoise="tv")
    with pytest.raises(ValueError, match="labels shape"):
        evaluate_models(truth, recon, mask, segment="otsu", labels=labels[:10])


def test_label_smoothing_reference():
    # the Otsu segmenter with sigma=0 equals a plain threshold + scipy labelling
    rng = np.random.default_rng(3)
    image = ndimage.gaussian_filter(rng.random((40, 40)), 3)
    mask = np.ones(image.shape, bool)
    ours = create_model("otsu", sigma=0.0, min_size=0)(image, mask)
    from skimage.filters import threshold_otsu

    x = normalise(image, mask)[0].astype(np.float64)
    ref, _ = ndimage.label(x > threshold_otsu(x))
    assert np.array_equal(ours > 0, ref > 0)
    assert ours.max() == ref.max()

"""The torch U-Net models with the shipped weights: quality, shapes, bad weights, bad frames."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fastscan import idw_reconstruction  # noqa: E402
from fastscan.models import create_model  # noqa: E402
from fastscan.models.scores import foreground_scores, image_scores  # noqa: E402
from fastscan.models.torch_unet import (  # noqa: E402
    DEFAULT_WEIGHTS,
    FORMAT,
    WEIGHTS_DIR,
    labels_from_probabilities,
    load_checkpoint,
)
from fastscan.phantoms import make_phantom_with_labels  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def denoiser():
    return create_model("unet-denoiser", device="cpu")


@pytest.fixture(scope="module")
def segmenter():
    return create_model("unet-segmenter", device="cpu")


def _edge_mask(truth, coverage, rng):
    """Sampling concentrated on edges, like the ERD sampler's, plus a uniform floor."""
    from scipy import ndimage

    weight = ndimage.gaussian_gradient_magnitude(truth, 1.0)
    weight = weight / weight.mean() + 0.3
    flat = rng.choice(
        truth.size, int(coverage * truth.size), replace=False, p=(weight / weight.sum()).ravel()
    )
    mask = np.zeros(truth.size, bool)
    mask[flat] = True
    return mask.reshape(truth.shape)


def _frame(name, coverage, seed=1000, shape=(96, 96), scale=3e5):
    image, labels = make_phantom_with_labels(name, shape, seed=seed)  # evaluation seed
    truth = image * scale
    mask = _edge_mask(truth, coverage, np.random.default_rng(seed))
    recon = idw_reconstruction(shape, np.argwhere(mask), truth[mask])
    return truth, labels, recon, mask


def test_shipped_weights_are_small_and_tagged():
    for kind, filename in DEFAULT_WEIGHTS.items():
        path = WEIGHTS_DIR / filename
        assert path.stat().st_size < 2_000_000
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        assert checkpoint["format"] == FORMAT and checkpoint["kind"] == kind
        net, info, gate = load_checkpoint(path, kind)
        assert gate == (info["config"].get("gate", 0.0) if kind == "denoiser" else 0.0)
        n_params = sum(p.numel() for p in net.parameters())
        assert n_params < 200_000 and info["history"]["n_parameters"] == n_params
        assert "wse2" not in " ".join(info["data"].get("sources", [])).lower()


@pytest.mark.parametrize("name", ["flakes", "particles", "grains"])
def test_denoiser_beats_idw_on_unseen_phantoms(denoiser, name):
    truth, _, recon, mask = _frame(name, 0.1)
    refined = denoiser(recon, mask)
    assert refined.shape == truth.shape and refined.dtype == np.float64
    np.testing.assert_array_equal(refined[mask], recon[mask])
    ours, idw = image_scores(truth, refined), image_scores(truth, recon)
    assert ours["psnr"] > idw["psnr"] and ours["nrmse"] < idw["nrmse"], (ours, idw)


def test_denoiser_leaves_flat_regions_exact(denoiser):
    """The activity gate: where the reconstruction is flat, no correction at all."""
    truth = np.full((64, 80), 7.0)
    truth[20:44, 30:60] = 9.0
    mask = np.zeros(truth.shape, bool)
    mask[::3, ::3] = True
    recon = idw_reconstruction(truth.shape, np.argwhere(mask), truth[mask])
    refined = denoiser(recon, mask)
    far = np.ones(truth.shape, bool)
    far[8:56, 18:72] = False  # 12+ pixels from the step: flat IDW neighbourhoods
    np.testing.assert_allclose(refined[far], recon[far], rtol=1e-9)
    assert not np.array_equal(refined, recon)  # but it does work near the edge


def test_test_time_flips(denoiser):
    truth, _, recon, mask = _frame("grains", 0.1, shape=(48, 64))
    one = create_model("unet-denoiser", device="cpu", tta=1)
    four = create_model("unet-denoiser", device="cpu", tta=4)
    a, b = one(recon, mask), four(recon, mask)
    assert a.shape == b.shape == truth.shape and not np.allclose(a, b)
    assert image_scores(truth, b)["psnr"] > image_scores(truth, recon)["psnr"]
    with pytest.raises(ValueError, match=r"tta .* must be 1, 2 or 4, got 3"):
        create_model("unet-denoiser", device="cpu", tta=3)


def test_denoiser_is_unit_equivariant_and_handles_odd_sizes(denoiser):
    truth, _, recon, mask = _frame("flakes", 0.2, shape=(61, 75))
    a = denoiser(recon, mask)
    b = denoiser(recon * 1e-3 + 5.0, mask)  # other detector units and offset
    assert a.shape == (61, 75)
    np.testing.assert_allclose((b - 5.0) * 1e3, a, rtol=1e-4, atol=1e-3 * np.ptp(truth))


def test_segmenter_outlines_unseen_phantoms(segmenter):
    for name in ("flakes", "particles"):
        truth, labels, recon, mask = _frame(name, 0.2)
        predicted = segmenter(recon, mask)
        assert predicted.dtype == np.int32 and predicted.shape == truth.shape
        assert foreground_scores(labels, predicted)["iou"] > 0.6, name
    probs = segmenter.probabilities(recon, mask)
    assert probs.shape == (2, *truth.shape) and 0 <= probs.min() and probs.max() <= 1


def test_labels_from_probabilities_splits_at_boundaries():
    fg = np.zeros((20, 30))
    fg[5:15, 3:27] = 1.0
    boundary = np.zeros_like(fg)
    boundary[5:15, 14:16] = 1.0  # a wall between two features
    fg[1:3, 1:3] = 1.0  # a small blob without a seed... and too small to keep
    labels = labels_from_probabilities(fg, boundary, min_size=5)
    assert len(np.unique(labels[labels > 0])) == 2
    assert labels[10, 5] != labels[10, 25] and labels[2, 2] == 0


def test_bad_frames_are_clear_errors(denoiser, segmenter):
    _, _, recon, mask = _frame("flakes", 0.2, shape=(32, 32))
    bad = recon.copy()
    bad[3, 4] = np.nan
    for model in (denoiser, segmenter):
        with pytest.raises(ValueError, match="non-finite"):
            model(bad, mask)
        with pytest.raises(ValueError, match="mask shape"):
            model(recon, mask[:, :16])


def test_bad_weight_files(tmp_path):
    good = WEIGHTS_DIR / DEFAULT_WEIGHTS["denoiser"]
    checkpoint = torch.load(good, map_location="cpu", weights_only=True)

    old = dict(checkpoint, format="fastscan.unet/0")
    torch.save(old, tmp_path / "old.pt")
    with pytest.raises(ValueError, match=r"has format 'fastscan.unet/0'; this fastscan reads"):
        create_model("unet-denoiser", weights=tmp_path / "old.pt", device="cpu")

    with pytest.raises(ValueError, match="holds a 'denoiser' model, not a 'segmenter'"):
        create_model("unet-segmenter", weights=good, device="cpu")

    state = dict(checkpoint["state_dict"])
    state["enc1.conv1.weight"] = torch.zeros(16, 4, 3, 3)
    torch.save(dict(checkpoint, state_dict=state), tmp_path / "shape.pt")
    with pytest.raises(ValueError, match=r"'enc1.conv1.weight' has shape \(16, 4, 3, 3\)"):
        create_model("unet-denoiser", weights=tmp_path / "shape.pt", device="cpu")

    state = {k: v for k, v in checkpoint["state_dict"].items() if k != "head.bias"}
    torch.save(dict(checkpoint, state_dict=state), tmp_path / "missing.pt")
    with pytest.raises(ValueError, match=r"missing \['head.bias'\]"):
        create_model("unet-denoiser", weights=tmp_path / "missing.pt", device="cpu")

    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a readable fastscan weights file"):
        create_model("unet-denoiser", weights=tmp_path / "junk.pt", device="cpu")
    with pytest.raises(ValueError, match="does not exist"):
        create_model("unet-denoiser", weights=tmp_path / "nope.pt", device="cpu")


def test_device_validation():
    with pytest.raises(ValueError, match="device must be"):
        create_model("unet-denoiser", device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="torch sees no CUDA GPU"):
            create_model("unet-denoiser", device="cuda")
    model = create_model("unet-denoiser", device="cpu", amp=True)
    assert model.amp is False  # autocast only on a GPU; float32 on the CPU

"""Downstream models on (C, H, W) element maps (per-channel wrapper)."""

from __future__ import annotations

import numpy as np
import pytest

from fastscan import Sampler
from fastscan.models import create_model, per_channel
from fastscan.phantoms import make_xrf_maps


@pytest.fixture(scope="module")
def frame():
    maps, _ = make_xrf_maps((48, 72), seed=51)
    maps = maps[[1, 4]]  # Ca grains, Au bands
    sampler = Sampler((48, 72), batch_size=40, seed=0, max_coverage=0.2, change_tolerance=None)
    while not sampler.should_stop():
        points = sampler.suggest()
        sampler.ingest(points, maps[:, points[:, 0], points[:, 1]].T)
    return maps, np.array(sampler.reconstruction), np.array(sampler.measured_mask)


def test_denoiser_runs_on_every_channel(frame):
    maps, recon, mask = frame
    base = create_model("tv")
    model = per_channel(base)
    out = model(recon, mask)
    assert out.shape == maps.shape and out.dtype == np.float64 and model.kind == "denoiser"
    for c in range(len(maps)):
        np.testing.assert_allclose(out[c], base(recon[c], mask))
    np.testing.assert_allclose(model(recon[0], mask), base(recon[0], mask))  # (H, W) as before


def test_segmenter_labels_every_channel(frame):
    maps, recon, mask = frame
    labels = per_channel(create_model("otsu"))(recon, mask)
    assert labels.shape == maps.shape and labels.dtype == np.int32
    for c in range(len(maps)):  # each channel's labels follow that channel's structure
        inside = maps[c] > 0.5 * maps[c].max()
        assert (labels[c][inside] > 0).mean() > 0.8 and (labels[c][~inside] > 0).mean() < 0.2


def test_bad_frames_are_refused(frame):
    _, recon, mask = frame
    model = per_channel(create_model("idw"))
    with pytest.raises(ValueError, match="mask shape"):
        model(recon, mask[:10])
    with pytest.raises(ValueError, match=r"\(H, W\) or \(C, H, W\)"):
        model(recon[None], mask)
    with pytest.raises(TypeError, match="denoiser or segmenter"):
        per_channel(lambda r, m: r)

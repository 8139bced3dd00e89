"""Model registry, protocols, lazy torch and frame validation."""

from __future__ import annotations

from importlib import metadata

import numpy as np
import pytest
from fresh_imports import modules_loaded_by

from fastscan.models import Denoiser, Segmenter, check_frame, create_model, list_models, registry
from fastscan.models.protocols import denormalise, normalise


def test_list_models_by_kind():
    denoisers, segmenters = list_models("denoiser"), list_models("segmenter")
    assert {"idw", "tv", "biharmonic", "unet-denoiser"} <= set(denoisers)
    assert {"otsu", "watershed", "unet-segmenter"} <= set(segmenters)
    assert not set(denoisers) & set(segmenters)
    assert sorted(list_models()) == list_models()
    with pytest.raises(ValueError, match="kind must be one of"):
        list_models("classifier")


def test_create_model_satisfies_protocol():
    assert isinstance(create_model("tv"), Denoiser)
    assert isinstance(create_model("watershed"), Segmenter)
    assert create_model("tv", weight=0.2).weight == 0.2


def test_unknown_name_suggests_the_closest():
    with pytest.raises(
        ValueError, match=r"unknown model 'watershd' \(did you mean 'watershed'\?\)"
    ):
        create_model("watershd")
    with pytest.raises(ValueError, match="unknown model 'zzzz'; available models: "):
        create_model("zzzz")


def test_wrong_kind_is_refused():
    with pytest.raises(ValueError, match="'otsu' is a segmenter, not a denoiser"):
        create_model("otsu", kind="denoiser")


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="weight must be a finite number > 0"):
        create_model("tv", weight=-1)
    with pytest.raises(ValueError, match="marker_level must be in"):
        create_model("watershed", marker_level=1.5)


def test_register_model_and_validation():
    class Half:
        name, kind = "half-test", "denoiser"

        def __call__(self, reconstruction, mask):
            return check_frame(reconstruction, mask)[0] / 2

    registry.register_model("half-test", Half, "denoiser")
    try:
        assert "half-test" in list_models("denoiser")
        with pytest.raises(ValueError, match="already registered"):
            registry.register_model("half-test", Half, "denoiser")
        with pytest.raises(ValueError, match="kind must be one of"):
            registry.register_model("other-test", Half, "classifier")
        with pytest.raises(ValueError, match="without spaces"):
            registry.register_model("a b", Half, "denoiser")
        registry.register_model("liar-test", lambda: object(), "denoiser")
        with pytest.raises(TypeError, match="not a callable denoiser"):
            create_model("liar-test")
    finally:
        registry._REGISTRY.pop("half-test", None)
        registry._REGISTRY.pop("liar-test", None)


def test_entry_point_models(monkeypatch):
    good = metadata.EntryPoint("ep-tv", "fastscan.models.classical:TVDenoiser", "fastscan.models")
    broken = metadata.EntryPoint("ep-broken", "fastscan.no_such_module:X", "fastscan.models")
    kindless = metadata.EntryPoint("ep-kindless", "numpy:zeros", "fastscan.models")

    def fake_entry_points(group):
        assert group == registry.ENTRY_POINT_GROUP
        return [good, broken, kindless]

    monkeypatch.setattr(registry.metadata, "entry_points", fake_entry_points)
    assert {"ep-tv", "ep-broken", "ep-kindless"} <= set(list_models())
    assert "ep-tv" in list_models("denoiser") and "ep-broken" not in list_models("denoiser")
    assert create_model("ep-tv").kind == "denoiser"
    with pytest.raises(RuntimeError, match="failed to import"):
        create_model("ep-broken")
    with pytest.raises(TypeError, match="must have a 'kind' attribute"):
        create_model("ep-kindless")


def test_core_and_models_import_without_torch():
    code = (
        "import fastscan, fastscan.models, fastscan.models.live, "
        "fastscan.models.classical, fastscan.models.evaluation, fastscan.models.zmq_frames, "
        "fastscan.models.wire; "
        "fastscan.models.create_model('otsu'); "
        "fastscan.models.list_models('denoiser')"
    )
    assert "torch" not in modules_loaded_by(code)


@pytest.mark.parametrize(
    ("recon", "mask", "message"),
    [
        (np.zeros(64), np.ones(64, bool), "must be a 2-D"),
        (np.zeros((4, 64)), np.ones((4, 64), bool), "at least 8 x 8"),
        (np.zeros((16, 16)), np.ones((16, 15), bool), "mask shape"),
        (np.zeros((16, 16)), np.zeros((16, 16), bool), "no measured pixel"),
        (np.zeros((16, 16)), np.full((16, 16), 0.5), "boolean"),
        (np.full((16, 16), "a"), np.ones((16, 16), bool), "real numbers"),
    ],
)
def test_check_frame_errors(recon, mask, message):
    with pytest.raises(ValueError, match=message):
        check_frame(recon, mask)


def test_check_frame_nan_names_the_pixel():
    recon = np.zeros((16, 16))
    recon[3, 5] = np.nan
    with pytest.raises(ValueError, match=r"1 non-finite values \(first at row=3, col=5"):
        check_frame(recon, np.ones((16, 16), bool))
    with pytest.raises(ValueError, match=r"does not match the expected \(16, 17\)"):
        check_frame(np.zeros((16, 16)), np.ones((16, 16), bool), shape=(16, 17))


def test_normalise_round_trip_and_flat_frame():
    rng = np.random.default_rng(0)
    recon = rng.uniform(100, 3e5, (20, 20))
    mask = rng.random((20, 20)) < 0.3
    x, offset, scale = normalise(recon, mask)
    values = x[mask]
    assert np.percentile(values, 1) == pytest.approx(0, abs=1e-5)
    assert np.percentile(values, 99) == pytest.approx(1, abs=1e-5)
    np.testing.assert_allclose(denormalise(x, offset, scale), recon, rtol=1e-6)
    flat, _, flat_scale = normalise(np.full((10, 10), 7.0), np.ones((10, 10), bool))
    assert flat_scale == 1.0 and np.all(flat == 0)

"""Two ERD models in one network (fastscan.erd.blend) and the texture model rule (issue 12)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import fastscan.erd.estimator as estimator_module
import fastscan.sampler as sampler_module
from fastscan import Sampler
from fastscan.compare.textures import band_noise
from fastscan.erd.blend import L2_SCALE, blend_models
from fastscan.erd.estimator import SHIPPED_MODELS, default_model_path, load_model
from fastscan.phantoms import make_phantom
from fastscan.sampler import TEXTURE_MODEL


def _features(n: int = 3000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.lognormal(mean=1.0, sigma=1.0, size=(n, 6))


def _with_moments_of(model, first):
    model.feature_mean_ = first.feature_mean_.copy()
    model.feature_scale_ = first.feature_scale_.copy()
    return model


@pytest.mark.parametrize(("weight", "scale"), [(0.5, L2_SCALE), (0.25, 1.0), (1.0, 3.0)])
def test_blend_is_the_weighted_sum_of_the_two_networks(weight, scale):
    first, second = load_model("default"), load_model("l2")
    x = _features()
    blend = blend_models(first, second, weight, scale)
    # the second half reads the first model's feature moments (module docstring)
    shared = _with_moments_of(load_model("l2"), first)
    raw = (1 - weight) * first._forward(x).astype(np.float64)
    raw += weight * scale * shared._forward(x).astype(np.float64)
    want = np.maximum(raw, 0.0)
    got = blend.predict(x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3 * np.abs(want).max())
    assert blend.hidden_layer_sizes == (100, 10) and blend.n_components == first.n_components
    assert blend.info_["blend"]["weight"] == weight and blend.info_["blend"]["scale"] == scale


def test_weight_zero_is_the_first_model():
    first, second = load_model("default"), load_model("l2")
    x = _features(seed=1)
    got = blend_models(first, second, 0.0, 2.0).predict(x)
    np.testing.assert_allclose(got, first.predict(x), rtol=1e-4, atol=1e-3)


def test_shipped_blend_is_rebuilt_from_the_two_shipped_models(tmp_path):
    assert SHIPPED_MODELS["l1+l2"] == "erd_l1_l2.npz"
    shipped = load_model("l1+l2")
    assert shipped.name == "l1+l2"
    rebuilt = blend_models(load_model("default"), load_model("l2"), 0.5, L2_SCALE)
    assert rebuilt.sha256 == shipped.sha256
    record = shipped.info_["blend"]
    assert record["first"]["sha256"] == load_model("default").sha256
    assert record["second"]["sha256"] == load_model("l2").sha256
    saved = rebuilt.save(tmp_path / "blend.npz")  # a plain model file, no pickle
    x = _features(seed=2)
    np.testing.assert_array_equal(load_model(saved).predict(x), shipped.predict(x))
    with np.load(saved, allow_pickle=False) as data:
        assert all(data[key].dtype != object for key in data.files)


def test_blend_errors_name_the_value():
    first, second = load_model("default"), load_model("l2")
    with pytest.raises(ValueError, match=r"weight must be a number in \[0, 1\], got 1.5"):
        blend_models(first, second, 1.5)
    with pytest.raises(ValueError, match="scale must be a finite number > 0, got -1"):
        blend_models(first, second, 0.5, -1)
    other = load_model("l2")
    other.gamma = 0.5
    with pytest.raises(ValueError, match=r"differ in \['gamma'\]"):
        blend_models(first, other)
    other = load_model("l2")
    other.target_transform = "log1p"
    with pytest.raises(ValueError, match="target_transform 'none', got 'log1p'"):
        blend_models(first, other)
    other = load_model("l2")
    other.coefs_, other.intercepts_ = other.coefs_[:2], other.intercepts_[:2]
    with pytest.raises(ValueError, match="as many layers; got 3 and 2"):
        blend_models(first, other)


@pytest.mark.parametrize(
    ("name", "hint"), [("l1+l3", "l1+l2"), ("l2x", "l2"), ("defualt", "default")]
)
def test_unknown_model_names_get_a_hint(name, hint):
    message = f"unknown ERD model '{name}' (did you mean '{hint}'?)"
    with pytest.raises(ValueError, match=re.escape(message)):
        load_model(name)
    with pytest.raises(ValueError, match=re.escape(f"(did you mean '{hint}'?)")):
        default_model_path(name)
    with pytest.raises(ValueError, match=re.escape(f"({', '.join(SHIPPED_MODELS)})")):
        Sampler((20, 20), model=name)
    with pytest.raises(FileNotFoundError, match="nothing-like-a-model"):
        load_model("nothing-like-a-model")  # not close to a name: a missing file


def _scan(sampler: Sampler, image: np.ndarray, steps: int) -> Sampler:
    for _ in range(steps):
        points = sampler.suggest()
        sampler.ingest(points, image[points[:, 0], points[:, 1]])
    return sampler


@pytest.fixture
def l2_default(monkeypatch):
    """The one-channel default switched to l2 (one constant, as docs/erd-model.md describes)."""
    monkeypatch.setattr(estimator_module, "DEFAULT_MODEL", "l2")
    monkeypatch.setattr(sampler_module, "DEFAULT_MODEL", "l2")


def test_texture_scans_switch_to_the_texture_model(l2_default):
    assert TEXTURE_MODEL == "default"
    image = band_noise((64, 80), 4.0, 100)  # in the texture band: the lattice turns on
    default = Sampler((64, 80), batch_size=20, seed=0)
    assert default.model.name == "l2"  # until the structure level is known
    _scan(default, image, 5)
    assert default._lattice_power > 0 and default.model.name == TEXTURE_MODEL
    explicit = _scan(Sampler((64, 80), batch_size=20, seed=0, model="default"), image, 5)
    np.testing.assert_array_equal(default.measured_points, explicit.measured_points)
    np.testing.assert_array_equal(default.erd, explicit.erd)
    given = _scan(Sampler((64, 80), batch_size=20, seed=0, model="l2"), image, 5)
    assert given.model.name == "l2"  # a given model is never switched
    assert not np.array_equal(given.measured_points, explicit.measured_points)


def test_other_scans_keep_the_default_model(l2_default):
    image = make_phantom("particles", (64, 80), seed=100)
    default = _scan(Sampler((64, 80), batch_size=20, seed=0), image, 5)
    assert default._lattice_power == 0 and default.model.name == "l2"
    explicit = _scan(Sampler((64, 80), batch_size=20, seed=0, model="l2"), image, 5)
    np.testing.assert_array_equal(default.measured_points, explicit.measured_points)
    np.testing.assert_array_equal(default.erd, explicit.erd)


def test_saved_texture_scan_continues_with_its_model(l2_default, tmp_path):
    image = band_noise((64, 80), 4.0, 100)
    sampler = _scan(Sampler((64, 80), batch_size=20, seed=0), image, 4)
    path = sampler.save(tmp_path / "state.npz")
    loaded = Sampler.load(path)
    assert loaded.model.name == TEXTURE_MODEL
    np.testing.assert_array_equal(_scan(loaded, image, 2).erd, _scan(sampler, image, 2).erd)

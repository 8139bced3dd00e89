"""ERD model: estimator contract, safe persistence, shipped models, training."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest

from fastscan.erd.estimator import (
    DEFAULT_MODEL,
    SCHEMA,
    SHIPPED_MODELS,
    ERDModel,
    default_model_path,
    load_model,
)
from fastscan.erd.training import TrainingConfig, build_database, train_model


def toy_data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    features = rng.uniform(0, 10, size=(n, 6))
    target = 3.0 * features[:, 0] + features[:, 2] ** 2
    return features, target


def test_fit_returns_self_and_sets_fitted_attributes():
    features, target = toy_data()
    model = ERDModel(max_iter=200, random_state=0)
    assert model.fit(features, target) is model
    assert hasattr(model, "coefs_") and hasattr(model, "omega_")
    prediction = model.predict(features)
    assert prediction.shape == (400,) and (prediction >= 0).all()
    # it learns something: better than predicting the mean, better than 2 epochs
    barely = ERDModel(max_iter=2, random_state=0).fit(features, target)
    assert model.score(features, target) > max(0.2, barely.score(features, target))


def test_predict_before_fit_is_a_clear_error():
    with pytest.raises(Exception, match="not fitted"):
        ERDModel().predict(np.zeros((2, 6)))


def test_wrong_feature_count_is_rejected():
    features, target = toy_data()
    model = ERDModel(max_iter=5).fit(features, target)
    with pytest.raises(ValueError, match="6"):
        model.predict(np.zeros((3, 5)))


def test_save_load_round_trip(tmp_path):
    features, target = toy_data()
    model = ERDModel(max_iter=10, feature_transform="log1p").fit(features, target)
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = ERDModel.load(path)
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))
    assert loaded.get_params() == model.get_params()
    with np.load(path, allow_pickle=False) as data:  # no object arrays: safe format
        assert all(data[k].dtype != object for k in data.files)


def test_wrong_schema_is_a_clear_error(tmp_path):
    model = load_model()
    arrays = model.to_arrays()
    header = json.loads(str(arrays["header"]))
    header["schema"] = "fastscan.erd-model/99"
    arrays["header"] = np.array(json.dumps(header))
    np.savez(tmp_path / "old.npz", **arrays)
    with pytest.raises(ValueError, match=r"schema 'fastscan.erd-model/99'.*reads '" + SCHEMA + "'"):
        ERDModel.load(tmp_path / "old.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a fastscan ERD model"):
        ERDModel.load(tmp_path / "junk.npz")


@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_shipped_models_load_and_record_their_recipe(name):
    model = load_model(name)
    assert default_model_path(name).is_file()
    assert model.n_components == 50
    info = model.info_
    if "blend" in info:  # two shipped models side by side (fastscan.erd.blend): l1+l2
        assert model.hidden_layer_sizes == (100, 10)
        keys = ("first", "second")
        parts = [load_model(info["blend"][key]["name"]) for key in keys]
        assert [p.sha256 for p in parts] == [info["blend"][key]["sha256"] for key in keys]
        assert info["config"] == parts[0].info_["config"]
        info = parts[0].info_
    else:
        assert model.hidden_layer_sizes == (50, 5)
    # default: the (row-split) R^2 of its training record; fast-classic: FAST's own row
    # split; l2: the R^2 on the validation images (image-held-out)
    r2 = info.get("r2_holdout", info.get("r2_rows_fast", info.get("r2_validation_images")))
    assert "config" in model.info_ and r2 > 0.5
    features, _ = toy_data(20)
    assert np.isfinite(model.predict(features)).all()


def test_shipped_l2_model_is_the_default_recipe_with_an_l2_target():
    info = load_model("l2").info_
    default_config = json.loads(json.dumps(asdict(TrainingConfig())))  # tuples as lists
    # knobs added after it was trained keep their defaults (they did not exist then)
    assert set(info["config"]) <= set(default_config)
    assert {**default_config, **info["config"]} == {**default_config, "error_power": 2.0}
    assert load_model("l2").sha256 != load_model("default").sha256


def test_unknown_model_names():
    with pytest.raises(ValueError, match="unknown shipped model 'nope'"):
        default_model_path("nope")
    with pytest.raises(TypeError, match="model must be"):
        load_model(3.5)


def test_tiny_training_run_is_reproducible():
    config = TrainingConfig(
        skimage_images=("camera",),
        phantom_sets=(("grains", (64, 64)),),
        phantom_seeds=(0,),
        masks_per_image=2,
        rows_per_state=300,
        max_iter=5,
        self_play_rounds=0,
    )
    features_a, target_a = build_database(config)
    features_b, target_b = build_database(config)
    np.testing.assert_array_equal(features_a, features_b)
    np.testing.assert_array_equal(target_a, target_b)
    assert features_a.shape[1] == 6 and (target_a >= 0).all()
    model = train_model(config, validate=False)
    assert model.info_["config"]["c"] == 2.0
    assert model.info_["n_rows"] == len(target_a)


def test_model_name_and_sha256_identity(tmp_path):
    default = load_model()  # DEFAULT_MODEL ("default": the L1 model; "l2" is opt-in)
    assert default.name == DEFAULT_MODEL and load_model("fast-classic").name == "fast-classic"
    assert load_model("default").name == "default" and load_model("l2").name == "l2"
    assert default.sha256 == load_model(DEFAULT_MODEL).sha256
    assert len(default.sha256) == 64 and default.sha256 != load_model("fast-classic").sha256
    path = default.save(tmp_path / "copy.npz")
    copy = load_model(path)
    assert copy.name == str(path)
    assert copy.sha256 == default.sha256  # the same weights: the same identity
    assert load_model(copy) is copy and copy.name == str(path)
    arrays = default.to_arrays()
    arrays["coef_1"] = arrays["coef_1"].copy()
    arrays["coef_1"][0, 0] = np.nextafter(arrays["coef_1"][0, 0], np.float32(1e9))
    changed = ERDModel.from_arrays(arrays)
    assert changed.name == "custom" and changed.sha256 != default.sha256
    fitted = ERDModel(max_iter=2).fit(*toy_data())
    assert fitted.name == "custom"


def _tampered(**params):
    arrays = load_model().to_arrays()
    header = json.loads(str(arrays["header"]))
    header["params"].update(params)
    arrays["header"] = np.array(json.dumps(header))
    return arrays


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (_tampered(n_components=10**12), r"n_components=1000000000000; an integer in \[1, 4096\]"),
        (_tampered(n_components="50"), "n_components='50'"),
        (_tampered(hidden_layer_sizes=[50, -5]), "hidden_layer_sizes"),
        (_tampered(gamma=float("nan")), "gamma=nan"),
        (_tampered(feature_transform="exp"), "feature_transform='exp'"),
        (_tampered(sparsity_clip=[5.0, 1.0]), "sparsity_clip"),
        (_tampered(surprise=1), r"unknown model params \['surprise'\]"),
        (_tampered(n_components=40), "layer 0 shapes"),
        ({**_tampered(), "coef_0": np.full((50, 50), np.inf, np.float32)}, "non-finite"),
        ({**_tampered(), "coef_0": np.array(["a"])}, "real numeric array"),
        ({**_tampered(), "header": np.array("[" * 100_000 + "]" * 100_000)}, "not a fastscan"),
        ({**_tampered(), "header": np.array("x" * 2_000_000)}, "2000000 characters"),
    ],
)
def test_from_arrays_validates_before_allocating(arrays, message):
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=message):
            ERDModel.from_arrays(arrays, source="upload")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000  # nothing sized by a bad parameter was allocated


def test_l2_model_drives_a_sampler_and_its_state_keeps_the_name(tmp_path):
    from fastscan import Sampler
    from fastscan.phantoms import make_phantom

    truth = make_phantom("flakes", (48, 40), seed=3)
    sampler = Sampler(truth.shape, batch_size=10, seed=0, model="l2")
    for _ in range(4):
        points = sampler.suggest()
        sampler.ingest(points, truth[points[:, 0], points[:, 1]])
    assert sampler.erd.max() > 0  # the ERD map exists and is not flat
    restored = Sampler.load(sampler.save(tmp_path / "state.npz"))
    assert restored.model.name == "l2" and restored.model.sha256 == load_model("l2").sha256
    np.testing.assert_array_equal(restored.suggest(), sampler.suggest())

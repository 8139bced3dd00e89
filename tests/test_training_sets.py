"""Named training sets of ``fastscan train`` ("wide"): generic images only, deterministic."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from fastscan.cli import main
from fastscan.compare.imagesets import TEST_SEED, test_set, validation_set
from fastscan.erd import training
from fastscan.erd.training import (
    TRAINING_SETS,
    WIDE_TEXTURES,
    train_model,
    training_images,
    training_set_config,
)

WIDE = training_set_config("wide")


def _evaluation_skimage_arrays() -> dict[str, np.ndarray]:
    """Native scikit-image arrays behind every test and validation image."""
    from skimage import data

    images = {**test_set(size=64), **validation_set(size=64)}
    names = set()
    for image in images.values():
        match = re.match(r"skimage\.data\.(\w+)", image.source)
        if match:
            names.add(match.group(1))
    assert {"grass", "chelsea", "brick", "stereo_motorcycle"} <= names  # the parse works
    arrays = {}
    for name in names:
        loaded = getattr(data, name)()
        for i, array in enumerate(loaded if isinstance(loaded, tuple) else (loaded,)):
            arrays[f"{name}[{i}]"] = np.asarray(array)
    return arrays


def test_wide_set_holds_no_evaluation_image():
    from skimage import data

    evaluation = _evaluation_skimage_arrays()
    for name in WIDE.skimage_images:
        mine = np.asarray(getattr(data, name)())
        same = [k for k, a in evaluation.items() if a.shape == mine.shape and (a == mine).all()]
        assert not same, f"training image {name} is the evaluation image {same}"
    # generated images: seeds apart from the validation (>= 100) and test (12) seeds
    seeds = [seed for _, _, seed in WIDE.textures] + list(WIDE.phantom_seeds)
    assert all(seed < 100 and seed != TEST_SEED for seed in seeds)
    # and no generated texture shares a validation texture's parameters
    validation_params = {("band_noise", 1.5), ("band_noise", 4.0), ("fractal_noise", 3.0)}
    assert not validation_params & {(kind, p) for kind, p, _ in WIDE.textures}


def test_wide_set_is_the_default_set_widened_and_deterministic():
    default = dict(training_images(training.TrainingConfig()))
    first = list(training_images(WIDE))
    second = dict(training_images(WIDE))
    assert set(default) < set(second)
    assert len(first) == len(WIDE.skimage_images) + 3 * len(WIDE.phantom_seeds) + len(WIDE_TEXTURES)
    for name, image in first:
        assert np.array_equal(image, second[name]), name
        assert image.min() == 0.0 and np.isclose(image.max(), 100.0), name
    # the database keeps about the default's size (rows per state scaled down)
    default_rows = len(default) * training.TrainingConfig().rows_per_state
    assert 0.8 < len(first) * WIDE.rows_per_state / default_rows < 1.2


def test_training_set_config_and_textures_name_bad_values():
    assert training_set_config("default") == dataclasses.replace(
        training.TrainingConfig(), training_set="default"
    )
    assert set(TRAINING_SETS) == {"default", "wide"}
    with pytest.raises(ValueError, match=r"'huge'.*default, wide"):
        training_set_config("huge")
    textures_only = dataclasses.replace(WIDE, skimage_images=(), phantom_sets=())
    for seed in (12, 100):
        config = dataclasses.replace(textures_only, textures=(("fibres", 14.0, seed),))
        with pytest.raises(ValueError, match=f"seed {seed}"):
            list(training_images(config))
    with pytest.raises(ValueError, match="'stripes'"):
        list(training_images(dataclasses.replace(textures_only, textures=(("stripes", 1.0, 0),))))


def test_tiny_fit_on_textures_gives_finite_erd():
    config = dataclasses.replace(
        WIDE,
        skimage_images=(),
        phantom_sets=(),
        textures=WIDE_TEXTURES[:2],
        masks_per_image=1,
        rows_per_state=200,
        max_iter=3,
        self_play_rounds=0,
    )
    model = train_model(config, validate=False)
    assert model.info_["images"] == ["band_noise-1-0", "band_noise-2.5-1"]
    assert model.info_["config"]["training_set"] == "wide"
    features = np.random.default_rng(0).uniform(0.0, 5.0, (50, 6))
    assert np.isfinite(model.predict(features)).all()


def test_train_command_refuses_wide_set_for_fast_classic(tmp_path, capsys):
    code = main(
        [
            "train",
            "--recipe",
            "fast-classic",
            "--training-set",
            "wide",
            "--out",
            str(tmp_path / "m.npz"),
        ]
    )
    assert code == 2
    assert "--training-set is for the default recipe" in capsys.readouterr().err


@pytest.mark.parametrize(("name", "power"), [("wide", 1.0), ("wide-l2", 2.0)])
def test_shipped_wide_models_are_the_wide_recipe(name, power):
    import json

    from fastscan.erd.estimator import default_model_path, load_model

    with np.load(default_model_path(name), allow_pickle=False) as stored:  # no pickle inside
        assert "header" in stored.files
    model = load_model(name)
    want = json.loads(json.dumps(dataclasses.asdict(WIDE)))  # tuples as lists
    assert model.info_["config"] == {**want, "error_power": power}
    assert model.info_["images"] == [n for n, _ in training_images(WIDE)]
    assert model.sha256 not in {load_model(other).sha256 for other in ("default", "l2")}
    features = np.abs(np.random.default_rng(1).normal(size=(200, 6))) * 5.0
    erd = model.predict(features)
    assert np.isfinite(erd).all() and (erd >= 0).all() and erd.std() > 0

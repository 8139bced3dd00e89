"""ERD training: FAST's recipe replayed, split by image, cross-validation by image."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest

from fastscan.erd import training
from fastscan.erd.classic import CLASSIC_CONFIG, ClassicConfig, classic_states, train_classic
from fastscan.erd.estimator import load_model
from fastscan.erd.training import (
    VALIDATION_IMAGES,
    TrainingConfig,
    cross_validate,
    image_groups,
    train_model,
    training_images,
    validation_images,
)

TINY_CLASSIC = ClassicConfig(
    image_shape=(40, 48),
    n_masks=3,
    max_iter=3,
    heldout_images=("coins",),
    heldout_phantoms=(("grains", (40, 40)),),
    heldout_rows=200,
)

TINY = TrainingConfig(
    skimage_images=("camera", "text"),
    phantom_sets=(("grains", (48, 48)), ("flakes", (40, 56))),
    phantom_seeds=(0, 1),
    masks_per_image=1,
    rows_per_state=150,
    max_iter=3,
    self_play_rounds=0,
)


def test_classic_states_follow_fasts_generator():
    # FAST's database on a 256 x 256 grid has 789,186 rows (Kandel et al.'s notebook,
    # 631,349 of them in the 80 % training split): the row count depends only on the masks
    states = list(classic_states((256, 256)))
    assert len(states) == 20
    n_rows = sum(int((~mask).sum()) for mask in states)
    assert n_rows == 789_186 and math.ceil(0.8 * n_rows) == 631_349
    masks, plus_one = states[0::2], states[1::2]
    for smaller, larger in itertools.pairwise(masks):
        assert (larger >= smaller).all() and larger.sum() > smaller.sum()  # nested
    for mask, extra in zip(masks, plus_one):
        assert (extra >= mask).all() and extra.sum() == mask.sum() + 1
    ratios = [mask.mean() for mask in masks]  # FAST's c = 2 ratios 0.040 ... 0.727
    assert abs(ratios[0] - 0.040) < 0.003 and abs(ratios[-1] - 0.727) < 0.005


def test_tiny_classic_training_is_reproducible_and_scored_on_unseen_images():
    first = train_classic(TINY_CLASSIC)
    second = train_classic(TINY_CLASSIC)
    assert first.sha256 == second.sha256 and first.info_ == second.info_
    info = first.info_
    assert info["n_train"] == math.ceil(0.8 * info["n_rows"])
    assert set(info["r2_by_image"]) == {"coins", "grains-0", "grains-1"}
    assert "camera" not in info["r2_by_image"]  # its own image is never the held-out figure
    assert all(np.isfinite(v) for v in info["r2_by_image"].values())
    params = first.get_params()
    assert params["feature_transform"] == "none" and params["sparsity_clip"] is None
    assert params["gamma"] == 0.01 and params["max_iter"] == 3
    # FAST's sparsity numerator follows the grid size (no clipping to the training grid)
    assert first.sparsity_numerator((600, 400)) > first.sparsity_numerator((256, 256))


def test_shipped_fast_classic_records_fasts_recipe():
    model = load_model("fast-classic")
    info = model.info_
    assert info["recipe"] == "fast-classic"
    assert info["config"] == json_like(dataclasses.asdict(CLASSIC_CONFIG))
    assert info["n_rows"] == 789_186 and info["n_train"] == 631_349
    assert model.get_params()["sparsity_clip"] is None
    assert model.get_params()["feature_transform"] == "none"
    assert 0 < info["r2_heldout_images"] < 1


def json_like(value):
    """Tuples become lists, as after a JSON round trip."""
    if isinstance(value, dict):
        return {k: json_like(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_like(v) for v in value]
    return value


def test_validation_images_are_never_training_images():
    config = TrainingConfig()
    train_names = {name for name, _ in training_images(config)}
    assert not set(VALIDATION_IMAGES) & set(config.skimage_images)
    names = [name for name, _ in validation_images(TINY)]
    assert not train_names & set(names) and not {n for n, _ in training_images(TINY)} & set(names)
    assert "grains-100" in names


def test_train_model_fits_every_training_row_and_scores_validation_images(monkeypatch):
    monkeypatch.setattr(training, "VALIDATION_IMAGES", ("page",))
    model = train_model(TINY)
    info = model.info_
    assert info["split"].startswith("by image")
    assert "r2_holdout" not in info  # no row split
    _features, targets = training.build_database(TINY)
    assert info["n_rows"] == len(targets)
    assert set(info["r2_by_validation_image"]) == {"page", "grains-100", "flakes-100"}
    assert np.isfinite(info["r2_validation_images"])


def test_cross_validation_holds_whole_images_and_phantom_families_out(monkeypatch):
    fitted_on = []
    real_fit = training._fit

    def spy(config, images, progress):
        fitted_on.append([name for name, _ in images])
        return real_fit(config, images, progress)

    monkeypatch.setattr(training, "_fit", spy)
    assert image_groups(TINY) == [
        ["camera"],
        ["text"],
        ["grains-0", "grains-1"],
        ["flakes-0", "flakes-1"],
    ]
    result = cross_validate(TINY, folds=2)
    assert len(result["folds"]) == 2 and len(fitted_on) == 2
    all_names = {n for n, _ in training_images(TINY)}
    held_total = []
    for fold, trained in zip(result["folds"], fitted_on):
        held = set(fold["held_out"])
        assert not held & set(trained) and held | set(trained) == all_names
        assert {"grains-0", "grains-1"} <= held or not {"grains-0", "grains-1"} & held
        held_total += fold["held_out"]
        assert np.isfinite(fold["r2"])
    assert sorted(held_total) == sorted(all_names)  # every image held out exactly once
    assert result["r2_mean"] == pytest.approx(np.mean([f["r2"] for f in result["folds"]]), abs=1e-4)
    with pytest.raises(ValueError, match="folds must be in"):
        cross_validate(TINY, folds=9)


def test_train_command_refuses_mixed_options(tmp_path, capsys):
    from fastscan.cli import main

    out = str(tmp_path / "m.npz")
    assert main(["train", "--recipe", "fast-classic", "--cross-validate", "2", "--out", out]) == 2
    assert "--cross-validate needs several training images" in capsys.readouterr().err
    assert main(["train", "--image", str(tmp_path / "x.tif"), "--out", out]) == 2
    assert "--image is for --recipe fast-classic" in capsys.readouterr().err
    assert main(["train", "--cross-validate", "2", "--install"]) == 2
    assert "writes nothing" in capsys.readouterr().err
    missing = str(tmp_path / "missing.tif")
    assert main(["train", "--recipe", "fast-classic", "--image", missing, "--out", out]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["train", "--error-power", "0.5", "--out", out]) == 2
    assert "--error-power must be a number >= 1" in capsys.readouterr().err
    assert main(["train", "--recipe", "fast-classic", "--error-power", "2", "--out", out]) == 2
    assert "--error-power is for the default recipe" in capsys.readouterr().err
    assert main(["train", "--self-play-from", "nope", "--out", out]) == 2
    assert "--self-play-from must be a shipped model" in capsys.readouterr().err
    assert main(["train", "--self-play-rounds", "-1", "--out", out]) == 2
    assert "--self-play-rounds must be >= 0, got -1" in capsys.readouterr().err
    assert main(["train", "--recipe", "fast-classic", "--self-play-from", "l2", "--out", out]) == 2
    assert "--self-play-from is for the default recipe" in capsys.readouterr().err
    assert not (tmp_path / "m.npz").exists()


def test_self_play_from_a_shipped_model_adds_its_scan_states():
    config = dataclasses.replace(
        TINY,
        skimage_images=(),
        phantom_sets=(("grains", (48, 48)),),
        phantom_seeds=(0,),
        rows_per_state=250,
    )
    start = dataclasses.replace(config, self_play_from="l2", self_play_coverages=(0.05, 0.2))
    model = train_model(start, validate=False)
    info = model.info_
    assert info["config"]["self_play_from"] == "l2"
    assert info["self_play_from_sha256"] == load_model("l2").sha256
    # one random mask plus the two states of l2's scan, rows_per_state rows each
    assert info["n_rows"] == 3 * config.rows_per_state
    assert train_model(config, validate=False).info_["n_rows"] == config.rows_per_state
    # the added states are what the sampler reaches with l2: coverage at the checkpoints
    from fastscan.erd.training import _sampler_masks, training_images

    _, image = next(iter(training_images(config)))
    masks = list(_sampler_masks(image, load_model("l2"), start, seed=0))
    assert len(masks) == 2
    assert 0.05 <= masks[0].mean() < 0.2 <= masks[1].mean() < 0.3
    with pytest.raises(ValueError, match=r"self_play_from must be a shipped model.*'nope'"):
        train_model(dataclasses.replace(config, self_play_from="nope"), validate=False)

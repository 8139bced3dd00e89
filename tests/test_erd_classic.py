"""fast-classic's training rows and fit, each against an independent reference."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from fastscan.erd.classic import (
    CLASSIC_CONFIG,
    _fit_as_fast,
    _state_pairs,
    classic_database,
    classic_states,
    fast_state_rows,
)
from fastscan.erd.estimator import ERDModel
from fastscan.erd.target import rd_target
from fastscan.features import compute_features
from fastscan.phantoms import make_phantom


def _percent(image: np.ndarray) -> np.ndarray:
    return (image - image.min()) * (100.0 / np.ptp(image))


def _brute_distances(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unmeasured pixels (row-major) and their sorted distances to every measured pixel."""
    pixels, measured = np.argwhere(~mask), np.argwhere(mask)
    gaps = pixels[:, None, :] - measured[None, :, :]
    return pixels, np.sort(np.sqrt((gaps.astype(float) ** 2).sum(-1)), axis=1)


def test_fast_state_rows_equal_the_slads_features_where_the_neighbours_are_unambiguous():
    # FAST's features by its own operations; where the 10 nearest measured pixels are one
    # set (10th distance < 11th), they must equal fastscan's SLADS features of the same mask
    image = _percent(make_phantom("grains", (36, 44), seed=3))
    mask = np.random.default_rng(5).random(image.shape) < 0.12
    pixels, features, recon = fast_state_rows(image, np.transpose(np.where(mask)))
    ref_pixels, ref_features, ref_recon = compute_features(mask, image)
    np.testing.assert_array_equal(pixels, ref_pixels)
    _, distances = _brute_distances(mask)
    clear = distances[:, 9] < distances[:, 10]
    assert 0.3 < clear.mean() < 1.0  # both kinds of pixel occur
    np.testing.assert_allclose(features[clear, :4], ref_features[clear, :4], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(features[:, 2:4], ref_features[:, 2:4], rtol=1e-12)  # distances
    np.testing.assert_allclose(
        recon[pixels[clear, 0], pixels[clear, 1]], ref_recon[pixels[clear, 0], pixels[clear, 1]]
    )
    # f5 = |dR/dcol|, f6 = |dR/drow| with numpy.gradient's conventions, on FAST's recon
    d_rows, d_cols = np.gradient(recon)
    np.testing.assert_array_equal(features[:, 4], np.abs(d_cols)[pixels[:, 0], pixels[:, 1]])
    np.testing.assert_array_equal(features[:, 5], np.abs(d_rows)[pixels[:, 0], pixels[:, 1]])
    np.testing.assert_array_equal(recon[mask], image[mask])


def test_classic_database_is_fasts_rows_state_by_state_with_the_extra_pixel_last():
    image = _percent(make_phantom("flakes", (30, 34), seed=1))
    config = dataclasses.replace(CLASSIC_CONFIG, n_masks=2)
    features, targets = classic_database(image, config)
    expected_f, expected_t = [], []
    for mask, plus_one, extra in _state_pairs(image.shape, config):
        assert (
            plus_one is not None and plus_one[extra[0], extra[1]] and not mask[extra[0], extra[1]]
        )
        base = np.transpose(np.where(mask))
        for order in (base, np.vstack([base, extra])):
            pixels, f, recon = fast_state_rows(image, order)
            expected_f.append(f)
            expected_t.append(rd_target(image, recon, pixels, f[:, 2], c=config.c))
    np.testing.assert_array_equal(features, np.concatenate(expected_f))
    np.testing.assert_array_equal(targets, np.concatenate(expected_t))
    states = list(classic_states(image.shape, config))
    assert len(features) == sum(int((~s).sum()) for s in states)


def test_plus_one_seed_changes_only_the_extra_pixels():
    shape = (40, 48)
    a = list(_state_pairs(shape, dataclasses.replace(CLASSIC_CONFIG, plus_one_seed=0)))
    b = list(_state_pairs(shape, dataclasses.replace(CLASSIC_CONFIG, plus_one_seed=1)))
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(a, b))  # the same 10 masks
    assert any(not np.array_equal(x[2], y[2]) for x, y in zip(a, b))


def test_fit_as_fast_is_scikit_learns_fit_on_fasts_dtypes():
    # FAST: RBFSampler lift in float64 stored as float32, float32-rounded targets in a float64
    # array (so the MLP's gradients are float64); the reference calls scikit-learn directly
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.kernel_approximation import RBFSampler
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(0)
    features = rng.random((600, 6)) * [20, 60, 8, 200, 30, 30]
    targets = features[:, 0] * 7 + rng.random(600) * 50
    model = ERDModel(max_iter=3, gamma=0.01)
    _fit_as_fast(model, features, targets)
    lift = RBFSampler(gamma=0.01, n_components=50, random_state=1).fit_transform(features)
    mlp = MLPRegressor(hidden_layer_sizes=(50, 5), max_iter=3, random_state=1, batch_size=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(lift.astype(np.float32), targets.astype(np.float32).astype(np.float64))
    assert mlp._optimizer.ms[0].dtype == np.float64  # FAST's pickled optimiser has these
    for ours, ref in zip(model.coefs_ + model.intercepts_, mlp.coefs_ + mlp.intercepts_):
        np.testing.assert_array_equal(ours, ref)
    assert model.loss_curve_ == pytest.approx(mlp.loss_curve_, rel=0, abs=0)
    np.testing.assert_allclose(
        model.predict(features), np.maximum(mlp.predict(lift), 0), 1e-5, 1e-3
    )


def test_train_command_checks_the_plus_one_seed(tmp_path, capsys):
    from fastscan.cli import main

    out = str(tmp_path / "m.npz")
    assert main(["train", "--plus-one-seed", "1", "--out", out]) == 2
    assert "--plus-one-seed is for --recipe fast-classic" in capsys.readouterr().err
    assert main(["train", "--recipe", "fast-classic", "--plus-one-seed", "-1", "--out", out]) == 2
    assert "--plus-one-seed must be >= 0, got -1" in capsys.readouterr().err
    assert not (tmp_path / "m.npz").exists()

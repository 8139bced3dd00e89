"""Synthetic validation textures (fastscan.compare.textures): seeded, in range, texture-like."""

from __future__ import annotations

import numpy as np
import pytest

from fastscan._structure import GINI_TEXTURE, gradient_gini
from fastscan.compare import textures
from fastscan.compare.imagesets import test_set, validation_set
from fastscan.patterns import halton_points
from fastscan.reconstruction import idw_reconstruction

SHAPE = (48, 64)
MAKERS = {
    "band_noise": lambda seed: textures.band_noise(SHAPE, 1.5, seed),
    "fractal_noise": lambda seed: textures.fractal_noise(SHAPE, 3.0, seed),
    "voronoi_cells": lambda seed: textures.voronoi_cells(SHAPE, 25, seed),
    "fibres": lambda seed: textures.fibres(SHAPE, seed),
}
NEW = ("gravel-crop", "brick-crop", "noise-fine", "noise-coarse", "fractal", "voronoi", "fibres")


@pytest.mark.parametrize("name", list(MAKERS))
def test_texture_is_seeded_and_spans_0_to_100(name):
    make = MAKERS[name]
    first, again, other = make(100), make(100), make(101)
    assert first.shape == SHAPE and first.dtype == np.float64
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert first.min() == 0.0 and first.max() == pytest.approx(100.0)
    assert first.std() > 5.0, f"{name} is nearly flat"


def test_bad_texture_arguments_are_named():
    with pytest.raises(ValueError, match="shape must be"):
        textures.band_noise((4, 64), 1.0, 0)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        textures.band_noise(SHAPE, 0.0, 0)


def test_new_validation_textures_are_in_the_texture_band_and_not_test_images():
    images = validation_set(size=128, names=NEW)
    assert list(images) == list(NEW) and not set(images) & set(test_set(size=32))
    for name in ("noise-fine", "noise-coarse", "fractal", "voronoi", "fibres"):
        truth = images[name].truth
        assert images[name].kind == "texture" and truth.shape == (96, 128)
        points = halton_points(truth.shape, 123, seed=0)  # the sampler's 1 % start
        values = truth[points[:, 0], points[:, 1]]
        recon = idw_reconstruction(truth.shape, points, values, k=10)
        gini = gradient_gini(recon[None], np.array([100.0 / np.ptp(values)]), np.ones(1))
        assert gini < GINI_TEXTURE, (name, gini)  # the sampler's texture mode

"""The stop-check validation set (stop1ms24: noise-free images nothing was chosen on)."""

from __future__ import annotations

import numpy as np
import pytest

from fastscan.compare.imagesets import (
    SET_NAMES,
    image_set,
    noisy_check_set,
    noisy_set,
    sparse_set,
    stop_check_set,
    test_set,
    validation_set,
)

SIZE = 64
NAMES = [
    *(f"xrf-{e}-{seed}" for seed in range(1004, 1009) for e in ("ti", "cu")),
    *(f"{p}-{seed}" for p in ("particles", "flakes") for seed in (101, 102, 103)),
]


def test_stop_check_set_is_noise_free_and_apart_from_every_noise_free_set():
    check, again = stop_check_set(size=SIZE), image_set("stop-check", SIZE)
    assert list(check) == NAMES == list(again) and "stop-check" in SET_NAMES
    noise_free = {**test_set(size=SIZE), **validation_set(size=SIZE), **sparse_set(size=SIZE)}
    assert not set(check) & set(noise_free)
    for name, image in check.items():
        assert np.array_equal(image.truth, again[name].truth), name
        assert image.noise == "none" and not image.truth.flags.writeable, name
        assert image.truth.shape == (48, 64) and "seed 12" not in image.source, name
        for other in noise_free.values():  # no image of another set, the test set's included
            assert image.truth.shape != other.truth.shape or not np.allclose(
                np.corrcoef(image.truth.ravel(), other.truth.ravel())[0, 1], 1.0
            ), (name, other.name)
    # the counts sets' xrf maps of the same name are these truths as Poisson counts
    counts = {**noisy_set(size=SIZE), **noisy_check_set(size=SIZE)}
    for name in set(check) & set(counts):
        assert counts[name].noise == "poisson", name
        np.testing.assert_array_equal(counts[name].truth, check[name].truth)
    assert set(check) & set(counts) == {"xrf-ti-1004", "xrf-ti-1005", "xrf-cu-1006"}


def test_stop_check_set_names_an_unknown_image():
    with pytest.raises(ValueError, match="unknown image 'blobs'"):
        stop_check_set(size=SIZE, names=("blobs",))

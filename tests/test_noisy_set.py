"""The noisy validation set (issue 12: Poisson counts) and the ERD's noise cost on counts."""

from __future__ import annotations

import numpy as np

import fastscan.sampler as sampler_module
from fastscan import Sampler
from fastscan.compare.imagesets import (
    image_set,
    noisy_check_set,
    noisy_set,
    sparse_set,
    test_set,
    validation_set,
)
from fastscan.phantoms import make_phantom

SIZE = 64
NAMES = {
    "flakes-100-c100", "particles-100-c100", "grains-100-c100", "clock-c100",
    "flakes-101-c25", "grains-101-c25", "cell-c25", "xrf-ti-1004",
}  # fmt: skip


def test_noisy_set_is_deterministic_poisson_counts_and_shares_no_image():
    first, second = noisy_set(size=SIZE), image_set("noisy", SIZE)
    assert set(first) == NAMES and list(first) == list(second)
    others = {**test_set(size=SIZE), **validation_set(size=SIZE), **sparse_set(size=SIZE)}
    assert not set(first) & set(others)
    for name, image in first.items():
        assert np.array_equal(image.truth, second[name].truth), name
        assert not image.truth.flags.writeable and image.noise == "poisson", name
        assert "seed 12" not in image.source, name  # the test generators' seed
        for other in test_set(size=SIZE).values():  # no test image, as counts or not
            assert image.truth.shape != other.truth.shape or not np.allclose(
                np.corrcoef(image.truth.ravel(), other.truth.ravel())[0, 1], 1.0
            ), (name, other.name)
        peak = 25.0 if name.endswith("-c25") else 100.0
        assert np.isclose(image.truth.max(), peak), name
        if name != "xrf-ti-1004":  # the test lowcount's mapping: peak / 25 to peak counts
            assert np.isclose(image.truth.min(), peak / 25.0), name
    # readings are seeded Poisson draws: integers, repeatable, different per seed
    image = first["cell-c25"]
    points = np.argwhere(np.ones(image.truth.shape, bool))[::7]
    one, again = image.detector(1).measure(points), image.detector(1).measure(points)
    assert np.array_equal(one, again) and np.array_equal(one, np.round(one))
    assert not np.array_equal(one, image.detector(2).measure(points))


CHECK_NAMES = {
    "flakes-102-c25", "particles-101-c25", "particles-102-c100", "grains-102-c25",
    "flakes-103-c100", "brick-c25", "hubble_deep_field-c100", "page-c25", "xrf-ti-1005",
    "xrf-cu-1006",
}  # fmt: skip


def test_noisy_check_set_is_poisson_counts_apart_from_every_other_set():
    check, again = noisy_check_set(size=SIZE), image_set("noisy-check", SIZE)
    assert set(check) == CHECK_NAMES and list(check) == list(again)
    others = {
        **noisy_set(size=SIZE),
        **test_set(size=SIZE),
        **validation_set(size=SIZE),
        **sparse_set(size=SIZE),
    }
    assert not set(check) & set(others)
    for name, image in check.items():
        assert np.array_equal(image.truth, again[name].truth), name
        assert image.noise == "poisson" and "seed 12" not in image.source, name
        peak = 25.0 if name.endswith("-c25") else 100.0
        assert np.isclose(image.truth.max(), peak), name
        # no test image, and none of the noisy set, as counts or not (validation
        # images as counts are the point: brick-c25 is brick)
        for other in {**test_set(size=SIZE), **noisy_set(size=SIZE)}.values():
            assert image.truth.shape != other.truth.shape or not np.allclose(
                np.corrcoef(image.truth.ravel(), other.truth.ravel())[0, 1], 1.0
            ), (name, other.name)


def scan(image: np.ndarray, poisson: bool, **kwargs) -> np.ndarray:
    rng = np.random.default_rng(0)
    sampler = Sampler(image.shape, batch_size=40, seed=0, max_coverage=0.25, **kwargs)
    while len(points := sampler.suggest()):
        truth = image[points[:, 0], points[:, 1]]
        sampler.ingest(points, rng.poisson(truth).astype(float) if poisson else truth)
    return sampler.measured_points


def test_noise_cost_acts_on_low_counts_only(monkeypatch):
    """The noise cost (on by default: COUNT_NOISE_COST) changes a low-count scan past the
    late switch, and nothing else; None follows COUNT_NOISE_COST."""
    phantom = make_phantom("flakes", (48, 64), seed=3)
    low = 1.0 + 24.0 * phantom  # low Poisson counts: the cost changes the scan
    default = scan(low, True)
    assert np.array_equal(default, scan(low, True, noise_cost=sampler_module.COUNT_NOISE_COST))
    assert not np.array_equal(default, scan(low, True, noise_cost=0.0))
    monkeypatch.setattr(sampler_module, "COUNT_NOISE_COST", 0.0)  # the module default, off
    assert np.array_equal(scan(low, True), scan(low, True, noise_cost=0.0))
    monkeypatch.undo()
    high = np.round(5e4 * phantom)  # integer counts over a range above COUNT_NOISE_MAX_RANGE
    floats = 100.0 * phantom + 0.5  # not counts
    for image in (high, floats):
        assert np.array_equal(scan(image, False), scan(image, False, noise_cost=0.0))

"""The sparse validation set (flat background, spread structure) and fast-fly's erd_floor."""

from __future__ import annotations

import numpy as np
import pytest
from honesty import assert_honest_scan

from fastscan.compare.imagesets import image_set, sparse_set, test_set, validation_set
from fastscan.fly import FlySampler
from fastscan.motion import NANOPROBE
from fastscan.replay import SimulatedDetector

SIZE = 64
MOTION = NANOPROBE.replace(dwell=0.01)
NAMES = {
    "blobs-100", "blobs-101", "blobs-102", "xrf-cu-1001", "xrf-cu-1002", "xrf-cu-1003",
    "coffee-disk", "hubble-disk",
}  # fmt: skip


def run(sampler: FlySampler, detector, max_decisions: int = 400) -> None:
    for _ in range(max_decisions):
        segments = [] if sampler.should_stop() else sampler.suggest_segments()
        if not segments:
            return
        for segment in segments:
            points = segment.pixels()
            sampler.ingest(points, detector.measure(points))


def test_sparse_set_is_deterministic_flat_background_and_shares_no_image():
    first, second = sparse_set(size=SIZE), image_set("sparse", SIZE)
    assert set(first) == NAMES and list(first) == list(second)
    assert not set(first) & set(test_set(size=SIZE))
    assert not set(first) & set(validation_set(size=SIZE))
    for name, image in first.items():
        assert np.array_equal(image.truth, second[name].truth), name
        assert not image.truth.flags.writeable and image.noise == "none"
        assert 0.0 <= image.truth.min() and image.truth.max() <= 100.0, name
        assert image.truth.std() > 0.5, f"{name} is flat"
        assert (image.truth < 5.0).mean() > 0.1, f"{name} has no flat background"
        assert "seed 12" not in image.source, name  # the test generators' seed
    # three different particle fields, none the test set's blobs (seed 12)
    blobs = [first[f"blobs-{s}"].truth for s in (100, 101, 102)]
    test_blobs = test_set(size=SIZE, names=("blobs",))["blobs"].truth
    for i, b in enumerate(blobs):
        assert b.shape == test_blobs.shape and not np.array_equal(b, test_blobs)
        assert not np.array_equal(b, blobs[i - 1])


def test_disk_images_have_black_corners_and_the_photo_inside():
    images = sparse_set(size=128, names=("coffee-disk", "hubble-disk"))
    for name, image in images.items():
        truth = image.truth
        n_rows, n_cols = truth.shape
        for r, c in ((0, 0), (0, n_cols - 1), (n_rows - 1, 0), (n_rows - 1, n_cols - 1)):
            assert truth[r, c] == 0.0, (name, r, c)
        rows, cols = np.indices(truth.shape)
        centre = np.hypot(rows - (n_rows - 1) / 2, cols - (n_cols - 1) / 2) < 0.3 * n_rows
        assert truth[centre].std() > 1.0, name  # structure inside the disk


def test_fly_sampler_erd_floor_off_leaves_a_flat_half_and_on_explores_it():
    truth = np.zeros((48, 64))
    truth[4:14, 6:20] = 100.0  # one particle in the top half; the bottom half is flat
    # (the default at this dwell is the measured floor, tests/test_fly_floor_auto.py)
    assert FlySampler(truth.shape, motion=MOTION).get_params()["erd_floor"] == "auto"
    runs = {}
    for level in (0.0, 2.0):
        fs = FlySampler(truth.shape, motion=MOTION, max_coverage=0.5, seed=0, erd_floor=level)
        detector = SimulatedDetector(truth)
        run(fs, detector)
        assert_honest_scan(fs, detector, MOTION)
        assert fs.get_params()["erd_floor"] == level
        runs[level] = fs
    off, on = runs[0.0], runs[2.0]
    # without the floor the flat half keeps an ERD of zero and only its coarse lines;
    # with it no unmeasured pixel is worth nothing, and the flat half is refined too
    assert (off.erd[~off.measured_mask] == 0).any()
    assert (on.erd[~on.measured_mask] > 0).all()
    coarse = off.measured_mask[24:].all(axis=1)
    assert off.measured_mask[24:][~coarse].sum() == 0
    assert on.measured_mask[24:].sum() > off.measured_mask[24:].sum()


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "a", True])
def test_fly_sampler_bad_erd_floor_is_named(bad):
    with pytest.raises(ValueError, match="erd_floor must be a finite number >= 0"):
        FlySampler((32, 32), erd_floor=bad)

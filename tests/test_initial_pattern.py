"""The initial pattern on the nested lattice (``initial_pattern``) and its lattice helpers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.spatial import cKDTree

from fastscan import Sampler
from fastscan._lattice import lattice_levels, lattice_points, snap_to_lattice
from fastscan.patterns import halton_points

SHAPE = (48, 64)


def test_lattice_points_are_the_coarsest_level_that_holds_n():
    levels = lattice_levels(SHAPE)
    counts = {int(k): int((levels <= k).sum()) for k in np.unique(levels)}
    for n in (1, 20, 31, 154, 155, 600):
        points = lattice_points(SHAPE, n)
        level = int(levels[points[:, 0], points[:, 1]].max())
        assert len(points) == counts[level] >= n  # the whole level, nested
        assert len(np.unique(points, axis=0)) == len(points)
        coarser = [k for k in counts if k < level]
        assert not coarser or counts[max(coarser)] < n  # and no coarser level holds n
    assert len(lattice_points(SHAPE, SHAPE[0] * SHAPE[1])) == SHAPE[0] * SHAPE[1]
    with pytest.raises(ValueError, match="number of points"):
        lattice_points(SHAPE, SHAPE[0] * SHAPE[1] + 1)


def test_snap_to_lattice_moves_each_point_to_the_nearest_lattice_pixel():
    points = halton_points(SHAPE, 300, seed=3)
    snapped = snap_to_lattice(points, SHAPE, level=0)
    levels = lattice_levels(SHAPE)
    lattice = np.argwhere(levels <= 0)
    assert (levels[snapped[:, 0], snapped[:, 1]] <= 0).all()
    # brute force: no lattice pixel is nearer than the one chosen
    distances = np.linalg.norm(points[:, None, :] - lattice[None, :, :], axis=2)
    np.testing.assert_allclose(np.linalg.norm(points - snapped, axis=1), distances.min(1))
    assert np.abs(points - snapped).max() <= np.sqrt(1 / 0.05)  # within one raster step


@pytest.mark.parametrize("seed", [0, 5])
def test_halton_on_lattice_initial_pattern(seed):
    sampler = Sampler(SHAPE, seed=seed, initial_pattern="halton-lattice")
    initial = sampler.suggest()
    plain = Sampler(SHAPE, seed=seed).suggest()
    assert len(initial) == len(plain) == len(np.unique(initial, axis=0))
    assert (lattice_levels(SHAPE)[initial[:, 0], initial[:, 1]] <= 0).all()  # on the 5 % raster
    # still spread like the seeded Halton pattern: every point near one of Halton's
    halton = halton_points(SHAPE, 4 * len(initial), seed=seed)
    assert cKDTree(halton).query(initial)[0].max() <= np.sqrt(1 / 0.05)
    other = Sampler(SHAPE, seed=seed + 1, initial_pattern="halton-lattice").suggest()
    assert {tuple(p) for p in other.tolist()} != {tuple(p) for p in initial.tolist()}


def test_lattice_initial_pattern_is_the_coarse_lattice():
    sampler = Sampler(SHAPE, seed=0, initial_pattern="lattice")
    initial = sampler.suggest()
    expected = lattice_points(SHAPE, int(round(0.01 * SHAPE[0] * SHAPE[1])))
    assert {tuple(p) for p in initial.tolist()} == {tuple(p) for p in expected.tolist()}


def test_bad_initial_pattern():
    with pytest.raises(ValueError, match=r"initial_pattern.*'sobol'"):
        Sampler(SHAPE, initial_pattern="sobol")


def test_state_files_without_the_knob_load_as_halton(tmp_path):
    image = np.add.outer(np.arange(SHAPE[0]), np.arange(SHAPE[1])).astype(float)
    sampler = Sampler(SHAPE, seed=1, initial_pattern="halton", change_tolerance=None)
    for _ in range(2):
        points = sampler.suggest()
        sampler.ingest(points, image[points[:, 0], points[:, 1]])
    path = sampler.save(tmp_path / "state.npz")
    with np.load(path) as stored:
        arrays = dict(stored)
    header = json.loads(str(arrays["header"]))
    del header["params"]["initial_pattern"]  # as written before the knob existed
    arrays["header"] = np.array(json.dumps(header))
    np.savez(tmp_path / "old.npz", **arrays)
    loaded = Sampler.load(tmp_path / "old.npz")
    assert loaded.initial_pattern == "halton"
    np.testing.assert_array_equal(loaded.suggest(), sampler.suggest())

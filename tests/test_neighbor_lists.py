"""Stored neighbour lists (fastscan._neighbor_lists) against brute force and the sampler."""

from __future__ import annotations

import numpy as np
import pytest

import fastscan._threads as threads_module
from fastscan import Sampler, _update
from fastscan._neighbor_lists import NeighborLists
from fastscan.features import feature_radius, idw_estimate, slads_features
from fastscan.neighbors import knn_gather
from fastscan.phantoms import make_phantom
from fastscan.reconstruction import idw_reconstruction


def knn_reference(mask, pixels, k):
    """Brute force: sort by squared distance, then row offset, then col offset."""
    m_rows, m_cols = np.nonzero(mask)
    out = [np.zeros((len(pixels), k), np.int64) for _ in range(2)] + [np.zeros((len(pixels), k))]
    for i, (r, c) in enumerate(pixels):
        d_row, d_col = m_rows - r, m_cols - c
        d2 = d_row * d_row + d_col * d_col
        keep = d2 > 0
        order = np.lexsort((d_col[keep], d_row[keep], d2[keep]))[:k]
        out[0][i] = m_rows[keep][order]
        out[1][i] = m_cols[keep][order]
        out[2][i] = np.sqrt(d2[keep][order])
    return tuple(out)


def tile_bounds(mask, dk, tile):
    bound = np.zeros((-(-mask.shape[0] // tile), -(-mask.shape[1] // tile)))
    return _update.tile_dk_max(mask, dk, tile, bound)


@pytest.mark.parametrize("split_rows", [10**9, 2])  # two bands merged on one or two threads
@pytest.mark.parametrize(("shape", "fraction", "k"), [((31, 43), 0.05, 4), ((50, 40), 0.02, 10)])
def test_merging_new_points_equals_a_fresh_search(monkeypatch, shape, fraction, k, split_rows):
    monkeypatch.setattr(threads_module, "MIN_ROWS", split_rows)
    monkeypatch.setattr(threads_module, "MAX_LOAD_PER_CORE", float("inf"))  # even when busy
    rng = np.random.default_rng(5)
    mask = rng.random(shape) < fraction
    mask[:3, :3] = True  # a clump: equal distances must keep the search's tie order
    mask[-1, -1] = True
    pixels = np.argwhere(~mask)
    lists = NeighborLists(shape, k)
    nbr = knn_reference(mask, pixels, k)
    lists.store(pixels, nbr[0], nbr[1])
    assert lists.valid_of(pixels).all()
    for got, want in zip(lists.gather(pixels), nbr):
        np.testing.assert_array_equal(got, want)
    dk = np.zeros(shape)
    dk[pixels[:, 0], pixels[:, 1]] = nbr[2][:, -1]
    for step in range(3):
        unmeasured = np.argwhere(~mask)
        new = unmeasured[rng.choice(len(unmeasured), 12, replace=False)]
        new[0] = unmeasured[0] if step else (1, 3)  # next to the clump: ties
        new = np.unique(new, axis=0)
        repeat = np.argwhere(mask)[:3]  # measured pixels whose value moved: no new neighbour
        changed = np.concatenate([new, repeat])
        is_new = np.arange(len(changed)) < len(new)
        bound = tile_bounds(mask, dk, 8)
        mask[new[:, 0], new[:, 1]] = True
        dk[new[:, 0], new[:, 1]] = 0.0
        touched = np.zeros(shape, bool)
        want_affected = _update.affected_pixels(mask, dk, bound, 8, changed, touched)
        got = lists.affected_merge(mask, dk, bound, 8, changed, is_new, touched)
        # the same pixels: those above the changed pixels' median row first, each band
        # in the search's order
        above = want_affected[:, 0] < int(np.median(changed[:, 0]))
        assert 0 < above.sum() < len(above)
        want_order = np.concatenate([want_affected[above], want_affected[~above]])
        np.testing.assert_array_equal(got, want_order)
        assert not touched.any()
        rest = np.argwhere(~mask)
        want = knn_reference(mask, rest, k)
        for a, b in zip(lists.gather(rest), want):
            np.testing.assert_array_equal(a, b)
        dk[rest[:, 0], rest[:, 1]] = want[2][:, -1]


def test_a_neighbour_beyond_int8_offsets_invalidates_the_list():
    mask = np.zeros((3, 300), bool)
    mask[:, :2] = True
    mask[:, -2:] = True
    pixels = np.array([[1, 2], [1, 150]])
    lists = NeighborLists(mask.shape, 3)
    nbr = knn_gather(mask, pixels, 3)
    lists.store(pixels, nbr[0], nbr[1])
    assert lists.valid_of(pixels).tolist() == [True, False]
    # a new point that belongs to a valid list but lies too far for an int8 offset
    lists.store(np.array([[1, 200]]), np.array([[1, 1, 1]]), np.array([[298, 299, 297]]))
    dk = np.zeros(mask.shape)
    dk[1, 200] = 98.0  # (the stored list above is made up; only its k-th distance matters)
    mask[1, 60] = True
    touched = np.zeros(mask.shape, bool)
    bound = tile_bounds(mask, dk, 16)
    got = lists.affected_merge(mask, dk, bound, 16, np.array([[1, 60]]), np.array([True]), touched)
    assert [1, 200] not in got.tolist() and lists.valid_of(np.array([[1, 200]])).tolist() == [True]
    dk[1, 200] = 150.0
    bound = tile_bounds(mask, dk, 16)
    got = lists.affected_merge(mask, dk, bound, 16, np.array([[1, 60]]), np.array([True]), touched)
    assert [1, 200] in got.tolist() and lists.valid_of(np.array([[1, 200]])).tolist() == [False]


def test_sampler_with_far_neighbours_and_a_reload_stays_exact(tmp_path):
    """A sparse start on a long grid (neighbours beyond int8 offsets: searched) and a
    sampler loaded from a file (no lists yet) update exactly like a fresh sampler."""
    image = make_phantom("particles", (16, 700), seed=3)
    kwargs = {"batch_size": 20, "seed": 1, "initial_fraction": 0.001, "change_tolerance": None}
    sampler = Sampler(image.shape, **kwargs)
    first = sampler.suggest()
    sampler.ingest(first, image[first[:, 0], first[:, 1]])
    assert not sampler._lists.valid.all()  # some lists hold a neighbour > 127 columns away
    for step in range(6):
        if step == 3:
            sampler = Sampler.load(sampler.save(tmp_path / "state.npz"))
        points = sampler.suggest()
        sampler.ingest(points, image[points[:, 0], points[:, 1]])
    fresh = Sampler(image.shape, **kwargs)
    for points, values in zip(sampler._log_points, sampler._log_values):
        fresh.ingest(points, values)
    mask = sampler.measured_mask
    pixels = np.argwhere(~mask)
    dist = knn_reference(mask, pixels, sampler.k)[2]
    np.testing.assert_array_equal(sampler._dk[~mask], dist[:, -1])
    recon = idw_reconstruction(image.shape, sampler.measured_points, sampler.measured_values)
    np.testing.assert_array_equal(sampler.reconstruction, recon)
    np.testing.assert_array_equal(sampler.reconstruction, fresh.reconstruction)
    np.testing.assert_allclose(sampler.erd, fresh.erd, rtol=2e-5, atol=1e-6)


def test_update_from_lists_equals_the_search_based_kernels():
    shape, k = (30, 37), 6
    rng = np.random.default_rng(11)
    mask = rng.random(shape) < 0.08
    mask[0, 0] = mask[-1, -1] = True
    values = np.where(mask, rng.normal(10.0, 3.0, shape), 0.0)
    pixels = np.argwhere(~mask)
    nbr = knn_reference(mask, pixels, k)
    lists = NeighborLists(shape, k)
    lists.store(pixels, nbr[0], nbr[1])
    want_recon = values.copy()
    want_recon[pixels[:, 0], pixels[:, 1]] = idw_estimate(values, *nbr)
    rho, scale, area = feature_radius(shape), 2.5, 40.0
    want = slads_features(
        values, want_recon, pixels, *nbr, rho=rho, scale=scale, sparsity_area=area
    )
    recon = values.copy()
    recon[pixels[:, 0], pixels[:, 1]] = rng.normal(size=len(pixels))  # stale estimates
    old = recon.copy()
    dk = np.zeros(shape)
    change, features = lists.update(
        values, recon, dk, pixels, rho=rho, scale=scale, sparsity_area=area
    )
    np.testing.assert_array_equal(recon, want_recon)
    np.testing.assert_array_equal(dk[pixels[:, 0], pixels[:, 1]], nbr[2][:, -1])
    np.testing.assert_array_equal(features, want)
    assert change == pytest.approx(np.abs(recon - old).sum(), rel=1e-12)

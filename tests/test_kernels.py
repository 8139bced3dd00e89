"""Each Numba kernel of the core against a plain NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest

from fastscan import _update
from fastscan.erd.target import rd_target
from fastscan.features import feature_radius, idw_estimate, slads_features
from fastscan.neighbors import CellIndex, OffsetTable, knn_gather
from fastscan.selection import TileMax, select_batch


def random_mask(shape, fraction, seed):
    rng = np.random.default_rng(seed)
    mask = rng.random(shape) < fraction
    mask[0, 0] = mask[-1, -1] = True
    return mask


def knn_reference(mask, pixels, k):
    """Brute force: sort by squared distance, then row offset, then col offset."""
    m_rows, m_cols = np.nonzero(mask)
    rows, cols, dists = [], [], []
    for r, c in pixels:
        keys = [
            ((mr - r) ** 2 + (mc - c) ** 2, mr - r, mc - c, mr, mc)
            for mr, mc in zip(m_rows, m_cols)
            if (mr, mc) != (r, c)
        ]
        keys.sort()
        rows.append([key[3] for key in keys[:k]])
        cols.append([key[4] for key in keys[:k]])
        dists.append([np.sqrt(key[0]) for key in keys[:k]])
    return np.array(rows), np.array(cols), np.array(dists)


# radius 2: most queries reach beyond the table; more than 16 of them go to a CellIndex,
# fewer to the brute-force loop
@pytest.mark.parametrize(("radius", "step"), [(None, 3), (2, 3), (2, 60)])
def test_knn_matches_brute_force(radius, step):
    mask = random_mask((23, 31), 0.08, seed=1)
    pixels = np.argwhere(~mask)[::step]
    table = None if radius is None else OffsetTable(radius)
    got = knn_gather(mask, pixels, 5, table)
    want = knn_reference(mask, pixels, 5)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(got[2], want[2])


def test_knn_needs_enough_points():
    mask = np.zeros((5, 5), bool)
    mask[0, 0] = True
    with pytest.raises(ValueError, match="need at least k"):
        knn_gather(mask, np.array([[1, 1]]), k=3)


def test_idw_matches_formula():
    rng = np.random.default_rng(2)
    mask = random_mask((20, 20), 0.2, seed=2)
    values = rng.normal(size=(20, 20))
    pixels = np.argwhere(~mask)
    rows, cols, dist = knn_gather(mask, pixels, 4)
    weights = dist**-2.0
    want = (weights * values[rows, cols]).sum(1) / weights.sum(1)
    np.testing.assert_allclose(idw_estimate(values, rows, cols, dist), want, rtol=1e-12)


def test_features_match_numpy_reference():
    rng = np.random.default_rng(3)
    shape = (18, 26)
    mask = random_mask(shape, 0.15, seed=3)
    values = rng.uniform(0, 50, size=shape)
    pixels = np.argwhere(~mask)
    rows, cols, dist = knn_gather(mask, pixels, 6)
    recon = np.where(mask, values, 0.0)
    recon[pixels[:, 0], pixels[:, 1]] = idw_estimate(values, rows, cols, dist)
    rho = feature_radius(shape)
    got = slads_features(values, recon, pixels, rows, cols, dist, rho=rho, scale=2.0)

    estimate = recon[pixels[:, 0], pixels[:, 1]][:, None]
    dev = values[rows, cols] - estimate
    weights = dist**-2.0 / (dist**-2.0).sum(1, keepdims=True)
    grad_row, grad_col = np.gradient(recon)
    want = np.stack(
        [
            2.0 * (weights * np.abs(dev)).sum(1),
            2.0 * np.sqrt((dev**2).sum(1)),
            dist[:, 0],
            (1 + np.pi * rho**2) / (1 + (dist <= rho).sum(1)),
            2.0 * np.abs(grad_col[pixels[:, 0], pixels[:, 1]]),
            2.0 * np.abs(grad_row[pixels[:, 0], pixels[:, 1]]),
        ],
        1,
    )
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("power", [1.0, 2.0, 3.5])
def test_rd_target_matches_numpy_reference(power):
    rng = np.random.default_rng(4)
    truth, recon = rng.random((15, 17)), rng.random((15, 17))
    pixels = np.array([[0, 0], [7, 8], [14, 16], [3, 12]])
    d1 = np.array([1.0, 2.5, 1.4, 4.0])
    c = 2.0
    got = rd_target(truth, recon, pixels, d1, c=c, power=power)
    error = np.abs(truth - recon) ** power
    r_grid, c_grid = np.mgrid[0:15, 0:17]
    want = []
    for (r, col), d in zip(pixels, d1):
        sigma = d / c
        side = int(np.ceil(6 * sigma)) + 1
        half = (side + (side % 2 == 0)) // 2
        inside = (np.abs(r_grid - r) <= half) & (np.abs(c_grid - col) <= half)
        gauss = np.exp(-((r_grid - r) ** 2 + (c_grid - col) ** 2) / (2 * sigma**2))
        want.append((gauss * error * inside).sum() ** (1.0 / power))
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_rd_target_rejects_bad_input():
    with pytest.raises(ValueError, match="c must be > 0"):
        rd_target(np.zeros((4, 4)), np.zeros((4, 4)), np.array([[1, 1]]), np.array([1.0]), c=0)
    with pytest.raises(ValueError, match="d1 must be > 0"):
        rd_target(np.zeros((4, 4)), np.zeros((4, 4)), np.array([[1, 1]]), np.array([0.0]))
    for power in (0.5, np.nan):
        with pytest.raises(ValueError, match="power must be a finite number >= 1"):
            rd_target(
                np.zeros((4, 4)), np.zeros((4, 4)), np.array([[1, 1]]), np.ones(1), power=power
            )


def selection_inputs(seed):
    rng = np.random.default_rng(seed)
    mask = random_mask((40, 50), 0.05, seed=seed)
    erd = np.where(mask, -1.0, rng.random((40, 50)))
    table = OffsetTable(12)
    return mask, erd, table


def test_select_without_spread_is_top_n_and_restores_erd():
    mask, erd, table = selection_inputs(5)
    before = erd.copy()
    tiles = TileMax(erd, tile=8)
    got = select_batch(
        tiles, mask, 30, spread=0.0, offsets=table.offsets, offset_dist=table.distances
    )
    flat = np.argsort(-before, axis=None, kind="stable")[:30]
    want = np.stack(np.unravel_index(flat, before.shape), 1)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(erd, before)
    np.testing.assert_array_equal(tiles.maxima, TileMax(before.copy(), tile=8).maxima)


def test_select_with_spread_never_picks_measured_or_twice():
    mask, erd, table = selection_inputs(6)
    before = erd.copy()
    tiles = TileMax(erd, tile=8)
    got = select_batch(
        tiles, mask, 200, spread=0.5, offsets=table.offsets, offset_dist=table.distances
    )
    assert len(got) == 200
    assert not mask[got[:, 0], got[:, 1]].any()
    assert len({tuple(p) for p in got.tolist()}) == 200
    np.testing.assert_array_equal(erd, before)
    # the first pick is always the global maximum
    assert before[tuple(got[0])] == before.max()


def test_select_spread_declumps():
    """A single bright blob: without spread the batch is one clump, with spread it fans out."""
    mask = np.zeros((60, 60), bool)
    mask[::10, ::10] = True
    rows, cols = np.mgrid[0:60, 0:60]
    erd = np.where(mask, -1.0, np.exp(-((rows - 30.5) ** 2 + (cols - 30.5) ** 2) / 200.0))
    table = OffsetTable(15)
    spreads = {}
    for spread in (0.0, 0.5):
        pts = select_batch(
            TileMax(erd.copy(), tile=8),
            mask,
            10,
            spread=spread,
            offsets=table.offsets,
            offset_dist=table.distances,
        )
        spreads[spread] = np.ptp(pts, axis=0).sum()
    assert spreads[0.5] > spreads[0.0]


def test_scatter_returns_l1_change():
    image = np.zeros((4, 4))
    change = _update.scatter(image, np.array([[0, 0], [1, 2]]), np.array([2.0, -3.0]))
    assert change == 5.0
    assert image[0, 0] == 2.0 and image[1, 2] == -3.0


def test_dilate_unmeasured_matches_numpy():
    mask = random_mask((12, 14), 0.2, seed=7)
    seeds = np.array([[0, 0], [5, 6], [11, 13]])
    touched = np.zeros(mask.shape, bool)
    got = _update.dilate_unmeasured(mask, seeds, touched)
    want = set()
    for r, c in seeds:
        for dr, dc in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
            rr, cc = r + dr, c + dc
            if 0 <= rr < 12 and 0 <= cc < 14 and not mask[rr, cc]:
                want.add((rr, cc))
    assert {tuple(p) for p in got.tolist()} == want
    assert len(got) == len(want)
    assert not touched.any()  # scratch space is left clean


def test_affected_pixels_and_tile_bounds_match_numpy():
    shape = (37, 45)
    mask = random_mask(shape, 0.04, seed=8)
    unmeasured = np.argwhere(~mask)
    dk = np.zeros(shape)
    dk[unmeasured[:, 0], unmeasured[:, 1]] = knn_gather(mask, unmeasured, 5)[2][:, -1]
    tile = 8
    bound = np.full((-(-shape[0] // tile), -(-shape[1] // tile)), -1.0)
    _update.tile_dk_max(mask, dk, tile, bound)
    padded = np.zeros((bound.shape[0] * tile, bound.shape[1] * tile))
    padded[: shape[0], : shape[1]] = np.where(mask, 0.0, dk)
    np.testing.assert_array_equal(bound, padded.reshape(bound.shape[0], tile, -1, tile).max((1, 3)))
    changed = np.array([[0, 0], [18, 20], [36, 44], [5, 40]])
    touched = np.zeros(shape, bool)
    got = _update.affected_pixels(mask, dk, bound, tile, changed, touched)
    dist = np.hypot(
        unmeasured[:, None, 0] - changed[None, :, 0], unmeasured[:, None, 1] - changed[None, :, 1]
    )
    near = (dist <= dk[unmeasured[:, 0], unmeasured[:, 1]][:, None]).any(1)
    want = {tuple(p) for p in unmeasured[near].tolist()}
    assert {tuple(p) for p in got.tolist()} == want and len(got) == len(want)
    assert not touched.any()
    # refreshing only the tiles of some pixels leaves the other bounds alone
    bound[:] = 99.0
    _update.tile_dk_max(mask, dk, tile, bound, np.array([[0, 0]]))
    assert bound[0, 0] == padded[:tile, :tile].max() and (bound.ravel()[1:] == 99.0).all()


@pytest.mark.parametrize(("shape", "fraction", "cell"), [((23, 31), 0.05, 2), ((40, 50), 0.01, 7)])
def test_cell_index_knn_matches_brute_force(shape, fraction, cell):
    mask = random_mask(shape, fraction, seed=3)
    mask[:3, :3] = True  # a clump: ties between equal distances must break the same way
    pixels = np.argwhere(~mask)
    index = CellIndex(mask, cell)
    rows, cols, dist = index.knn(pixels, 4)
    want_rows, want_cols, want_dist = knn_reference(mask, pixels, 4)
    np.testing.assert_array_equal(rows, want_rows)
    np.testing.assert_array_equal(cols, want_cols)
    np.testing.assert_array_equal(dist, want_dist)
    # points added later are found as if indexed from the start, also when the search
    # is bounded by each query's k-th distance before they were added
    old_dk = np.zeros(shape)
    old_dk[pixels[:, 0], pixels[:, 1]] = dist[:, -1]
    extra = pixels[:: max(1, len(pixels) // 7)]
    mask[extra[:, 0], extra[:, 1]] = True
    index.add(extra)
    rest = np.argwhere(~mask)
    want = knn_gather(mask, rest, 4)
    for bound in (None, old_dk[rest[:, 0], rest[:, 1]]):
        for a, b in zip(index.knn(rest, 4, bound), want):
            np.testing.assert_array_equal(a, b)


def test_cell_index_refuses_grids_beyond_its_sort_keys():
    from fastscan.neighbors import MAX_SIDE

    with pytest.raises(ValueError, match=f"at most {MAX_SIDE} on a side"):
        CellIndex(np.zeros((2, MAX_SIDE + 1), bool), 4)
    # the largest offsets the packed keys hold still sort as (d**2, d_row, d_col)
    mask = np.zeros((3, MAX_SIDE), bool)
    mask[0, 0] = mask[2, 0] = mask[1, MAX_SIDE - 1] = True
    rows, cols, dist = CellIndex(mask, 1024).knn(np.array([[1, 0], [1, MAX_SIDE - 2]]), 2)
    assert rows.tolist() == [[0, 2], [1, 0]] and cols.tolist() == [[0, 0], [MAX_SIDE - 1, 0]]
    assert dist[1].tolist() == [1.0, np.sqrt(1.0 + (MAX_SIDE - 2) ** 2)]


def test_tile_span_and_largest_match_numpy():
    rng = np.random.default_rng(2)
    values = rng.uniform(0.0, 9.0, (5, 7))
    assert _update._largest(values) == values.max()
    assert _update._largest(np.zeros((0, 3))) == 0.0
    for x, reach in [(0, 0.0), (13, 4.5), (40, 30.0), (3, 2.9)]:
        tiles = np.arange(2, 6)  # tiles 2..5 of width 8 allowed
        near = tiles[(tiles * 8 <= x + reach) & ((tiles + 1) * 8 > x - reach)]
        lo, hi = _update._tile_span(x, reach, 8, 2, 5)
        assert list(range(lo, hi + 1)) == near.tolist()

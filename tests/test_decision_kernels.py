"""The step decision's faster kernels against plain references (same bits, same order)."""

from __future__ import annotations

import numpy as np

from fastscan import _update
from fastscan._neighbor_lists import _OFFSET_MAX, _insert_packed, _pack, _packed, _unpack


def _key(offset):
    d_row, d_col = offset
    return (d_row * d_row + d_col * d_col, d_row, d_col)  # the search's tie order


def test_packed_entries_read_back_every_int8_offset():
    values = np.arange(-_OFFSET_MAX, _OFFSET_MAX + 1)
    lists = np.zeros((len(values) ** 2, 1, 2), np.int8)
    packed = _packed(lists)
    for i, (d_row, d_col) in enumerate(np.array(np.meshgrid(values, values)).reshape(2, -1).T):
        packed[i, 0] = _pack(d_row, d_col)  # written through the int16 view ...
        assert _unpack(packed[i, 0]) == (d_row, d_col)
    pairs = np.array(np.meshgrid(values, values)).reshape(2, -1).T
    np.testing.assert_array_equal(lists[:, 0], pairs)  # ... lands as the two int8


def test_packed_insert_keeps_the_k_nearest_in_search_order():
    rng = np.random.default_rng(3)
    k = 6
    n_lists = 400
    lists = np.zeros((n_lists, k, 2), np.int8)
    reference = []
    for p in range(n_lists):
        entries = {tuple(rng.integers(-9, 10, 2)) for _ in range(30)} - {(0, 0)}
        entries = sorted(entries, key=_key)[:k]
        lists[p] = entries
        reference.append(entries)
    valid = np.ones(n_lists, np.bool_)
    packed = _packed(lists)
    for _ in range(6):
        for p in range(n_lists):
            d_row, d_col = (int(v) for v in rng.integers(-12, 13, 2))
            if (d_row, d_col) in reference[p] or (d_row, d_col) == (0, 0):
                continue
            _insert_packed(packed, valid, p, d_row, d_col)
            reference[p] = sorted(reference[p] + [(d_row, d_col)], key=_key)[:k]
    assert valid.all()
    for p in range(n_lists):
        assert [tuple(e) for e in lists[p].tolist()] == reference[p]


def test_packed_insert_of_a_far_offset_invalidates_the_list():
    lists = np.ones((2, 3, 2), np.int8)
    valid = np.ones(2, np.bool_)
    _insert_packed(_packed(lists), valid, 1, 0, _OFFSET_MAX + 1)
    assert valid.tolist() == [True, False]
    assert (lists == 1).all()  # nothing written


def test_tile_bounds_are_the_largest_unmeasured_distance_of_each_tile():
    rng = np.random.default_rng(0)
    mask = rng.random((37, 50)) < 0.1
    dk = np.where(mask, 0.0, rng.random(mask.shape) * 20)  # 0 where measured, as kept
    tile = 8
    out = np.full((5, 7), -1.0)
    _update.tile_dk_max(mask, dk, tile, out)
    for tr in range(5):
        for tc in range(7):
            block = np.s_[tr * tile : (tr + 1) * tile, tc * tile : (tc + 1) * tile]
            unmeasured = dk[block][~mask[block]]
            assert out[tr, tc] == (unmeasured.max() if unmeasured.size else 0.0)


def test_also_runs_before_the_rows_in_one_piece_and_after_this_threads_half_when_split(
    monkeypatch,
):
    from fastscan import _threads

    events = []
    _threads.split_rows(
        lambda a, b: events.append((a, b)), 10, min_rows=100, also=lambda: events.append("also")
    )
    assert events == ["also", (0, 10)]  # too few rows to split: also first, then every row
    monkeypatch.setattr(_threads, "second_core_free", lambda: True)
    events.clear()
    _threads.split_rows(
        lambda a, b: events.append((a, b)), 10, min_rows=2, also=lambda: events.append("also")
    )
    assert sorted(map(str, events)) == sorted(map(str, [(0, 5), (5, 10), "also"]))
    assert events.index("also") > events.index((0, 5))  # after this thread's half


def test_added_analytic_rd_has_the_bits_of_the_numpy_expression():
    from fastscan.features import add_analytic_rd, analytic_rd

    rng = np.random.default_rng(1)
    features = rng.lognormal(0, 3, (5000, 6))
    erd = rng.random(5000)
    for c in (2.0, 3.0):
        want = erd + 1e-3 * analytic_rd(features, c)
        got = erd.copy()
        add_analytic_rd(got, features, 1e-3, c)
        np.testing.assert_array_equal(got, want)


def test_put_writes_each_pixel_like_fancy_indexing():
    rng = np.random.default_rng(2)
    image = rng.random((30, 40))
    flat = rng.choice(image.size, 300, replace=False)
    pixels = np.stack([flat // 40, flat % 40], 1)
    values = rng.random(300)
    want = image.copy()
    want[pixels[:, 0], pixels[:, 1]] = values
    _update.put(image, pixels, values)
    np.testing.assert_array_equal(image, want)


def test_the_first_activation_runs_a_small_scan_of_its_own_that_changes_nothing(monkeypatch):
    import fastscan.sampler as sampler_module
    from fastscan import Sampler
    from fastscan.phantoms import make_phantom

    image = make_phantom("flakes", (64, 72), seed=1)

    def scan(warm: bool) -> tuple[Sampler, list[tuple[int, ...]]]:
        monkeypatch.setattr(sampler_module, "_warm", not warm)  # not yet warm: warm up
        shapes = []  # the grid of every scan that makes a local update
        original = Sampler._local_update

        def local_update(self, new_points, changed, **kwargs):
            shapes.append(self.shape)
            return original(self, new_points, changed, **kwargs)

        monkeypatch.setattr(Sampler, "_local_update", local_update)
        sampler = Sampler(image.shape, batch_size=20, max_coverage=0.9, change_tolerance=None)
        for _ in range(4):
            points = sampler.suggest()
            sampler.ingest(points, image[points[:, 0], points[:, 1]])
        monkeypatch.setattr(Sampler, "_local_update", original)
        assert sampler_module._warm
        return sampler, shapes

    warmed, shapes = scan(warm=True)
    # the initial pattern's tail (after the ERD map is made), then three batches
    assert shapes[0] == sampler_module._WARM_SHAPE and shapes.count(image.shape) == 4
    plain, shapes = scan(warm=False)
    assert shapes == [image.shape] * 4  # once per process: no second small scan
    np.testing.assert_array_equal(warmed.measured_points, plain.measured_points)
    np.testing.assert_array_equal(warmed.erd, plain.erd)
    np.testing.assert_array_equal(warmed.reconstruction, plain.reconstruction)

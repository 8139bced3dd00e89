"""The geometry of an exact update made before its readings (fastscan._prepared_update).

A prepared update must give the same sampler, bit for bit, as the usual one; anything
that differs from the plan must fall back to the usual update.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import fastscan.fly.sampler as fly_sampler
from fastscan import _prepared_update, _row_merge
from fastscan.fly import FlySampler
from fastscan.phantoms import make_phantom
from fastscan.sampler import Sampler

SHAPE = (72, 88)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.asarray(make_phantom("flakes", SHAPE, seed=100), float)


def active_sampler(image: np.ndarray, seed: int = 0) -> Sampler:
    """A sampler past its initial pattern and a few batches."""
    s = Sampler(image.shape, seed=seed, batch_size=20)
    for _ in range(4):
        pts = s.suggest()
        s.ingest(pts, image[pts[:, 0], pts[:, 1]])
    return s


def state(s: Sampler) -> list[np.ndarray]:
    lists = s._lists
    return [
        s._mask, s._erd, s._recon, s._dk, s._dk_max, lists.offsets, lists.valid,
        s._tiles.maxima,
    ]  # fmt: skip


def assert_same(a: Sampler, b: Sampler) -> None:
    for x, y in zip(state(a), state(b), strict=True):
        assert x.dtype == y.dtype and np.array_equal(x, y)


def random_segment(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """Unmeasured pixels of one random row or column stretch, in a random direction."""
    rows = rng.random() < 0.5
    n_lines, n_along = mask.shape if rows else mask.shape[::-1]
    line = int(rng.integers(n_lines))
    start = int(rng.integers(0, n_along - 12))
    stop = int(rng.integers(start + 12, n_along + 1))
    along = np.arange(start, stop)
    pts = (
        np.stack([np.full_like(along, line), along], 1)
        if rows
        else np.stack([along, np.full_like(along, line)], 1)
    )
    pts = pts[~mask[pts[:, 0], pts[:, 1]]]
    return pts[::-1] if rng.random() < 0.5 else pts


def count_merges(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    merge = _row_merge.affected_merge

    def spy(*args, **kwargs):
        calls[0] += 1
        return merge(*args, **kwargs)

    monkeypatch.setattr(_row_merge, "affected_merge", spy)
    return calls


def test_prepared_updates_equal_the_usual_ones(image, monkeypatch):
    rng = np.random.default_rng(5)
    plain = active_sampler(image)
    prepared = copy.deepcopy(plain)
    n_used = 0
    for _ in range(12):
        pts = random_segment(rng, plain._mask)
        if len(pts) < _row_merge.MIN_POINTS_PER_ROW:
            continue
        before = [a.copy() for a in state(prepared)]
        made = prepared.prepare_update(pts)
        for x, y in zip(before, state(prepared), strict=True):  # nothing changed yet
            assert np.array_equal(x, y)
        with monkeypatch.context() as m:
            calls = count_merges(m)
            prepared.ingest(pts, image[pts[:, 0], pts[:, 1]])
        assert calls[0] == (0 if made else 1)
        n_used += made
        plain.ingest(pts, image[pts[:, 0], pts[:, 1]])
        assert_same(plain, prepared)
    assert n_used >= 8


@pytest.mark.parametrize("change", ["prefix", "extra", "other", "stale", "repeat", "suggest"])
def test_readings_off_the_plan_fall_back(image, monkeypatch, change):
    rng = np.random.default_rng(11)
    plain = active_sampler(image, seed=1)
    prepared = copy.deepcopy(plain)
    pts = np.array([[40, c] for c in range(10, 70)])
    assert prepared.prepare_update(pts)
    if change == "prefix":  # the segment was cut short
        pts = pts[:30]
    elif change == "extra":  # one reading more than planned
        pts = np.concatenate([pts, [[41, 3]]])
    elif change == "other":  # another segment flew
        pts = np.array([[20, c] for c in range(5, 60)])
    elif change == "stale":  # other readings came first
        step = random_segment(rng, plain._mask)[:5]
        for s in (plain, prepared):
            s.ingest(step, image[step[:, 0], step[:, 1]])
    elif change == "repeat":  # a measured pixel read again
        pts = np.concatenate([pts, np.argwhere(plain._mask)[:1]])
    else:  # a step batch chosen in between
        for s in (plain, prepared):
            s.suggest()
    with monkeypatch.context() as m:
        calls = count_merges(m)
        prepared.ingest(pts, image[pts[:, 0], pts[:, 1]] + 0.5)
    assert calls[0] >= 1  # the usual update ran
    assert prepared._prepared is None
    plain.ingest(pts, image[pts[:, 0], pts[:, 1]] + 0.5)
    assert_same(plain, prepared)


def test_nothing_is_prepared_where_it_cannot_be(image):
    s = Sampler(image.shape, seed=0)
    line = np.array([[30, c] for c in range(SHAPE[1])])
    assert not s.prepare_update(line)  # no ERD map yet
    s = active_sampler(image)
    measured = np.argwhere(s._mask)[:20]
    assert not s.prepare_update(measured)  # measured pixels
    assert not s.prepare_update(np.array([[30, 4], [30, 4]] * 8))  # repeats
    assert not s.prepare_update(np.array([[3 * i, 2 * i + 1] for i in range(20)]))  # a batch
    with pytest.raises(ValueError, match="outside"):
        s.prepare_update(np.array([[SHAPE[0], 0]]))
    assert _prepared_update.take(None, line, version=0) is None


def test_a_state_file_between_prepare_and_readings(image, tmp_path):
    plain = active_sampler(image, seed=2)
    prepared = copy.deepcopy(plain)
    line = np.array([[r, 50] for r in range(SHAPE[0])])
    line = line[~plain._mask[line[:, 0], line[:, 1]]]
    assert prepared.prepare_update(line)
    loaded = Sampler.load(prepared.save(tmp_path / "state.npz"))
    assert loaded._prepared is None
    for s in (plain, prepared, loaded):
        s.ingest(line, image[line[:, 0], line[:, 1]])
    assert_same(plain, prepared)
    assert np.array_equal(plain._erd, loaded._erd)
    assert np.array_equal(plain.suggest(), loaded.suggest())


def fly(image: np.ndarray, min_pixels: int, monkeypatch: pytest.MonkeyPatch) -> tuple:
    monkeypatch.setattr(fly_sampler, "PREPARE_MIN_PIXELS", min_pixels)
    used = [0]
    take = _prepared_update.take

    def counting_take(prepared, new_points, *, version):
        out = take(prepared, new_points, version=version)
        used[0] += out is not None
        return out

    monkeypatch.setattr(_prepared_update, "take", counting_take)
    fs = FlySampler(image.shape, max_coverage=0.3, seed=0)
    for _ in range(12):
        segments = fs.suggest_segments(ahead=True)
        if not segments:
            break
        for seg in segments:
            pts = seg.pixels()
            fs.ingest(pts, image[pts[:, 0], pts[:, 1]])
    inner = fs._sampler
    scan = (fs.measured_points, inner._erd, inner._recon, inner._lists.offsets, fs.beam_time)
    return scan, used[0]


def test_fly_scan_is_the_same_with_prepared_updates(image, monkeypatch):
    without, n_without = fly(image, 10**9, monkeypatch)
    with_prepared, n_with = fly(image, _row_merge.MIN_POINTS_PER_ROW, monkeypatch)
    assert n_without == 0 and n_with >= 10
    for a, b in zip(without, with_prepared, strict=True):
        assert np.array_equal(a, b)


def test_apply_lists_writes_each_affected_list_and_nothing_else():
    from fastscan._neighbor_lists import NeighborLists

    rng = np.random.default_rng(3)
    lists = NeighborLists((9, 7), k=3)
    lists.offsets[:] = rng.integers(-4, 5, lists.offsets.shape)
    before = lists.offsets.copy(), lists.valid.copy()
    affected = np.array([[0, 1], [4, 6], [8, 0]])
    kept = rng.integers(-4, 5, (3, 3, 2)).astype(np.int8)
    prepared = _prepared_update.PreparedMerge(
        affected[:1], 0, affected, affected, kept, np.array([True, False, True])
    )
    _prepared_update.apply_lists(lists, prepared)
    at = affected[:, 0] * 7 + affected[:, 1]
    assert np.array_equal(lists.offsets[at], kept)
    assert lists.valid[at].tolist() == [True, False, True]
    others = np.setdiff1d(np.arange(63), at)
    assert np.array_equal(lists.offsets[others], before[0][others])
    assert np.array_equal(lists.valid[others], before[1][others])
    empty = _prepared_update.PreparedMerge(
        affected[:1], 0, affected[:0], affected[:0], kept[:0], np.zeros(0, bool)
    )
    _prepared_update.apply_lists(lists, empty)  # (a segment that reaches no list)
    assert np.array_equal(lists.offsets[at], kept)


def test_a_failing_preparation_is_logged_and_the_scan_goes_on(image, monkeypatch, caplog):
    reference, _ = fly(image, 10**9, monkeypatch)

    def broken(self, points):
        raise RuntimeError("broken preparation")

    monkeypatch.setattr(Sampler, "prepare_update", broken)
    with caplog.at_level("ERROR", logger="fastscan.fly.sampler"):
        scan, used = fly(image, _row_merge.MIN_POINTS_PER_ROW, monkeypatch)
    assert used == 0 and "broken preparation" in caplog.text
    for a, b in zip(reference, scan, strict=True):
        assert np.array_equal(a, b)

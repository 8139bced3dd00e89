"""The late model switch (issue 12): a default-model one-channel scan outside the texture
band changes to ``sampler.LATE_MODEL`` once its coverage reaches ``LATE_COVERAGE``."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import fastscan.sampler as sampler_module
from fastscan import Sampler
from fastscan.compare.textures import band_noise
from fastscan.phantoms import make_phantom
from fastscan.selection import TileMax

SHAPE = (64, 80)


@pytest.fixture
def late(monkeypatch):
    """Switch to l1+l2 at 3 % (whatever the shipped constants are)."""
    monkeypatch.setattr(sampler_module, "LATE_MODEL", "l1+l2")
    monkeypatch.setattr(sampler_module, "LATE_COVERAGE", 0.03)


@pytest.fixture(scope="module")
def particles():
    return make_phantom("particles", SHAPE, seed=100)  # outside the texture band


def scan(sampler: Sampler, image: np.ndarray, steps: int) -> list[str]:
    """``steps`` batches; the model name each batch was chosen with."""
    names = []
    for _ in range(steps):
        points = sampler.suggest()
        names.append(sampler.model.name)
        sampler.ingest(points, image[points[:, 0], points[:, 1]])
    return names


def test_switches_once_at_the_coverage(late, particles):
    sampler = Sampler(SHAPE, batch_size=20, seed=0, erd_floor=0.0)  # (auto: 6.6, no switch)
    counts = []
    names = []
    for _ in range(10):
        counts.append(sampler.n_measured)
        names += scan(sampler, particles, 1)
    want = ["l1+l2" if n >= 0.03 * particles.size and n > 0 else "default" for n in counts]
    assert names == want and "default" in names and "l1+l2" in names
    assert sampler._late_done
    assert sampler._lattice_power == 0.0


def test_no_switch_when_off_given_a_model_on_texture_or_channels(monkeypatch, particles):
    monkeypatch.setattr(sampler_module, "LATE_COVERAGE", None)
    off = Sampler(SHAPE, batch_size=20, seed=0, erd_floor=0.0)
    assert set(scan(off, particles, 10)) == {"default"}
    monkeypatch.setattr(sampler_module, "LATE_COVERAGE", 0.03)
    given = Sampler(SHAPE, batch_size=20, seed=0, model="default", erd_floor=0.0)
    assert set(scan(given, particles, 10)) == {"default"}  # a given model is never switched
    floored = Sampler(SHAPE, batch_size=20, seed=0)  # auto: level 6.6 (hidden particles)
    assert set(scan(floored, particles, 10)) == {"default"} and floored._floor_level > 0.5
    at = Sampler(SHAPE, batch_size=20, seed=0, erd_floor=sampler_module.LATE_MAX_FLOOR)
    assert set(scan(at, particles, 10)) == {"default"}
    below = Sampler(SHAPE, batch_size=20, seed=0, erd_floor=0.9 * sampler_module.LATE_MAX_FLOOR)
    assert scan(below, particles, 10)[-1] == "l1+l2"
    texture = band_noise(SHAPE, 4.0, 100)
    on_texture = Sampler(SHAPE, batch_size=20, seed=0)
    assert set(scan(on_texture, texture, 8)) == {"default"}
    assert on_texture._lattice_power > 0
    channels = Sampler(SHAPE, batch_size=20, seed=0)
    for _ in range(8):
        points = channels.suggest()
        channels.ingest(points, np.stack([particles[points[:, 0], points[:, 1]]] * 2, 1))
    assert channels.model.name == sampler_module.MULTICHANNEL_MODEL and not channels._late_done


@pytest.mark.parametrize("steps", [3, 9])  # saved before and after the switch
def test_state_files_keep_the_rule(late, particles, tmp_path, steps):
    sampler = Sampler(SHAPE, batch_size=20, seed=0, erd_floor=0.0)
    scan(sampler, particles, steps)
    loaded = Sampler.load(sampler.save(tmp_path / "state.npz"))
    assert loaded.model.name == sampler.model.name
    assert (loaded._model_default, loaded._late_done) == (True, sampler._late_done)
    assert scan(loaded, particles, 6) == scan(sampler, particles, 6)
    np.testing.assert_array_equal(loaded.measured_points, sampler.measured_points)
    np.testing.assert_array_equal(loaded._erd, sampler._erd)
    assert sampler.model.name == "l1+l2"


def _rewrite_header(path, change):
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    header = json.loads(str(arrays["header"]))
    change(header["state"])
    arrays["header"] = np.array(json.dumps(header))
    np.savez(path, **arrays)


def test_older_state_files_keep_their_model(late, particles, tmp_path):
    sampler = Sampler(SHAPE, batch_size=20, seed=0, erd_floor=0.0)
    scan(sampler, particles, 3)
    path = sampler.save(tmp_path / "old.npz")
    _rewrite_header(path, lambda state: [state.pop(k) for k in ("model_default", "late_done")])
    old = Sampler.load(path)  # a file from before the switch: its model, as always
    assert set(scan(old, particles, 5)) == {"default"}
    _rewrite_header(path, lambda state: state.update(late_done="yes"))
    with pytest.raises(ValueError, match=r"late_done must be true or false.*'yes'"):
        Sampler.load(path)


# ---------------------------------------------------------------- the shadow map (issue 10)
def _fresh_late_pass(sampler: Sampler) -> np.ndarray:
    """What the switch's full pass (the map without a shadow) gives in this state."""
    twin = copy.deepcopy(sampler)
    twin._shadow = None
    twin._use_model(sampler_module.LATE_MODEL)
    twin._erd_pass(np.argwhere(~twin._mask), twin._neighbor_lists())
    return twin._erd


def _readings(image, points, step, far_step):
    values = image[points[:, 0], points[:, 1]].copy()
    if step == far_step:  # far outside the range: a rescale (full update) in mid-batch
        values[len(values) // 2] = 5.0 * image.max() + 10.0
    return values


@pytest.fixture(params=[8192, 160], ids=["whole", "2-rows-a-reading"])
def shadow_pixels(request, monkeypatch):
    """The shadow made in one reading (this small grid) or two rows a reading."""
    monkeypatch.setattr(sampler_module, "_SHADOW_PIXELS", request.param)
    return request.param


def test_the_shadow_equals_a_fresh_full_pass_after_every_reading(late, particles, shadow_pixels):
    sampler = Sampler(SHAPE, batch_size=20, seed=0, erd_floor=0.0)
    partial = 0
    prepare = (0.03 - sampler_module.LATE_PREPARE_MARGIN) * particles.size
    checked = 0
    for step in range(10):
        due_before = sampler._shadow is not None
        points = sampler.suggest()
        if sampler._late_done and due_before:
            break  # the switch just used the shadow
        values = _readings(particles, points, step, far_step=5)
        for point, value in zip(points, values):
            sampler.ingest(point[None], value[None])
            if sampler._shadow is not None:
                assert sampler.n_measured >= prepare
                made = sampler._shadow_rows
                partial += made < SHAPE[0]
                fresh = _fresh_late_pass(sampler)
                np.testing.assert_array_equal(sampler._shadow[:made], fresh[:made])
                if made == SHAPE[0]:  # the tile maxima the switch will hand the selection
                    maxima = sampler._shadow_tiles.maxima
                    np.testing.assert_array_equal(maxima, TileMax(fresh).maxima)
                checked += 1
            elif sampler.initial_complete and sampler.n_measured > prepare + 20:
                raise AssertionError("no shadow a batch past the prepare coverage")
    assert sampler._late_done and sampler.model.name == "l1+l2"
    assert checked >= 40  # two batches and more, a rescale among them
    assert (partial > 0) == (shadow_pixels < SHAPE[0] * SHAPE[1])  # made over readings
    assert sampler._shadow is None and sampler._shadow_model is None


def _late_scan(image, mode, tmp_path=None, steps=10, far_step=None):
    """Suggestions, the state before each, and the final sampler of a scan whose readings
    come whole, one by one, or with a save and load after the suggest / mid-batch."""
    sampler = Sampler(SHAPE, batch_size=20, seed=0, erd_floor=0.0)
    suggested, shadows = [], []
    for step in range(steps):
        shadows.append(sampler._shadow is not None)
        points = sampler.suggest()
        suggested.append(points.copy())
        values = _readings(image, points, step, far_step)
        if mode == "point":
            for point, value in zip(points, values):
                sampler.ingest(point[None], value[None])
        elif mode == "save":
            sampler = Sampler.load(sampler.save(tmp_path / f"a{step}.npz"))  # due kept
            half = len(points) // 2
            sampler.ingest(points[:half], values[:half])
            sampler = Sampler.load(sampler.save(tmp_path / f"b{step}.npz"))  # shadow kept
            sampler.ingest(points[half:], values[half:])
        else:
            sampler.ingest(points, values)
    return suggested, shadows, sampler


@pytest.mark.parametrize("far_step", [None, 5], ids=["plain", "rescale-before-switch"])
@pytest.mark.parametrize("rows", [102, 2, 1], ids=["whole", "2-rows", "1-row-finished-at-switch"])
def test_every_grouping_gives_the_scan_without_a_shadow(
    late, particles, tmp_path, monkeypatch, far_step, rows
):
    monkeypatch.setattr(sampler_module, "_SHADOW_PIXELS", rows * SHAPE[1])
    batch = _late_scan(particles, "batch", far_step=far_step)
    assert batch[2]._late_done and any(batch[1]) and not batch[1][0]
    for mode in ("point", "save", "none"):
        if mode == "none":  # the switch's full pass, as before the shadow
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(sampler_module, "LATE_PREPARE_MARGIN", None)
                other = _late_scan(particles, "batch", far_step=far_step)
            assert not any(other[1])
        else:
            other = _late_scan(particles, mode, tmp_path, far_step=far_step)
            assert other[1] == batch[1]
        for a, b in zip(batch[0], other[0]):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(batch[2]._erd, other[2]._erd)
        np.testing.assert_array_equal(batch[2]._tiles.maxima, other[2]._tiles.maxima)
        np.testing.assert_array_equal(batch[2]._dk_max, other[2]._dk_max)
        np.testing.assert_array_equal(batch[2].reconstruction, other[2].reconstruction)
        assert list(batch[2].stop_rule._changes) == list(other[2].stop_rule._changes)


def test_state_files_without_a_shadow_still_switch_the_same(late, particles, tmp_path):
    sampler = Sampler(SHAPE, batch_size=20, seed=0, erd_floor=0.0)
    while sampler._shadow is None:
        scan(sampler, particles, 1)
    path = sampler.save(tmp_path / "shadow.npz")
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files if key != "late_shadow"}
    header = json.loads(str(arrays["header"]))
    for key in ("late_shadow", "late_shadow_due"):
        header["state"].pop(key)
    arrays["header"] = np.array(json.dumps(header))
    np.savez(tmp_path / "old.npz", **arrays)
    old = Sampler.load(tmp_path / "old.npz")  # a file from before the shadow: none
    assert old._shadow is None
    assert scan(old, particles, 4) == scan(sampler, particles, 4)
    np.testing.assert_array_equal(old.measured_points, sampler.measured_points)
    np.testing.assert_array_equal(old._erd, sampler._erd)
    arrays["header"] = np.array(
        json.dumps({**header, "state": {**header["state"], "late_shadow": "l1+l2"}})
    )
    np.savez(tmp_path / "damaged.npz", **arrays)
    with pytest.raises(ValueError, match="late_shadow must be float64 of shape"):
        Sampler.load(tmp_path / "damaged.npz")

"""The late model switch (issue 12): a default-model one-channel scan outside the texture
band changes to ``sampler.LATE_MODEL`` once its coverage reaches ``LATE_COVERAGE``."""

from __future__ import annotations

import json

import numpy as np
import pytest

import fastscan.sampler as sampler_module
from fastscan import Sampler
from fastscan.compare.textures import band_noise
from fastscan.phantoms import make_phantom

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

"""The ``fast-classic`` strategy replays FAST's loop (Kandel et al. 2023)."""

from __future__ import annotations

import numpy as np
import pytest
from honesty import honest_replay

from fastscan.classic import ClassicSampler, fast_initial_points
from fastscan.erd.estimator import ERDModel
from fastscan.features import compute_features
from fastscan.phantoms import make_phantom
from fastscan.replay import SimulatedDetector, make_sampler
from fastscan.strategies import StrategySettings, make_strategy_sampler


@pytest.fixture(scope="module")
def model():
    """A small raw-feature model (FAST's lift and MLP shape), quick to fit."""
    rng = np.random.default_rng(0)
    features = rng.uniform(0, 30, size=(2000, 6))
    target = features[:, 0] * features[:, 2] ** 2 + 5 * features[:, 4]
    return ERDModel(max_iter=20, gamma=0.01).fit(features, target)


def test_fast_initial_points_follow_fasts_seed_chain():
    # FAST's 1 % start on 600 x 400: 2,400 distinct points, first five as published
    points = fast_initial_points((600, 400))
    assert points.shape == (2400, 2)
    assert points[:5].tolist() == [[339, 283], [39, 16], [489, 150], [189, 327], [414, 61]]
    assert len(np.unique(points[:, 0] * 400 + points[:, 1])) == 2400
    other = fast_initial_points((600, 400), seed=12)
    assert not np.array_equal(other, points)
    with pytest.raises(ValueError, match="fraction must be in"):
        fast_initial_points((10, 10), 0.0)


def _fast_full_recompute(mask, truth, model):
    """FAST's iteration from scratch: min-max normalise, IDW, features, ERD of all pixels."""
    measured = truth[mask]
    values = np.where(mask, (truth - measured.min()) * 100.0 / np.ptp(measured), 0.0)
    pixels, features, _ = compute_features(mask, values)
    erd = np.zeros(mask.shape)
    erd[pixels[:, 0], pixels[:, 1]] = model.predict(features)
    return erd


def test_classic_erd_and_batches_equal_fasts_full_recompute(model):
    truth = 3.0 + 250.0 * make_phantom("flakes", (48, 64), seed=3)
    sampler = ClassicSampler(truth.shape, batch_size=12, model=model, max_coverage=0.3)
    rescaled = 0
    for step in range(14):
        points = sampler.suggest()
        before = sampler._ref_range.copy()
        sampler.ingest(points, truth[points[:, 0], points[:, 1]])
        rescaled += int(step > 0 and not np.array_equal(before, sampler._ref_range))
        if not sampler._active:
            continue
        mask = sampler.measured_mask
        reference = _fast_full_recompute(mask, truth, model)
        np.testing.assert_allclose(sampler.erd, reference, rtol=1e-5, atol=1e-6 * reference.max())
        batch = sampler.suggest()
        picked = np.zeros_like(mask)
        picked[batch[:, 0], batch[:, 1]] = True
        assert len(batch) == 12 and not (picked & mask).any()
        # plain top-n of one ERD map: nothing left behind scores higher than a pick
        assert sampler.erd[picked].min() >= sampler.erd[~mask & ~picked].max()
    assert sampler.coverage > 0.05
    assert rescaled > 0  # the measured range changed and the features followed it


def test_fast_classic_strategy_replays_fast():
    truth = make_phantom("particles", (40, 50), seed=2)
    sampler = make_strategy_sampler("fast-classic", truth.shape, StrategySettings(seed=0))
    assert isinstance(sampler, ClassicSampler)
    assert sampler.model.name == "fast-classic" and sampler.spread == 0 and sampler.tie_break == 0
    assert sampler.fill == sampler.contrast == sampler.lattice == 0  # the plain ERD, as FAST
    first = sampler.suggest()
    assert sorted(map(tuple, first.tolist())) == sorted(
        map(tuple, fast_initial_points(truth.shape).tolist())
    )
    snaps = honest_replay(
        make_sampler("fast-classic", truth.shape, max_coverage=0.2, batch_size=10),
        SimulatedDetector(truth),
        [0.1, 0.2],
    )
    assert [s.n_measured for s in snaps] == [200, 400]
    again = honest_replay(
        make_sampler("fast-classic", truth.shape, max_coverage=0.2, batch_size=10),
        SimulatedDetector(truth),
        [0.2],
    )
    np.testing.assert_array_equal(again[0].measured_mask, snaps[1].measured_mask)


def test_classic_sampler_state_round_trip(model, tmp_path):
    truth = make_phantom("grains", (40, 40), seed=1)
    sampler = ClassicSampler(truth.shape, batch_size=8, model=model, max_coverage=0.3)
    for _ in range(4):
        points = sampler.suggest()
        sampler.ingest(points, truth[points[:, 0], points[:, 1]])
    loaded = ClassicSampler.load(sampler.save(tmp_path / "state.npz"))
    assert isinstance(loaded, ClassicSampler)
    np.testing.assert_array_equal(loaded.suggest(), sampler.suggest())
    with pytest.raises(ValueError, match=r"fast-classic fixes spread=0\.0"):
        ClassicSampler(truth.shape, model=model, spread=0.5)
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        ClassicSampler(truth.shape, model=model, nope=1)

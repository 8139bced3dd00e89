"""Multichannel (XRF element) scans: phantom, gains, kernels, the sampler with C channels."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from fastscan import Sampler
from fastscan._channel_kernels import combined_features, idw_channels
from fastscan.baselines import HaltonSampler, RandomSampler, RasterSampler
from fastscan.channels import (
    SPARSITY_POWER,
    channel_gains,
    check_readings,
    check_weights,
    combine_features,
    feature_noise,
)
from fastscan.features import compute_features, feature_radius, idw_estimate, slads_features
from fastscan.neighbors import knn_gather
from fastscan.phantoms import XRF_ELEMENTS, make_xrf_maps
from fastscan.reconstruction import idw_reconstruction

SHAPE = (48, 72)


@pytest.fixture(scope="module")
def maps():
    return make_xrf_maps(SHAPE, seed=3)[0]


def run(sampler, maps, rng=None, n_batches=None):
    """Drive ``sampler`` with (n, C) readings of ``maps``; returns every suggestion."""
    history = []
    while not sampler.should_stop() and (n_batches is None or len(history) < n_batches):
        points = sampler.suggest()
        if len(points) == 0:
            break
        values = maps[:, points[:, 0], points[:, 1]].T
        if rng is not None:
            values = rng.poisson(values).astype(float)
        history.append(points)
        sampler.ingest(points, values)
    return history


# ---------------------------------------------------------------------------- phantom
def test_xrf_maps_are_seeded_counts_with_distinct_structures():
    a, names = make_xrf_maps((64, 96), seed=5)
    b, _ = make_xrf_maps((64, 96), seed=5)
    c, _ = make_xrf_maps((64, 96), seed=6)
    assert names == XRF_ELEMENTS and a.shape == (len(names), 64, 96)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.min() >= 0
    fe, ca, ti, cu, au = a
    assert fe.mean() > 5 * max(ca.mean(), ti.mean(), cu.mean(), au.mean())  # bright matrix
    assert cu.max() <= 45 and (cu > 5).mean() < 0.02  # weak trace: a few hot spots
    assert (au > 10).mean() < 0.2  # thin coating bands
    lowered, _ = make_xrf_maps((64, 96), seed=5, counts=0.1)
    np.testing.assert_allclose(lowered, 0.1 * a)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"shape": (8, 40)}, ">= 16"),
        ({"counts": 0.0}, "positive"),
        ({"counts": np.nan}, "positive"),
    ],
)
def test_xrf_maps_reject_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_xrf_maps(**kwargs)


# ---------------------------------------------------------------------------- channels
def test_gain_of_a_pure_noise_channel_is_near_zero():
    rng = np.random.default_rng(1)
    n = 3000
    structured = np.where(rng.random(n) < 0.3, 60.0, 2.0)
    trace = np.where(rng.random(n) < 0.01, 30.0, 0.5)
    flat = np.full(n, 20.0)
    counts = rng.poisson(np.stack([structured, trace, flat], 1)).astype(float)
    gains = channel_gains(counts, np.ones(3))
    assert gains[2] < 0.05 * gains[0]
    assert gains[1] > 0.1 * gains[0]  # hot spots above the noise keep a share
    assert gains.sum() <= 1.0 + 1e-12
    # the same readings as floats with noise "auto" are not counts: plain weights
    np.testing.assert_allclose(channel_gains(counts + 0.5, np.ones(3)), np.full(3, 1 / 3))
    np.testing.assert_allclose(channel_gains(counts, np.ones(3), "none"), np.full(3, 1 / 3))
    np.testing.assert_allclose(channel_gains(counts, np.array([2.0, 0, 0]), "none"), [1, 0, 0])


def test_all_noise_channels_fall_back_to_the_weights():
    counts = np.random.default_rng(2).poisson(5.0, (2000, 2)).astype(float)
    np.testing.assert_allclose(channel_gains(counts, np.array([1.0, 3.0])), [0.25, 0.75])


def test_sparse_count_channels_weigh_by_range_over_rms():
    rng = np.random.default_rng(4)
    n = 4000
    broad = np.where(rng.random(n) < 0.5, 80.0, 20.0)  # half the pixels bright: rms ~ range
    trace = np.where(rng.random(n) < 0.02, 40.0, 0.5)  # a few hot spots: range >> rms
    counts = rng.poisson(np.stack([broad, trace], 1)).astype(float)
    weights = np.array([1.0, 2.0])
    gains = channel_gains(counts, weights)
    # reference: the gate of each channel times (range / rms) ** SPARSITY_POWER
    margin = 3.0 * np.sqrt(2.0 / (n - 1))
    gate = np.clip(1 - counts.mean(0) * (1 + margin) / counts.var(0, ddof=1), 0, 1)
    sparsity = (np.ptp(counts, 0) / np.sqrt(np.mean(counts**2, 0))) ** SPARSITY_POWER
    expected = weights * gate * sparsity
    np.testing.assert_allclose(gains / gains.sum(), expected / expected.sum(), rtol=1e-12)
    assert gains[1] / gains[0] > 2.0 * gate[1] / gate[0]  # the trace element gains weight
    assert gains.sum() <= 1.0 + 1e-12
    # readings that are not counts keep the plain weights (no gate, no sparsity factor)
    floats = np.stack([broad, trace], 1) + 0.25
    np.testing.assert_allclose(channel_gains(floats, weights), weights / weights.sum())


def test_readings_and_weights_validation():
    assert check_readings([1.0, 2.0], 2, None).shape == (2, 1)
    assert check_readings(np.ones((3, 4)), 3, 4).shape == (3, 4)
    with pytest.raises(ValueError, match=r"1-D readings for a 4-channel sampler"):
        check_readings([1.0, 2.0], 2, 4)
    with pytest.raises(ValueError, match="readings have 3 channels, the sampler has 4"):
        check_readings(np.ones((2, 3)), 2, 4)
    with pytest.raises(ValueError, match="reading 0, channel 1 is nan"):
        check_readings(np.where(np.eye(2, 3, 1, bool), np.nan, 1.0), 2, 3)
    with pytest.raises(ValueError, match="got 2 channel weights for 3 channels"):
        check_weights([1, 1], 3)
    with pytest.raises(ValueError, match="positive sum"):
        check_weights([0, 0, 0], 3)


# ---------------------------------------------------------------------------- kernels
def _state(maps, fraction=0.08, seed=0):
    rng = np.random.default_rng(seed)
    mask = rng.random(maps.shape[1:]) < fraction
    values = np.where(mask, maps, 0.0)
    pixels = np.argwhere(~mask)
    nbr = knn_gather(mask, pixels, 10)
    return mask, values, pixels, nbr


def test_idw_channels_matches_per_channel_idw(maps):
    _, values, pixels, nbr = _state(maps)
    recon = np.zeros_like(values)
    idw_channels(values, recon, pixels, *nbr)
    for c in range(len(maps)):
        np.testing.assert_allclose(
            recon[c, pixels[:, 0], pixels[:, 1]], idw_estimate(values[c], *nbr), rtol=1e-13
        )


@pytest.mark.parametrize("power", [2.0, 8.0])
@pytest.mark.parametrize("counts", [None, [True, False, True, True, False]])
def test_combined_features_match_the_numpy_reference(maps, power, counts):
    mask, values, pixels, nbr = _state(maps)
    if counts is not None:  # Poisson readings in the count channels
        noisy = np.random.default_rng(1).poisson(values).astype(float)
        values = np.where(np.array(counts)[:, None, None], noisy, values)
    recon = np.where(mask, values, 0.0)
    idw_channels(values, recon, pixels, *nbr)
    rho = feature_radius(SHAPE)
    scales = 100.0 / np.ptp(values[:, mask], axis=1)
    gains = np.array([0.3, 0.0, 0.2, 0.4, 0.1])
    per_channel = np.stack(
        [
            slads_features(values[c], recon[c], pixels, *nbr, rho=rho, scale=scales[c])
            for c in range(len(maps))
        ]
    )
    floor = None
    if counts is not None:
        floor = np.stack(
            [
                feature_noise(recon[c, pixels[:, 0], pixels[:, 1]], nbr[2], scales[c]) * count
                for c, count in enumerate(counts)
            ]
        )
    got = combined_features(
        values,
        recon,
        pixels,
        *nbr,
        rho=rho,
        scales=scales,
        gains=gains,
        sparsity_area=1 + np.pi * rho**2,
        noise=None if counts is None else np.array(counts, float),
        power=power,
    )
    expected = combine_features(per_channel, gains, floor, power=power)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    # one channel: the combined features are that channel's features
    one = combine_features(per_channel[:1], np.ones(1), power=power)
    np.testing.assert_allclose(one, per_channel[0], rtol=1e-12)


def test_feature_noise_is_what_counting_noise_gives_on_flat_fields():
    """The noise floor equals the mean squared features of pure Poisson noise (+-25 %)."""
    rng = np.random.default_rng(2)
    shape = (60, 80)
    for coverage, lam in ((0.03, 40.0), (0.15, 2.0), (0.3, 10.0)):
        mask = np.zeros(shape, bool)
        mask.flat[rng.choice(mask.size, int(coverage * mask.size), replace=False)] = True
        values = rng.poisson(lam, shape).astype(float)
        pixels, features, recon = compute_features(mask, values)
        nbr_dist = knn_gather(mask, pixels, 10)[2]
        floor = feature_noise(recon[pixels[:, 0], pixels[:, 1]], nbr_dist)
        for col in (0, 1, 4):
            ratio = np.mean(features[:, col] ** 2) / np.mean(floor[:, col])
            assert 0.75 < ratio < 1.25, (coverage, lam, col, ratio)


def test_counting_noise_is_removed_from_the_combined_features():
    """Flat count channels: noise-aware features are a fraction of the raw ones."""
    shape = (60, 80)
    rng = np.random.default_rng(3)
    mask = np.zeros(shape, bool)
    mask.flat[rng.choice(mask.size, 600, replace=False)] = True
    values = rng.poisson(np.array([20.0, 3.0])[:, None, None], (2, *shape)).astype(float)
    pixels = np.argwhere(~mask)
    nbr = knn_gather(mask, pixels, 10)
    recon = np.where(mask, values, 0.0)
    idw_channels(values, recon, pixels, *nbr)
    kwargs = dict(rho=4.0, scales=np.array([2.0, 8.0]), gains=np.ones(2), sparsity_area=50.0)
    raw = combined_features(values, recon, pixels, *nbr, **kwargs)
    aware = combined_features(values, recon, pixels, *nbr, noise=np.ones(2), **kwargs)
    np.testing.assert_array_equal(aware[:, 2:4], raw[:, 2:4])  # geometry untouched
    for col in (0, 1, 4, 5):
        assert np.mean(aware[:, col]) < 0.6 * np.mean(raw[:, col])
    with pytest.raises(ValueError, match="power must be"):
        combined_features(values, recon, pixels, *nbr, power=0.5, **kwargs)


# ---------------------------------------------------------------------------- sampler
def test_one_channel_as_a_column_is_the_single_channel_sampler(maps):
    kwargs = dict(batch_size=20, seed=1, max_coverage=0.15, change_tolerance=None)
    flat, column = Sampler(SHAPE, **kwargs), Sampler(SHAPE, **kwargs)
    history_flat = run(flat, maps[:1])  # run() feeds (n, 1) readings
    history_col = []
    while not column.should_stop():
        points = column.suggest()
        history_col.append(points)
        column.ingest(points, maps[0, points[:, 0], points[:, 1]])  # (n,)
    assert all(np.array_equal(a, b) for a, b in zip(history_flat, history_col))
    assert flat.n_channels == 1 and flat.reconstruction.shape == SHAPE
    np.testing.assert_array_equal(flat.reconstruction, column.reconstruction)
    assert flat.measured_values.shape == (flat.measured_points.shape[0],)


@pytest.mark.parametrize("combine", ["features", "erd"])
def test_multichannel_local_updates_equal_full_recompute(maps, combine):
    sampler = Sampler(
        SHAPE,
        batch_size=25,
        seed=2,
        max_coverage=0.3,
        change_tolerance=None,
        channels=list(XRF_ELEMENTS),
        channel_combine=combine,
    )
    run(sampler, maps, n_batches=14)
    recon = sampler.reconstruction
    assert recon.shape == maps.shape
    points = np.argwhere(sampler.measured_mask)
    for c in range(len(maps)):
        expected = idw_reconstruction(SHAPE, points, maps[c, points[:, 0], points[:, 1]])
        np.testing.assert_allclose(recon[c], expected, rtol=1e-12, atol=1e-9)
    fresh = copy.deepcopy(sampler)
    fresh._value_max = fresh._value_min + sampler._ref_range  # same intensity scales
    fresh._full_update()
    np.testing.assert_array_equal(fresh._scale, sampler._scale)
    np.testing.assert_allclose(sampler.erd, fresh.erd, rtol=1e-4, atol=1e-3)


def test_honesty_with_channels(maps):
    """Maps that differ only where the sampler never measured give the same scan."""
    kwargs = dict(batch_size=20, seed=5, max_coverage=0.2, change_tolerance=None)
    first = Sampler(SHAPE, **kwargs)
    history_a = run(first, maps)
    other = maps.copy()
    never = ~first.measured_mask
    other[:, never] = np.random.default_rng(0).uniform(0, 300, (len(maps), never.sum()))
    history_b = run(Sampler(SHAPE, **kwargs), other)
    assert len(history_a) == len(history_b)
    assert all(np.array_equal(a, b) for a, b in zip(history_a, history_b))


def test_each_channel_drives_the_scan():
    """Points follow the structure of whichever channel has it (weights select)."""
    maps, _ = make_xrf_maps((64, 96), seed=4)
    two = maps[[1, 4]]  # Ca grains, Au bands: different places
    on_structure = []
    for weights in ([1.0, 0.0], [0.0, 1.0]):
        sampler = Sampler(
            two.shape[1:],
            batch_size=30,
            seed=0,
            max_coverage=0.15,
            change_tolerance=None,
            channel_weights=weights,
        )
        run(sampler, two)
        pts = sampler.measured_points[sampler.n_measured // 3 :]  # after the early batches
        edges = [np.hypot(*np.gradient(m)) > 3.0 for m in two]
        near = [np.mean(edge[pts[:, 0], pts[:, 1]]) for edge in edges]
        on_structure.append(near)
    assert on_structure[0][0] > on_structure[1][0]  # Ca weighted: more points on Ca edges
    assert on_structure[1][1] > on_structure[0][1]  # Au weighted: more points on Au bands


def test_pure_noise_channel_does_not_drive_the_scan():
    maps, _ = make_xrf_maps((64, 96), seed=8)
    noisy = np.concatenate([maps, np.full((1, 64, 96), 30.0)])  # a flat channel: counts only
    kwargs = dict(batch_size=30, seed=0, max_coverage=0.2, change_tolerance=None)
    with_noise = Sampler(noisy.shape[1:], **kwargs)
    run(with_noise, noisy, rng=np.random.default_rng(0))
    gains = with_noise.channel_gains
    assert gains[-1] < 0.02 and gains[:-1].min() > 0.05
    without = Sampler(maps.shape[1:], **kwargs)
    run(without, maps, rng=np.random.default_rng(0))
    err = [
        np.linalg.norm(s.reconstruction[:5] - maps, axis=(1, 2)) / np.linalg.norm(maps, axis=(1, 2))
        for s in (with_noise, without)
    ]
    assert np.all(err[0] < 1.15 * err[1])


def _tile_histogram(points, shape, tile=8):
    """Fraction of ``points`` in each tile x tile block of the grid."""
    hist = np.zeros((-(-shape[0] // tile), -(-shape[1] // tile)))
    np.add.at(hist, (points[:, 0] // tile, points[:, 1] // tile), 1.0)
    return hist / hist.sum()


def test_pure_noise_channel_leaves_the_point_pattern_as_without_it():
    """A flat count channel does not move the points; a structured one does (control)."""
    shape = (64, 96)
    maps, _ = make_xrf_maps(shape, seed=8)
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    extras = {
        "noise": np.full(shape, 30.0),  # counting noise only
        "structure": np.where((rows // 16 + cols // 16) % 2 == 0, 60.0, 5.0),  # control
    }
    kwargs = dict(batch_size=30, seed=0, max_coverage=0.2, change_tolerance=None)

    def scan(channel_maps):
        rngs = [np.random.default_rng(50 + c) for c in range(len(channel_maps))]
        sampler = Sampler(shape, **kwargs)
        while not sampler.should_stop():
            points = sampler.suggest()
            expected = channel_maps[:, points[:, 0], points[:, 1]]
            sampler.ingest(points, np.stack([r.poisson(e) for r, e in zip(rngs, expected)], 1))
        return _tile_histogram(sampler.measured_points, shape)

    alone = scan(maps)
    moved = {
        name: np.abs(scan(np.concatenate([maps, m[None]])) - alone).sum()
        for name, m in extras.items()
    }
    assert moved["noise"] < 0.5 * moved["structure"], moved


def test_multichannel_beats_static_patterns_and_the_sum_driven_scan():
    shape = (128, 192)
    maps, _ = make_xrf_maps(shape, seed=21)
    kwargs = dict(batch_size=50, seed=0, max_coverage=0.2, change_tolerance=None)
    norms = np.linalg.norm(maps, axis=(1, 2))

    def channel_nrmse(points):
        values = maps[:, points[:, 0], points[:, 1]]
        recon = np.stack([idw_reconstruction(shape, points, v) for v in values])
        return np.linalg.norm(recon - maps, axis=(1, 2)) / norms

    sampler = Sampler(shape, **kwargs)
    run(sampler, maps)
    fast = channel_nrmse(sampler.measured_points)
    summed = Sampler(shape, **kwargs)
    while not summed.should_stop():
        points = summed.suggest()
        summed.ingest(points, maps[:, points[:, 0], points[:, 1]].sum(0))
    sum_driven = channel_nrmse(summed.measured_points)
    n = sampler.n_measured
    static = np.min(
        [
            channel_nrmse(cls(shape, max_coverage=0.2, seed=0).suggest(n)[:n])
            for cls in (RasterSampler, RandomSampler, HaltonSampler)
        ],
        axis=0,
    )
    ratio = fast / static
    assert np.all(ratio < 1), ratio
    assert ratio.max() < (sum_driven / static).max(), (ratio, sum_driven / static)


def test_noise_aware_features_do_not_chase_counting_noise():
    """Flat count channels: noise-aware features leave a better IDW map than noise-chasing."""
    shape = (64, 96)
    flat = np.stack([np.full(shape, 20.0), np.full(shape, 5.0)])  # no structure at all
    errors = {}
    for noise in ("auto", "none"):  # "none": the features keep the counting noise
        kwargs = dict(batch_size=30, seed=0, max_coverage=0.2, change_tolerance=None)
        sampler = Sampler(shape, noise=noise, **kwargs)
        run(sampler, flat, rng=np.random.default_rng(0))
        points, values = sampler.measured_points, sampler.measured_values
        recon = np.stack([idw_reconstruction(shape, points, v) for v in values.T])
        norms = np.linalg.norm(flat, axis=(1, 2))
        errors[noise] = np.linalg.norm(recon - flat, axis=(1, 2)) / norms
    assert np.all(errors["auto"] < errors["none"]), errors


def test_counting_noise_alone_does_not_keep_the_scan_going():
    shape = (64, 96)
    flat = np.stack([np.full(shape, 20.0), np.full(shape, 5.0)])  # no structure at all
    sampler = Sampler(shape, batch_size=30, seed=0, max_coverage=0.6)
    run(sampler, flat, rng=np.random.default_rng(0))
    assert sampler.coverage < 0.5 and "reconstruction change" in sampler.stop_reason
    # the same readings as non-count floats (no noise model): the rule does not fire
    floats = Sampler(shape, batch_size=30, seed=0, max_coverage=0.6, noise="none")
    run(floats, flat, rng=np.random.default_rng(0))
    assert floats.coverage > sampler.coverage


def test_save_load_round_trips_channels(maps, tmp_path):
    sampler = Sampler(
        SHAPE,
        batch_size=15,
        seed=7,
        max_coverage=0.2,
        channels=list(XRF_ELEMENTS),
        channel_weights=[1, 2, 1, 3, 1],
    )
    run(sampler, maps, rng=np.random.default_rng(3), n_batches=8)
    restored = Sampler.load(sampler.save(tmp_path / "state.npz"))
    assert restored.get_params() == sampler.get_params()
    assert restored.channel_names == XRF_ELEMENTS
    np.testing.assert_array_equal(restored.measured_values, sampler.measured_values)
    np.testing.assert_array_equal(restored.reconstruction, sampler.reconstruction)
    np.testing.assert_array_equal(restored.channel_gains, sampler.channel_gains)
    np.testing.assert_array_equal(restored.suggest(), sampler.suggest())


def test_channel_count_is_fixed_by_the_first_reading(maps):
    sampler = Sampler(SHAPE, batch_size=10, seed=0)
    points = sampler.suggest(4)
    sampler.ingest(points, maps[:3, points[:, 0], points[:, 1]].T)
    assert sampler.n_channels == 3 and sampler.channel_names == ("ch0", "ch1", "ch2")
    before = sampler.measured_values.copy()
    more = sampler.suggest(2)
    with pytest.raises(ValueError, match="readings have 2 channels, the sampler has 3"):
        sampler.ingest(more, np.ones((2, 2)))
    with pytest.raises(ValueError, match="1-D readings for a 3-channel sampler"):
        sampler.ingest(more, np.ones(2))
    np.testing.assert_array_equal(sampler.measured_values, before)  # nothing changed


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"channels": ["Fe", "Fe"]}, "distinct"),
        ({"channels": 0}, ">= 1"),
        ({"channels": "Fe"}, "list of names"),
        ({"channels": 2, "channel_weights": [1, 1, 1]}, "3 channel weights for 2 channels"),
        ({"channel_weights": [1, -1]}, ">= 0"),
        ({"noise": "gauss"}, "noise must be one of"),
        ({"channel_combine": "max"}, "channel_combine must be one of"),
    ],
)
def test_constructor_rejects_bad_channel_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Sampler(SHAPE, **kwargs)

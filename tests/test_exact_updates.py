"""Local updates equal a full recompute after every ingest, whatever the sequence.

The reference recomputes everything from the reading log alone: the
reconstruction is :func:`fastscan.idw_reconstruction` of all readings (repeats
averaged), the ERD is the model on features of every unmeasured pixel at the
intensity scale the rescale rule gives, and the k-th neighbour distances and
tile maxima follow from those. Everything is compared bit for bit except the
ERD, which is equal up to the float32 rounding of the model's forward pass.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastscan._threads as threads_module
import fastscan.sampler as sampler_module
from fastscan import Sampler
from fastscan._lattice import lattice_levels
from fastscan._structure import LATTICE_LEVELS, shape_erd, shaping
from fastscan.erd.floor import model_error_power
from fastscan.erd.noise_cost import FALLBACK
from fastscan.features import analytic_rd, feature_radius, slads_features
from fastscan.neighbors import knn_gather
from fastscan.phantoms import make_phantom
from fastscan.reconstruction import idw_reconstruction
from fastscan.sampler import ACTIVATION_TAIL
from fastscan.selection import TileMax

N_EXAMPLES = 60  # random ingest sequences per neighbour search (deterministic: derandomize=True)
RESCALE_GROWTH = 1.25  # the sampler's documented rescale rule


class Reference:
    """Full recompute from the reading log; tracks the intensity scale independently,
    reading by reading: set when the documented share of the initial pattern is in
    (ACTIVATION_TAIL), then reset at the first reading that grows the range 1.25 times."""

    def __init__(self, sampler: Sampler) -> None:
        self.low, self.high, self.ref_range = np.inf, -np.inf, None
        self.initial = {(int(r), int(c)) for r, c in sampler._initial}
        tail = max(1, math.ceil(ACTIVATION_TAIL * len(self.initial)))
        self.activate_at = max(len(self.initial) - tail, min(len(self.initial), sampler.k + 1))
        self.seen: set[tuple[int, int]] = set()
        self.active = False

    def observe(self, points: np.ndarray, values: np.ndarray) -> None:
        for (row, col), value in zip(points, values):
            self.low = min(self.low, float(value))
            self.high = max(self.high, float(value))
            value_range = self.high - self.low
            if not self.active:
                if (int(row), int(col)) in self.initial:
                    self.seen.add((int(row), int(col)))
                if len(self.seen) >= self.activate_at:
                    self.active, self.ref_range = True, value_range
            elif value_range > RESCALE_GROWTH * self.ref_range:
                self.ref_range = value_range

    def check(self, sampler: Sampler) -> None:
        shape, k = sampler.shape, sampler.k
        points, values = sampler.measured_points, sampler.measured_values
        recon = idw_reconstruction(shape, points, values, k=k)
        np.testing.assert_array_equal(sampler.reconstruction, recon)
        mask = np.zeros(shape, bool)
        mask[points[:, 0], points[:, 1]] = True
        np.testing.assert_array_equal(sampler.measured_mask, mask)
        scale = 100.0 / self.ref_range if self.ref_range > 1e-200 else 1.0
        assert sampler._scale == scale
        pixels = np.argwhere(~mask)
        erd = np.zeros(shape)
        dk = np.zeros(shape)
        if len(pixels):
            nbr = knn_gather(mask, pixels, k)
            features = slads_features(
                recon,
                recon,
                pixels,
                *nbr,
                rho=feature_radius(shape),
                scale=scale,
                sparsity_area=sampler.model.sparsity_numerator(shape),
            )
            predicted = sampler.model.predict(features)
            predicted += sampler.tie_break * analytic_rd(features)
            # exploration floor: the RD of a uniform error erd_floor at distance d_1
            power = model_error_power(sampler.model)
            floor = sampler._floor_level * (0.5 * np.pi * features[:, 2] ** 2) ** (1.0 / power)
            predicted = np.maximum(predicted, floor)
            if (
                sampler._late_done
                and sampler._counting
                and sampler._count_noise_cost() > 0
                and self.ref_range <= sampler_module.COUNT_NOISE_MAX_RANGE
            ):  # low counts past the late switch: the gain net of a raw reading's noise
                counts = np.maximum(recon[pixels[:, 0], pixels[:, 1]], 0.0)
                noise = sampler._count_noise_cost() * scale * np.sqrt(counts)
                predicted = np.maximum(predicted - noise, 0.0) + FALLBACK * predicted / (1 + noise)
            # structure shaping: exponents held since the initial pattern
            a, b, power = shaping(
                sampler._gini, sampler.contrast, sampler.fill, sampler.lattice, sampler._counting
            )
            assert sampler._exponents == (a, b) and sampler._lattice_power == power
            levels = np.clip(lattice_levels(shape), *LATTICE_LEVELS)[pixels[:, 0], pixels[:, 1]]
            shape_erd(predicted, features[:, 0], features[:, 2], a, b, levels, power)
            erd[pixels[:, 0], pixels[:, 1]] = predicted
            dk[pixels[:, 0], pixels[:, 1]] = nbr[2][:, -1]
        # the forward pass runs in float32 through BLAS, whose rounding depends on how
        # many rows go in together: equal up to that rounding
        np.testing.assert_allclose(sampler.erd, np.maximum(erd, 0.0), rtol=2e-5, atol=1e-6)
        np.testing.assert_array_equal(sampler._dk, dk)
        internal = np.where(mask, -1.0, sampler._erd)
        np.testing.assert_array_equal(sampler._tiles.maxima, TileMax(internal.copy()).maxima)
        # the d_k bound of each tile holds (it limits the affected-pixel search)
        tile = sampler._dk_tile
        padded = np.zeros((sampler._dk_max.shape[0] * tile, sampler._dk_max.shape[1] * tile))
        padded[: shape[0], : shape[1]] = dk
        blocks = padded.reshape(sampler._dk_max.shape[0], tile, -1, tile).max(axis=(1, 3))
        assert (sampler._dk_max >= blocks).all()


def ingest_checked(sampler: Sampler, ref: Reference, points: np.ndarray, values: np.ndarray):
    sampler.ingest(points, values)
    ref.observe(points, values)
    assert sampler._active == ref.active  # the ERD map is made at the documented reading
    if sampler._active:
        ref.check(sampler)


@settings(
    max_examples=N_EXAMPLES,
    derandomize=True,
    database=None,  # the same examples on every machine, nothing stored
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    shape=st.tuples(st.integers(8, 28), st.integers(8, 28)),
    k=st.integers(1, 10),
    seed=st.integers(0, 2**31 - 1),
    steps=st.lists(
        st.tuples(
            st.integers(1, 40),  # new points suggested by the sampler
            st.integers(0, 12),  # repeats of measured pixels, other readings
            st.integers(0, 6),  # arbitrary pixels (new or measured) the user chose
            st.sampled_from([0.0, 0.0, 0.0, 3.0, -8.0]),  # far-out reading (rescale)
        ),
        min_size=1,
        max_size=8,
    ),
)
def check_random_sequence(shape, k, seed, steps, counter):
    counter.append(1)
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=shape).cumsum(0).cumsum(1)
    sampler = Sampler(
        shape, batch_size=5, k=k, seed=seed % 1000, max_coverage=1.0, change_tolerance=None
    )
    ref = Reference(sampler)
    first = sampler.suggest()
    split = int(rng.integers(1, len(first) + 1))  # the initial pattern in two pieces
    for part in (first[:split], first[split:]):
        if len(part):
            ingest_checked(sampler, ref, part, truth[part[:, 0], part[:, 1]])
    for n_new, n_repeat, n_any, far in steps:
        new = sampler.suggest(n_new)
        measured = np.argwhere(sampler.measured_mask)
        repeat = measured[rng.integers(0, len(measured), n_repeat)]
        anywhere = np.stack([rng.integers(0, shape[0], n_any), rng.integers(0, shape[1], n_any)], 1)
        points = np.concatenate([new, repeat, anywhere])
        if len(points) == 0:
            continue
        points = points[rng.permutation(len(points))]
        values = truth[points[:, 0], points[:, 1]] + rng.normal(0.0, 0.5, len(points))
        if far:
            values[int(rng.integers(len(values)))] = far * np.ptp(truth) + truth.max()
        ingest_checked(sampler, ref, points, values)


@pytest.mark.parametrize(
    ("cell_density", "lists_max_k", "split_rows"),
    [(0.0, 16, 10**9), (1.0, 16, 2), (1.0, 0, 10**9)],
)
def test_random_ingest_sequences_equal_full_recompute(
    monkeypatch, cell_density, lists_max_k, split_rows
):
    # neighbours come from the offset table (0.0) or from the sparse-scan CellIndex (1.0),
    # with stored neighbour lists merged (k <= 16) or searched in every update (0);
    # split_rows = 2: the lists' passes run in two halves on two threads (fastscan._threads)
    monkeypatch.setattr(sampler_module, "_CELL_DENSITY", cell_density)
    monkeypatch.setattr(sampler_module, "_LISTS_MAX_K", lists_max_k)
    monkeypatch.setattr(threads_module, "MIN_ROWS", split_rows)
    monkeypatch.setattr(threads_module, "MAX_LOAD_PER_CORE", float("inf"))  # even when busy
    counter: list[int] = []
    check_random_sequence(counter=counter)
    assert len(counter) >= N_EXAMPLES


@pytest.mark.parametrize(
    "knobs",
    [{}, {"model": "l2"}, {"model": "l2", "erd_floor": 0.5}, {"erd_floor": "auto"}],
    ids=["default", "l2", "l2+floor", "auto-floor"],
)
def test_remeasured_points_and_a_far_reading_stay_exact(knobs):
    """The issue's scenario: 40-point batches, 10 earlier points re-measured with other
    readings per batch, one reading far outside the range (forces a rescale); with the
    default model, l2, and l2 with an exploration floor (which reads d_1 only)."""
    image = make_phantom("flakes", (200, 300), seed=4)[40:140, 60:220].copy()
    rng = np.random.default_rng(9)
    sampler = Sampler(
        image.shape, batch_size=40, seed=0, max_coverage=0.5, change_tolerance=None, **knobs
    )
    ref = Reference(sampler)
    first = sampler.suggest()
    ingest_checked(sampler, ref, first, image[first[:, 0], first[:, 1]])
    value_range = float(np.ptp(image))
    rescale_before = sampler._scale
    for step in range(12):
        points = sampler.suggest()
        earlier = sampler.measured_points
        repeat = earlier[rng.choice(len(earlier), 10, replace=False)]
        readings = image[repeat[:, 0], repeat[:, 1]] + rng.normal(0, 0.2 * value_range, 10)
        if step == 6:
            readings[0] = image.max() + 3 * value_range
        ingest_checked(
            sampler,
            ref,
            np.concatenate([points, repeat]),
            np.concatenate([image[points[:, 0], points[:, 1]], readings]),
        )
    assert sampler._scale < rescale_before  # the far reading did force a rescale


def test_late_model_switch_stays_exact(monkeypatch):
    """The late switch (sampler.LATE_MODEL from LATE_COVERAGE on) recomputes every
    unmeasured pixel's ERD with the new model: equal to the full recompute right after
    the switch and after every later local update (rescale included)."""
    monkeypatch.setattr(sampler_module, "LATE_MODEL", "l1+l2")
    monkeypatch.setattr(sampler_module, "LATE_COVERAGE", 0.02)
    image = make_phantom("flakes", (200, 300), seed=4)[40:140, 60:220].copy()
    sampler = Sampler(image.shape, batch_size=40, seed=0, max_coverage=0.5, change_tolerance=None)
    ref = Reference(sampler)
    first = sampler.suggest()
    ingest_checked(sampler, ref, first, image[first[:, 0], first[:, 1]])
    models = []
    for step in range(8):
        points = sampler.suggest()
        models.append(sampler.model.name)
        ref.check(sampler)  # right after a switch too
        readings = image[points[:, 0], points[:, 1]]
        if step == 5:
            readings = readings.copy()
            readings[0] = image.max() + 3 * float(np.ptp(image))
        ingest_checked(sampler, ref, points, readings)
    switch = int(np.ceil(0.02 * image.size))
    n_before = [len(first) + 40 * i for i in range(8)]
    assert models == ["default" if n < switch else "l1+l2" for n in n_before]
    assert "default" in models and "l1+l2" in models


@pytest.mark.parametrize("noise_cost", [None, 0.5])
def test_poisson_counts_noise_cost_stays_exact(monkeypatch, noise_cost):
    """Low Poisson counts (``_counting``, range <= COUNT_NOISE_MAX_RANGE) with the noise cost
    on (the default, and a given weight): from the late switch the ERD is the gain net of
    the noise at each pixel's reconstruction (the shadow map made before it too); local
    updates, remeasured pixels with other counts included, equal the full recompute after
    every ingest, before and after the switch."""
    monkeypatch.setattr(sampler_module, "LATE_COVERAGE", 0.03)
    image = 4.0 + 56.0 * make_phantom("flakes", (200, 300), seed=4)[40:140, 60:220]
    rng = np.random.default_rng(3)
    sampler = Sampler(
        image.shape,
        batch_size=40,
        seed=0,
        max_coverage=0.5,
        change_tolerance=None,
        noise_cost=noise_cost,
    )
    ref = Reference(sampler)
    first = sampler.suggest()
    ingest_checked(sampler, ref, first, rng.poisson(image[first[:, 0], first[:, 1]]).astype(float))
    assert sampler._counting and sampler._noise_cost_on()
    done = []
    for _ in range(10):
        points = sampler.suggest()
        done.append(sampler._late_done)
        ref.check(sampler)  # right after the switch too
        earlier = sampler.measured_points
        points = np.concatenate([points, earlier[rng.choice(len(earlier), 6, replace=False)]])
        counts = rng.poisson(image[points[:, 0], points[:, 1]]).astype(float)
        ingest_checked(sampler, ref, points, counts)
    assert not done[0] and done[-1]  # checked before and after the switch
    # the reference applied the cost at this weight (None: COUNT_NOISE_COST, 2)
    assert sampler._noise_cost_on()
    assert sampler._count_noise_cost() == (2.0 if noise_cost is None else noise_cost)

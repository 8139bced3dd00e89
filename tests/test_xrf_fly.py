"""Multichannel fly scans: every element's counts per sample, stored and driving a FlySampler.

In-process (SimFlyer over element maps) and over Channel Access (the IOC's
``P:xrf:C1:ROI<k>:TS`` time series read by EpicsFlyer), which must equal the
in-process replay with the same noise seed.
"""

from __future__ import annotations

import epics
import numpy as np
import pytest
from bluesky import RunEngine
from conftest import start_test_ioc
from docstring_examples import assert_examples_pass
from honesty import IocRecord, assert_honest_devices
from ophyd.sim import SynAxis

from fastscan.fly import FlySampler
from fastscan.motion import MotionModel
from fastscan.phantoms import make_xrf_maps
from fastscan.plans import autonomous_fly_scan
from fastscan.plans.grid import Grid
from fastscan.sim.flyer import SimFlyer
from fastscan.sim.xrf_detector import SimXRFDetector

pytestmark = pytest.mark.timeout(120)

SHAPE = (32, 48)
GRID = Grid(0.0, 47.0, 48, 0.0, 31.0, 32)  # pixel units, as the test IOC
MAPS, ELEMENTS = make_xrf_maps(SHAPE, seed=0)
VELOCITY, ACCEL, MARGIN, SEED = 400.0, 1e4, 3.0, 5
MOTION = MotionModel((VELOCITY, VELOCITY), (ACCEL, ACCEL), dwell=0.005,
                     travel=((-MARGIN, 47 + MARGIN), (-MARGIN, 31 + MARGIN)))  # fmt: skip


def _sampler() -> FlySampler:
    return FlySampler(SHAPE, motion=MOTION, max_coverage=0.25, initial_spacing=6, seed=0,
                      channels=list(ELEMENTS))  # fmt: skip


def _sim_flyer(noise_seed=None) -> SimFlyer:
    return SimFlyer(
        "flyer", MAPS, GRID, velocity_limit=MOTION.velocity, acceleration=MOTION.acceleration,
        travel=MOTION.travel, elements=ELEMENTS, noise=None if noise_seed is None else "poisson",
        seed=noise_seed or 0,
    )  # fmt: skip


def _fly(flyer, sampler):
    docs = []
    result = RunEngine(call_returns_result=True)(
        autonomous_fly_scan(flyer, sampler, grid=GRID, motion=MOTION),
        lambda name, doc: docs.append((name, doc)),
    )
    pages = [d for n, d in docs if n == "event_page"]
    columns = {k: np.concatenate([p["data"][k] for p in pages]) for k in pages[0]["data"]}
    return result.plan_result, docs, columns


def _stored_pixels_and_counts(columns):
    pixels = GRID.to_indices(np.stack([columns["flyer_x"], columns["flyer_y"]], axis=1))
    counts = np.stack([columns[f"flyer_{e}"] for e in ELEMENTS], axis=1)
    return pixels, counts


def test_in_process_fly_stores_and_ingests_every_element():
    sampler, flyer = _sampler(), _sim_flyer()
    summary, docs, columns = _fly(flyer, sampler)
    assert_honest_devices(sampler, flyer)
    start = next(d for n, d in docs if n == "start")
    assert start["fastscan"]["signal"] == [f"flyer_{e}" for e in ELEMENTS]
    assert start["fastscan"]["sampler_params"]["channels"] == list(ELEMENTS)
    pixels, counts = _stored_pixels_and_counts(columns)
    assert summary.n_samples == len(counts) > 0 and sampler.coverage >= 0.25
    # each sample spans one pixel: the counts are the maps there, the value their sum
    np.testing.assert_allclose(counts, MAPS[:, pixels[:, 0], pixels[:, 1]].T)
    np.testing.assert_allclose(columns["flyer_value"], counts.sum(axis=1))
    assert sampler.measured_values.shape == (len(sampler.measured_points), len(ELEMENTS))
    recon = sampler.reconstruction
    assert recon.shape == (len(ELEMENTS), *SHAPE)
    errors = np.linalg.norm(recon - MAPS, axis=(1, 2)) / np.linalg.norm(MAPS, axis=(1, 2))
    assert np.all(errors < 1.0), errors


def test_sim_xrf_detector_flyer_shares_maps_elements_and_noise():
    x, y = SynAxis(name="x"), SynAxis(name="y")
    det = SimXRFDetector("xrf", MAPS, GRID, x, y, elements=ELEMENTS, noise="poisson", seed=3)
    flyer = det.flyer()
    assert flyer.elements == ELEMENTS
    flyer.prepare({"start": (0.0, 4.0), "end": (47.0, 4.0), "velocity": 100.0, "period": 0.01})
    flyer.kickoff().wait(5)
    flyer.complete().wait(5)
    data = next(flyer.collect_pages())["data"]
    counts = np.stack([data[f"flyer_{e}"] for e in ELEMENTS], axis=1)
    expected = np.random.default_rng(3).poisson(MAPS[:, 4, :].T)  # one draw per (sample, element)
    np.testing.assert_array_equal(counts, expected)
    with pytest.raises(ValueError, match="element maps need as many elements"):
        SimFlyer("f", MAPS, GRID, elements=ELEMENTS[:2])


@pytest.mark.epics
def test_multichannel_fly_over_channel_access_matches_the_replay():
    from fastscan.devices.fly import EpicsFlyer

    ioc = start_test_ioc(
        "XF", phantom="xrf", shape=SHAPE, velocity=VELOCITY, acceleration=ACCEL,
        noise="poisson", seed=SEED,
        extra_args=["--limit-margin", str(MARGIN), "--fly-time-scale", "0"],
    )  # fmt: skip
    flyer = EpicsFlyer(ioc.pv("fly:"), name="flyer", elements=ELEMENTS, roi_prefix=ioc.pv("xrf:"))
    try:
        flyer.wait_for_connection(timeout=20)
        assert epics.caget(ioc.pv("xrf:NumROIs"), timeout=10) == len(ELEMENTS)
        sampler = _sampler()
        summary, docs, columns = _fly(flyer, sampler)
        assert_honest_devices(sampler, IocRecord(ioc, SHAPE))  # a fresh IOC: this run only
    finally:
        flyer.destroy()
        ioc.stop()
    stop = next(d for n, d in docs if n == "stop")
    pixels, counts = _stored_pixels_and_counts(columns)
    assert stop["exit_status"] == "success" and stop["num_events"]["fly"] == len(counts) > 0
    np.testing.assert_array_equal(counts, np.round(counts))  # Poisson counts
    np.testing.assert_allclose(columns["flyer_value"], counts.sum(axis=1))

    replay, replay_flyer = _sampler(), _sim_flyer(SEED)
    _, _, replay_columns = _fly(replay_flyer, replay)
    assert_honest_devices(replay, replay_flyer)
    replay_pixels, replay_counts = _stored_pixels_and_counts(replay_columns)
    np.testing.assert_array_equal(replay_pixels, pixels)
    np.testing.assert_array_equal(replay_counts, counts)
    np.testing.assert_array_equal(replay.measured_values, sampler.measured_values)
    np.testing.assert_allclose(replay.reconstruction, sampler.reconstruction)
    assert summary.n_samples == len(counts)


def test_fly_sampler_takes_n_by_c_readings_and_refuses_a_wrong_channel_count():
    sampler = FlySampler(SHAPE, motion=MOTION, channels=["Fe", "Cu"], seed=0)
    points = np.array([[0, c] for c in range(5)])
    with pytest.raises(ValueError):
        sampler.ingest(points, np.ones((5, 3)))
    assert sampler.n_measured == 0 and len(sampler.trajectory.points) == 0
    sampler.ingest(points, np.arange(10.0).reshape(5, 2))
    np.testing.assert_array_equal(sampler.measured_values, np.arange(10.0).reshape(5, 2))
    assert sampler.reconstruction.shape == (2, *SHAPE)
    one = FlySampler(SHAPE, motion=MOTION, seed=0)  # one channel: (n,) as before
    one.ingest(points, np.arange(5.0))
    assert one.reconstruction.shape == SHAPE


@pytest.mark.parametrize(
    "name",
    ["fastscan.sim.xrf_detector", "fastscan.sim.ioc_xrf", "fastscan.sim.ioc_records",
     "fastscan.devices.xrf"],
)  # fmt: skip
def test_docstring_examples_of_the_xrf_modules(name):
    import doctest

    assert_examples_pass(name, doctest.ELLIPSIS)

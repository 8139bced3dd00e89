"""Fly motion and capture of the simulated beamline (pure, no EPICS), and the sim/ house items."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest
from docstring_examples import assert_examples_pass
from hypothesis import given, settings
from hypothesis import strategies as st

from fastscan.fly import Segment
from fastscan.phantoms import make_phantom
from fastscan.plans.fly import to_pixels
from fastscan.plans.grid import Grid
from fastscan.sim.detector import SimDetector
from fastscan.sim.fly_motion import (
    FlyProfile,
    axis_move_time,
    check_flight,
    fly_capture,
    path_average,
)
from fastscan.sim.flyer import SimFlyer
from fastscan.sim.ioc_cli import parse_args, server_environment

SHAPE = (40, 60)
IMAGE = make_phantom("flakes", SHAPE, seed=3)
GRID = Grid(10.0, 10.0 + 0.5 * 59, 60, -2.0, -2.0 + 0.25 * 39, 40)  # x pitch 0.5, y pitch 0.25


def _reference_average(image, grid, a, b, n=20000):
    """Dense NumPy reference: nearest pixel at n evenly spaced points along a -> b."""
    t = (np.arange(n) + 0.5) / n
    xy = np.asarray(a)[None, :] + t[:, None] * (np.asarray(b) - np.asarray(a))[None, :]
    rc = grid.to_indices(xy, clip=True)
    return image[rc[:, 0], rc[:, 1]].mean()


def _profile(seg: Segment, grid: Grid, period: float = 0.01, **kw) -> FlyProfile:
    xy = grid.to_positions(np.array([seg.start, seg.end]))
    length = float(np.hypot(*(xy[1] - xy[0])))
    step = length / (seg.n_pixels - 1) if seg.n_pixels > 1 else grid.pitch[0]
    return FlyProfile(tuple(xy[0]), tuple(xy[1]), step / period, period, **kw)


@pytest.mark.parametrize(
    "seg", [Segment((5, 0), (5, 59)), Segment((7, 50), (7, 3)), Segment((39, 11), (0, 11))]
)
def test_row_or_column_at_one_pixel_per_period_reads_each_pixel_exactly(seg):
    capture = fly_capture(IMAGE, GRID, _profile(seg, GRID))
    pixels = seg.pixels()
    assert capture.n_samples == seg.n_pixels
    np.testing.assert_array_equal(capture.values, IMAGE[pixels[:, 0], pixels[:, 1]])
    np.testing.assert_array_equal(to_pixels(GRID, capture.x, capture.y), pixels)


def test_path_average_matches_dense_reference_for_blurred_and_diagonal_paths():
    rng = np.random.default_rng(0)
    for _ in range(30):
        a = GRID.to_positions(rng.uniform([0, 0], [39, 59], size=(1, 2)))[0]
        b = a + rng.normal(0, 2.0, 2)
        got = path_average(IMAGE, GRID, tuple(a), tuple(b))
        assert got == pytest.approx(_reference_average(IMAGE, GRID, a, b), abs=2e-3)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 39), st.integers(0, 59), st.integers(0, 39), st.integers(0, 59),
)  # fmt: skip
def test_captured_positions_map_to_the_segment_pixels(r0, c0, r1, c1):
    seg = Segment((r0, c0), (r1, c1))
    capture = fly_capture(IMAGE, GRID, _profile(seg, GRID))
    np.testing.assert_array_equal(to_pixels(GRID, capture.x, capture.y), seg.pixels())


def test_trapezoid_flight_profile():
    seg = Segment((3, 2), (3, 40))
    profile = _profile(
        seg, GRID, period=0.02, acceleration=(200.0, 100.0), move_velocity=(40.0, 30.0),
        origin=GRID.to_position(30, 50),
    )  # fmt: skip
    v, a = profile.velocity, 200.0  # a row flies on x only
    assert profile.ramp_time == pytest.approx(v / a)
    assert profile.ramp_distance == pytest.approx(v * v / (2 * a))
    target = profile.run_up_start
    move = max(
        axis_move_time(target[i] - profile.origin[i], (40.0, 30.0)[i], (200.0, 100.0)[i])
        for i in (0, 1)
    )
    assert profile.duration == pytest.approx(move + 2 * v / a + seg.n_pixels * 0.02)
    t = np.linspace(0, profile.duration, 4001)
    xy = np.array([profile.position_at(s) for s in t])
    assert np.allclose(xy[0], profile.origin) and np.allclose(xy[-1], profile.run_out_end)
    vel = np.diff(xy, axis=0) / np.diff(t)[:, None]
    assert np.abs(vel[:, 0]).max() <= max(v, 40.0) * (1 + 1e-6)
    assert np.abs(vel[:, 1]).max() <= 30.0 * (1 + 1e-6)
    gate = (t[:-1] >= profile.gate_time) & (t[1:] <= profile.gate_time + seg.n_pixels * 0.02)
    assert gate.sum() > 100
    np.testing.assert_allclose(vel[gate, 0], v, rtol=1e-6)  # constant velocity while capturing
    acc = np.diff(vel[:, 0]) / np.diff(t)[1:]
    assert np.abs(acc).max() <= a * 1.05 + 1e-6
    assert profile.position_at(profile.gate_time) == pytest.approx(profile.gate_open)
    capture = fly_capture(IMAGE, GRID, profile)
    np.testing.assert_allclose(np.diff(capture.time), 0.02)
    mid = np.array([profile.position_at(s) for s in capture.time])
    np.testing.assert_allclose(mid, np.stack([capture.x, capture.y], 1), atol=1e-9)


def test_poisson_noise_is_seeded_and_drawn_in_sample_order():
    profile = _profile(Segment((4, 0), (4, 59)), GRID)
    one = fly_capture(IMAGE, GRID, profile, noise="poisson", rng=np.random.default_rng(5))
    two = fly_capture(IMAGE, GRID, profile, noise="poisson", rng=np.random.default_rng(5))
    other = fly_capture(IMAGE, GRID, profile, noise="poisson", rng=np.random.default_rng(6))
    np.testing.assert_array_equal(one.values, two.values)
    assert not np.array_equal(one.values, other.values)
    assert np.abs(one.values - IMAGE[4]).max() < 0.2  # 1000 counts per unit


def test_flight_checks_name_the_value():
    profile = _profile(Segment((4, 0), (4, 59)), GRID, acceleration=(1e3, 1e3))
    with pytest.raises(ValueError, match=r"fly velocity 50\.0 units/s .* limit 10\.0"):
        check_flight(profile, velocity_limit=(10.0, 10.0))
    (x_lo, x_hi), _ = profile.bounds()
    with pytest.raises(ValueError, match=r"segment flight x in .* outside the x motor's travel"):
        check_flight(profile, velocity_limit=(100.0, 100.0), travel=((10.0, 39.5), (-9, 9)))
    assert check_flight(profile, velocity_limit=(100, 100), travel=((x_lo, x_hi), (-9, 9)))
    with pytest.raises(ValueError, match=r"dwell\) must be > 0 seconds, got 0\.0"):
        FlyProfile((0, 0), (1, 0), 1.0, 0.0)
    with pytest.raises(ValueError, match=r"velocity must be a finite number > 0, got -1"):
        FlyProfile((0, 0), (1, 0), -1, 0.1)


def test_grid_fractions_invert_grid_positions():
    rc = np.array([[0, 0], [39, 59], [12, 7]])
    np.testing.assert_allclose(GRID.to_fractions(GRID.to_positions(rc)), rc, atol=1e-12)


def test_sim_flyer_flies_refuses_and_leaves_the_callers_array_alone():
    image = IMAGE.copy()
    flyer = SimFlyer("fl", image, GRID, velocity_limit=(60.0, 60.0), acceleration=(1e4, 1e4))
    assert image.flags.writeable
    seg = Segment((2, 59), (2, 0))
    p = _profile(seg, GRID, acceleration=(1e4, 1e4))
    flyer.prepare({"start": p.start, "end": p.end, "velocity": p.velocity, "period": p.period})
    flyer.kickoff().wait(1)
    flyer.complete().wait(1)
    (page,) = list(flyer.collect_pages())
    assert page["data"]["fl_value"] == IMAGE[2, ::-1].tolist()
    assert list(flyer.collect_pages()) == []  # each page once
    assert flyer.position == pytest.approx(p.run_out_end)
    flyer.prepare({"start": p.start, "end": p.end, "velocity": 100.0, "period": p.period})
    status = flyer.kickoff()
    with pytest.raises(RuntimeError, match=r"fly velocity 100\.0 units/s .* limit 60\.0"):
        status.wait(1)
    with pytest.raises(ValueError, match=r"period must be a finite number > 0"):
        flyer.prepare({"start": p.start, "end": p.end, "velocity": 10.0, "period": -1})


def test_sim_flyer_takes_scaled_real_time():
    flyer = SimFlyer("fl", IMAGE, GRID, acceleration=(1e3, 1e3), time_scale=1.0)
    p = _profile(Segment((2, 0), (2, 19)), GRID, acceleration=(1e3, 1e3))
    flyer.prepare({"start": p.start, "end": p.end, "velocity": p.velocity, "period": p.period})
    flyer.kickoff().wait(1)
    done = flyer.complete()
    assert not done.done  # about 0.25 s of modelled flight
    done.wait(5)
    assert flyer.last_duration == pytest.approx(
        p.n_samples * p.period + 2 * p.velocity / 1e3 + FlyProfile(
            p.start, p.end, p.velocity, p.period, acceleration=(1e3, 1e3),
            origin=GRID.to_position(0, 0),
        ).move_time
    )  # fmt: skip


def test_sim_detector_flies_with_its_own_image_motors_and_noise_stream():
    from ophyd.sim import SynAxis

    x, y = SynAxis(name="x"), SynAxis(name="y")
    x.set(GRID.x_start + 3 * 0.5), y.set(GRID.y_start + 2 * 0.25)
    det = SimDetector("det", IMAGE, GRID, x, y, noise="poisson", seed=4)
    flyer = det.flyer(acceleration=(1e4, 1e4))
    assert flyer.position == pytest.approx(GRID.to_position(2, 3))
    p = _profile(Segment((6, 0), (6, 59)), GRID, acceleration=(1e4, 1e4))
    flyer.prepare({"start": p.start, "end": p.end, "velocity": p.velocity, "period": p.period})
    flyer.kickoff().wait(1)
    flyer.complete().wait(1)
    values = next(flyer.collect_pages())["data"]["flyer_value"]
    expected = fly_capture(IMAGE, GRID, p, noise="poisson", rng=np.random.default_rng(4))
    assert values == expected.values.tolist()  # the detector's generator, first draws
    assert x.position == pytest.approx(p.run_out_end[0])  # the motors end where the stage is


def test_sim_detector_does_not_make_the_callers_image_read_only():
    from ophyd.sim import SynAxis

    image = IMAGE.copy()
    SimDetector("det", image, GRID, SynAxis(name="x"), SynAxis(name="y"))
    assert image.flags.writeable
    image[0, 0] = 1.0  # the caller can still write to its own array


def test_ioc_binds_loopback_whatever_the_host_environment_says():
    host = {"EPICS_CAS_INTF_ADDR_LIST": "0.0.0.0", "EPICS_CAS_BEACON_ADDR_LIST": "10.0.0.255"}
    env = server_environment(parse_args([]), host)
    assert env["EPICS_CAS_INTF_ADDR_LIST"] == "127.0.0.1"
    assert env["EPICS_CAS_BEACON_ADDR_LIST"] == "127.0.0.1"
    env = server_environment(parse_args(["--interfaces", "0.0.0.0"]), host)
    assert env["EPICS_CAS_INTF_ADDR_LIST"] == "0.0.0.0"  # only when told so
    args = argparse.Namespace(port=5100, interfaces="127.0.0.1")
    assert server_environment(args, {})["EPICS_CA_SERVER_PORT"] == "5100"
    assert math.isfinite(float(parse_args(["--fly-time-scale", "0"]).fly_time_scale))


@pytest.mark.parametrize(
    "name", ["fastscan.sim.fly_motion", "fastscan.sim.flyer", "fastscan.plans.fly",
             "fastscan.devices.fly"],
)  # fmt: skip
def test_fly_docstring_examples(name):
    import doctest

    assert_examples_pass(name, doctest.ELLIPSIS)

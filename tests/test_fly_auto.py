"""fast-auto: the step-or-fly decision (fastscan.fly.choice) and the hybrid AutoSampler."""

from __future__ import annotations

import numpy as np
import pytest
from docstring_examples import assert_examples_pass
from honesty import assert_honest_scan, honest_simulation

from fastscan.beamtime import TrajectoryBuilder, check_trajectory
from fastscan.fly import auto, choice
from fastscan.fly.auto import AutoSampler
from fastscan.fly.choice import (
    ModeChoice,
    choose_mode,
    cost_ratio,
    mode_without_data,
    step_gain,
)
from fastscan.fly.sampler import line_costs
from fastscan.motion import NANOPROBE, MotionModel
from fastscan.phantoms import make_phantom
from fastscan.replay import SimulatedDetector, make_sampler, replay
from fastscan.sampler import Sampler

SHAPE = (64, 80)


@pytest.fixture(scope="module")
def flakes() -> np.ndarray:
    return make_phantom("flakes", SHAPE, seed=101)


def forced(mode: str):
    return lambda motion, line_pixels, gini: ModeChoice(mode, 1.0, 1.0, gini)


@pytest.mark.parametrize("module", [choice, auto])
def test_docstring_examples(module):
    assert_examples_pass(module)


def test_cost_ratio_is_a_step_reading_over_a_flown_one():
    motion = MotionModel(velocity=(400.0, 900.0), acceleration=(3e3, 1e4), settle_time=0.02,
                         point_overhead=0.03, line_overhead=0.07, dwell=0.05)  # fmt: skip
    move = 2 * np.sqrt(3.0 / 3e3)  # 3 px along x: a triangle profile
    step = 0.05 + 0.02 + 0.03 + move
    (fixed, _), (pixel_time, _) = line_costs(motion)
    assert pixel_time == 0.05
    assert cost_ratio(motion, 100, move=3.0) == pytest.approx(step / (0.05 + fixed / 100))
    # a longer line shares its fixed cost among more readings: flying is cheaper per reading
    assert cost_ratio(motion, 1000, move=3.0) > cost_ratio(motion, 100, move=3.0)
    with pytest.raises(TypeError, match="MotionModel"):
        cost_ratio({"dwell": 0.1}, 100)
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="line_pixels"):
            cost_ratio(motion, bad)
    with pytest.raises(ValueError, match="move"):
        cost_ratio(motion, 100, move=float("nan"))


def test_step_gain_rises_with_the_structure_and_the_choice_follows_it():
    ginis = np.linspace(0.0, 1.0, 41)
    gains = np.array([step_gain(g) for g in ginis])
    assert np.all(np.diff(gains) >= 0) and gains[0] < gains[-1]
    assert gains.min() == choice.GAIN_TEXTURE and gains.max() == pytest.approx(choice.GAIN_SPARSE)
    with pytest.raises(ValueError, match="gini"):
        step_gain(float("nan"))
    for dwell in (0.003, 0.03, 0.3, 3.0):
        motion = NANOPROBE.replace(dwell=dwell)
        picks = [choose_mode(motion, 256, g) for g in ginis]
        for pick, gain in zip(picks, gains):
            assert pick.mode == ("step" if gain >= pick.cost_ratio else "fly")
        modes = [p.mode for p in picks]
        # more structure never turns a step choice back into fly
        assert modes == sorted(modes, key=lambda m: m == "step")
    # longer dwells make step readings relatively cheaper: never fly where a shorter dwell steps
    for g in ginis:
        modes = [choose_mode(NANOPROBE.replace(dwell=d), 256, g).mode for d in (1e-3, 0.1, 10.0)]
        assert modes == sorted(modes, key=lambda m: m == "step")


def run_auto(truth, motion, *, coverages=(0.2, 0.35), choose=None, probe="points"):
    sampler = AutoSampler(truth.shape, motion=motion, max_coverage=max(coverages),
                          choose=choose, batch_size=40, probe=probe)  # fmt: skip
    detector = SimulatedDetector(truth)
    builder = TrajectoryBuilder(motion, shape=truth.shape)
    snaps = replay(sampler, detector, list(coverages), trajectory=builder)
    assert_honest_scan(sampler, detector, motion, trajectory=builder.trajectory())
    return sampler, detector, builder.trajectory(), snaps


def run_strategy(name, truth, motion, coverages=(0.2, 0.35)):
    sampler = make_sampler(name, truth.shape, max_coverage=max(coverages), batch_size=40,
                           motion=motion)  # fmt: skip
    builder, detector = TrajectoryBuilder(motion, shape=truth.shape), SimulatedDetector(truth)
    replay(sampler, detector, list(coverages), trajectory=builder)
    assert_honest_scan(sampler, detector, motion, trajectory=builder.trajectory())
    return builder.trajectory()


@pytest.mark.parametrize(("dwell", "same_as"), [(0.002, "fast-fly"), (5.0, "fast")])
def test_where_the_time_model_decides_it_is_exactly_that_mode(flakes, dwell, same_as):
    motion = NANOPROBE.replace(dwell=dwell)
    sampler, _, traj, _ = run_auto(flakes, motion)
    assert sampler.planned == sampler.mode == ("fly" if same_as == "fast-fly" else "step")
    assert sampler.choice.mode == sampler.planned and np.isnan(sampler.choice.gini)
    other = run_strategy(same_as, flakes, motion)
    np.testing.assert_array_equal(traj.points, other.points)
    np.testing.assert_array_equal(traj.t_end, other.t_end)
    np.testing.assert_array_equal(traj.flown, other.flown)
    assert check_trajectory(traj, motion) == []


def test_in_the_band_the_step_choice_is_exactly_fast(flakes):
    motion = NANOPROBE.replace(dwell=0.1)
    assert mode_without_data(motion, SHAPE[1]) is None
    sampler, _, traj, _ = run_auto(flakes, motion, choose=forced("step"))
    assert sampler.choice.mode == "step" and not sampler.flying
    assert sampler.choice.gini == sampler._step._gini
    fast = run_strategy("fast", flakes, motion)
    np.testing.assert_array_equal(traj.points, fast.points)
    np.testing.assert_array_equal(traj.t_end, fast.t_end)
    with pytest.raises(RuntimeError, match="step mode"):
        sampler.suggest_segments()


def test_a_switch_to_fly_keeps_every_reading_and_times_both_honestly(flakes):
    motion = NANOPROBE.replace(dwell=0.1)
    sampler, detector, traj, snaps = run_auto(flakes, motion, choose=forced("fly"))
    assert sampler.choice.mode == "fly" and sampler.flying and sampler.mode == "fly"
    # the step sampler's initial pattern first (step points), then flown segments only
    first_flown = int(np.argmax(traj.flown))
    assert first_flown > 0 and not traj.flown[:first_flown].any() and traj.flown[first_flown:].all()
    initial = Sampler(SHAPE, seed=0)._initial
    np.testing.assert_array_equal(traj.points[:first_flown], initial)
    # every reading reached the fly sampler, in measurement order; nothing else was asked
    np.testing.assert_array_equal(sampler.measured_points, traj.points)
    assert_honest_scan(sampler, detector, motion, trajectory=traj)
    np.testing.assert_array_equal(sampler.measured_values, flakes[tuple(traj.points.T)])
    np.testing.assert_array_equal(sampler.trajectory.t_end, traj.t_end)
    assert snaps[-1].coverage == 0.35 and sampler.coverage >= 0.35
    assert sampler.get_params()["choice"]["mode"] == "fly"


@pytest.mark.parametrize("probe", ["points", "rows"])
def test_the_data_decide_in_the_band(probe):
    rng = np.random.default_rng(5)
    texture = rng.uniform(0, 100, SHAPE)  # gradient spread evenly: fly
    sparse = make_phantom("particles", SHAPE, seed=103)  # a few edges: step
    motion = NANOPROBE.replace(dwell=0.1)
    tex, _, _, _ = run_auto(texture, motion, coverages=(0.1,), probe=probe)
    par, _, _, _ = run_auto(sparse, motion, coverages=(0.1,), probe=probe)
    assert tex.planned is None and par.planned is None
    assert tex.choice.gini < par.choice.gini
    assert tex.choice.mode == "fly" and par.choice.mode == "step"


def probe_run(truth, mode):
    motion = NANOPROBE.replace(dwell=0.1)
    sampler, detector, traj, _ = run_auto(truth, motion, choose=forced(mode), probe="rows")
    rows = sampler._probe_rows
    n_probe = len(rows) * truth.shape[1]
    # the probe: whole coarse rows, spread over the grid, flown first
    assert len(rows) == auto.PROBE_ROWS and min(rows) > 2 and max(rows) > truth.shape[0] // 2
    assert traj.flown[:n_probe].all()
    np.testing.assert_array_equal(np.unique(traj.points[:n_probe, 0]), sorted(rows))
    assert sampler.choice.gini == choice.row_gini(truth[rows])
    # everything asked was ingested, nothing else was read
    assert_honest_scan(sampler, detector, motion, trajectory=traj)
    assert sampler.n_measured == len(np.unique(traj.points, axis=0))
    np.testing.assert_array_equal(sampler.trajectory.t_end, traj.t_end)
    np.testing.assert_array_equal(sampler.trajectory.flown, traj.flown)
    return sampler, traj, n_probe


def test_a_flown_probe_that_chooses_fly_goes_on_with_the_same_coarse_raster(flakes):
    sampler, traj, _ = probe_run(flakes, "fly")
    assert sampler.flying and traj.flown.all()
    coarse = np.arange(2, SHAPE[0], sampler._fly.initial_spacing)
    assert set(sampler._probe_rows) < set(coarse.tolist())
    assert sampler.measured_mask[coarse].all()  # the rest of the coarse raster, once
    np.testing.assert_array_equal(sampler.measured_points, traj.points)  # in flight order


def test_a_flown_probe_that_chooses_step_hands_every_reading_to_fast(flakes):
    sampler, traj, n_probe = probe_run(flakes, "step")
    assert not sampler.flying and not traj.flown[n_probe:].any()
    assert len(np.unique(traj.points, axis=0)) == traj.n_readings  # no pixel stepped twice
    # the step sampler started from the probe rows (its initial pattern), not from Halton
    step = sampler._step
    np.testing.assert_array_equal(step._initial, traj.points[:n_probe])
    fresh = Sampler(SHAPE, seed=0, batch_size=40, motion=sampler.motion, change_tolerance=None)
    fresh._initial = traj.points[:n_probe]
    fresh.ingest(traj.points[:n_probe], flakes[tuple(traj.points[:n_probe].T)])
    assert step._gini == fresh._gini
    np.testing.assert_array_equal(traj.points[n_probe : n_probe + 40], fresh.suggest())
    np.testing.assert_array_equal(sampler.measured_points, traj.points)
    np.testing.assert_array_equal(sampler.measured_values, flakes[tuple(traj.points.T)])


@pytest.mark.parametrize("mode", ["fly", "step"])
def test_on_a_portrait_grid_the_probe_flies_the_fly_samplers_columns(flakes, mode):
    truth = np.ascontiguousarray(flakes.T)  # 80 x 64: the fly sampler flies columns
    motion = NANOPROBE.replace(dwell=0.1)
    sampler, detector, traj, _ = run_auto(truth, motion, choose=forced(mode), probe="rows")
    cols = sampler._probe_rows
    n_probe = len(cols) * truth.shape[0]
    assert len(cols) == auto.PROBE_ROWS and traj.flown[:n_probe].all()
    np.testing.assert_array_equal(np.unique(traj.points[:n_probe, 1]), sorted(cols))
    assert sampler.choice.gini == choice.row_gini(truth[:, cols].T)
    assert_honest_scan(sampler, detector, motion, trajectory=traj)
    assert sampler.flying == (mode == "fly")


def test_a_scan_that_stops_inside_the_probe_keeps_its_readings(flakes):
    motion = NANOPROBE.replace(dwell=0.1)
    sampler = AutoSampler(SHAPE, motion=motion, max_coverage=0.02)
    detector = SimulatedDetector(flakes)
    while not sampler.should_stop():
        pts = np.concatenate([s.pixels() for s in sampler.suggest_segments()])
        sampler.ingest(pts, detector.measure(pts))
    assert sampler.probing and sampler.choice is None and sampler.stop_reason.startswith("cov")
    assert_honest_scan(sampler, detector, motion)
    assert sampler.n_measured == 2 * SHAPE[1]  # two of the four probe rows


def test_row_gini_reads_the_structure_of_the_rows():
    rng = np.random.default_rng(3)
    texture = rng.uniform(0, 100, (4, 128))
    edges = np.zeros((4, 128))
    edges[:, 40:44] = 100.0
    assert choice.row_gini(texture) < 0.5 < choice.row_gini(edges) <= 1.0
    # a Gini: blind to the scale and the offset of the readings
    assert choice.row_gini(3.0 * texture + 7.0) == pytest.approx(choice.row_gini(texture))
    # against a direct mean-absolute-difference Gini of the blurred gradient
    from scipy.ndimage import gaussian_filter1d

    grad = np.abs(np.diff(gaussian_filter1d(texture, 4.0, axis=1, mode="nearest"), axis=1)).ravel()
    direct = np.abs(grad[:, None] - grad[None, :]).sum() / (2 * grad.size**2 * grad.mean())
    assert choice.row_gini(texture) == pytest.approx(direct, abs=1e-9)
    assert choice.row_gini(np.full((2, 16), 5.0)) == 1.0  # nothing in the rows: sparse
    with pytest.raises(ValueError, match="rows"):
        choice.row_gini(np.zeros(16))
    with pytest.raises(ValueError, match="finite"):
        choice.row_gini(np.array([[0.0, np.nan, 1.0]]))
    with pytest.raises(ValueError, match="sigma"):
        choice.row_gini(texture, sigma=-1.0)


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="motion"):
        AutoSampler(SHAPE, motion="nanoprobe")
    with pytest.raises(ValueError, match="batch_size"):
        AutoSampler(SHAPE, batch_size=0)
    with pytest.raises(TypeError, match="choose"):
        AutoSampler(SHAPE, choose="step")
    with pytest.raises(ValueError, match="probe must be one of"):
        AutoSampler(SHAPE, probe="columns")
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="probe_rows"):
            AutoSampler(SHAPE, probe_rows=bad)
    with pytest.raises(ValueError, match="max_coverage"):
        make_sampler("fast-auto", SHAPE, max_coverage=0.0)


def test_simulate_fast_auto_writes_an_honest_trajectory(tmp_path):
    truth = np.random.default_rng(6).uniform(0, 100, (48, 64))
    runs = honest_simulation(tmp_path, truth, ["fast-auto"], coverages="0.3,0.4", dwell=0.1)
    traj = runs["fast-auto"]
    assert traj.flown.all()  # a texture: the flown probe, then the fly branch


@pytest.mark.parametrize("shape", [(40, 120), (120, 40), (64, 64)])
def test_the_time_model_counts_the_coarse_lines_fast_fly_flies(shape):
    from fastscan.fly.sampler import FlySampler, coarse_line_axis

    motion = NANOPROBE.replace(dwell=0.001)  # the time model alone decides: fly
    axis = coarse_line_axis(shape, motion)
    assert axis == FlySampler(shape, motion=motion)._line_axis
    line_pixels = shape[1] if axis == "rows" else shape[0]
    sampler = AutoSampler(shape, motion=motion)
    assert sampler.planned == "fly"
    assert sampler.choice.cost_ratio == cost_ratio(motion, line_pixels)
    with pytest.raises(ValueError, match="fly_axis must be one of"):
        coarse_line_axis(shape, motion, "diagonal")

"""fast-auto: the step-or-fly decision (fastscan.fly.choice) and the hybrid AutoSampler."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from fastscan.beamtime import Trajectory, TrajectoryBuilder, check_trajectory
from fastscan.cli import main
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
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


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


def run_auto(truth, motion, *, coverages=(0.2, 0.35), choose=choose_mode):
    sampler = AutoSampler(truth.shape, motion=motion, max_coverage=max(coverages),
                          choose=choose, batch_size=40)  # fmt: skip
    detector = SimulatedDetector(truth)
    builder = TrajectoryBuilder(motion, shape=truth.shape)
    snaps = replay(sampler, detector, list(coverages), trajectory=builder)
    return sampler, detector, builder.trajectory(), snaps


def run_strategy(name, truth, motion, coverages=(0.2, 0.35)):
    sampler = make_sampler(name, truth.shape, max_coverage=max(coverages), batch_size=40,
                           motion=motion)  # fmt: skip
    builder = TrajectoryBuilder(motion, shape=truth.shape)
    replay(sampler, SimulatedDetector(truth), list(coverages), trajectory=builder)
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
    np.testing.assert_array_equal(sampler.measured_mask, detector.asked_mask)
    np.testing.assert_array_equal(sampler.measured_values, flakes[tuple(traj.points.T)])
    assert check_trajectory(traj, motion) == []
    assert check_trajectory(sampler.trajectory, motion) == []
    np.testing.assert_array_equal(sampler.trajectory.t_end, traj.t_end)
    assert snaps[-1].coverage == 0.35 and sampler.coverage >= 0.35
    assert sampler.get_params()["choice"]["mode"] == "fly"


def test_the_data_decide_in_the_band():
    rng = np.random.default_rng(5)
    texture = rng.uniform(0, 100, SHAPE)  # gradient spread evenly: fly
    sparse = make_phantom("particles", SHAPE, seed=103)  # a few edges: step
    motion = NANOPROBE.replace(dwell=0.1)
    tex, _, _, _ = run_auto(texture, motion, coverages=(0.05,))
    par, _, _, _ = run_auto(sparse, motion, coverages=(0.05,))
    assert tex.planned is None and par.planned is None
    assert tex.choice.gini < par.choice.gini
    assert tex.choice.mode == "fly" and par.choice.mode == "step"


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="motion"):
        AutoSampler(SHAPE, motion="nanoprobe")
    with pytest.raises(ValueError, match="batch_size"):
        AutoSampler(SHAPE, batch_size=0)
    with pytest.raises(TypeError, match="choose"):
        AutoSampler(SHAPE, choose="step")
    with pytest.raises(ValueError, match="max_coverage"):
        make_sampler("fast-auto", SHAPE, max_coverage=0.0)


def test_simulate_fast_auto_writes_an_honest_trajectory(tmp_path):
    truth = np.random.default_rng(6).uniform(0, 100, (48, 64))
    image = tmp_path / "texture.npy"
    np.save(image, truth)
    out = tmp_path / "out"
    code = main(["simulate", "--image", str(image), "--strategies", "fast-auto",
                 "--coverages", "0.3,0.4", "--no-biharmonic", "-q", "--out", str(out),
                 "--dwell", "0.1"])  # fmt: skip
    assert code == 0
    traj = Trajectory.load(out / "trajectory_fast-auto.npz")
    assert check_trajectory(traj, NANOPROBE.replace(dwell=0.1)) == []
    assert traj.flown.any() and not traj.flown.all()  # stepped initial pattern, then flown

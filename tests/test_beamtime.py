"""The beam-time model: MotionModel timing fields, step and segment times, trajectories."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from fastscan.beamtime import (
    Trajectory,
    TrajectoryBuilder,
    check_trajectory,
    fly_timing,
    segment_times,
    step_times,
    time_breakdown,
)
from fastscan.fly import Segment
from fastscan.motion import NANOPROBE, MotionModel, axis_time

STAGE = MotionModel(
    velocity=(50.0, 20.0),
    acceleration=(400.0, 100.0),
    settle_time=0.02,
    dwell=0.005,
    point_overhead=0.03,
    line_overhead=0.07,
    fly_velocity=(40.0, 10.0),
)


def trapezoid(d: float, v: float, a: float) -> float:
    """Scalar reference of one axis move."""
    d = abs(d)
    return 2 * math.sqrt(d / a) if d <= v * v / a else d / v + v / a


# ---------------------------------------------------------------------------- MotionModel
def test_nanoprobe_defaults_are_the_issue_model():
    m = NANOPROBE
    assert m.velocity == (1000.0, 1000.0) and m.acceleration == (10_000.0, 10_000.0)
    assert (m.settle_time, m.point_overhead, m.line_overhead) == (0.01, 0.025, 0.05)
    assert m.fly_velocity == m.velocity and m.dwell > 0


def test_motion_model_timing_fields_round_trip_through_json():
    m = STAGE.replace(travel=((-1.0, 10.0), (0.0, 5.0)))
    again = MotionModel(**json.loads(json.dumps(dataclasses.asdict(m))))
    assert again == m
    assert again.travel == ((-1.0, 10.0), (0.0, 5.0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dwell": 0.0}, "dwell must be .* > 0, got 0.0"),
        ({"dwell": -1}, "dwell must be .* got -1"),
        ({"dwell": "x"}, "dwell must be a number"),
        ({"point_overhead": -0.1}, "point_overhead .* got -0.1"),
        ({"line_overhead": math.nan}, "line_overhead .* got nan"),
        ({"fly_velocity": (0.0, 1.0)}, "fly_velocity must be two finite numbers > 0"),
        ({"velocity": (5.0, 5.0), "fly_velocity": (6.0, 1.0)}, "fly_velocity x = 6.0 .* 5.0"),
        ({"travel": ((1.0, 0.0), (0.0, 1.0))}, "travel x range must have min <= max"),
        ({"travel": (1.0, 2.0)}, "travel must be"),
    ],
)
def test_motion_model_rejects_bad_timing(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MotionModel(**kwargs)


def test_travel_and_velocity_limits_name_the_value():
    m = MotionModel(velocity=(10.0, 5.0), travel=((0.0, 100.0), (-5.0, 5.0)))
    m.check_travel(100.0, -5.0)
    with pytest.raises(ValueError, match=r"\(100.5, 0.0\) is outside .* x = 100.5"):
        m.check_travel(100.5, 0.0)
    with pytest.raises(ValueError, match=r"y = 6\.0 not in"):
        m.check_travel(0.0, 6.0, "segment end")
    m.check_velocity(10.0, -5.0)
    with pytest.raises(ValueError, match=r"y velocity 5\.5 is above the y motor.s limit 5\.0"):
        m.check_velocity(1.0, 5.5)


def test_from_motors_reads_soft_limits_and_timing():
    ophyd_sim = pytest.importorskip("ophyd.sim")

    class Limited:
        def __init__(self, name, low, high):
            self.name = name
            self.velocity = ophyd_sim.Signal(name="v", value=4.0)
            self.acceleration = ophyd_sim.Signal(name="a", value=0.5)
            self.low_limit_travel = ophyd_sim.Signal(name="llm", value=low)
            self.high_limit_travel = ophyd_sim.Signal(name="hlm", value=high)

    m = MotionModel.from_motors(Limited("x", -2.0, 8.0), Limited("y", 0.0, 0.0), dwell=0.2)
    assert m.travel is None  # y has no limits (both 0), so no travel box
    assert m.dwell == 0.2 and m.acceleration == (8.0, 8.0)
    m = MotionModel.from_motors(Limited("x", -2.0, 8.0), Limited("y", 1.0, 3.0), line_overhead=1)
    assert m.travel == ((-2.0, 8.0), (1.0, 3.0)) and m.line_overhead == 1.0


def test_axis_time_matches_scalar_reference():
    d = np.random.default_rng(1).uniform(-30, 30, 100)
    expected = [trapezoid(x, 50.0, 400.0) for x in d]
    np.testing.assert_allclose(axis_time(d, 50.0, 400.0), expected, rtol=1e-12)


# ---------------------------------------------------------------------------- step points
def test_step_times_hand_computed():
    # from (0, 0): 100 px along x is exactly v^2/a for the nanoprobe: 2 sqrt(100/1e4) = 0.2 s
    t = step_times([[0, 100], [300, 100]], (0, 0), NANOPROBE, t0=1.0)
    first = 1.0 + 0.2 + 0.01 + 0.025 + NANOPROBE.dwell
    second = first + (300 / 1000 + 1000 / 10_000) + 0.01 + 0.025 + NANOPROBE.dwell
    np.testing.assert_allclose(t, [first, second])


def test_step_times_matches_a_loop_reference_with_pitch():
    rng = np.random.default_rng(2)
    pts = rng.integers(0, 60, (40, 2))
    pitch = (0.5, 2.0)  # x per column, y per row
    t = step_times(pts, (3.0, 7.0), STAGE, pixel_pitch=pitch)
    now, (row, col) = 0.0, (3.0, 7.0)
    for i, (r, c) in enumerate(pts):
        dx, dy = (c - col) * pitch[0], (r - row) * pitch[1]
        move = max(trapezoid(dx, 50.0, 400.0), trapezoid(dy, 20.0, 100.0))
        now += move + STAGE.settle_time + STAGE.point_overhead + STAGE.dwell
        assert t[i] == pytest.approx(now, rel=1e-12)
        row, col = r, c


def test_step_times_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        step_times(np.zeros((3, 3)), (0, 0), NANOPROBE)
    with pytest.raises(ValueError, match="integer"):
        step_times([[0.5, 1.0]], (0, 0), NANOPROBE)
    with pytest.raises(ValueError, match="start"):
        step_times([[0, 1]], (0, np.nan), NANOPROBE)
    with pytest.raises(ValueError, match="pixel_pitch"):
        step_times([[0, 1]], (0, 0), NANOPROBE, pixel_pitch=(0, 1))


# ---------------------------------------------------------------------------- fly segments
@pytest.mark.parametrize("dwell", [1e-4, 1e-3, 1e-2, 0.1])
def test_row_segment_pixel_time_is_dwell_or_velocity_limit(dwell):
    m = NANOPROBE.replace(dwell=dwell)
    timing = fly_timing(Segment((4, 0), (4, 99)), m)
    assert timing.pixel_time == pytest.approx(max(dwell, 1 / 1000))
    v = min(1000.0, 1 / dwell)
    assert timing.ramp == pytest.approx(v / 10_000) and timing.speed == pytest.approx((v, 0.0))
    t = segment_times(Segment((4, 0), (4, 99)), (4, 0), m)
    start = 0.01 + 0.05 + timing.ramp  # no move: settle + line overhead + ramp
    np.testing.assert_allclose(t, start + timing.pixel_time * np.arange(1, 101))


def test_diagonal_and_column_segments_are_limited_per_axis():
    # column: y is the slow fly axis (10 units/s) with y pitch 1
    col = fly_timing(Segment((0, 3), (20, 3)), STAGE)
    assert col.pixel_time == pytest.approx(max(STAGE.dwell, 1 / 10.0))
    assert col.ramp == pytest.approx(10.0 / 100.0)
    # diagonal (10 rows, 20 cols): per reading 0.5 row and 1 col
    diag = fly_timing(Segment((0, 0), (10, 20)), STAGE)
    assert diag.pixel_time == pytest.approx(max(STAGE.dwell, 1 / 40.0, 0.5 / 10.0))
    vx, vy = diag.speed
    assert vx <= 40.0 + 1e-9 and vy <= 10.0 + 1e-9
    assert diag.ramp == pytest.approx(max(vx / 400.0, vy / 100.0))
    one = fly_timing(Segment((2, 2), (2, 2)), STAGE)  # flown like a row
    assert one.pixel_time == pytest.approx(max(STAGE.dwell, 1 / 40.0))


def test_segment_times_include_the_move_to_its_start():
    seg = Segment((10, 50), (10, 20))  # flown towards smaller columns
    t = segment_times(seg, (0.0, 0.0), STAGE, t0=2.0)
    timing = fly_timing(seg, STAGE)
    move = max(trapezoid(50, 50.0, 400.0), trapezoid(10, 20.0, 100.0))
    first = 2.0 + move + STAGE.settle_time + STAGE.line_overhead + timing.ramp
    assert t[0] == pytest.approx(first + timing.pixel_time)
    assert len(t) == 31 and t[-1] == pytest.approx(first + 31 * timing.pixel_time)


# ---------------------------------------------------------------------------- trajectories
def test_builder_chains_steps_and_segments(tmp_path):
    b = TrajectoryBuilder(STAGE, start=(0, 0), shape=(30, 60))
    t1 = b.add_points([[0, 5], [2, 5]])
    seg = Segment((2, 10), (2, 40))
    assert b.segment_cost(seg) > 0 and b.step_cost([[2, 6]]) > 0
    t2 = b.add_segment(seg)
    assert t2[0] > t1[-1] and b.time == pytest.approx(t2[-1] + fly_timing(seg, STAGE).ramp)
    free = t2[-1] + fly_timing(seg, STAGE).ramp
    t3 = b.add_points([[29, 59]])
    assert t3[0] == pytest.approx(step_times([[29, 59]], (2, 40), STAGE, t0=free)[0])
    traj = b.trajectory()
    assert traj.points.dtype == np.int64 and traj.points.shape == (34, 2)
    assert traj.segment.tolist() == [0, 1] + [2] * 31 + [3]
    assert traj.flown.sum() == 31 and traj.beam_time == pytest.approx(t3[0])
    assert check_trajectory(traj, STAGE) == []
    path = traj.save(tmp_path / "trajectory_x.npz", motion=STAGE)
    with np.load(path, allow_pickle=False) as data:
        assert data["t_end"].dtype == np.float64 and data["segment"].dtype == np.int64
        assert MotionModel(**json.loads(str(data["motion"]))) == STAGE
    again = Trajectory.load(path)
    np.testing.assert_array_equal(again.points, traj.points)
    np.testing.assert_array_equal(again.t_end, traj.t_end)


def test_builder_rejects_points_and_segments_outside_the_grid():
    b = TrajectoryBuilder(NANOPROBE, shape=(10, 20))
    with pytest.raises(ValueError, match=r"point \[10, 0\] is outside the 10 x 20 grid"):
        b.add_points([[1, 1], [10, 0]])
    with pytest.raises(ValueError, match="segment end"):
        b.add_segment(Segment((0, 0), (0, 20)))
    assert b.n_readings == 0


def test_check_trajectory_catches_dishonest_times():
    b = TrajectoryBuilder(NANOPROBE)
    b.add_points([[0, 10], [5, 10]])
    b.add_segment(Segment((5, 20), (5, 60)))
    b.add_points([[9, 9]])
    traj = b.trajectory()
    assert check_trajectory(traj, NANOPROBE) == []

    def cheat(**changes):
        fields = {k: getattr(traj, k).copy() for k in ("points", "t_end", "segment", "flown")}
        for key, fn in changes.items():
            fn(fields[key])
        return check_trajectory(Trajectory(**fields), NANOPROBE)

    def faster_pixels(t):
        t[2:43] = t[2] + (t[2:43] - t[2]) * 0.5  # half a dwell per pixel

    def skip_ramp(t):
        t[2:43] -= 0.5 * fly_timing(Segment((5, 20), (5, 60)), NANOPROBE).ramp

    def no_stop(t):
        t[43] -= 0.5 * fly_timing(Segment((5, 20), (5, 60)), NANOPROBE).ramp

    def jump(p):
        p[10] = [6, 28]  # off the line

    assert any("dwell" in v for v in cheat(t_end=faster_pixels))
    assert any("reading 2 " in v for v in cheat(t_end=skip_ramp))
    assert any("reading 43 " in v for v in cheat(t_end=no_stop))
    assert any("straight line" in v for v in cheat(points=jump))
    slow = NANOPROBE.replace(velocity=(1000.0, 1000.0), fly_velocity=(50.0, 50.0))
    assert any("speed" in v for v in check_trajectory(traj, slow.replace(dwell=1e-4)))


def test_retime_reproduces_and_rescales_a_mixed_trajectory():
    from fastscan.beamtime import retime

    b = TrajectoryBuilder(STAGE)
    b.add_points([[3, 4], [3, 9]])
    b.add_segments([Segment((5, 0), (5, 30)), Segment((7, 30), (7, 0))])
    b.add_points([[1, 1]])
    traj = b.trajectory()
    same = retime(traj, STAGE)
    np.testing.assert_allclose(same.t_end, traj.t_end, rtol=1e-12)
    np.testing.assert_array_equal(same.segment, traj.segment)
    np.testing.assert_array_equal(same.flown, traj.flown)
    slower = retime(traj, STAGE.replace(dwell=0.05))
    assert check_trajectory(slower, STAGE.replace(dwell=0.05)) == []
    assert slower.beam_time > traj.beam_time


def test_time_breakdown_adds_up_to_the_beam_time():
    motion = NANOPROBE.replace(dwell=0.02)
    rng = np.random.default_rng(4)
    steps = rng.integers(0, 30, (12, 2))
    b = TrajectoryBuilder(motion)
    b.add_points(steps)
    assert time_breakdown(b.trajectory(), motion) == pytest.approx({
        "readings": 12 * 0.02,
        "moves": sum(
            float(motion.travel_time(abs(c1 - c0), abs(r1 - r0)))
            for (r0, c0), (r1, c1) in zip(np.r_[[[0, 0]], steps[:-1]], steps)
        ),
        "fixed": 12 * (motion.settle_time + motion.point_overhead),
        "runs": 12.0,
        "flown_readings": 0.0,
    })  # fmt: skip
    row, col = Segment((3, 29), (3, 0)), Segment((5, 0), (20, 0))
    b.add_segments([row, col])
    traj = b.trajectory()
    parts = time_breakdown(traj, motion)
    assert parts["readings"] + parts["moves"] + parts["fixed"] == pytest.approx(traj.beam_time)
    flown = 30 * fly_timing(row, motion).pixel_time + 16 * fly_timing(col, motion).pixel_time
    assert parts["readings"] == pytest.approx(12 * 0.02 + flown)
    assert parts["runs"] == 14 and parts["flown_readings"] == 46
    # the fixed part of the two segments: settle, line overhead, three ramps (the last
    # ramp down ends after the last reading, outside the beam time)
    line = 2 * (motion.settle_time + motion.line_overhead) + fly_timing(row, motion).ramp * 2
    line += fly_timing(col, motion).ramp
    assert parts["fixed"] - 12 * (motion.settle_time + motion.point_overhead) == pytest.approx(line)

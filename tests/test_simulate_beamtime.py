"""``fastscan simulate`` in beam time: flags, trajectory files, and the honesty test.

The honesty check here is written from the issue's rules alone (not from
fastscan.beamtime), and it runs on every strategy's trajectory file.
"""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from honesty import assert_honest_scan
from slow_stage import FLAGS, SHAPE, TIMING

from fastscan.beamtime import Trajectory, TrajectoryBuilder, check_trajectory
from fastscan.cli import main
from fastscan.fly import Segment
from fastscan.motion import MotionModel
from fastscan.phantoms import make_phantom
from fastscan.replay import SimulatedDetector, replay
from fastscan.strategies import STRATEGIES, SegmentSampler, StrategySettings, make_strategy_sampler


def trapezoid(d: float, v: float, a: float) -> float:
    return 2 * math.sqrt(d / a) if d <= v * v / a else d / v + v / a


def honesty_violations(points, t_end, segment, timing, start=(0, 0)):
    """The issue's rules as lower bounds; readings of a multi-reading segment are flown."""
    v, a, dwell = timing["velocity"], timing["acceleration"], timing["dwell"]
    eps = 1e-9
    bad = []
    runs = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]])
    ends = np.r_[runs[1:], len(points)]
    prev_t, prev_pos, prev_ramp = 0.0, np.asarray(start), 0.0
    for b, e in zip(runs, ends):
        flown = e - b > 1
        ramp = 0.0
        if flown:
            steps = np.diff(points[b:e], axis=0)
            dt = np.diff(t_end[b:e])
            if np.abs(steps).max() > 1 or (np.abs(steps).sum(axis=1) == 0).any():
                bad.append(f"segment {segment[b]}: readings are not neighbouring pixels")
            delta = points[e - 1] - points[b]
            n = e - b - 1
            expected = points[b] + np.floor(np.arange(n + 1)[:, None] * delta / n + 0.5)
            if not np.array_equal(expected.astype(np.int64), points[b:e]):
                bad.append(f"segment {segment[b]}: not one straight line")
            if (dt < dwell - eps).any():
                bad.append(f"segment {segment[b]}: readings less than one dwell apart")
            speed = (np.abs(steps) / dt[:, None]).max()
            if speed > v + eps:
                bad.append(f"segment {segment[b]}: {speed} px/s above the velocity limit")
            ramp = speed / a
        d_row, d_col = np.abs(points[b] - prev_pos)
        move = max(trapezoid(d_row, v, a), trapezoid(d_col, v, a))
        overhead = timing["line_overhead"] if flown else timing["point_overhead"]
        need = prev_ramp + move + timing["settle"] + overhead + dwell + ramp
        if t_end[b] - prev_t < need - eps:
            bad.append(f"reading {b}: gap {t_end[b] - prev_t:.6f} < {need:.6f}")
        prev_t, prev_pos, prev_ramp = t_end[e - 1], points[e - 1], ramp
    return bad


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("beam")
    image = folder / "flakes.npy"
    np.save(image, make_phantom("flakes", SHAPE, seed=5))
    out = folder / "out"
    names = ",".join(STRATEGIES)
    code = main(["simulate", "--image", str(image), "--strategies", names, "--coverages",
                 "0.03,0.08", "--batch-size", "16", "--no-biharmonic", "-q", "--out", str(out),
                 *FLAGS])  # fmt: skip
    assert code == 0
    return out


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_every_strategy_trajectory_is_physically_honest(simulated, name):
    with np.load(simulated / f"trajectory_{name}.npz", allow_pickle=False) as data:
        points, t_end, segment = data["points"], data["t_end"], data["segment"]
    assert points.dtype == np.int64 and points.ndim == 2 and points.shape[1] == 2
    assert t_end.dtype == np.float64 and segment.dtype == np.int64
    assert len(points) == len(t_end) == len(segment) > 0
    assert np.all(np.diff(t_end) > 0)
    assert honesty_violations(points, t_end, segment, TIMING) == []
    # the same file passes the library's checker, and the points file agrees with it
    motion = MotionModel(**json.loads(str(np.load(simulated / f"trajectory_{name}.npz")["motion"])))
    assert check_trajectory(Trajectory.load(simulated / f"trajectory_{name}.npz"), motion) == []
    np.testing.assert_array_equal(np.load(simulated / f"points_{name}.npy"), points)


def test_fly_raster_flies_rows_and_step_strategies_do_not(simulated):
    fly = np.load(simulated / "trajectory_fly-raster.npz")
    counts = np.bincount(fly["segment"])
    assert (counts == SHAPE[1]).all()  # whole rows, one segment each
    rows = fly["points"][:, 0]
    assert all(len(set(rows[fly["segment"] == s])) == 1 for s in np.unique(fly["segment"]))
    step = np.load(simulated / "trajectory_raster.npz")
    assert len(np.unique(step["segment"])) == len(step["segment"])


def test_metrics_and_summary_speak_beam_time(simulated):
    with (simulated / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    summary = json.loads((simulated / "summary.json").read_text())
    assert summary["time_model"]["dwell"] == TIMING["dwell"]
    assert summary["time_model"]["line_overhead"] == TIMING["line_overhead"]
    for name in STRATEGIES:
        mine = [r for r in rows if r["strategy"] == name]
        trajectory = Trajectory.load(simulated / f"trajectory_{name}.npz")
        last = mine[-1]
        assert float(last["beam_time_s"]) == pytest.approx(trajectory.beam_time, rel=1e-5)
        if not STRATEGIES[name].fresh_per_coverage:  # nested: earlier rows end earlier
            n = int(mine[0]["n_measured"])
            assert float(mine[0]["beam_time_s"]) == pytest.approx(trajectory.t_end[n - 1], rel=1e-5)
            assert float(mine[0]["beam_time_s"]) < float(last["beam_time_s"])
    # a fly raster pays far less per reading than a step raster at this dwell
    per = {
        name: float(r["beam_time_s"]) / int(r["n_measured"])
        for r in rows
        if (name := r["strategy"]) in ("raster", "fly-raster") and r is not None
    }
    assert per["fly-raster"] < per["raster"] / 3
    assert (simulated / "curves.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--dwell", "0", "seconds > 0"),
        ("--dwell", "-0.1", "seconds > 0"),
        ("--velocity", "0", "number > 0"),
        ("--acceleration", "nan", "number > 0"),
        ("--settle", "-1", "seconds >= 0"),
        ("--point-overhead", "x", "seconds >= 0"),
        ("--line-overhead", "inf", "seconds >= 0"),
    ],
)
def test_bad_timing_flags_exit_2(flag, value, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["simulate", flag, value])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message in err and value in err


def test_segment_sampler_seam_in_replay():
    """The replay flies a segment sampler's segments whole and ingests every reading."""
    truth = make_phantom("flakes", SHAPE, seed=3)
    settings = StrategySettings(max_coverage=0.25, coverages=(0.1, 0.25))
    sampler = make_strategy_sampler("fly-raster", SHAPE, settings)
    assert isinstance(sampler, SegmentSampler)
    motion = MotionModel(velocity=(300, 300), acceleration=(2000, 2000), dwell=0.004)
    builder = TrajectoryBuilder(motion, shape=SHAPE)
    detector = SimulatedDetector(truth)
    snaps = replay(sampler, detector, [0.1, 0.25], trajectory=builder)
    trajectory = builder.trajectory()
    assert detector.n_readings == sampler.n_measured == trajectory.n_readings
    assert_honest_scan(sampler, detector, motion, trajectory=trajectory)
    np.testing.assert_array_equal(sampler.measured_points, trajectory.points)
    assert snaps[0].n_measured >= 0.1 * truth.size and snaps[1].n_measured >= 0.25 * truth.size
    # every snapshot is a uniform row raster: measured rows equally spaced
    for snap in snaps:
        rows = np.flatnonzero(snap.measured_mask.all(axis=1))
        assert snap.measured_mask[rows].sum() == snap.n_measured
        assert len(set(np.diff(rows))) == 1
    assert snaps[0].extra["beam_time_s"] < snaps[1].extra["beam_time_s"]
    assert snaps[1].extra["beam_time_s"] == pytest.approx(trajectory.beam_time)
    assert all(isinstance(s, Segment) for s in sampler.suggest_segments()) or sampler.should_stop()

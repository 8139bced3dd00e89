"""``fastscan estimate``: raster times checked against hand sums and ``fastscan simulate``.

The every-4th-row fly raster of 256 x 256 at 1 ms is checked against the coordinator's
``time_breakdown`` figures (35.4 s: readings 16.4, moves 2.5, fixed 16.5) and the issue's
rules summed by hand; the step and fly rasters against the trajectories ``fastscan simulate``
writes for the ``raster`` and ``fly-raster`` strategies on a small image (both computed here).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from slow_stage import FLAGS, SHAPE, TIMING  # the stage fastscan simulate is checked with

from fastscan.beamtime import Trajectory, TrajectoryBuilder, fly_timing, time_breakdown
from fastscan.cli import main
from fastscan.estimate import estimate_scan, fly_raster, parse_shape
from fastscan.fly import Segment
from fastscan.fly.choice import ROW_GINI_HIGH, ROW_GINI_LOW, choose_mode_rows, step_gain
from fastscan.motion import NANOPROBE, MotionModel
from fastscan.phantoms import make_phantom


def test_every_4th_row_at_1_ms_is_the_measured_35_4_s():
    fly = estimate_scan((256, 256), NANOPROBE, dwells=[0.001]).dwells[0].scan("fly", "rows", 4)
    # the coordinator's time_breakdown figures, to their printed precision
    assert (round(fly.seconds, 1), round(fly.readings_s, 1)) == (35.4, 16.4)
    assert (round(fly.moves_s, 1), round(fly.fixed_s, 1)) == (2.5, 16.5)
    # and the rules summed by hand: 64 rows of 256 pixels, a 4-row triangle move between rows,
    # settle + line overhead + ramp up (v / a = 0.1 s) per row and a ramp down between rows
    assert fly.readings == 64 * 256 and fly.runs == 64
    assert fly.readings_s == pytest.approx(64 * 256 * 0.001)
    assert fly.moves_s == pytest.approx(63 * 2 * math.sqrt(4 / 10_000))
    assert fly.fixed_s == pytest.approx(64 * (0.01 + 0.05 + 0.1) + 63 * 0.1)
    assert fly.seconds == pytest.approx(fly.readings_s + fly.moves_s + fly.fixed_s)


def test_wse2_fly_raster_times_are_the_readmes():
    """README, "Beam time": WSe2's fly raster of every 4th / 2nd row, from bench_beamtime."""
    est = estimate_scan((600, 400), NANOPROBE, dwells=[0.01, 0.1]).dwells
    times = [[round(d.scan("fly", "rows", k).seconds) for k in (4, 2)] for d in est]
    assert times == [[618, 1232], [6015, 12027]]


def test_the_whole_step_raster_is_the_rules_summed_by_hand():
    step = estimate_scan((20, 30), NANOPROBE, dwells=[0.01]).dwells[0].scan("step", k=100)
    one_pixel = 2 * math.sqrt(1 / 10_000)  # a triangle move of one pixel, along a row or down
    assert step.readings == step.runs == 600 and step.coverage == 1.0
    assert step.moves_s == pytest.approx(599 * one_pixel)
    assert step.fixed_s == pytest.approx(600 * (0.01 + 0.025))
    assert step.seconds == pytest.approx(600 * 0.01 + 599 * one_pixel + 600 * 0.035)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("estimate")
    image = folder / "flakes.npy"
    np.save(image, make_phantom("flakes", SHAPE, seed=4))
    out = folder / "out"
    code = main(["simulate", "--image", str(image), "--strategies", "raster,fly-raster",
                 "--coverages", "0.25", "--no-biharmonic", "-q", "--out", str(out),
                 *FLAGS])  # fmt: skip
    assert code == 0
    return out


def run_estimate(args, capsys) -> dict:
    assert main(["estimate", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def scan_of(report: dict, label: str) -> dict:
    (scan,) = [s for s in report["dwells"][0]["scans"] if s["label"] == label]
    return scan


def test_fly_and_step_rasters_take_what_simulate_says(simulated, capsys):
    report = run_estimate(["--shape", f"{SHAPE[0]}x{SHAPE[1]}", *FLAGS], capsys)
    fly = Trajectory.load(simulated / "trajectory_fly-raster.npz")
    step = Trajectory.load(simulated / "trajectory_raster.npz")
    est_fly, est_step = scan_of(report, "fly every 4th row"), scan_of(report, "step raster 25%")
    assert est_fly["readings"] == fly.n_readings and est_step["readings"] == step.n_readings
    assert est_fly["seconds"] == pytest.approx(fly.beam_time, rel=1e-12)
    assert est_step["seconds"] == pytest.approx(step.beam_time, rel=1e-12)
    # the same readings in the same order: the estimate flies fly-raster's first level
    segments = fly_raster(SHAPE, "rows", 4)
    np.testing.assert_array_equal(np.concatenate([s.pixels() for s in segments]), fly.points)
    assert report["dwells"][0]["dwell"] == TIMING["dwell"]
    assert report["motion"]["line_overhead"] == TIMING["line_overhead"]


def test_a_column_raster_is_the_row_raster_of_the_transposed_grid():
    wide = estimate_scan((30, 50), NANOPROBE, dwells=[0.002]).dwells[0]
    tall = estimate_scan((50, 30), NANOPROBE, dwells=[0.002]).dwells[0]
    for k in (1, 2, 4, 8):
        a, b = wide.scan("fly", "columns", k), tall.scan("fly", "rows", k)
        assert (a.readings, a.runs) == (b.readings, b.runs)
        assert a.seconds == pytest.approx(b.seconds, rel=1e-12)
    assert (wide.fly_axis, tall.fly_axis) == ("rows", "columns")  # fewer, longer lines


def test_decisions_follow_the_dwell_as_the_docs_say():
    est = estimate_scan((256, 256), NANOPROBE, dwells=[0.001, 0.01, 0.1, 1.0])
    assert [d.auto_mode for d in est.dwells] == ["fly", "fly", "probe", "step"]
    assert [round(d.cost_ratio, 2) for d in est.dwells[1:]] == [8.24, 1.75, 1.07]  # README
    assert [d.dwell_rule for d in est.dwells] == ["fast-fly", "fast-fly", "fast", "fast"]
    assert [d.probe_gini is None for d in est.dwells] == [True, True, False, True]
    # the probe's threshold is where fast-auto's own choice flips
    probe = est.dwells[2]
    motion = NANOPROBE.replace(dwell=0.1)
    g = probe.probe_gini
    assert ROW_GINI_LOW < g < ROW_GINI_HIGH
    assert step_gain(g, ROW_GINI_LOW, ROW_GINI_HIGH) == pytest.approx(probe.cost_ratio)
    assert choose_mode_rows(motion, 256, g + 1e-3).mode == "step"
    assert choose_mode_rows(motion, 256, g - 1e-3).mode == "fly"


def test_what_to_expect_follows_the_fly_rasters_split():
    short, long = estimate_scan((256, 256), NANOPROBE, dwells=[0.001, 0.01]).dwells
    ref = short.scan("fly", "rows", 4)
    assert short.overhead_share == pytest.approx((ref.moves_s + ref.fixed_s) / ref.seconds)
    assert short.overhead_share > 0.5 > long.overhead_share
    assert "gains little" in short.expect and "54%" in short.expect
    # 10 ms: 163.84 s of readings, 63 moves of 0.04 s, 64 x (settle, overhead, 10 ms ramps) - 1 ramp
    share = 163.84 / (163.84 + 63 * 0.04 + 64 * 0.08 - 0.01)
    assert 1 - long.overhead_share == pytest.approx(share)
    assert "gains little" not in long.expect and f"readings are {share:.0%}" in long.expect


def test_the_text_report(capsys):
    assert main(["estimate", "--shape", "256", "256", "--dwell", "0.001"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("fly every 4th row"))
    assert line.split()[4:] == ["25.0%", "64", "lines", "35.4", "s", "0:00:35", "16.4", "s",
                                "2.5", "s", "16.5", "s"]  # fmt: skip
    assert "cheaper to fly: rows" in out and "fast-auto: fly: R 37.71 > 6.2" in out
    assert "gains little" in out
    assert main(["estimate", "--shape", "600x400", "--dwells", "0.001,1"]) == 0
    out = capsys.readouterr().out
    assert "at 1 ms:" in out and "at 1 s:" in out and "fast-auto: step" in out
    step = next(x for x in out.splitlines() if x.startswith("step raster 100%"))
    assert step.split()[-2:] == ["3:44:00", "70:20:00"]  # 240,000 points


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shape", "256x0"], "'256x0'"),
        (["--shape", "1x5"], "'1x5'"),
        (["--shape", "a", "b"], "'a b'"),
        (["--shape", "3", "4", "5"], "'3 4 5'"),
        (["--shape", "256"], "'256'"),
    ],
)
def test_a_bad_shape_is_named(args, message, capsys):
    assert main(["estimate", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastscan: error: --shape must be two integers >= 2") and message in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dwell", "0"], "seconds > 0, got '0'"),
        (["--dwells", "0.01,-1"], "got '0.01,-1'"),
        (["--dwells", "0.01,x"], "got '0.01,x'"),
        (["--dwells", "0.1", "--dwell", "0.2"], "not allowed with argument --dwells"),
        (["--velocity", "0"], "number > 0, got '0'"),
        (["--settle", "-1"], "seconds >= 0, got '-1'"),
    ],
)
def test_bad_timing_is_named(args, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["estimate", "--shape", "64x64", *args])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_the_library_refuses_bad_input():
    with pytest.raises(ValueError, match=r"got 0\.0"):
        estimate_scan((8, 8), NANOPROBE, dwells=[0.01, 0.0])
    for bad in (math.nan, -0.1, "soon", True):
        with pytest.raises(ValueError, match=f"got {bad!r}"):
            estimate_scan((8, 8), NANOPROBE, dwells=[bad])
    with pytest.raises(ValueError, match="at least one dwell"):
        estimate_scan((8, 8), NANOPROBE, dwells=[])
    with pytest.raises(ValueError, match="at least"):
        estimate_scan((1, 8), NANOPROBE)
    with pytest.raises(ValueError, match="'diagonal'"):
        fly_raster((8, 8), "diagonal", 2)
    assert parse_shape("600X400") == parse_shape("600,400") == (600, 400)


def test_the_console_script_prints_json():
    result = subprocess.run(
        [sys.executable, "-m", "fastscan", "estimate", "--shape", "40x30", "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["shape"] == [40, 30] and report["dwells"][0]["dwell"] == NANOPROBE.dwell
    assert {s["label"] for s in report["dwells"][0]["scans"]} >= {
        "step raster 100%", "fly every 8th row", "fly every 8th column"
    }  # fmt: skip


def reference_breakdown(trajectory: Trajectory, motion: MotionModel) -> dict[str, float]:
    """time_breakdown as it was written first: one run at a time."""
    pts, seg, flown = trajectory.points, trajectory.segment, trajectory.flown
    readings = moves = 0.0
    position = np.zeros(2)
    bounds = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    for b, e in zip(bounds, np.r_[bounds[1:], len(seg)]):
        if flown[b] or e - b > 1:
            line = Segment(tuple(pts[b]), tuple(pts[e - 1]))
            readings += (e - b) * fly_timing(line, motion).pixel_time
        else:
            readings += (e - b) * motion.dwell
        d = pts[b] - position
        moves += float(motion.travel_time(d[1], d[0]))
        position = pts[e - 1].astype(float)
    return {"readings": readings, "moves": moves, "fixed": trajectory.beam_time - readings - moves}


def test_the_vectorised_time_breakdown_matches_the_run_by_run_sum():
    motion = MotionModel(velocity=(300, 200), acceleration=(2000, 900), settle_time=0.01,
                         dwell=0.003, point_overhead=0.02, line_overhead=0.04)  # fmt: skip
    b = TrajectoryBuilder(motion)
    b.add_points([[3, 4], [3, 9], [10, 2]])
    b.add_segment(Segment((12, 0), (12, 40)))
    b.add_segment(Segment((20, 20), (20, 20)))  # one pixel, flown
    b.add_points([[0, 0]])
    b.add_segment(Segment((0, 0), (30, 15)))  # diagonal
    b.add_points([[5, 5], [6, 6]])
    trajectory = b.trajectory()
    got = time_breakdown(trajectory, motion)
    want = reference_breakdown(trajectory, motion)
    assert {k: got[k] for k in want} == pytest.approx(want, rel=1e-12)
    assert got["runs"] == 9 and got["flown_readings"] == 41 + 1 + 31
    empty = time_breakdown(TrajectoryBuilder(motion).trajectory(), motion)
    assert (empty["readings"], empty["moves"], empty["fixed"]) == (0.0, 0.0, 0.0)

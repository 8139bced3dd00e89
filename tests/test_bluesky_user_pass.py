"""A beamline scientist's pass over the Bluesky IPython session (helper ux25).

Each test is one thing a new user met at the prompt, following README's "Running under
Bluesky" and examples/ipython_startup.py: plans made with a bad dwell, a misspelt signal,
a motor whose IOC does not answer, a strategy name for a sampler or a fly sampler made
for another dwell (each refused when the plan is made now, before its first message:
before, a run was opened, or the scan ran on wrong terms); a ``max_coverage`` below the
sampler's initial pattern (now a warning before the run); ``sampler.max_coverage = 0.3``
between runs (silently ignored before); and fly runs read back from the catalogue
(``replay_points`` returned nothing for them, ``sampler_from_run`` an empty sampler).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
from bluesky import RunEngine
from bluesky_rig import GRID, IMAGE, MOTION, SHAPE, point_rig, sim_flyer, xrf_rig

from fastscan import Sampler
from fastscan.fly import FlySampler
from fastscan.phantoms import XRF_ELEMENTS
from fastscan.plans import (
    Grid,
    autonomous_fly_scan,
    autonomous_scan,
    load_run,
    rel_autonomous_scan,
    replay_points,
    sampler_from_run,
)
from fastscan.plans.fly import to_pixels


@pytest.fixture
def rig():
    return point_rig()


# ---------------------------------------------------------------- refused when made
@pytest.mark.parametrize("dwell", [-0.01, float("nan"), float("inf"), "0.01", True])
def test_a_bad_dwell_is_refused_when_the_plan_is_made(rig, dwell) -> None:
    det, x, y = rig
    with pytest.raises(ValueError, match=r"dwell must be a finite number of seconds >= 0 "):
        autonomous_scan([det], x, y, grid=GRID, signal="det_value", dwell=dwell)


def test_a_misspelt_signal_is_refused_naming_the_detectors_keys(rig) -> None:
    det, x, y = rig
    message = (
        "signal 'det_val' is not a reading of the detectors ['det']; their keys: ['det_value']"
    )
    with pytest.raises(ValueError) as refused:
        autonomous_scan([det], x, y, grid=GRID, signal="det_val")
    assert str(refused.value) == message
    with pytest.raises(ValueError) as refused:  # the relative plan checks the same
        rel_autonomous_scan([det], x, y, width=4.0, height=4.0, n_cols=8, n_rows=8,
                            signal="det_val")  # fmt: skip
    assert str(refused.value) == message
    # a motor readback is a reading too (as it was in the run)
    autonomous_scan([det], x, y, grid=GRID, signal="x").close()


@pytest.mark.epics
def test_a_motor_whose_ioc_does_not_answer_is_refused_when_the_plan_is_made(
    rig, monkeypatch
) -> None:
    from conftest import new_prefix

    import fastscan.plans.device_checks as device_checks
    from fastscan.devices import NanoprobeStage
    from fastscan.devices.fly import EpicsFlyer

    det, _, y = rig
    monkeypatch.setattr(device_checks, "CONNECT_TIMEOUT_S", 0.3)
    prefix = new_prefix("NOIOC")  # no IOC serves it
    stage = NanoprobeStage(f"{prefix}x", f"{prefix}y", name="stage")
    with pytest.raises(ConnectionError) as refused:
        autonomous_scan([det], stage.x, y, grid=GRID, signal="det_value")
    assert str(refused.value).startswith(
        f"x_motor stage_x (PV {prefix}x) is not connected: no answer within 0.3 s ("
    )
    assert str(refused.value).endswith(
        "; start its IOC (or check the PV prefix and EPICS_CA_* settings) before making the plan"
    )
    flyer = EpicsFlyer(f"{prefix}fly:", name="flyer")
    sampler = FlySampler(SHAPE, motion=MOTION)
    with pytest.raises(ConnectionError, match=rf"^flyer flyer \(PV {prefix}fly:\) is not conn"):
        autonomous_fly_scan(flyer, sampler, grid=GRID, motion=MOTION)
    stage.destroy()
    flyer.destroy()


@pytest.mark.epics
def test_a_grid_beyond_the_soft_limits_is_refused_when_the_plan_is_made(devices) -> None:
    stage, det = devices  # the IOC's limits: half a pixel beyond its 40 x 60 grid
    wide = Grid(0.0, 80.0, 60, 0.0, 39.0, 40)
    with pytest.raises(ValueError) as refused:
        autonomous_scan([det], stage.x, stage.y, grid=wide, signal="det_value")
    assert str(refused.value) == (
        f"grid corner (row 0, col 59) at (x=80, y=0) is outside the soft limits of stage_x "
        f"(PV {stage.x.prefix}): 80 not in [-0.5, 59.5]; give a grid inside them (or widen "
        "the limits)"
    )
    autonomous_scan([det], stage.x, stage.y, grid=GRID, signal="det_value").close()
    # relative: checked where the motors are when it runs, not around 0 when it is made
    plan = rel_autonomous_scan([det], stage.x, stage.y, width=200.0, height=4.0, n_cols=8,
                               n_rows=4, signal="det_value")  # fmt: skip
    with pytest.raises(ValueError, match=r"^grid corner \(row 0, col 0\) at \(x=-\d+"):
        RunEngine()(plan)


def test_a_strategy_name_for_a_sampler_is_refused_saying_what_to_pass(rig) -> None:
    det, x, y = rig
    step = r"^sampler must be a sampler object, e\.g\. fastscan\.Sampler\(grid\.shape, \.\.\.\), "
    with pytest.raises(TypeError, match=step + "not the name 'fast'"):
        autonomous_scan([det], x, y, grid=GRID, signal="det_value", sampler="fast")
    fly = r"^sampler must be a fly sampler object, e\.g\. fastscan\.fly\.FlySampler\(grid\.shape"
    with pytest.raises(TypeError, match=fly + ".*not the name 'fast-fly'"):
        autonomous_fly_scan(sim_flyer(), "fast-fly", grid=GRID, motion=MOTION)
    with pytest.raises(TypeError, match=r"; a fly sampler goes to autonomous_fly_scan$"):
        autonomous_scan([det], x, y, grid=GRID, signal="det_value",
                        sampler=FlySampler(SHAPE, motion=MOTION))  # fmt: skip
    with pytest.raises(TypeError, match=r"; a step sampler goes to autonomous_scan$"):
        autonomous_fly_scan(sim_flyer(), Sampler(SHAPE), grid=GRID, motion=MOTION)


def test_a_fly_sampler_made_for_another_dwell_is_refused() -> None:
    sampler = FlySampler(SHAPE, motion=MOTION)  # chooses segments for 10 ms per reading
    with pytest.raises(ValueError) as refused:
        autonomous_fly_scan(sim_flyer(), sampler, grid=GRID, motion=MOTION, dwell=0.001)
    assert str(refused.value) == (
        "the sampler chooses its segments for 0.01 s per reading (its motion model's dwell) "
        "but the plan would fly 0.001 s per reading: give both the same dwell "
        "(FlySampler(shape, motion=motion) on a pixel-unit grid, or dwell=0.01 here)"
    )
    default = FlySampler(SHAPE)  # the nanoprobe model: 10 ms
    with pytest.raises(ValueError, match=r"for 0\.01 s per reading"):
        autonomous_fly_scan(sim_flyer(), default, grid=GRID, motion=MOTION.replace(dwell=0.005))
    autonomous_fly_scan(sim_flyer(), sampler, grid=GRID, motion=MOTION, dwell=0.01).close()


# ---------------------------------------------------------------- warned before the run
def _warnings_at_start(caplog):
    """A document callback recording the fastscan.plans warnings logged before the run."""
    seen: list[str] = []

    def callback(name, doc):
        if name == "start":
            seen.extend(
                r.getMessage()
                for r in caplog.records
                if r.name == "fastscan.plans" and r.levelno == logging.WARNING
            )

    return seen, callback


def test_a_cap_below_the_initial_pattern_is_warned_before_the_run(rig, caplog) -> None:
    det, x, y = rig
    caplog.set_level(logging.WARNING, logger="fastscan.plans")
    sampler = Sampler(SHAPE, batch_size=10, max_coverage=0.005, seed=0)
    seen, callback = _warnings_at_start(caplog)
    summary = RunEngine(call_returns_result=True)(
        autonomous_scan([det], x, y, grid=GRID, signal="det_value", sampler=sampler), callback
    ).plan_result
    assert seen == [
        "max_coverage 0.5% is below the sampler's initial pattern (24 pixels, 1.0%): the scan "
        "measures that whole pattern and stops there, before any adaptive decision"
    ]
    assert summary.n_points == sampler.initial_count == 24  # what the warning said


def test_a_fly_cap_inside_the_coarse_raster_is_warned_before_the_run(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="fastscan.plans")
    sampler = FlySampler(SHAPE, motion=MOTION, max_coverage=0.05, seed=0)
    seen, callback = _warnings_at_start(caplog)
    summary = RunEngine(call_returns_result=True)(
        autonomous_fly_scan(sim_flyer(), sampler, grid=GRID, motion=MOTION), callback
    ).plan_result
    assert seen == [
        "max_coverage 5.0% is below the sampler's coarse raster (600 pixels, 25.0%): the scan "
        "stops inside the raster, on part of the grid, before any adaptive decision and with "
        "no reconstruction between the lines; give max_coverage above 25.0% (or a larger "
        "initial_spacing)"
    ]
    assert summary.n_samples < sampler.initial_count and len(summary.decisions) == 1
    caplog.clear()
    ok = FlySampler(SHAPE, motion=MOTION, max_coverage=0.3, seed=0)
    seen, callback = _warnings_at_start(caplog)
    RunEngine()(autonomous_fly_scan(sim_flyer(), ok, grid=GRID, motion=MOTION, max_segments=1),
                callback)  # fmt: skip
    assert seen == []


# ---------------------------------------------------------------- tuning between runs
def test_raising_the_cap_on_the_sampler_continues_the_scan(rig) -> None:
    det, x, y = rig
    sampler = Sampler(SHAPE, batch_size=10, max_coverage=0.05, seed=0)
    starts = []
    RE = RunEngine(call_returns_result=True)
    RE.subscribe(lambda name, doc: starts.append(doc) if name == "start" else None)
    first = RE(autonomous_scan([det], x, y, grid=GRID, signal="det_value", sampler=sampler))
    assert first.plan_result.coverage == pytest.approx(0.05)
    sampler.max_coverage = 0.1  # between runs, at the prompt
    sampler.patience = 3
    second = RE(autonomous_scan([det], x, y, grid=GRID, signal="det_value", sampler=sampler))
    assert second.plan_result.coverage == pytest.approx(0.1)
    assert second.plan_result.n_points == 0.05 * IMAGE.size
    assert starts[1]["fastscan"]["sampler_params"]["max_coverage"] == 0.1  # what it used
    assert starts[1]["fastscan"]["sampler_params"]["patience"] == 3
    assert sampler.stop_rule._changes.maxlen == 3
    with pytest.raises(ValueError, match=r"^max_coverage must be in \(0, 1\], got 1\.5$"):
        sampler.max_coverage = 1.5
    assert sampler.max_coverage == 0.1  # unchanged


# ---------------------------------------------------------------- runs read back
def test_a_fly_run_reads_back_the_samples_its_sampler_got(catalog, writer) -> None:
    sampler = FlySampler(SHAPE, motion=MOTION, max_coverage=0.3, initial_spacing=6, seed=0)
    got: list[tuple[np.ndarray, np.ndarray]] = []
    ingest = sampler.ingest

    def recording(points, values):
        got.append((np.array(points), np.array(values)))
        ingest(points, values)

    sampler.ingest = recording
    RE = RunEngine(call_returns_result=True)
    RE.subscribe(writer)
    summary = RE(autonomous_fly_scan(sim_flyer(), sampler, grid=GRID, motion=MOTION)).plan_result
    writer.flush()
    run = load_run(catalog, summary)  # what the plan returned names its run
    points, values, order = replay_points(run)
    assert len(points) == summary.n_samples > 0.3 * IMAGE.size
    np.testing.assert_array_equal(points, np.concatenate([p for p, _ in got]))
    np.testing.assert_array_equal(values, np.concatenate([v for _, v in got]))
    np.testing.assert_array_equal(order, np.arange(len(points)))
    table = run["fly"].read()
    np.testing.assert_array_equal(points, to_pixels(GRID, table["flyer_x"], table["flyer_y"]))
    with pytest.raises(ValueError) as refused:
        sampler_from_run(run)
    assert str(refused.value) == (
        f"run {summary.run_uids[0][:8]} is a fly scan (autonomous_fly_scan, FlySampler): "
        "sampler_from_run rebuilds the step scans' fastscan.Sampler only; replay_points(run) "
        "gives its samples"
    )


def test_a_multichannel_step_run_reads_back_every_channel(catalog, writer) -> None:
    elements = ("Fe", "Cu")
    assert set(elements) <= set(XRF_ELEMENTS)
    maps, rois, x, y = xrf_rig(elements)
    RE = RunEngine(call_returns_result=True)
    RE.subscribe(writer)
    keys = [f"{e}_value" for e in elements]
    plan = autonomous_scan(rois, x, y, grid=GRID, signal=keys, max_coverage=0.03,
                           sampler_kwargs={"batch_size": 10, "seed": 0})  # fmt: skip
    summary = RE(plan).plan_result
    writer.flush()
    run = load_run(catalog, summary)
    points, values, _ = replay_points(run)
    assert values.shape == (summary.n_points, 2)
    np.testing.assert_array_equal(values, maps[:, points[:, 0], points[:, 1]].T)
    again = sampler_from_run(run)
    assert again.n_channels == 2 and again.n_measured == summary.n_points


# ---------------------------------------------------------------- live picture of a fly run
def test_a_fly_run_ends_with_a_picture_of_its_samples(tmp_path) -> None:
    from fastscan.plans import LivePlot
    from fastscan.reconstruction import idw_reconstruction

    frames = []

    class Recording(LivePlot):
        def draw(self, data, rows, cols, uid):
            frames.append(data)
            return super().draw(data, rows, cols, uid)

    plot = Recording(tmp_path / "png", background=False)
    sampler = FlySampler(SHAPE, motion=MOTION, max_coverage=0.3, initial_spacing=6, seed=0)
    got: list[tuple[np.ndarray, np.ndarray]] = []
    ingest = sampler.ingest
    sampler.ingest = lambda p, v: (got.append((np.array(p), np.array(v))), ingest(p, v))
    RE = RunEngine(call_returns_result=True)
    RE.subscribe(plot)
    summary = RE(autonomous_fly_scan(sim_flyer(), sampler, grid=GRID, motion=MOTION)).plan_result
    assert [p.name for p in plot.files] == [f"{summary.run_uids[0][:8]}_fly.png"]
    assert plot.files[0].stat().st_size > 5000
    points = np.concatenate([p for p, _ in got])
    values = np.concatenate([v for _, v in got])
    np.testing.assert_array_equal(
        frames[0]["fastscan_reconstruction"], idw_reconstruction(SHAPE, points, values)
    )
    assert frames[0]["fastscan_coverage"] == pytest.approx(sampler.coverage)


# ---------------------------------------------------------------- the try-it session itself
@pytest.mark.timeout(300)
def test_the_try_it_session_compares_step_and_fly_runs(tmp_path) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "ipython_startup.py"
    session = f"""
exec(open({str(script)!r}).read())
a = scan(batch_size=50, max_coverage=0.0105)
from fastscan.fly import FlySampler
from fastscan.motion import MotionModel
from fastscan.plans import autonomous_fly_scan
m = MotionModel.from_motors(x_motor, y_motor, dwell=0.005)
flyer = det.flyer(velocity_limit=(200.0, 200.0), acceleration=(2000.0, 2000.0), time_scale=0)
sampler = FlySampler(grid.shape, motion=m, max_coverage=0.13, seed=0)
f = RE(autonomous_fly_scan(flyer, sampler, grid=grid, motion=m)).plan_result
print("SAMPLES", f.n_samples, last_sampler.n_measured)
compare(a, f, -1)
"""
    env = dict(os.environ, FASTSCAN_SIM="1")
    run = subprocess.run([sys.executable, "-c", session], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=280)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout.splitlines()
    _, n_samples, n_last = next(line for line in out if line.startswith("SAMPLES")).split()
    n_samples = int(n_samples)
    assert int(n_last) == 630  # last_sampler: the scan() helper's sampler
    table = out[out.index(f"{'run':<10}{'batch':>6}{'points':>8}{'time s':>9}{'NRMSE':>8}") + 1 :]
    rows = [line.split() for line in table]
    assert [(r[1], int(r[2])) for r in rows] == [
        ("50", 630),
        ("fly", n_samples),
        ("fly", n_samples),
    ]
    assert rows[1] == rows[2]  # -1 is the fly run
    assert all(0.0 < float(r[4]) < 1.0 for r in rows)  # the fly run's own image, not none
    assert (tmp_path / "scans" / "png" / f"{rows[1][0]}_fly.png").is_file()

"""A beamline scientist's second pass over the Bluesky IPython session (helper ux25b).

What ux25's pass noticed but left alone, each a thing met at the prompt: a sampler setting
changed after the sampler was made (``fs.initial_spacing = 6``, ``set_params``) was
reported by ``get_params()`` (the run metadata) but not used; after ``RE.abort()`` the
plan's summary was gone; ``md={"fastscan": ...}`` replaced the settings the plan
records; ``rel_autonomous_scan`` with a negative width scanned a flipped grid; and
``LivePlot`` of a multichannel step run drew nothing (matplotlib refused the (C, H, W)
reconstruction in its thread).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from bluesky import RunEngine
from bluesky.utils import RunEngineInterrupted
from bluesky_rig import GRID, IMAGE, MOTION, SHAPE, point_rig, sim_flyer, xrf_rig

from fastscan import Sampler
from fastscan.fly import FlySampler, segments_to_points
from fastscan.fly.auto import AutoSampler
from fastscan.plans import (
    FlyScanSummary,
    Grid,
    LivePlot,
    ScanSummary,
    autonomous_fly_scan,
    autonomous_scan,
    rel_autonomous_scan,
)


@pytest.fixture
def rig():
    return point_rig()


def _fly(sampler: FlySampler, decisions: int) -> np.ndarray:
    """Fly ``decisions`` decisions of ``sampler`` over IMAGE; the points it measured."""
    for _ in range(decisions):
        segments = sampler.suggest_segments()
        if not segments:
            break
        points, _ = segments_to_points(segments)
        sampler.ingest(points, IMAGE[points[:, 0], points[:, 1]])
    return sampler.measured_points


# ---------------------------------------------------------------- 1. settings set later
def test_a_fly_setting_set_before_the_first_reading_takes_effect() -> None:
    made = FlySampler(SHAPE, motion=MOTION, initial_spacing=6, max_coverage=0.3, seed=0)
    default = FlySampler(SHAPE, motion=MOTION, max_coverage=0.3, seed=0)
    assert default.initial_count != made.initial_count  # (the setting matters here)
    later = FlySampler(SHAPE, motion=MOTION, max_coverage=0.3, seed=0)
    later.suggest_segments()  # (asked already: still no reading)
    later.initial_spacing = 6  # at the prompt, before the run
    assert later.get_params() == made.get_params()
    assert later.initial_count == made.initial_count
    np.testing.assert_array_equal(_fly(later, 40), _fly(made, 40))
    assert later.coverage == pytest.approx(0.3, abs=0.02)


def test_set_params_is_the_constructor_before_the_first_reading() -> None:
    made = FlySampler(SHAPE, motion=MOTION, sweep=0, line_bias=0.3, max_coverage=0.2)
    later = FlySampler(SHAPE, motion=MOTION, max_coverage=0.2)
    assert later.set_params(sweep=0, line_bias=0.3) is later
    assert later.get_params() == made.get_params()
    with pytest.raises(ValueError, match=r"^line_bias must be a finite number >= 0, got -1$"):
        later.set_params(line_bias=-1)  # checked as the constructor checks it
    np.testing.assert_array_equal(_fly(later, 30), _fly(made, 30))
    with pytest.raises(TypeError, match=r"^FlySampler\.set_params got unknown settings \['spa"):
        FlySampler(SHAPE, motion=MOTION).set_params(spacing=4)


def test_a_bad_setting_leaves_the_sampler_as_it_was() -> None:
    fs = FlySampler(SHAPE, motion=MOTION, initial_spacing=6)
    with pytest.raises(ValueError, match=r"^initial_spacing must be an integer >= 1, got 0$"):
        fs.initial_spacing = 0
    assert fs.initial_spacing == 6 and fs.get_params()["initial_spacing"] == 6


def test_a_step_setting_set_before_the_first_reading_takes_effect() -> None:
    s = Sampler(SHAPE, seed=0)
    s.channels = ["Fe", "Cu"]  # the constructor fixes the channel count from it
    assert s.n_channels == 2 and s.channel_names == ("Fe", "Cu")
    with pytest.raises(ValueError, match="channel"):
        s.ingest(np.array([[0, 0]]), np.array([1.0]))  # one channel: refused, as made so
    s.set_params(channels=None, batch_size=7)
    made = Sampler(SHAPE, seed=0, batch_size=7)
    assert s.get_params() == made.get_params()
    for scan in (s, made):
        for _ in range(3):
            points = scan.suggest()
            scan.ingest(points, IMAGE[points[:, 0], points[:, 1]])
    np.testing.assert_array_equal(s.measured_points, made.measured_points)


def test_an_auto_setting_set_before_the_first_reading_takes_effect() -> None:
    auto = AutoSampler(SHAPE, motion=MOTION, max_coverage=0.2)
    auto.batch_size = 20
    assert auto.get_params() == AutoSampler(SHAPE, motion=MOTION, max_coverage=0.2,
                                            batch_size=20).get_params()  # fmt: skip
    assert auto.get_params()["batch_size"] == 20


def test_a_setting_that_cannot_change_mid_scan_is_refused_naming_it() -> None:
    fs = FlySampler(SHAPE, motion=MOTION, initial_spacing=6, max_coverage=0.3)
    _fly(fs, 1)
    n = fs.n_measured
    message = (
        f"initial_spacing cannot change once readings are in ({n} measured): this scan was "
        "made with initial_spacing=6; make a new FlySampler(..., initial_spacing=...) for a "
        "new scan (settable mid-scan: ['max_coverage', 'rate_threshold', 'time_budget'])"
    )
    with pytest.raises(ValueError) as refused:
        fs.initial_spacing = 8
    assert str(refused.value) == message
    with pytest.raises(ValueError, match=r"^sweep cannot change once readings are in"):
        fs.set_params(sweep=2)
    assert fs.initial_spacing == 6
    s = Sampler(SHAPE, batch_size=10)
    points = s.suggest()
    s.ingest(points, IMAGE[points[:, 0], points[:, 1]])
    with pytest.raises(ValueError, match=r"^k cannot change once readings are in \(24 meas"):
        s.k = 5
    auto = AutoSampler(SHAPE, motion=MOTION, max_coverage=0.2)
    points = auto.suggest() if not auto.flying else segments_to_points(
        auto.suggest_segments())[0]  # fmt: skip
    auto.ingest(points, IMAGE[points[:, 0], points[:, 1]])
    with pytest.raises(ValueError, match=r"^seed cannot change once readings are in"):
        auto.seed = 3


def test_the_stop_knobs_keep_working_mid_scan() -> None:
    fs = FlySampler(SHAPE, motion=MOTION, initial_spacing=6, max_coverage=0.2)
    _fly(fs, 200)
    assert fs.should_stop() and fs.coverage == pytest.approx(0.2, abs=0.02)
    assert fs.stop_reason.startswith("coverage")
    fs.max_coverage = 0.35  # raise the cap: the scan goes on
    assert not fs.should_stop()
    _fly(fs, 200)
    assert fs.coverage == pytest.approx(0.35, abs=0.02) and fs.get_params()["max_coverage"] == 0.35
    with pytest.raises(ValueError, match=r"^time_budget must be seconds > 0 or None, got -1$"):
        fs.time_budget = -1
    fs.set_params(time_budget=1e6, rate_threshold=0.0)
    assert (fs.time_budget, fs.rate_threshold) == (1e6, 0.0)
    auto = AutoSampler(SHAPE, motion=MOTION, max_coverage=0.1)
    while not auto.should_stop():
        points = auto.suggest() if not auto.flying else segments_to_points(
            auto.suggest_segments())[0]  # fmt: skip
        if len(points) == 0:
            break
        auto.ingest(points, IMAGE[points[:, 0], points[:, 1]])
    auto.max_coverage = 0.2
    assert auto.get_params()["max_coverage"] == 0.2
    assert auto._current.max_coverage == 0.2 and not auto.should_stop()


# ---------------------------------------------------------------- 2. summary after an abort
def _pause_from_thread(RE) -> None:
    # request_pause blocks on the RunEngine's loop: call it from another thread, as a
    # Ctrl-C handler would
    threading.Thread(target=RE.request_pause, kwargs={"defer": False}).start()


def test_the_summary_of_an_aborted_step_scan_is_kept(rig) -> None:
    from fastscan.plans import last_summary

    det, x, y = rig
    sampler = Sampler(SHAPE, batch_size=10, max_coverage=0.2, seed=0)
    RE = RunEngine(call_returns_result=True)
    starts, seen = [], {"n": 0}

    def pauser(name, doc):
        if name == "start":
            starts.append(doc)
        if name == "event" and "det_value" in doc["data"]:
            seen["n"] += 1
            if seen["n"] == 60:
                _pause_from_thread(RE)

    RE.subscribe(pauser)
    with pytest.raises(RunEngineInterrupted):
        RE(autonomous_scan([det], x, y, grid=GRID, signal="det_value", sampler=sampler))
    result = RE.abort()
    assert result.exit_status == "abort"
    assert not isinstance(result.plan_result, ScanSummary)  # bluesky's "no result"
    summary = last_summary()
    assert isinstance(summary, ScanSummary)
    assert summary.run_uids == [starts[0]["uid"]]
    assert 0 < summary.n_measured == sampler.n_measured < 0.2 * IMAGE.size
    assert summary.coverage == sampler.coverage and summary.elapsed_s > 0
    # a plan made but not run leaves it alone
    autonomous_scan([det], x, y, grid=GRID, signal="det_value", sampler=sampler).close()
    assert last_summary() is summary


def test_the_summary_of_an_aborted_fly_scan_is_kept() -> None:
    from fastscan.plans import last_summary

    sampler = _aborted_fly_scan(RunEngine(call_returns_result=True))
    summary = last_summary()
    assert isinstance(summary, FlyScanSummary) and len(summary.run_uids) == 1
    assert summary.n_samples > 0 and summary.coverage == sampler.coverage < 0.5


def _aborted_fly_scan(RE) -> FlySampler:
    """A fly scan on ``RE``, paused after three pages and aborted; its sampler."""
    sampler = FlySampler(SHAPE, motion=MOTION, max_coverage=0.5, initial_spacing=6, seed=0)
    pages = []

    def pauser(name, doc):
        if name == "event_page":
            pages.append(doc)
            if len(pages) == 3:
                _pause_from_thread(RE)

    RE.subscribe(pauser)
    with pytest.raises(RunEngineInterrupted):
        RE(autonomous_fly_scan(sim_flyer(), sampler, grid=GRID, motion=MOTION, stream=False))
    assert RE.abort().exit_status == "abort"
    return sampler


def test_each_run_engine_keeps_its_own_last_summary(rig) -> None:
    # two RunEngines in one session (e.g. a simulated and a real beamline): before, the
    # second engine's scan replaced the first's summary; now each keeps its own
    import gc
    import time
    import weakref

    from fastscan.plans import last_summary

    det, x, y = rig
    sim, real = RunEngine(call_returns_result=True), RunEngine(call_returns_result=True)
    assert last_summary(sim) is None and last_summary(real) is None
    step = sim(autonomous_scan([det], x, y, grid=GRID, signal="det_value",
                               max_coverage=0.02)).plan_result  # fmt: skip
    sampler = _aborted_fly_scan(real)
    fly = last_summary(real)
    assert isinstance(step, ScanSummary) and isinstance(fly, FlyScanSummary)
    assert last_summary(sim) is step  # not replaced by the other engine's scan
    assert last_summary() is fly  # without an engine: the latest of any, as before
    assert fly.n_samples > 0 and fly.coverage == sampler.coverage < 0.5
    # a plan made but not run leaves both alone
    autonomous_scan([det], x, y, grid=GRID, signal="det_value").close()
    assert (last_summary(sim), last_summary(real), last_summary()) == (step, fly, fly)
    again = sim(autonomous_scan([det], x, y, grid=GRID, signal="det_value",
                                max_coverage=0.01)).plan_result  # fmt: skip
    assert last_summary(sim) is again is last_summary() and last_summary(real) is fly
    # an engine dropped from the session is not kept alive by its summary (bluesky's event
    # loop thread lets go of an engine a moment after its call returns; the aborted one is
    # also held by pytest's captured "Run aborted" log record and its traceback)
    gone = weakref.ref(sim)
    del sim
    deadline = time.monotonic() + 10.0
    while gc.collect() >= 0 and gone() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone() is None
    assert last_summary(real) is fly and last_summary() is again
    with pytest.raises(TypeError) as refused:
        last_summary("RE")
    assert str(refused.value) == (
        "RE must be a bluesky RunEngine (or None for the latest of any), got str: 'RE'"
    )


# ---------------------------------------------------------------- 3. md["fastscan"]
def test_user_md_under_fastscan_is_merged_with_the_recorded_settings(rig) -> None:
    det, x, y = rig
    starts = []
    RE = RunEngine(call_returns_result=True)
    RE.subscribe(lambda name, doc: starts.append(doc) if name == "start" else None)
    md = {"fastscan": {"note": "beam dump at 3 min", "version": "mine"}, "sample": "A1"}
    RE(autonomous_scan([det], x, y, grid=GRID, signal="det_value", max_coverage=0.02,
                       md=md))  # fmt: skip
    sampler = FlySampler(SHAPE, motion=MOTION, max_coverage=0.2, initial_spacing=6)
    RE(autonomous_fly_scan(sim_flyer(), sampler, grid=GRID, motion=MOTION, md=md,
                           max_segments=1))  # fmt: skip
    for start in starts:
        recorded = start["fastscan"]
        assert recorded["note"] == "beam dump at 3 min" and recorded["version"] == "mine"
        assert start["sample"] == "A1"
        assert recorded["grid"] == GRID.to_dict() and "sampler_params" in recorded
        assert recorded["signal"] in ("det_value", ["flyer_value"])
    assert md == {"fastscan": {"note": "beam dump at 3 min", "version": "mine"}, "sample": "A1"}
    message = (
        "md['fastscan'] must be a dict (merged into the fastscan settings the plan records, "
        "which the catalogue tools read back), got str: 'note'; put other metadata under "
        "another key"
    )
    with pytest.raises(TypeError) as refused:
        autonomous_scan([det], x, y, grid=GRID, signal="det_value", md={"fastscan": "note"})
    assert str(refused.value) == message
    with pytest.raises(TypeError) as refused:
        autonomous_fly_scan(sim_flyer(), sampler, grid=GRID, motion=MOTION, md={"fastscan": "note"})
    assert str(refused.value) == message


def test_merge_user_md_examples_run() -> None:
    from docstring_examples import assert_examples_pass

    assert_examples_pass("fastscan.plans.user_md")
    assert_examples_pass("fastscan._settable")


# ---------------------------------------------------------------- 4. rel_ with a negative width
@pytest.mark.parametrize(
    ("width", "height", "name", "value", "corners"),
    [(-4.0, 4.0, "width", "-4.0", "x_start > x_stop"),
     (4.0, -2.0, "height", "-2.0", "y_start > y_stop"),
     (0.0, 4.0, "width", "0.0", "x_start > x_stop"),
     (float("nan"), 4.0, "width", "nan", "x_start > x_stop")],
)  # fmt: skip
def test_a_negative_width_is_refused_when_the_plan_is_made(
    rig, width, height, name, value, corners
) -> None:
    det, x, y = rig
    with pytest.raises(ValueError) as refused:
        rel_autonomous_scan([det], x, y, width=width, height=height, n_cols=8, n_rows=8,
                            signal="det_value")  # fmt: skip
    assert str(refused.value) == (
        f"{name} must be a finite number of motor units > 0, got {value} (for a grid run the "
        f"other way round give a Grid with {corners})"
    )
    flipped = Grid(4.0, -4.0, 8, 0.0, 4.0, 8)  # the way to ask for it (autonomous_scan)
    assert flipped.pitch == pytest.approx((8 / 7, 4 / 7))


# ---------------------------------------------------------------- 5. LivePlot, several channels
def test_liveplot_draws_a_multichannel_step_run(tmp_path) -> None:
    elements = ("Fe", "Cu")
    _maps, rois, x, y = xrf_rig(elements)
    frames = []

    class Recording(LivePlot):
        def draw(self, data, rows, cols, uid):
            frames.append(data)
            return super().draw(data, rows, cols, uid)

    plot = Recording(tmp_path / "png")  # in its worker thread, as at the prompt
    RE = RunEngine(call_returns_result=True)
    RE.subscribe(plot)
    keys = [f"{e}_value" for e in elements]
    plan = autonomous_scan(rois, x, y, grid=GRID, signal=keys, max_coverage=0.03,
                           sampler_kwargs={"batch_size": 10, "seed": 0})  # fmt: skip
    summary = RE(plan).plan_result
    assert len(plot.files) == 1 and plot.files[0].name.startswith(summary.run_uids[0][:8])
    assert plot.files[0].stat().st_size > 5000
    assert np.shape(frames[-1]["fastscan_reconstruction"]) == (2, *SHAPE)
    from PIL import Image

    with Image.open(plot.files[0]) as png:  # three panels: Fe, Cu, ERD
        assert png.size == (int(4.5 * 3 * 80), 4 * 80)

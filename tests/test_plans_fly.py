"""autonomous_fly_scan with the in-process simulated flyer (real RunEngine, no EPICS)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from bluesky import RunEngine
from bluesky.utils import RunEngineInterrupted
from fly_source import RowRasterSource
from honesty import assert_honest_devices

from fastscan.motion import MotionModel
from fastscan.phantoms import make_phantom
from fastscan.plans import autonomous_fly_scan
from fastscan.plans.fly import FlyFault
from fastscan.plans.grid import Grid
from fastscan.sim.flyer import SimFlyer

SHAPE = (40, 60)
IMAGE = make_phantom("flakes", SHAPE, seed=1)
GRID = Grid(0.0, 59.0, 60, 0.0, 39.0, 40)
MOTION = MotionModel((1000.0, 1000.0), (1e4, 1e4), dwell=0.01,
                     travel=((-5.0, 64.0), (-5.0, 44.0)))  # fmt: skip


def _flyer(**kw) -> SimFlyer:
    kw.setdefault("velocity_limit", MOTION.velocity)
    kw.setdefault("acceleration", MOTION.acceleration)
    kw.setdefault("travel", MOTION.travel)
    return SimFlyer("flyer", IMAGE, GRID, **kw)


class Recorder:
    """Collects documents; remembers how many samples were in the documents at each ingest."""

    def __init__(self, source: RowRasterSource) -> None:
        self.docs: list[tuple[str, dict]] = []
        self.source = source
        self.seen_at_ingest: list[int] = []
        original = source.ingest

        def ingest(points, values):
            self.seen_at_ingest.append(self.n_samples)
            assert self.n_samples >= sum(source.ingest_calls) + len(points)  # documents first
            original(points, values)

        source.ingest = ingest

    def __call__(self, name: str, doc: dict) -> None:
        self.docs.append((name, doc))

    def pages(self) -> list[dict]:
        return [d for n, d in self.docs if n == "event_page"]

    @property
    def n_samples(self) -> int:
        return sum(len(p["seq_num"]) for p in self.pages())

    def stored(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pages = self.pages()
        x = np.concatenate([p["data"]["flyer_x"] for p in pages])
        y = np.concatenate([p["data"]["flyer_y"] for p in pages])
        v = np.concatenate([p["data"]["flyer_value"] for p in pages])
        return x, y, v


def _run(source, flyer=None, **kw):
    RE = RunEngine(call_returns_result=True)
    rec = Recorder(source)
    result = RE(autonomous_fly_scan(flyer or _flyer(), source, grid=GRID, motion=MOTION, **kw),
                rec)  # fmt: skip
    return RE, rec, result.plan_result


def test_every_sample_is_stored_with_its_position_before_the_sampler_ingests_it():
    source = RowRasterSource(SHAPE, step=8, per_batch=2, max_rows=9)
    flyer = _flyer()
    _, rec, summary = _run(source, flyer)
    assert_honest_devices(source, flyer)
    _x, y, values = rec.stored()
    assert summary.n_segments == 9 and summary.n_samples == 9 * 60 == len(values)
    np.testing.assert_array_equal(source.all_values, values)  # every stored sample ingested
    rows = np.array(source.rows[:9])
    np.testing.assert_array_equal(np.unique(y), np.sort(rows))  # position readbacks stored
    np.testing.assert_array_equal(IMAGE[source.all_points[:, 0], source.all_points[:, 1]], values)
    (stop,) = [d for n, d in rec.docs if n == "stop"]
    assert stop["exit_status"] == "success" and stop["num_events"]["fly"] == 540
    (desc,) = [d for n, d in rec.docs if n == "descriptor"]
    assert {"flyer_x", "flyer_y", "flyer_value", "flyer_segment"} <= set(desc["data_keys"])
    assert all(r.estimated_s > 0 for r in summary.segments)
    assert summary.stop_reason == "all planned rows flown"


def _pause_from_thread(RE, defer):
    # request_pause blocks on the RunEngine's loop: call it from another thread,
    # as a Ctrl-C handler would.
    threading.Thread(target=RE.request_pause, kwargs={"defer": defer}).start()


def _ingested(source: RowRasterSource, n: int, stream: bool) -> int:
    """The samples ingested; with stream, after the worker took the ``n`` stored (paused:
    it finishes the queued ingests in the background, within milliseconds here)."""
    deadline = time.monotonic() + (10.0 if stream else 0.0)
    while sum(source.ingest_calls) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return sum(source.ingest_calls)


@pytest.mark.parametrize("stream", [True, False])
def test_pause_resume_and_abort_between_segments_lose_nothing(stream):
    source = RowRasterSource(SHAPE, step=8, per_batch=3)
    flyer = _flyer(time_scale=0.2)  # about 0.1 s per flight
    RE = RunEngine(call_returns_result=True)
    rec = Recorder(source)
    pages = []

    def pauser(name, doc):
        if name == "event_page":
            pages.append(doc)
            if len(pages) in (1, 3):
                _pause_from_thread(RE, defer=len(pages) == 1)  # then a hard pause

    RE.subscribe(pauser)
    with pytest.raises(RunEngineInterrupted):
        RE(autonomous_fly_scan(flyer, source, grid=GRID, motion=MOTION, stream=stream), rec)
    assert RE.state == "paused"
    n_first = rec.n_samples
    assert n_first % 60 == 0 and n_first >= 60 and _ingested(source, n_first, stream) == n_first
    with pytest.raises(RunEngineInterrupted):
        RE.resume()
    assert RE.state == "paused"
    time.sleep(0.3)  # let an interrupted flight land; nothing of it may reach the documents
    n_second = rec.n_samples
    assert _ingested(source, n_second, stream) == n_second > n_first
    RE.abort(reason="user")
    (stop,) = [d for n, d in rec.docs if n == "stop"]
    assert stop["exit_status"] == "abort"
    values = rec.stored()[2]
    assert np.array_equal(values, source.all_values)  # stored == ingested, in order
    pts = source.all_points
    assert len(np.unique(pts[:, 0] * 60 + pts[:, 1])) == len(pts)  # nothing stored twice
    assert len(pts) % 60 == 0
    assert_honest_devices(source, flyer)  # an interrupted flight revealed nothing


def test_arguments_are_checked_before_the_first_message():
    source = RowRasterSource(SHAPE)
    flyer = _flyer()
    with pytest.raises(ValueError, match=r"dwell must be a finite number of seconds > 0, got 0"):
        autonomous_fly_scan(flyer, source, grid=GRID, motion=MOTION, dwell=0.0)
    with pytest.raises(ValueError, match=r"fly_velocity x = 2000.0 is above the x motor"):
        autonomous_fly_scan(flyer, source, grid=GRID, motion=MOTION, fly_velocity=(2000, 10))
    narrow = MOTION.replace(travel=((0.0, 50.0), (0.0, 39.0)))
    with pytest.raises(ValueError, match=r"grid corner .* outside the travel range: x = 59.0"):
        autonomous_fly_scan(flyer, source, grid=GRID, motion=narrow)
    with pytest.raises(TypeError, match=r"lacks \['suggest_segments'"):
        autonomous_fly_scan(flyer, object(), grid=GRID, motion=MOTION)
    with pytest.raises(ValueError, match="sampler shape"):
        autonomous_fly_scan(flyer, RowRasterSource((10, 10)), grid=GRID, motion=MOTION)


def test_a_segment_whose_run_up_leaves_the_travel_range_fails_before_it_moves():
    tight = MOTION.replace(travel=((-0.6, 59.6), (-1.0, 40.0)))  # run-up 0.5 + half a pixel
    source = RowRasterSource(SHAPE, max_rows=2)
    flyer = _flyer(travel=None)
    RE = RunEngine(call_returns_result=True)
    docs = []
    outside = r"run-up \(.*\) is outside the travel range: x = -1\.0"
    with pytest.raises(ValueError, match=outside) as err:
        RE(autonomous_fly_scan(flyer, source, grid=GRID, motion=tight), lambda n, d: docs.append(n))
    assert "widen the motors' soft limits (simulated IOC: --limit-margin)" in str(err.value)
    assert flyer.n_flights == 0 and docs[-1] == "stop"


def test_a_fly_sampler_whose_lines_cannot_reach_speed_is_refused_before_the_run():
    from fastscan.fly import FlySampler

    tight = MOTION.replace(travel=((-0.6, 59.6), (-1.0, 40.0)))  # the grid, not its run-ups
    sampler = FlySampler(SHAPE, motion=tight, seed=0)
    outside = r"a whole line of rows .* run-up \(.*\) is outside the travel range: x = -1\.0"
    with pytest.raises(ValueError, match=outside) as err:  # when the plan is made: no document
        autonomous_fly_scan(_flyer(travel=None), sampler, grid=GRID, motion=tight)
    assert "widen the motors' soft limits (simulated IOC: --limit-margin)" in str(err.value)
    assert sampler.n_measured == 0
    roomy = MOTION.replace(travel=((-1.1, 60.1), (-1.1, 40.1)))  # run-up 0.5 + half a pixel fits
    autonomous_fly_scan(
        _flyer(travel=None), FlySampler(SHAPE, motion=roomy), grid=GRID, motion=roomy
    )


def test_a_segment_the_stage_refuses_fails_the_run_with_its_reason():
    source = RowRasterSource(SHAPE, max_rows=3)
    slow = _flyer(velocity_limit=(50.0, 50.0))  # the model claims 1000 units/s
    RE = RunEngine(call_returns_result=True)
    docs = []
    with pytest.raises(FlyFault, match=r"kickoff failed: .*fly velocity 100.0 units/s .* 50.0"):
        RE(autonomous_fly_scan(slow, source, grid=GRID, motion=MOTION), lambda n, d: docs.append(d))
    assert docs[-1]["exit_status"] == "fail" and source.ingest_calls == []


def test_dwell_longer_than_the_velocity_limit_needs_and_estimates_are_logged(caplog):
    source = RowRasterSource(SHAPE, max_rows=2)
    motion = MOTION.replace(fly_velocity=(50.0, 50.0), dwell=0.001)  # pixel time 20 ms
    flyer = _flyer(time_scale=1.0)
    with caplog.at_level("INFO", logger="fastscan.plans"):
        RE = RunEngine(call_returns_result=True)
        summary = RE(autonomous_fly_scan(flyer, source, grid=GRID, motion=motion)).plan_result
    assert_honest_devices(source, flyer)
    first = summary.segments[0]
    assert first.n_samples == 60
    assert first.actual_s >= 60 * 0.02  # the flight takes real (modelled) time
    assert first.estimated_s == pytest.approx(60 * 0.02 + 2 * 50.0 / 1e4, rel=1e-6)
    assert "estimated" in caplog.text and "took" in caplog.text


def test_text_progress_counts_the_flown_samples_and_their_pixels():
    from fastscan.plans import TextProgress

    source = RowRasterSource(SHAPE, step=8, per_batch=2, max_rows=5)
    lines: list[str] = []
    progress = TextProgress(every=60, write=lines.append)
    RE = RunEngine(call_returns_result=True)
    RE.subscribe(progress)
    flyer = _flyer()
    summary = RE(autonomous_fly_scan(flyer, source, grid=GRID, motion=MOTION)).plan_result
    assert_honest_devices(source, flyer)
    pixels = {tuple(p) for p in source.all_points.tolist()}
    assert len(progress.rows) == summary.n_samples == len(source.all_values)
    assert set(zip(progress.rows, progress.cols)) == pixels  # placed by their readbacks
    assert len(lines) == summary.n_samples // 60 + 1
    coverage = 100.0 * len(pixels) / (SHAPE[0] * SHAPE[1])
    assert f"coverage {coverage:.2f} %" in lines[-1] and "run success" in lines[-1]

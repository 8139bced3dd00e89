"""autonomous_fly_scan(stream=True): segments ingested in a background thread, nothing lost."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from bluesky import RunEngine
from fly_source import RowRasterSource
from honesty import assert_honest_devices
from ophyd.status import DeviceStatus

from fastscan.fly import FlySampler
from fastscan.motion import MotionModel
from fastscan.phantoms import make_phantom
from fastscan.plans import autonomous_fly_scan
from fastscan.plans.fly import FlyFault
from fastscan.plans.grid import Grid
from fastscan.plans.ingest import IngestWorker
from fastscan.sim.flyer import SimFlyer

SHAPE = (40, 60)
IMAGE = make_phantom("flakes", SHAPE, seed=101)
GRID = Grid(0.0, 59.0, 60, 0.0, 39.0, 40)
MOTION = MotionModel((1000.0, 1000.0), (1e4, 1e4), dwell=0.01,
                     travel=((-5.0, 64.0), (-5.0, 44.0)))  # fmt: skip
WAIT = 20.0  # seconds a test waits for an event that must come (a deadlock fails, not hangs)


class KickoffLog(SimFlyer):
    """SimFlyer that timestamps each kickoff and can fail the ``fail_at``-th one."""

    def __init__(self, *args, fail_at: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fail_at = fail_at
        self.kickoffs: list[float] = []
        self.kicked = threading.Condition()

    def kickoff(self):
        with self.kicked:
            self.kickoffs.append(time.monotonic())
            self.kicked.notify_all()
        if len(self.kickoffs) == self.fail_at:
            status = DeviceStatus(self)
            status.set_exception(RuntimeError("stage fault"))
            return status
        return super().kickoff()

    def wait_kickoffs(self, n: int) -> bool:
        with self.kicked:
            return self.kicked.wait_for(lambda: len(self.kickoffs) >= n, timeout=WAIT)


def _flyer(**kw) -> KickoffLog:
    return KickoffLog("flyer", IMAGE, GRID, velocity_limit=MOTION.velocity,
                      acceleration=MOTION.acceleration, travel=MOTION.travel, **kw)  # fmt: skip


def _documents(RE: RunEngine, plan) -> tuple[object, list[tuple[str, dict]]]:
    docs: list[tuple[str, dict]] = []
    summary = RE(plan, lambda name, doc: docs.append((name, doc))).plan_result
    return summary, docs


def _stored(docs: list[tuple[str, dict]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pages = [d for n, d in docs if n == "event_page"]
    x, y, v = (
        np.concatenate([p["data"][f"flyer_{k}"] for p in pages]) for k in ("x", "y", "value")
    )
    return x, y, v


@pytest.mark.parametrize("stream", [True, False])
def test_ingest_overlaps_the_next_flight_only_when_streamed(stream):
    """With stream, ingest k is still running when segment k+1 kicks off; the sampler is
    never asked to decide (or to stop) while an ingest runs; the last segment of a
    decision is waited for."""
    source = RowRasterSource(SHAPE, step=8, per_batch=3, max_rows=9)
    flyer = _flyer()
    running = threading.Event()
    overlapped: list[bool] = []
    original_ingest, original_suggest = source.ingest, source.suggest_segments
    threads: set[str] = set()

    def ingest(points, values):
        running.set()
        threads.add(threading.current_thread().name)
        k = len(source.ingest_calls)
        if k % 3 != 2:  # not a decision's last segment: does the next one fly meanwhile?
            overlapped.append(flyer.wait_kickoffs(k + 2) if stream else len(flyer.kickoffs) > k + 1)
        original_ingest(points, values)
        running.clear()

    def suggest_segments():
        assert not running.is_set()
        return original_suggest()

    source.ingest, source.suggest_segments = ingest, suggest_segments
    summary, docs = _documents(RunEngine(call_returns_result=True),
                               autonomous_fly_scan(flyer, source, grid=GRID, motion=MOTION,
                                                   stream=stream))  # fmt: skip
    assert overlapped == [stream] * 6
    assert_honest_devices(source, flyer)
    assert {name.startswith("fastscan-ingest") for name in threads} == {stream}
    np.testing.assert_array_equal(_stored(docs)[2], source.all_values)  # stored == ingested
    assert [d.n_segments for d in summary.decisions] == [3, 3, 3]
    assert all(d.wait_s >= d.ingest_wait_s >= 0 for d in summary.decisions)


def test_streamed_fly_sampler_scan_equals_the_unstreamed_one():
    """Same segments, same stored samples, same reconstruction and ERD bits."""
    results = []
    for stream in (True, False):
        sampler, flyer = FlySampler(SHAPE, motion=MOTION, max_coverage=0.4), _flyer()
        summary, docs = _documents(RunEngine(call_returns_result=True),
                                   autonomous_fly_scan(flyer, sampler, grid=GRID,
                                                       motion=MOTION, stream=stream))  # fmt: skip
        assert_honest_devices(sampler, flyer)
        results.append((summary, _stored(docs), sampler))
    (s1, d1, f1), (s2, d2, f2) = results
    assert [(r.start, r.end) for r in s1.segments] == [(r.start, r.end) for r in s2.segments]
    assert len(s1.segments) > 10 and s1.stop_reason == s2.stop_reason is not None
    for a, b in zip(d1, d2):
        np.testing.assert_array_equal(a, b)
    n_coarse = len(f1._initial_lines)  # streamed, the coarse raster is one decision
    assert [d.n_segments for d in s1.decisions[:1]] == [n_coarse]
    assert [d.n_segments for d in s2.decisions[:n_coarse]] == [1] * n_coarse
    assert [d.n_segments for d in s1.decisions[1:]] == [
        d.n_segments for d in s2.decisions[n_coarse:]
    ]
    np.testing.assert_array_equal(f1.measured_values, f2.measured_values)
    assert f1.reconstruction.tobytes() == f2.reconstruction.tobytes()
    assert f1.erd.tobytes() == f2.erd.tobytes()
    assert f1.beam_time == f2.beam_time and s1.coverage == s2.coverage == f1.coverage


def _fly_all(sampler: FlySampler, image: np.ndarray, ahead: bool) -> dict:
    """Fly every suggested segment in order; the scan's record."""
    flown, first, early, rescales = [], None, False, []
    while not sampler.should_stop():
        segments = sampler.suggest_segments(ahead=ahead)
        if not segments:
            break
        first = first or [(s.start, s.end) for s in segments]
        for segment in segments:
            inner, ref = sampler._sampler, sampler._sampler._ref_range
            points = segment.pixels()
            sampler.ingest(points, image[points[:, 0], points[:, 1]])
            flown.append((segment.start, segment.end))
            early |= inner._active and not inner.initial_complete
            if inner.initial_complete and inner._ref_range is not ref:
                rescales.append(len(sampler._pending))  # segments of the decision still to fly
    return {"flown": flown, "first": first, "early": early, "rescales": rescales,
            "erd": sampler.erd.tobytes(), "recon": sampler.reconstruction.tobytes(),
            "beam_time": sampler.beam_time}  # fmt: skip


def test_fly_sampler_ahead_hands_out_the_coarse_raster_and_flies_the_same_scan():
    """``suggest_segments(ahead=True)``: all coarse lines at once; the activation comes
    before the raster's last line and a rescale with segments still pending (where the
    planner's full pass now runs in the ingest): the same segments, ERD and beam time."""
    image = make_phantom("flakes", (176, 176), seed=102)
    image[100:103, 90:170] = 4 * image.max()  # a bright bar between coarse lines: a rescale
    one, ahead = (_fly_all(FlySampler(image.shape, motion=MOTION, max_coverage=0.35), image, a)
                  for a in (False, True))  # fmt: skip
    n_coarse = len(FlySampler(image.shape, motion=MOTION)._initial_lines)
    assert len(one["first"]) == 1 and len(ahead["first"]) == n_coarse > 20
    assert ahead["first"] == one["flown"][:n_coarse]
    assert ahead["early"] and one["early"]  # the ERD map exists before the raster is complete
    assert max(ahead["rescales"]) > 0
    assert one == {**ahead, "first": one["first"]}


def test_fly_sampler_ahead_stops_where_one_line_at_a_time_would():
    image = make_phantom("flakes", (176, 176), seed=102)
    flown = [_fly_all(FlySampler(image.shape, motion=MOTION, max_coverage=0.05), image, a)
             for a in (False, True)]  # fmt: skip
    assert flown[0]["flown"] == flown[1]["flown"] == flown[1]["first"]
    assert 0 < len(flown[1]["first"]) < len(FlySampler(image.shape, motion=MOTION)._initial_lines)


def test_a_fault_mid_decision_loses_no_measured_sample():
    """The third segment of a decision fails: the two before it are ingested (the worker is
    drained before the error leaves the plan), and nothing is ingested twice."""
    source = RowRasterSource(SHAPE, step=8, per_batch=3, max_rows=9)
    slow = source.ingest

    def ingest(points, values):  # slower than a flight: the queue is not empty at the fault
        time.sleep(0.05)
        slow(points, values)

    source.ingest = ingest
    flyer = _flyer(fail_at=6)
    docs: list[tuple[str, dict]] = []
    RE = RunEngine(call_returns_result=True)
    with pytest.raises(FlyFault, match=r"kickoff failed: .*stage fault"):
        RE(autonomous_fly_scan(flyer, source, grid=GRID, motion=MOTION),
           lambda name, doc: docs.append((name, doc)))  # fmt: skip
    assert docs[-1][0] == "stop" and docs[-1][1]["exit_status"] == "fail"
    values = _stored(docs)[2]
    assert len(values) == 5 * 60  # five segments flown before the fault
    np.testing.assert_array_equal(values, source.all_values)  # all in, in order, at once
    assert_honest_devices(source, flyer)


def test_ingest_worker_takes_back_what_the_thread_has_not_started():
    started, release = threading.Event(), threading.Event()
    order: list[tuple[int, str]] = []

    def ingest(points, values):
        if not order:
            started.set()
            assert release.wait(WAIT)
        order.append((len(points), threading.current_thread().name))

    worker = IngestWorker(ingest)
    for n in (1, 2, 3):
        worker.put(np.zeros((n, 2), np.int64), np.zeros(n))
    assert started.wait(WAIT)
    threading.Timer(0.2, release.set).start()
    worker.close()  # cancels 2 and 3, waits for 1, ingests 2 and 3 here
    assert [n for n, _ in order] == [1, 2, 3]
    assert order[0][1].startswith("fastscan-ingest")
    assert {name for _, name in order[1:]} == {threading.current_thread().name}


def test_ingest_worker_reports_an_ingest_error_after_every_later_ingest_ran():
    seen: list[int] = []

    def ingest(points, values):
        seen.append(len(points))
        if len(points) == 1:
            raise ValueError("reading 1 is not finite")

    worker = IngestWorker(ingest)
    for n in (1, 2):
        worker.put(np.zeros((n, 2), np.int64), np.zeros(n))
    with pytest.raises(ValueError, match="reading 1 is not finite"):
        worker.drain()
    assert seen == [1, 2]
    worker.close()


def test_stream_must_be_a_bool_before_the_first_message():
    with pytest.raises(TypeError, match=r"stream must be True or False, got 'yes'"):
        autonomous_fly_scan(_flyer(), RowRasterSource(SHAPE), grid=GRID, motion=MOTION,
                            stream="yes")  # fmt: skip

"""FlySampler: the adaptive fly scan's contract, stop rules, honest beam time, strategy."""

from __future__ import annotations

import numpy as np
import pytest
from fly_source import honest_fly_replay
from honesty import assert_honest_scan, honest_simulation

from fastscan.fly import FlySampler, Segment
from fastscan.fly.sampler import default_initial_spacing, line_costs
from fastscan.motion import NANOPROBE, MotionModel
from fastscan.phantoms import make_phantom
from fastscan.replay import SimulatedDetector

SHAPE = (64, 80)


def run(sampler: FlySampler, detector: SimulatedDetector, max_decisions: int = 500) -> int:
    """Fly ``sampler`` on its own ``detector``; the scan is checked honest."""
    return honest_fly_replay(sampler, detector, max_decisions)


@pytest.fixture(scope="module")
def flakes() -> np.ndarray:
    return make_phantom("flakes", SHAPE, seed=11)


def test_starts_with_a_coarse_serpentine_raster(flakes):
    fs = FlySampler(SHAPE, motion=NANOPROBE.replace(dwell=0.001), seed=0)
    k = fs.initial_spacing
    rows = []
    while not fs._sampler.initial_complete:
        (segment,) = fs.suggest_segments()
        assert segment.is_row and segment.n_pixels == SHAPE[1]
        rows.append(segment)
        pts = segment.pixels()
        fs.ingest(pts, flakes[pts[:, 0], pts[:, 1]])
    starts = [s.start[0] for s in rows]
    assert np.all(np.diff(starts) == k)
    assert [s.start[1] for s in rows[:2]] == [0, SHAPE[1] - 1]  # alternate directions
    assert fs.erd.max() > 0 and (fs.erd[fs.measured_mask] == 0).all()


def test_scan_reveals_only_what_it_asked_for_and_times_it_honestly(flakes):
    motion = NANOPROBE.replace(dwell=0.01)
    detector = SimulatedDetector(flakes)
    fs = FlySampler(SHAPE, motion=motion, max_coverage=0.35, seed=0)
    run(fs, detector)
    assert fs.stop_reason.startswith("coverage")
    assert_honest_scan(fs, detector, motion)
    assert detector.n_readings == len(fs.measured_points)
    traj = fs.trajectory
    np.testing.assert_array_equal(traj.points, fs.measured_points)
    assert fs.beam_time >= traj.beam_time > 0
    # after the raster the sampler chose partial segments and columns where they paid
    segments = np.unique(traj.segment)
    lengths = np.bincount(traj.segment)[segments]
    assert (lengths < SHAPE[1]).any()


def test_beats_the_fly_raster_it_starts_from(flakes):
    """Same beam time: the adaptive scan's reconstruction is closer than the raster's."""
    from fastscan.beamtime import TrajectoryBuilder
    from fastscan.reconstruction import idw_reconstruction

    motion = NANOPROBE.replace(dwell=0.1)
    builder = TrajectoryBuilder(motion)
    rows = range(0, SHAPE[0], 4)
    for i, r in enumerate(rows):
        seg = Segment((r, 0), (r, SHAPE[1] - 1))
        builder.add_segment(seg if i % 2 == 0 else seg.reversed())
    fs = FlySampler(SHAPE, motion=motion, time_budget=builder.time, max_coverage=1.0)
    run(fs, SimulatedDetector(flakes))
    assert fs.stop_reason.startswith("beam time")
    mask = np.zeros(SHAPE, bool)
    mask[::4] = True

    def error(m):
        rec = idw_reconstruction(SHAPE, np.argwhere(m), flakes[m], k=10)
        return np.linalg.norm(rec - flakes)

    assert error(fs.measured_mask) < error(mask)


def test_stop_rules_speak_beam_time(flakes):
    motion = NANOPROBE.replace(dwell=0.01)
    fs = FlySampler(SHAPE, motion=motion, time_budget=5.0, max_coverage=1.0)
    run(fs, SimulatedDetector(flakes))
    assert fs.stop_reason.startswith("beam time") and fs.beam_time >= 5.0
    assert fs.suggest_segments() == []
    fs = FlySampler(SHAPE, motion=motion, rate_threshold=1e12, max_coverage=1.0)
    run(fs, SimulatedDetector(flakes))
    assert "rate_threshold" in fs.stop_reason and fs.last_rate < 1e12


def test_suggest_is_idempotent_and_foreign_readings_are_kept(flakes):
    fs = FlySampler(SHAPE, seed=0)
    first = fs.suggest_segments()
    assert fs.suggest_segments() == first
    fs.ingest(np.array([[5, 5], [6, 7]]), np.array([1.0, 2.0]))  # not the plan: step points
    assert fs.n_measured == 2 and fs.trajectory.segment.tolist() == [0, 1]
    assert fs.suggest_segments() == first  # the raster row is still to do


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="dwell"):
        FlySampler(SHAPE, motion=NANOPROBE.replace(dwell=0.0))
    with pytest.raises(ValueError, match="outside"):
        FlySampler(SHAPE).ingest(np.array([[0, 0], [64, 3]]), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="max_coverage"):
        FlySampler(SHAPE, max_coverage=0.0)
    with pytest.raises(ValueError, match="time_budget"):
        FlySampler(SHAPE, time_budget=-1.0)
    with pytest.raises(ValueError, match="initial_spacing"):
        FlySampler(SHAPE, initial_spacing=0)
    with pytest.raises(TypeError, match="MotionModel"):
        FlySampler(SHAPE, motion={"dwell": 0.01})
    with pytest.raises(ValueError, match="outside"):
        Segment((0, 0), (0, 80)).check_inside(SHAPE)


def test_line_costs_follow_the_time_model():
    motion = MotionModel(
        velocity=(500.0, 250.0), acceleration=(5000.0, 1000.0), settle_time=0.02,
        line_overhead=0.03, dwell=0.001,
    )  # fmt: skip
    (f_row, f_col), (p_row, p_col) = line_costs(motion)
    assert p_row == pytest.approx(1 / 500) and p_col == pytest.approx(1 / 250)
    assert f_row == pytest.approx(0.05 + 2 * 500 / 5000)
    assert f_col == pytest.approx(0.05 + 2 * 250 / 1000)
    for shape in ((600, 400), (128, 128), (40, 60), (9, 9)):
        spacing = default_initial_spacing(shape, 0.01)
        assert spacing & (spacing - 1) == 0 and 2 <= spacing <= 8  # a power of two
        assert shape[0] // spacing >= 8 or spacing == 2


def test_simulate_fast_fly_writes_an_honest_trajectory(tmp_path, flakes):
    strategies = ["fast-fly", "fly-raster"]
    runs = honest_simulation(tmp_path, flakes, strategies, coverages="0.1,0.3", dwell=0.02)
    traj = runs["fast-fly"]
    assert traj.flown.all() and np.all(np.diff(traj.t_end) > 0)
    counts = np.bincount(traj.segment)
    assert counts.max() > 1  # flown segments, not step points


def test_local_rescoring_matches_a_fresh_planner(flakes):
    from fastscan.fly.planner import SegmentPlanner

    fs = FlySampler(SHAPE, motion=NANOPROBE.replace(dwell=0.05), max_coverage=1.0, refine="free")
    detector = SimulatedDetector(flakes)
    for _ in range(40):
        for segment in fs.suggest_segments():
            points = segment.pixels()
            fs.ingest(points, detector.measure(points))
    assert_honest_scan(fs, detector, fs.motion)
    fs._decide()  # brings the planner up to date with the last readings
    fresh = SegmentPlanner(SHAPE, fixed=fs._planner.fixed, pixel_time=fs._planner.pixel_time)
    fresh.update(fs._sampler._erd)
    for axis in (0, 1):
        np.testing.assert_allclose(fs._planner._ratio[axis], fresh._ratio[axis], rtol=1e-12)

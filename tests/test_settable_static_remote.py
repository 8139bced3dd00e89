"""Settings of the static baselines and of RemoteSampler set after construction: applied
or refused, never ignored (before, ``RasterSampler(shape).max_coverage = 0.1`` and
``RemoteSampler(...).max_coverage = 0.1`` changed nothing the scan read)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from bluesky import RunEngine
from bluesky_rig import GRID, IMAGE, point_rig

from fastscan.baselines import STATIC_SAMPLERS, FlyRasterSampler, HaltonSampler, RasterSampler
from fastscan.plans import autonomous_scan
from fastscan.service import RemoteSampler, SamplerServer, ServiceUnavailable

SHAPE = (40, 60)
VALUES = np.add.outer(np.sin(np.arange(40.0) / 4.0), np.cos(np.arange(60.0) / 6.0))


def scan(sampler, steps: int | None = None) -> None:
    """Ingest what the sampler suggests until it stops (or for ``steps`` batches)."""
    done = 0
    while not sampler.should_stop() and (steps is None or done < steps):
        points = sampler.suggest()
        sampler.ingest(points, VALUES[points[:, 0], points[:, 1]])
        done += 1


# ---------------------------------------------------------------- static samplers
@pytest.mark.parametrize("name", sorted(STATIC_SAMPLERS))
def test_a_static_setting_set_before_the_first_reading_is_the_constructor(name) -> None:
    cls = STATIC_SAMPLERS[name]
    later = cls(SHAPE, batch_size=40, max_coverage=0.3, seed=1)
    later.max_coverage = 0.1  # an attribute write ...
    assert later.set_params(batch_size=25, seed=2) is later  # ... and set_params
    made = cls(SHAPE, batch_size=25, max_coverage=0.1, seed=2)
    assert later.get_params() == made.get_params()
    scan(later)
    scan(made)
    np.testing.assert_array_equal(later.measured_points, made.measured_points)
    assert later.n_measured == made.n_measured < 0.3 * VALUES.size
    assert later.stop_reason == made.stop_reason


@pytest.mark.parametrize("name", sorted(STATIC_SAMPLERS))
def test_a_static_setting_other_than_the_cap_is_refused_once_readings_are_in(name) -> None:
    s = STATIC_SAMPLERS[name](SHAPE, batch_size=40, max_coverage=0.2, seed=1)
    scan(s, steps=1)
    before = s.get_params()
    with pytest.raises(
        ValueError,
        match=rf"^batch_size cannot change once readings are in \({s.n_measured} measured\): "
        r"this scan was made with batch_size=40; make a new \w+Sampler\(\.\.\., batch_size=",
    ):
        s.batch_size = 10
    with pytest.raises(ValueError, match=r"^seed cannot change once readings are in"):
        s.set_params(seed=5)
    assert s.get_params() == before


@pytest.mark.parametrize("name", sorted(STATIC_SAMPLERS))
def test_a_bad_or_unknown_static_setting_leaves_the_sampler_as_it_was(name) -> None:
    cls = STATIC_SAMPLERS[name]
    s = cls(SHAPE, max_coverage=0.2)
    with pytest.raises(TypeError, match=rf"^{cls.__name__}\.set_params got unknown settings"):
        s.set_params(coverage=0.1)
    with pytest.raises(ValueError, match=r"^max_coverage must be in \(0, 1\], got 1\.5$"):
        s.max_coverage = 1.5
    scan(s, steps=1)
    with pytest.raises(ValueError, match=r"^max_coverage must be in \(0, 1\], got 0$"):
        s.max_coverage = 0  # once readings are in: checked as the constructor checks it
    made = cls(SHAPE, max_coverage=0.2)
    assert s.max_coverage == 0.2 and s.get_params() == made.get_params()
    scan(s)
    scan(made)
    np.testing.assert_array_equal(s.measured_points, made.measured_points)


def test_a_raised_cap_continues_a_halton_scan_as_if_given_at_the_start() -> None:
    s = HaltonSampler(SHAPE, batch_size=60, max_coverage=0.1, seed=0)
    scan(s)
    assert s.n_measured == 240 and s.should_stop()
    s.max_coverage = 0.2  # the Halton pattern for 20 % begins with the one for 10 %
    assert not s.should_stop()
    scan(s)
    made = HaltonSampler(SHAPE, batch_size=60, max_coverage=0.2, seed=0)
    scan(made)
    np.testing.assert_array_equal(s.measured_points, made.measured_points)
    assert s.get_params() == made.get_params()
    s.max_coverage = 0.05  # a lowered cap: the scan is already past it
    assert s.should_stop() and s.suggest().shape == (0, 2)


def test_a_raised_cap_adds_the_fly_rasters_finer_levels() -> None:
    s = FlyRasterSampler((8, 5), max_coverage=0.5)  # first level at the cap: rows 0, 2, 4, 6
    scan(s)
    assert s.should_stop() and s.suggest_segments() == []
    s.max_coverage = 1.0  # the first level keeps its coverage: the rows in between follow
    assert [seg.start[0] for seg in s.suggest_segments()] == [7, 5, 3, 1]
    scan(s)
    made = FlyRasterSampler((8, 5), max_coverage=1.0, first_coverage=0.5)
    scan(made)
    np.testing.assert_array_equal(s.measured_points, made.measured_points)
    assert s.get_params() == made.get_params() and s.n_measured == 40


def test_a_raised_cap_on_a_raster_is_refused_its_grid_is_another() -> None:
    s = RasterSampler(SHAPE, batch_size=1000, max_coverage=0.1)
    scan(s)
    with pytest.raises(
        ValueError,
        match=r"^max_coverage=0\.2 cannot be applied once readings are in \(240 measured\): "
        r"the raster pattern for it does not begin with the 240 points this scan has "
        r"visited \(made with max_coverage=0\.1\); make a new RasterSampler\(\.\.\., "
        r"max_coverage=0\.2\) for a new scan$",
    ):
        s.max_coverage = 0.2
    assert s.max_coverage == 0.1 and s.should_stop() and s.suggest().shape == (0, 2)


def test_a_static_sampler_set_at_the_prompt_drives_the_bluesky_plan() -> None:
    det, x, y = point_rig()
    raster = RasterSampler(IMAGE.shape, batch_size=200, max_coverage=0.5)
    raster.max_coverage = 0.1  # before the run, at the prompt
    starts: list[dict] = []
    RE = RunEngine(call_returns_result=True)
    RE.subscribe(lambda name, doc: starts.append(doc) if name == "start" else None)
    first = RE(autonomous_scan([det], x, y, grid=GRID, signal="det_value", sampler=raster))
    assert first.plan_result.n_points == 0.1 * IMAGE.size
    assert starts[0]["fastscan"]["sampler_params"]["max_coverage"] == 0.1
    halton = HaltonSampler(IMAGE.shape, batch_size=60, max_coverage=0.05)
    RE(autonomous_scan([det], x, y, grid=GRID, signal="det_value", sampler=halton))
    halton.max_coverage = 0.1  # between runs: the scan goes on
    second = RE(autonomous_scan([det], x, y, grid=GRID, signal="det_value", sampler=halton))
    assert second.plan_result.n_points == 0.05 * IMAGE.size
    assert halton.coverage == pytest.approx(0.1)
    assert starts[2]["fastscan"]["sampler_params"]["max_coverage"] == 0.1


# ---------------------------------------------------------------- RemoteSampler
@pytest.fixture
def server(tmp_path: Path) -> Iterator[SamplerServer]:
    with SamplerServer("tcp://127.0.0.1:0", state_dir=tmp_path / "state") as srv:
        yield srv


def remote(address: str, session: str = "scan", **kwargs) -> RemoteSampler:
    options = {"timeout": 1.0, "retries": 2, "batch_size": 12, "seed": 3, "max_coverage": 0.15}
    return RemoteSampler(SHAPE, address=address, session=session, **{**options, **kwargs})


def test_a_remote_setting_before_the_first_reading_reopens_the_session(server) -> None:
    with remote(server.endpoint) as rs:
        rs.max_coverage = 0.05
        assert rs.set_params(batch_size=20) is rs
        assert rs.get_params()["max_coverage"] == 0.05  # as the service's session reports
        # the service holds the session with the new settings: a client asking for them attaches
        with remote(server.endpoint, max_coverage=0.05, batch_size=20) as twin:
            assert twin.get_params() == rs.get_params()
        scan(rs)
        assert rs.n_measured == 0.05 * VALUES.size
        assert rs.stop_reason == "coverage 5.0% reached max_coverage 5.0%"
        assert [len(points) for points, _ in rs._log][1:3] == [20, 20]


def test_a_bad_remote_setting_leaves_the_session_as_it_was(server) -> None:
    with remote(server.endpoint) as rs:
        with pytest.raises(ValueError, match=r"k must be an integer in \[1, 64\], got 0$"):
            rs.k = 0  # refused by the service's own check
        with pytest.raises(TypeError, match=r"^RemoteSampler\.set_params got unknown settings"):
            rs.set_params(coverage=0.1)
        with pytest.raises(ValueError, match=r"^fallback must be one of \('raise', 'halton'\)"):
            rs.fallback = "retry"
        assert rs.get_params()["k"] == 10 and rs.fallback == "raise"
        scan(rs)
        assert rs.stop_reason == "coverage 15.0% reached max_coverage 15.0%"


def test_a_remote_session_setting_is_refused_once_readings_are_in(server) -> None:
    with remote(server.endpoint) as rs:
        scan(rs, steps=2)
        with pytest.raises(
            ValueError,
            match=rf"^max_coverage cannot change once readings are in \({rs.n_measured} "
            r"measured\): session 'scan' on the service was made with max_coverage=0\.15 and "
            r"the service cannot change a running session's settings; make a new "
            r"RemoteSampler\(\.\.\., session=<a new name>, max_coverage=0\.3\) for a new scan$",
        ):
            rs.max_coverage = 0.3
        rs.timeout = 2.5  # the client's own settings change at any time
        rs.set_params(retries=1, prefetch=False)
        assert (rs.timeout, rs.retries, rs.prefetch) == (2.5, 1, False)
        scan(rs)
        assert rs.stop_reason == "coverage 15.0% reached max_coverage 15.0%"


def test_a_session_attached_to_is_not_closed_for_a_setting(server) -> None:
    with remote(server.endpoint) as made, remote(server.endpoint) as attached:
        with pytest.raises(ValueError, match=r"session 'scan' was not made by this RemoteSamp"):
            attached.max_coverage = 0.3
        assert made.get_params()["max_coverage"] == 0.15
        scan(attached, steps=1)
        assert attached.n_measured > 0


def test_a_remote_setting_before_the_service_ever_answered_is_the_constructor() -> None:
    # nothing listens here: the client scans Halton fallback points under its own settings
    address = "tcp://127.0.0.1:9"
    with remote(address, fallback="halton", timeout=0.2, retries=0) as rs:
        assert rs.offline
        rs.max_coverage = 0.05  # no session to close: the client is made again with it
        assert rs.offline and rs.get_params()["max_coverage"] == 0.05
        scan(rs)
        assert rs.n_measured == 0.05 * VALUES.size
        assert rs.stop_reason.startswith("coverage 5.0% reached max_coverage 5.0% (checked")


def test_a_remote_session_setting_while_the_service_is_gone_is_refused(tmp_path) -> None:
    srv = SamplerServer("tcp://127.0.0.1:0", state_dir=tmp_path / "state").start()
    rs = remote(srv.endpoint, fallback="halton", timeout=0.2, retries=0)
    srv.stop()
    try:
        rs.suggest()  # the service does not answer: fallback points from here on
        assert rs.offline
        with pytest.raises(ServiceUnavailable, match=r"^max_coverage cannot change while the "):
            rs.max_coverage = 0.3
        assert rs.get_params()["max_coverage"] == 0.15
    finally:
        rs.close()

"""A scan continued in a new run is rebuilt whole from the catalogue (``sampler_from_run(run,
catalog)``), or refused with a ValueError naming what is missing; never rebuilt partially."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from bluesky import RunEngine
from bluesky.utils import RunEngineInterrupted
from bluesky_rig import GRID, IMAGE, MOTION, SHAPE, point_rig, sim_flyer
from honesty import assert_honest_devices

from fastscan import Sampler
from fastscan.fly import FlySampler
from fastscan.plans import autonomous_fly_scan, autonomous_scan, load_run, sampler_from_run
from fastscan.run_chain import ATTR, RunChain

KEY = "continuation"


def _engine(writer) -> RunEngine:
    RE = RunEngine({}, call_returns_result=True)
    RE.subscribe(writer)
    return RE


def _sampler(cap: float) -> Sampler:
    return Sampler(SHAPE, batch_size=20, max_coverage=cap, seed=3, pixel_pitch=GRID.pitch)


def _scan(RE: RunEngine, sampler, rig) -> str:
    det, x, y = rig
    result = RE(autonomous_scan([det], x, y, grid=GRID, signal="det_value", sampler=sampler))
    return result.plan_result.run_uids[0]


def _aborted_scan(RE: RunEngine, sampler, rig, after: int) -> str:
    """A scan paused after ``after`` readings (as Ctrl-C would) and aborted; its run uid."""
    det, x, y = rig
    seen = {"n": 0, "uid": None}

    def pauser(name, doc):
        if name == "start":
            seen["uid"] = doc["uid"]
        if name == "event" and "det_value" in doc["data"]:
            seen["n"] += 1
            if seen["n"] == after:  # request_pause blocks on the loop: another thread
                threading.Thread(target=RE.request_pause, kwargs={"defer": True}).start()

    token = RE.subscribe(pauser)
    with pytest.raises(RunEngineInterrupted):
        RE(autonomous_scan([det], x, y, grid=GRID, signal="det_value", sampler=sampler))
    assert RE.abort().exit_status == "abort"
    RE.unsubscribe(token)
    return str(seen["uid"])


def _assert_same(rebuilt: Sampler, live: Sampler) -> None:
    assert rebuilt.n_measured == live.n_measured
    np.testing.assert_array_equal(rebuilt.measured_points, live.measured_points)
    np.testing.assert_array_equal(rebuilt.measured_values, live.measured_values)
    np.testing.assert_array_equal(rebuilt.reconstruction, live.reconstruction)


@pytest.mark.slow
def test_a_continued_run_is_rebuilt_whole_from_the_catalogue(catalog, writer) -> None:
    RE, rig = _engine(writer), point_rig()
    live = _sampler(0.08)
    first = _aborted_scan(RE, live, rig, after=45)
    held = live.n_measured
    assert 45 <= held < 0.08 * IMAGE.size
    second = _scan(RE, live, rig)  # the README's continuation: the same sampler, a new run
    writer.flush()
    run = load_run(catalog, second)
    record = run.metadata["start"]["fastscan"][KEY]
    assert record == {"continues": [first], "n_measured_at_start": held, "unstored_at_start": 0}
    assert load_run(catalog, first).metadata["start"]["fastscan"][KEY]["continues"] == []
    assert len(run["primary"].read()["fastscan_seq"]) == live.n_measured - held  # its own only

    with pytest.raises(ValueError, match=rf"continues runs \['{first}'\].*pass catalog="):
        sampler_from_run(run)  # (before, a sampler of the second run's readings alone)
    rebuilt = sampler_from_run(run, catalog)
    assert_honest_devices(live, rig[0])  # both runs' readings, each asked of the detector
    _assert_same(rebuilt, live)
    live.max_coverage = rebuilt.max_coverage = 0.1  # the same next decision
    np.testing.assert_array_equal(rebuilt.suggest(), live.suggest())

    # the rebuilt sampler knows its runs: continued in a third run, that run names both
    third = _scan(RE, rebuilt, rig)
    writer.flush()
    run = load_run(catalog, third)
    assert run.metadata["start"]["fastscan"][KEY]["continues"] == [first, second]
    _assert_same(sampler_from_run(run, catalog), rebuilt)
    assert_honest_devices(rebuilt, rig[0])


@pytest.mark.slow
def test_readings_no_run_stored_are_named_not_rebuilt(catalog, writer) -> None:
    RE, rig = _engine(writer), point_rig()
    by_hand = _sampler(0.05)
    points = np.array([[3, 4], [20, 30]])
    by_hand.ingest(points, IMAGE[points[:, 0], points[:, 1]])
    run = load_run(catalog, _scan(RE, by_hand, rig))
    record = run.metadata["start"]["fastscan"][KEY]
    assert record == {"continues": [], "n_measured_at_start": 2, "unstored_at_start": 2}
    with pytest.raises(ValueError, match=r"2 of them from readings no stored run holds"):
        sampler_from_run(run, catalog)

    # readings fed between two runs: the second run names the first and counts them
    sampler = _sampler(0.04)
    first = _scan(RE, sampler, rig)
    extra = np.argwhere(~sampler.measured_mask)[:3]
    sampler.ingest(extra, IMAGE[extra[:, 0], extra[:, 1]])
    sampler.max_coverage = 0.06
    run = load_run(catalog, _scan(RE, sampler, rig))
    record = run.metadata["start"]["fastscan"][KEY]
    assert record["continues"] == [first] and record["unstored_at_start"] == 3
    besides = rf"3 of them .* besides the readings of runs \['{first[:8]}'\]"
    with pytest.raises(ValueError, match=besides):
        sampler_from_run(run, catalog)


class _Run:
    """What sampler_from_run reads from a tiled run node: the start document, a table."""

    def __init__(self, fastscan: dict, uid: str = "c0ffee00-1", table=None) -> None:
        self.metadata = {"start": {"uid": uid, "fastscan": fastscan}}
        self.table = table

    def __contains__(self, key: str) -> bool:
        return key == "primary" and self.table is not None

    def __getitem__(self, key: str):
        return self if key == "primary" else None

    def read(self) -> dict:
        return self.table


def _table(points: np.ndarray) -> dict:
    n = len(points)
    return {"fastscan_seq": np.arange(n), "fastscan_row": points[:, 0],
            "fastscan_col": points[:, 1], "fastscan_batch": np.zeros(n, np.int64),
            "det_value": IMAGE[points[:, 0], points[:, 1]]}  # fmt: skip


def test_a_chain_whose_counts_disagree_is_refused() -> None:
    params = {"shape": list(SHAPE), "seed": 3}
    points = np.argwhere(np.ones(SHAPE, bool))[::97][:10]
    first = _Run({"sampler_params": params, "signal": "det_value",
                  KEY: {"continues": [], "n_measured_at_start": 0, "unstored_at_start": 0}},
                 uid="aaaa0000-1", table=_table(points))  # fmt: skip
    meta = {"sampler_params": params, "signal": "det_value",
            KEY: {"continues": ["aaaa0000-1"], "n_measured_at_start": 12,
                  "unstored_at_start": 0}}  # fmt: skip
    later = _Run(meta, table=_table(points[:0]))
    with pytest.raises(
        ValueError,
        match=r"^run c0ffee00: rebuilding its chain, run c0ffee00 "
        r"began with 12 measured pixels but the runs before it hold 10",
    ):
        sampler_from_run(later, {"aaaa0000-1": first})  # fmt: skip
    meta[KEY]["n_measured_at_start"] = 10  # the chain holds them all: rebuilt
    rebuilt = sampler_from_run(_Run(meta, table=_table(points[:0])), {"aaaa0000-1": first})
    np.testing.assert_array_equal(rebuilt.measured_points, points)


def test_an_earlier_run_missing_from_the_catalogue_is_named() -> None:
    meta = {"sampler_params": {"shape": list(SHAPE)}, "signal": "det_value",
            KEY: {"continues": ["feed1234-run"], "n_measured_at_start": 30,
                  "unstored_at_start": 0}}  # fmt: skip
    with pytest.raises(ValueError, match=r"run feed1234-run is not in the catalogue given"):
        sampler_from_run(_Run(meta), catalog={})
    with pytest.raises(ValueError, match=r"^run c0ffee00 continues runs \['feed1234-run'\]"):
        sampler_from_run(_Run(meta))


def test_a_continued_fly_run_records_what_its_sampler_held(catalog, writer) -> None:
    RE = _engine(writer)
    sampler = FlySampler(SHAPE, motion=MOTION, max_coverage=0.3, seed=0)
    first = RE(autonomous_fly_scan(sim_flyer(), sampler, grid=GRID, motion=MOTION,
                                   max_segments=2)).plan_result.run_uids[0]  # fmt: skip
    held = sampler.n_measured
    assert held > 0
    second = RE(autonomous_fly_scan(sim_flyer(), sampler, grid=GRID, motion=MOTION,
                                    max_segments=1)).plan_result.run_uids[0]  # fmt: skip
    writer.flush()
    record = load_run(catalog, second).metadata["start"]["fastscan"][KEY]
    assert record == {"continues": [first], "n_measured_at_start": held, "unstored_at_start": 0}
    with pytest.raises(ValueError, match="is a fly scan"):
        sampler_from_run(load_run(catalog, second), catalog)  # (refused, as before)


@pytest.mark.slow
def test_a_sampler_saved_and_loaded_still_names_its_runs(catalog, writer, tmp_path) -> None:
    RE, rig = _engine(writer), point_rig()
    live = _sampler(0.05)
    first = _scan(RE, live, rig)
    path = live.save(tmp_path / "state.npz")
    loaded = Sampler.load(path)
    loaded.max_coverage = 0.08  # the next run goes on from the file, as after a restart
    second = _scan(RE, loaded, rig)
    writer.flush()
    run = load_run(catalog, second)
    record = run.metadata["start"]["fastscan"][KEY]
    assert record == {
        "continues": [first],
        "n_measured_at_start": live.n_measured,
        "unstored_at_start": 0,
    }
    _assert_same(sampler_from_run(run, catalog), loaded)
    assert_honest_devices(loaded, rig[0])


def test_a_state_file_with_a_bad_run_record_is_refused(tmp_path) -> None:
    import json

    sampler = _sampler(0.05)
    points = np.array([[3, 4], [20, 30]])
    sampler.ingest(points, np.array([1.0, 2.0]))
    object.__setattr__(sampler, ATTR, RunChain(("a",), 2))
    path = sampler.save(tmp_path / "state.npz")
    assert getattr(Sampler.load(path), ATTR) == RunChain(("a",), 2)
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files}
    header = json.loads(str(arrays["header"]))
    header["runs"]["n_measured"] = 5  # more than the file's sampler holds
    arrays["header"] = np.array(json.dumps(header))
    np.savez(tmp_path / "bad.npz", **arrays)
    bad = r"bad\.npz: the run record's n_measured must be an integer in \[0, 2\], got 5"
    with pytest.raises(ValueError, match=bad):
        Sampler.load(tmp_path / "bad.npz")
    header["runs"] = None  # a sampler in no run: nothing to name
    arrays["header"] = np.array(json.dumps(header))
    np.savez(tmp_path / "none.npz", **arrays)
    assert not hasattr(Sampler.load(tmp_path / "none.npz"), ATTR)

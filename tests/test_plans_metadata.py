"""What the start document records, and per-batch costs, of the autonomous plans."""

from __future__ import annotations

import dataclasses

import numpy as np
from bluesky import RunEngine
from honesty import assert_honest_devices
from ophyd.sim import SynAxis

from fastscan import Sampler
from fastscan.erd.estimator import DEFAULT_MODEL
from fastscan.jsonsafe import to_jsonable
from fastscan.phantoms import make_phantom
from fastscan.plans import Grid, autonomous_scan, rel_autonomous_scan
from fastscan.route import MotionModel
from fastscan.sim.detector import SimDetector

SHAPE = (24, 30)
GRID = Grid(0.0, 2.9, 30, 0.0, 2.3, 24)
MOTION = MotionModel(velocity=(2.0, 1.0), acceleration=(20.0, 10.0), settle_time=0.01)


def _run(plan) -> tuple[dict, object]:
    docs: list[tuple[str, dict]] = []
    RE = RunEngine({}, call_returns_result=True)
    RE.subscribe(lambda name, doc: docs.append((name, doc)))
    result = RE(plan)
    start = next(doc for name, doc in docs if name == "start")
    return start, result


def _rig(grid: Grid = GRID):
    x, y = SynAxis(name="x"), SynAxis(name="y")
    det = SimDetector("det", make_phantom("flakes", SHAPE, seed=1), grid, x, y)
    return det, x, y


def test_start_document_names_the_model_its_sha256_and_the_motion() -> None:
    det, x, y = _rig()
    sampler = Sampler(SHAPE, batch_size=10, max_coverage=0.05, motion=MOTION)
    start, result = _run(autonomous_scan([det], x, y, grid=GRID, signal="det_value",
                                         sampler=sampler))  # fmt: skip
    assert result.exit_status == "success"
    assert_honest_devices(sampler, det)
    info = start["fastscan"]
    assert info["model"] == {"name": sampler.model.name, "sha256": sampler.model.sha256}
    assert info["model"]["name"] == DEFAULT_MODEL and len(info["model"]["sha256"]) == 64
    assert info["motion"] == to_jsonable(dataclasses.asdict(MOTION))
    assert info["motion"]["velocity"] == list(MOTION.velocity)
    assert info["sampler_class"] == "Sampler" and info["sampler_params"]["batch_size"] == 10
    plain = Sampler(SHAPE, batch_size=10, max_coverage=0.05)
    start, _ = _run(autonomous_scan([det], x, y, grid=GRID, signal="det_value", sampler=plain))
    assert start["fastscan"]["motion"] is None


def test_rel_autonomous_scan_passes_motion_to_the_sampler_it_makes() -> None:
    det, x, y = _rig(Grid.centered(0.0, 0.0, width=2.9, height=2.3, n_cols=30, n_rows=24))
    plan = rel_autonomous_scan(
        [det], x, y, width=2.9, height=2.3, n_cols=30, n_rows=24, signal="det_value",
        max_coverage=0.04, motion=MOTION, sampler_kwargs={"batch_size": 10},
    )  # fmt: skip
    start, result = _run(plan)
    assert result.exit_status == "success"
    assert start["fastscan"]["motion"]["velocity"] == list(MOTION.velocity)
    assert start["fastscan"]["motion"]["settle_time"] == MOTION.settle_time


class _CountingSampler(Sampler):
    """A Sampler that counts how often its full measured mask is asked for."""

    mask_calls = 0

    @property
    def measured_mask(self) -> np.ndarray:
        type(self).mask_calls += 1
        return super().measured_mask


def test_batches_do_not_count_the_whole_mask() -> None:
    det, x, y = _rig()
    sampler = _CountingSampler(SHAPE, batch_size=6, max_coverage=0.1)
    reports = []
    _, result = _run(autonomous_scan([det], x, y, grid=GRID, signal="det_value",
                                     sampler=sampler, recon_every=0,
                                     progress=reports.append))  # fmt: skip
    n_batches = result.plan_result.n_batches
    assert n_batches >= 6
    assert reports[-1].n_measured == sampler.n_measured
    # checking the interface and the grid shape, and the final snapshot's image: not per batch
    assert _CountingSampler.mask_calls <= 3 < n_batches
    assert_honest_devices(sampler, det)

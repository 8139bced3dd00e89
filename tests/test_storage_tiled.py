"""Runs in a Tiled catalogue: written by one process, reopened by another; lookups; failures;
generic (event page) runs; the import of old msgpack runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import msgpack
import numpy as np
import pytest
from event_model import compose_run

from fastscan.phantoms import make_phantom
from fastscan.plans import StorageError, load_run, replay_points, sampler_from_run, tiled_writer
from fastscan.plans.msgpack_import import import_msgpack

SHAPE = (40, 60)

WRITE_RUN = textwrap.dedent(
    """
    import sys
    import numpy as np
    from bluesky import RunEngine
    from ophyd.sim import SynAxis
    from fastscan import Sampler
    from fastscan.phantoms import make_phantom
    from fastscan.plans import Grid, autonomous_scan, local_catalog, tiled_writer
    from fastscan.replay import mask_problems
    from fastscan.sim.detector import SimDetector

    grid = Grid(0.0, 5.9, 60, 0.0, 3.9, 40)
    image = make_phantom("flakes", (40, 60), seed=0)
    x, y = SynAxis(name="x"), SynAxis(name="y")
    RE = RunEngine({}, call_returns_result=True)
    RE.subscribe(tiled_writer(local_catalog(sys.argv[1])))
    sampler = Sampler((40, 60), batch_size=20, max_coverage=0.05, seed=3, pixel_pitch=grid.pitch)
    det = SimDetector("det", image, grid, x, y)
    result = RE(autonomous_scan([det], x, y, grid=grid,
                                signal="det_value", sampler=sampler, recon_every=2))
    assert not mask_problems(det.asked_mask, sampler.measured_mask), "dishonest run"
    np.savez(sys.argv[2], points=sampler.measured_points, values=sampler.measured_values,
             recon=sampler.reconstruction, uid=result.run_start_uids[0])
    """
)


@pytest.mark.slow
def test_run_written_by_another_process_reopens_exactly(tmp_path, catalog, monkeypatch):
    import fastscan.plans.catalog as catalog_module

    # opening a second local catalogue makes its assets/ the default snapshot folder; later
    # tests write to the session catalogue, whose server refuses files outside its own
    monkeypatch.setattr(catalog_module, "_default_assets", catalog_module._default_assets)
    directory, out = tmp_path / "cat", tmp_path / "scan.npz"
    script = tmp_path / "write_run.py"
    script.write_text(WRITE_RUN)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    # the writer process ends on its own: the embedded server shuts down at exit
    proc = subprocess.run([sys.executable, str(script), str(directory), str(out)], env=env,
                          capture_output=True, text=True, timeout=240)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    scan = np.load(out)
    assert (directory / "catalog.db").is_file()

    from fastscan.plans import local_catalog

    first = catalog  # the session's catalogue, opened before the second one
    reopened = local_catalog(directory)  # a new server on the same files
    try:
        _check_reopened(reopened, directory, scan)
        # two embedded catalogues in one process: the first still accepts its client
        assert isinstance(len(first), int)
    finally:
        reopened.context.close()


def _check_reopened(catalog, directory, scan):
    run = load_run(catalog, -1)
    assert run.metadata["start"]["uid"] == str(scan["uid"])
    assert run.metadata["stop"]["exit_status"] == "success"
    table = run["primary"].read()
    points, values, order = replay_points(run)
    np.testing.assert_array_equal(points, scan["points"])
    np.testing.assert_array_equal(values, scan["values"])  # exact, every point
    image = make_phantom("flakes", SHAPE, seed=0)
    np.testing.assert_array_equal(values, image[points[:, 0], points[:, 1]])
    np.testing.assert_array_equal(order, np.arange(len(points)))
    np.testing.assert_array_equal(table["fastscan_row"].values, points[:, 0])
    # snapshots are external HDF5 files under the catalogue directory, not event data
    recon = run["reconstruction"]["fastscan_reconstruction"].read()
    np.testing.assert_array_equal(recon[-1], scan["recon"])
    assert list((directory / "assets").glob("*.h5"))
    sampler = sampler_from_run(run)
    np.testing.assert_array_equal(sampler.reconstruction, scan["recon"])
    assert sampler.n_measured == len(points)


def _generic_run(catalog, n=5, scan_id=1, page=True):
    """A run with one event page (as a fly plan emits), written through tiled_writer."""
    writer = tiled_writer(catalog)
    bundle = compose_run(metadata={"scan_id": scan_id, "plan_name": "generic"})
    desc = bundle.compose_descriptor(
        name="primary",
        data_keys={"det": {"source": "sim", "dtype": "number", "shape": []},
                   "fastscan_row": {"source": "sim", "dtype": "integer", "shape": []}},
    )  # fmt: skip
    writer("start", bundle.start_doc)
    writer("descriptor", desc.descriptor_doc)
    det = np.linspace(0.5, 2.5, n)
    rows = np.arange(n) * 3
    if page:
        writer("event_page", desc.compose_event_page(
            data={"det": det.tolist(), "fastscan_row": rows.tolist()},
            timestamps={"det": [1.0] * n, "fastscan_row": [1.0] * n},
            seq_num=list(range(1, n + 1)), time=[1.0] * n,
        ))  # fmt: skip
    writer("stop", bundle.compose_stop())
    writer.flush()
    writer.close()
    return bundle.start_doc["uid"], det, rows


def test_event_pages_and_lookups(catalog):
    uid, det, rows = _generic_run(catalog, scan_id=4242)
    run = load_run(catalog, uid)
    table = run["primary"].read()
    np.testing.assert_array_equal(table["det"].values, det)
    np.testing.assert_array_equal(table["fastscan_row"].values, rows)
    assert load_run(catalog, 4242).metadata["start"]["uid"] == uid
    assert load_run(catalog, uid[:10]).metadata["start"]["uid"] == uid
    assert load_run(catalog, -1).metadata["start"]["uid"] == uid
    with pytest.raises(KeyError, match="no run with scan id 999999"):
        load_run(catalog, 999999)
    with pytest.raises(KeyError, match="no run with uid 'zzz'"):
        load_run(catalog, "zzz")
    with pytest.raises(IndexError, match="out of range"):
        load_run(catalog, -(len(catalog) + 1))
    with pytest.raises(ValueError, match="not a fastscan run"):
        sampler_from_run(run)


class _BrokenClient:
    """A catalogue that accepts the connection but fails every write."""

    def include_data_sources(self):
        return self

    def create_container(self, *args, **kwargs):
        raise ConnectionError("catalogue unreachable")

    new = create_container


def test_write_failure_keeps_documents_and_is_raised(tmp_path):
    writer = tiled_writer(_BrokenClient(), backup_directory=tmp_path / "backup")
    bundle = compose_run()
    writer("start", bundle.start_doc)
    writer("stop", bundle.compose_stop())  # returns: the scan is never held up
    uid = bundle.start_doc["uid"]
    with pytest.raises(StorageError, match="catalogue unreachable"):
        writer.flush()
    assert [name for name, _ in writer.failed[uid]] == ["start", "stop"]
    lines = (tmp_path / "backup" / f"{uid}.jsonl").read_text().splitlines()
    assert len(lines) == 2 and '"start"' in lines[0]
    writer.close()


def test_tiled_writer_arguments_are_checked(catalog):
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        tiled_writer(catalog, batch_size=0)
    with pytest.raises(TypeError, match="writable tiled client"):
        tiled_writer(object())


def _old_store_file(directory, docs):
    def default(obj):
        if isinstance(obj, np.ndarray):
            payload = msgpack.packb([obj.dtype.str, list(obj.shape), obj.tobytes()])
            return msgpack.ExtType(42, payload)
        raise TypeError(obj)

    packer = msgpack.Packer(default=default, use_bin_type=True)
    path = directory / f"{docs[0][1]['uid']}.msgpack"
    path.write_bytes(b"".join(packer.pack([n, d]) for n, d in docs) + b"\x93\xa5")  # truncated
    return path


def test_import_of_old_msgpack_runs(catalog, tmp_path):
    bundle = compose_run(metadata={"plan_name": "old"})
    desc = bundle.compose_descriptor(
        name="primary", data_keys={"det_value": {"source": "s", "dtype": "number", "shape": []}}
    )
    events = [desc.compose_event(data={"det_value": v}, timestamps={"det_value": 1.0})
              for v in (1.5, 2.5, 3.5)]  # fmt: skip
    docs = [("start", bundle.start_doc), ("descriptor", desc.descriptor_doc)]
    docs += [("event", e) for e in events]  # no stop: the old process died
    _old_store_file(tmp_path, docs)
    uids = import_msgpack(tmp_path, catalog)
    assert uids == [bundle.start_doc["uid"]]
    run = load_run(catalog, uids[0])
    np.testing.assert_array_equal(run["primary"].read()["det_value"].values, [1.5, 2.5, 3.5])
    assert run.metadata["stop"]["exit_status"] == "fail"
    assert import_msgpack(tmp_path, catalog) == []  # already there: skipped


def test_fly_runs_are_stored_sample_by_sample(catalog, writer):
    from bluesky import RunEngine
    from fly_source import RowRasterSource
    from honesty import assert_honest_devices

    from fastscan.motion import MotionModel
    from fastscan.plans import Grid, autonomous_fly_scan
    from fastscan.plans.fly import STREAM
    from fastscan.sim.flyer import SimFlyer

    grid = Grid(0.0, 59.0, 60, 0.0, 39.0, 40)
    motion = MotionModel((1000.0, 1000.0), (1e4, 1e4), dwell=0.01,
                         travel=((-5.0, 64.0), (-5.0, 44.0)))  # fmt: skip
    flyer = SimFlyer("flyer", make_phantom("flakes", SHAPE, seed=1), grid,
                     velocity_limit=motion.velocity, acceleration=motion.acceleration,
                     travel=motion.travel)  # fmt: skip
    pages = []
    RE = RunEngine(call_returns_result=True)
    RE.subscribe(writer)
    source = RowRasterSource(SHAPE, step=8, per_batch=2, max_rows=5)
    result = RE(
        autonomous_fly_scan(flyer, source, grid=grid, motion=motion),
        lambda name, doc: pages.append(doc) if name == "event_page" else None,
    )  # fmt: skip
    assert_honest_devices(source, flyer)
    stored = load_run(catalog, result.run_start_uids[0])[STREAM].read()
    sent = np.concatenate([p["data"]["flyer_value"] for p in pages])
    assert len(sent) > 0
    np.testing.assert_array_equal(stored["flyer_value"].values, sent)  # every sample, in order


class _Stream:
    def __init__(self, table):
        self.table = table

    def read(self):
        return self.table


class _Run:
    """The two things sampler_from_run reads from a tiled run node: metadata and a table."""

    def __init__(self, start, table):
        self.metadata = {"start": start}
        self.streams = {"primary": _Stream(table)}

    def __contains__(self, key):
        return key in self.streams

    def __getitem__(self, key):
        return self.streams[key]


def test_sampler_from_run_restores_motion_model_and_checks_the_model_hash():
    import dataclasses

    from fastscan import Sampler
    from fastscan.motion import MotionModel

    motion = MotionModel((50.0, 30.0), (200.0, 100.0), dwell=0.01,
                         travel=((-5.0, 70.0), (-5.0, 50.0)))  # fmt: skip
    sampler = Sampler(SHAPE, batch_size=10, max_coverage=0.02, seed=5, motion=motion)
    image = make_phantom("flakes", SHAPE, seed=0)
    batches = []
    while not sampler.should_stop():
        pts = sampler.suggest()
        sampler.ingest(pts, image[pts[:, 0], pts[:, 1]])
        batches.append(len(pts))
    pts, vals = sampler.measured_points, sampler.measured_values
    from fastscan.plans.storage import _model_sha256

    meta = {"signal": "det_value", "sampler_params": sampler.get_params(),
            "motion": json_roundtrip(dataclasses.asdict(motion)),
            "model": {"name": "ERDModel", "sha256": _model_sha256(sampler.model)}}  # fmt: skip
    table = {"fastscan_seq": np.arange(len(pts)), "fastscan_row": pts[:, 0],
             "fastscan_col": pts[:, 1], "det_value": vals,
             "fastscan_batch": np.repeat(np.arange(len(batches)), batches)}  # fmt: skip
    run = _Run({"fastscan": json_roundtrip(meta)}, table)
    again = sampler_from_run(run)
    assert again.motion == motion
    np.testing.assert_array_equal(again.reconstruction, sampler.reconstruction)
    np.testing.assert_array_equal(again.suggest(), sampler.suggest())  # same next decision
    meta["model"]["sha256"] = "0" * 64
    with pytest.raises(ValueError, match="SHA-256"):
        sampler_from_run(_Run({"fastscan": json_roundtrip(meta)}, table), model="default")


def json_roundtrip(value):
    import json

    return json.loads(json.dumps(value))

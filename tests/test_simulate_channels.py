"""``fastscan simulate`` on element maps: (C, H, W) .npy / multi-page TIFF, per-channel metrics."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from fastscan.cli import main
from fastscan.compare.channels import ChannelDetector
from fastscan.imageio import ImageError, load_maps
from fastscan.phantoms import make_xrf_maps

SHAPE = (48, 72)


@pytest.fixture(scope="module")
def maps():
    return make_xrf_maps(SHAPE, seed=31)[0][[0, 1, 3]]  # Fe, Ca, Cu


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_element_maps_npy_give_one_row_per_channel_and_a_combined_row(maps, tmp_path, capsys):
    path = tmp_path / "maps.npy"
    np.save(path, maps)
    out = tmp_path / "out"
    args = ["simulate", "--image", str(path), "--coverages", "0.05,0.1", "--batch-size", "30"]
    args += ["--strategies", "fast,halton", "--out", str(out), "--channel-weights", "1,1,2", "-q"]
    assert main(args) == 0
    rows = _rows(out / "metrics.csv")
    assert len(rows) == 2 * 2 * (3 + 1)
    assert {r["channel"] for r in rows} == {"ch0", "ch1", "ch2", "combined"}
    for strategy in ("fast", "halton"):
        for coverage in ("0.05", "0.1"):
            sel = {
                r["channel"]: r
                for r in rows
                if (r["strategy"], r["coverage"]) == (strategy, coverage)
            }
            per_channel = np.array([float(sel[f"ch{i}"]["nrmse"]) for i in range(3)])
            assert float(sel["combined"]["nrmse"]) == pytest.approx(
                per_channel @ [0.25, 0.25, 0.5], rel=1e-5
            )
            assert float(sel["ch0"]["nrmse_biharmonic"]) > 0  # biharmonic on by default
    points = np.load(out / "points_fast.npy")
    assert points.shape == (int(round(0.1 * maps[0].size)), 2)
    assert len({tuple(p) for p in points.tolist()}) == len(points)  # never a repeat
    assert (out / "channels.png").stat().st_size > 0 and (out / "curves.png").exists()
    capsys.readouterr()


def test_multipage_tiff_is_element_maps_and_poisson_counts_run(maps, tmp_path):
    import tifffile

    path = tmp_path / "maps.tif"
    # low counts (Cu: a few counts), one page per channel
    tifffile.imwrite(path, (0.2 * maps).astype(np.float32), photometric="minisblack")
    loaded, note = load_maps(path)
    assert loaded.shape == maps.shape and note is None
    out = tmp_path / "out"
    args = ["simulate", "--image", str(path), "--coverages", "0.1", "--strategies", "fast,raster"]
    args += ["--noise", "poisson", "--no-biharmonic", "--out", str(out), "-q"]
    assert main(args) == 0
    rows = _rows(out / "metrics.csv")
    assert len(rows) == 2 * (3 + 1) and all(np.isfinite(float(r["nrmse"])) for r in rows)


def test_rgb_and_plain_images_are_not_element_maps(tmp_path):
    rgb = tmp_path / "rgb.npy"
    np.save(rgb, np.random.default_rng(0).random((20, 30, 3)))
    image, note = load_maps(rgb)
    assert image.shape == (20, 30) and "RGB" in note
    bad = tmp_path / "bad.npy"
    stack = np.ones((2, 20, 30))
    stack[1, 3, 4] = np.nan
    np.save(bad, stack)
    with pytest.raises(ImageError, match="channel 1: 1 non-finite"):
        load_maps(bad)


def test_channel_weights_errors_are_one_line(maps, tmp_path, capsys):
    path = tmp_path / "maps.npy"
    np.save(path, maps)
    args = ["simulate", "--image", str(path), "--out", str(tmp_path / "o"), "-q"]
    assert main([*args, "--channel-weights", "1,1"]) == 2
    assert "got 2 channel weights for 3 channels" in capsys.readouterr().err
    flat = tmp_path / "flat.npy"
    np.save(flat, maps[0])
    assert main(["simulate", "--image", str(flat), "--channel-weights", "1", "-q"]) == 2
    assert "--channel-weights needs element maps" in capsys.readouterr().err
    assert main([*args, "--strategies", "fly-raster"]) == 2  # fly strategies: step only here
    assert "'fly-raster' does not run on element maps" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*args, "--channel-weights", "1,-1,1"])
    assert "positive sum" in capsys.readouterr().err


def test_channel_detector_reads_only_what_is_asked(maps):
    detector = ChannelDetector(maps, noise="poisson", seed=1)
    points = np.array([[1, 2], [5, 7]])
    values = detector.measure(points)
    assert values.shape == (2, 3) and np.all(values == np.round(values))
    assert detector.asked.sum() == 2 and detector.asked[1, 2] and detector.asked[5, 7]
    with pytest.raises(ValueError, match="outside the grid"):
        detector.measure(np.array([[SHAPE[0], 0]]))


# ------------------------------------------------------------------ beam time on element maps
def test_element_maps_write_honest_trajectories_and_beam_time(maps, tmp_path):
    """Every strategy on element maps writes trajectory_<strategy>.npz and beam_time_s,
    checked by the issue's rules as written in test_simulate_beamtime (not by fastscan)."""
    import json

    from test_simulate_beamtime import TIMING, honesty_violations

    from fastscan.beamtime import Trajectory, check_trajectory
    from fastscan.motion import MotionModel

    path = tmp_path / "maps.npy"
    np.save(path, maps)
    out = tmp_path / "out"
    names = ["fast", "fast-classic", "raster", "random", "halton"]
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in TIMING.items()]
    args = ["simulate", "--image", str(path), "--coverages", "0.04,0.08", "--batch-size", "20"]
    args += ["--strategies", ",".join(names), "--noise", "poisson", "--no-biharmonic", "-q"]
    assert main([*args, "--out", str(out), *flags]) == 0
    rows = _rows(out / "metrics.csv")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["time_model"]["dwell"] == TIMING["dwell"]
    for name in names:
        npz = out / f"trajectory_{name}.npz"
        with np.load(npz, allow_pickle=False) as data:
            points, t_end, segment = data["points"], data["t_end"], data["segment"]
            motion = MotionModel(**json.loads(str(data["motion"])))
        assert len(points) == len(t_end) == len(segment) > 0
        assert honesty_violations(points, t_end, segment, TIMING) == []
        assert check_trajectory(Trajectory.load(npz), motion) == []
        np.testing.assert_array_equal(np.load(out / f"points_{name}.npy"), points)
        mine = [r for r in rows if r["strategy"] == name]
        assert {r["channel"] for r in mine} == {"ch0", "ch1", "ch2", "combined"}
        last = [r for r in mine if r["coverage"] == "0.08"]
        first = [r for r in mine if r["coverage"] == "0.04"]
        # every channel row of a snapshot carries the same beam time: one scan, C readings
        assert len({r["beam_time_s"] for r in last}) == 1
        assert float(last[0]["beam_time_s"]) == pytest.approx(t_end[-1], rel=1e-5)
        assert summary["strategies"][name]["beam_time_s"] == pytest.approx(t_end[-1], rel=1e-9)
        if name != "raster":  # nested scans: the first snapshot ends at its last reading
            n = int(first[0]["n_measured"])
            assert float(first[0]["beam_time_s"]) == pytest.approx(t_end[n - 1], rel=1e-5)
        assert float(first[0]["beam_time_s"]) < float(last[0]["beam_time_s"])

"""The ``fastscan`` command line: a real replay, and one-line errors for bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest

from fastscan.cli import main
from fastscan.compare.report import METRIC_COLUMNS
from fastscan.phantoms import make_phantom


@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "flakes.npy"
    np.save(path, make_phantom("flakes", (120, 160), seed=21))
    return path


def test_simulate_writes_every_output(image_file, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(
        [
            "simulate",
            "--image",
            str(image_file),
            "--coverages",
            "0.05,0.15",
            "--strategies",
            "fast,raster,random,halton",
            "--batch-size",
            "40",
            "--out",
            str(out),
            "--seed",
            "2",
        ]
    )
    assert code == 0
    printed = capsys.readouterr()
    assert "NRMSE" in printed.out and "fast" in printed.out
    assert "100%" in printed.err  # progress reached the end
    with (out / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0])[: len(METRIC_COLUMNS)] == METRIC_COLUMNS
    assert {r["strategy"] for r in rows} == {"fast", "raster", "random", "halton"}
    assert len(rows) == 8
    by = {(r["strategy"], float(r["coverage"])): r for r in rows}
    n_pixels = 120 * 160
    for strategy in ("fast", "raster", "random", "halton"):
        points = np.load(out / f"points_{strategy}.npy")
        assert points.dtype == np.int64 and points.shape[1] == 2
        assert len({tuple(p) for p in points.tolist()}) == len(points)
        assert abs(len(points) - 0.15 * n_pixels) <= 0.01 * n_pixels
        assert int(by[(strategy, 0.15)]["n_measured"]) == len(points)
    # the autonomous strategy wins on both reconstructions at 15 %
    for metric in ("nrmse", "nrmse_biharmonic"):
        fast = float(by[("fast", 0.15)][metric])
        assert all(fast < float(by[(s, 0.15)][metric]) for s in ("raster", "random", "halton"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["shape"] == [120, 160] and summary["config"]["seed"] == 2
    for name in ("curves.png", "reconstructions.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_console_script_runs_on_the_builtin_phantom(tmp_path):
    out = tmp_path / "demo"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "fastscan",
            "simulate",
            "--strategies",
            "fast,halton",
            "--coverages",
            "0.02",
            "--no-biharmonic",
            "--out",
            str(out),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert (out / "metrics.csv").exists() and (out / "points_fast.npy").exists()


def bad_file(tmp_path, kind):
    path = tmp_path / f"{kind}.npy"
    arrays = {
        "one_d": np.ones(50),
        "empty": np.zeros((0, 0)),
        "nan": np.where(np.eye(20) > 0, np.nan, 1.0),
        "inf": np.full((20, 20), np.inf),
    }
    np.save(path, arrays[kind])
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--image", "does/not/exist.tif"], "no such file"),
        (["--image", "@one_d"], "2-D image"),
        (["--image", "@empty"], "empty"),
        (["--image", "@nan"], "non-finite"),
        (["--image", "@inf"], "non-finite"),
        (["--model", "@bad_model"], "schema"),
        (["--model", "missing_model.npz"], "missing_model.npz"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message, tmp_path, capsys):
    resolved = []
    for arg in args:
        if arg == "@bad_model":
            path = tmp_path / "m.npz"
            np.savez(path, header=np.array('{"schema": "fastscan.erd-model/0"}'))
            resolved.append(str(path))
        elif arg.startswith("@"):
            resolved.append(str(bad_file(tmp_path, arg[1:])))
        else:
            resolved.append(arg)
    code = main(["simulate", *resolved, "--out", str(tmp_path / "o"), "-q"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("fastscan: error:") and message in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--coverages", "0.1,2"], "coverages must be numbers in (0, 1]"),
        (["--coverages", "abc"], "comma-separated numbers"),
        (["--strategies", "fast,rastr"], "did you mean 'raster'"),
        (["--batch-size", "0"], "integer >= 1"),
        (["--phantom", "blobs"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2(args, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["simulate", *args])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_rgb_png_is_converted_with_a_note(tmp_path, capsys):
    from skimage.io import imsave

    grey = (make_phantom("grains", (48, 64), seed=1) * 255).astype(np.uint8)
    imsave(tmp_path / "rgb.png", np.dstack([grey] * 3), check_contrast=False)
    code = main(
        [
            "simulate",
            "--image",
            str(tmp_path / "rgb.png"),
            "--strategies",
            "random",
            "--coverages",
            "0.1",
            "--no-biharmonic",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 0
    assert "converted to grey" in capsys.readouterr().err


def test_train_rejects_bad_arguments(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "model.txt")]) == 2
    assert "must end in .npz" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "m.npz"), "--c", "-1"]) == 2
    assert "--c must be > 0" in capsys.readouterr().err


def _not_json(name: str) -> None:
    raise ValueError(f"summary.json holds {name}, which is not valid JSON")


def test_simulate_with_downstream_models(tmp_path, capsys):
    out = tmp_path / "m"
    code = main(
        [
            "simulate",
            "--phantom",
            "grains",
            "--strategies",
            "fast",
            "--coverages",
            "0.05",
            "--no-biharmonic",
            "--denoise",
            "tv",
            "--segment",
            "otsu",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert "IoU" in capsys.readouterr().out
    text = (out / "summary.json").read_text()
    summary = json.loads(text, parse_constant=_not_json)  # strict JSON: no NaN/Infinity
    assert all(row["nrmse_biharmonic"] is None for row in summary["rows"])  # skipped: null
    metrics = summary["strategies"]["fast"]["models"]["0.05"]
    assert metrics["denoise_model"] == "tv" and 0 <= metrics["segment_iou"] <= 1
    assert (out / "models.png").exists()
    assert main(["simulate", "--denoise", "otsu", "--out", str(out)]) == 2
    assert "is a segmenter" in capsys.readouterr().err
    assert main(["simulate", "--segment", "watershd", "--out", str(out)]) == 2
    assert "did you mean 'watershed'" in capsys.readouterr().err

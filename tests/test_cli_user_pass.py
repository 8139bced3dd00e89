"""What a new user meets on the command line: errors that name the value, progress, choices.

Found by running the README's commands as written (helper ux23): each test is one thing that
was missing or misleading there.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from fastscan.cli import main
from fastscan.erd.estimator import SHIPPED_MODELS
from fastscan.phantoms import make_phantom, make_xrf_maps


@pytest.fixture(scope="module")
def small_image(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "flakes.npy"
    np.save(path, make_phantom("flakes", (48, 64), seed=21))
    return path


@pytest.fixture(scope="module")
def small_maps(tmp_path_factory):
    path = tmp_path_factory.mktemp("maps") / "maps.npy"
    maps, _ = make_xrf_maps((32, 48), seed=5)
    np.save(path, maps[:2])
    return path


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("fastscan: error:"), err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


@pytest.mark.parametrize("command", ["simulate", "train"])
def test_a_negative_seed_is_refused_naming_the_value(command, capsys):
    with pytest.raises(SystemExit) as stop:
        main([command, "--seed", "-3"])
    assert stop.value.code == 2
    assert "--seed: expected an integer >= 0, got '-3'" in capsys.readouterr().err


def test_an_unknown_model_name_lists_the_shipped_models(small_image, tmp_path, capsys):
    code = main(
        ["simulate", "--image", str(small_image), "--model", "nosuch", "--out", str(tmp_path)]
    )
    assert code == 2
    err = _one_line_error(capsys)
    assert "'nosuch'" in err and ", ".join(SHIPPED_MODELS) in err and ".npz" in err


@pytest.mark.parametrize(
    ("source", "strategies", "message"),
    [
        ("image", "halton", "add fast to --strategies (got halton)"),
        ("maps", "fast", "not on element maps"),
    ],
)
def test_downstream_models_are_never_silently_skipped(
    source, strategies, message, small_image, small_maps, tmp_path, capsys
):
    path = small_image if source == "image" else small_maps
    args = ["simulate", "--image", str(path), "--strategies", strategies, "--denoise", "tv"]
    code = main([*args, "--coverages", "0.1", "--no-biharmonic", "--out", str(tmp_path / "o")])
    assert code == 2
    assert message in _one_line_error(capsys)
    assert not (tmp_path / "o").exists()  # refused before any replay


def test_the_wrote_line_names_models_png(small_image, tmp_path, capsys):
    out = tmp_path / "o"
    args = ["--strategies", "fast", "--denoise", "tv", "--coverages", "0.1", "--no-biharmonic"]
    assert main(["simulate", "--image", str(small_image), *args, "--out", str(out)]) == 0
    wrote = capsys.readouterr().out.strip().splitlines()[-1]
    assert wrote.startswith("wrote") and "models.png" in wrote
    assert (out / "models.png").is_file()


def test_element_maps_show_progress_beam_time_and_scoring(small_maps, tmp_path, capsys):
    args = ["--strategies", "fast,halton", "--coverages", "0.05,0.1", "--out", str(tmp_path)]
    assert main(["simulate", "--image", str(small_maps), *args]) == 0
    err = capsys.readouterr().err
    for name in ("fast", "halton"):
        lines = [line for line in err.splitlines() if line.startswith(name + " ")]
        assert any("points" in line for line in lines), err  # progress while it scans
        done = [line for line in lines if "done in" in line]
        assert len(done) == 1 and "beam time" in done[0]
    assert err.count("scoring 2 channels (biharmonic completion)") == 2
    summary = json.loads((tmp_path / "summary.json").read_text())
    for facts in summary["strategies"].values():
        assert facts["seconds"] >= 0 and facts["beam_time_s"] > 0


@pytest.mark.parametrize(("dwell", "mode"), [("1", "step"), ("0.001", "fly")])
def test_fast_auto_reports_what_it_chose(dwell, mode, small_image, tmp_path, capsys):
    args = ["--strategies", "fast-auto", "--dwell", dwell, "--coverages", "0.05"]
    args += ["--no-biharmonic", "--out", str(tmp_path)]
    assert main(["simulate", "--image", str(small_image), *args]) == 0
    assert f"chose {mode} (R " in capsys.readouterr().err
    facts = json.loads((tmp_path / "summary.json").read_text())["strategies"]["fast-auto"]
    assert facts["choice"]["mode"] == mode and facts["choice"]["cost_ratio"] > 0


def test_evaluate_from_missing_rows_names_the_file(tmp_path, capsys):
    missing = tmp_path / "nope" / "rows.csv"
    code = main(["evaluate", "--from-rows", str(missing), "--out", str(tmp_path / "o")])
    assert code == 2
    assert f"rows file not found: '{missing}'" in _one_line_error(capsys)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--blas-threads", "-1"], "--blas-threads must be >= 0, got -1"),
        (["--bind", "garbage"], "--bind expects a ZMQ endpoint such as tcp://"),
    ],
)
def test_serve_refuses_bad_options_before_starting(args, message, capsys):
    assert main(["serve", "--no-warm-up", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shape", "200x300"], "--shape expects rows,cols such as 200,300, got '200x300'"),
        (["--grid", "1,2,3"], "--grid expects x_start,x_stop,y_start,y_stop"),
        (["--image", "does/not/exist.npy"], "does/not/exist.npy: no such file"),
        (["--velocity", "-1"], "velocity must be > 0, got -1.0"),
    ],
)
def test_ioc_bad_input_is_one_line_before_serving(args, message, capsys, monkeypatch):
    from fastscan.sim.ioc import main as ioc_main

    monkeypatch.setattr(os, "environ", os.environ.copy())  # main sets the EPICS variables
    with pytest.raises(SystemExit) as stop:
        ioc_main([*args, "--port", "0"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("python -m fastscan.sim.ioc: error: ") and message in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_printing_a_fly_scan_summary_is_one_line():
    from fastscan.plans.fly import DecisionReport, FlyScanSummary, SegmentReport

    segments = [SegmentReport(i, (2 * i, 0), (2 * i, 9), 10, 10, 0.5, 0.6) for i in range(40)]
    summary = FlyScanSummary(
        run_uids=["0123456789abcdef"], n_segments=40, n_samples=400, coverage=0.25,
        stop_reason="coverage 25.0% reached max_coverage 25.0%", estimated_s=20.0,
        actual_s=24.0, elapsed_s=25.5, segments=segments,
        decisions=[DecisionReport(0, 40, 0.01, 0.0)],
    )  # fmt: skip
    text = str(summary)
    assert len(text.splitlines()) == 1 and len(text) < 300
    for part in ("40 segments", "400 samples", "coverage 25.0%", "estimated 20.0 s", "01234567"):
        assert part in text
    assert "SegmentReport(index=39" in repr(summary)  # the details stay in repr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--denoise", "nosuch"], "--denoise: unknown model 'nosuch'; available models: "),
        (["--denoise", "otsu"], "--denoise 'otsu' is a segmenter, not a denoiser"),
        (["--segment", "idv"], "(did you mean 'idw'?)"),
    ],
)
def test_model_server_refuses_bad_model_names_before_serving(args, message, capsys):
    from fastscan.models.zmq_frames import main as frames_main

    endpoints = ["--frames", "tcp://127.0.0.1:0", "--results", "tcp://127.0.0.1:0"]
    with pytest.raises(SystemExit) as stop:
        frames_main(["serve", *endpoints, *args])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err

"""A beamline scientist's pass over simulate, evaluate and train (helper ux24).

Each test is one thing a new user met: ``fly-raster``'s progress past its total (and a
step raster's progress ending at the first of its fresh scans), minutes of silent scoring
or first-run compiling, ``evaluate --size`` accepting values it then refused with another
bound, small images failing after every replay, ``--out`` folders and files that are not
what their names say answered with raw errnos or advice to unpickle them.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from fastscan.compare.report import overshoot_note
from fastscan.compare.run import SimulateConfig, _Progress, points_done, run_simulate
from fastscan.phantoms import make_phantom
from fastscan.replay import target_counts
from fastscan.service.cli import stopped_message
from fastscan.service.dispatch import SessionStore


# ---------------------------------------------------------------- simulate progress
def test_points_done_never_shows_more_done_than_the_total() -> None:
    assert points_done(250, 864) == "250/864 points"
    assert points_done(864, 864) == "864/864 points"
    assert points_done(43200, 25920) == "43200 points (25920 asked; segments flown whole)"


def test_progress_lines_past_the_total_say_so(capsys) -> None:
    progress = _Progress("fly-raster", True)
    progress.tty = False
    for done in (1440, 10800, 21600, 43200):
        progress(done, 25920)
    err = capsys.readouterr().err
    assert "43200/25920" not in err
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith("fly-raster     100%  43200 points (25920 asked; segments flown whole)")
    )


def _progress_counts(err: str, name: str) -> list[tuple[int, int]]:
    found = re.findall(rf"^{re.escape(name)}\s+\d+%\s+(\d+)/(\d+) points", err, re.MULTILINE)
    return [(int(done), int(total)) for done, total in found]


def test_simulate_progress_covers_every_fresh_raster_scan_and_notes_overshoot(
    tmp_path, capsys
) -> None:
    image = tmp_path / "flakes.npy"
    np.save(image, make_phantom("flakes", (48, 64), seed=21))
    coverages = (0.1, 0.3)
    config = SimulateConfig(
        image=str(image),
        strategies=("raster", "fly-raster"),
        coverages=coverages,
        out=str(tmp_path / "out"),
        biharmonic=False,
    )
    summary = run_simulate(config)
    captured = capsys.readouterr()
    # raster scans a fresh grid per coverage: its progress counts both scans
    raster = _progress_counts(captured.err, "raster")
    total = sum(target_counts(coverages, 48 * 64))
    assert {t for _, t in raster} == {total}
    assert raster[-1] == (total, total)
    assert [d for d, _ in raster] == sorted(d for d, _ in raster)
    # fly-raster flies whole passes: past its ask, progress and the table say so
    fly = [row for row in summary["rows"] if row["strategy"] == "fly-raster"]
    asked = target_counts([fly[-1]["coverage"]], 48 * 64)[0]
    assert fly[-1]["n_measured"] > asked
    assert f"{fly[-1]['n_measured']}/{asked}" not in captured.err
    assert re.search(
        rf"^fly-raster\s+100%\s+{fly[-1]['n_measured']} points \({asked} asked",
        captured.err,
        re.MULTILINE,
    )
    assert overshoot_note(summary["rows"], 48 * 64) in captured.out


def test_overshoot_note_names_the_row_with_the_most_points_past_its_ask() -> None:
    rows = [
        {"strategy": "fast", "coverage": 0.3, "n_measured": 30},
        {"strategy": "fast-fly", "coverage": 0.2, "n_measured": 21},
        {"strategy": "fly-raster", "coverage": 0.1, "n_measured": 15},
    ]
    assert overshoot_note(rows[:1], 100) is None
    assert overshoot_note(rows, 100) == (
        "note: fly segments are flown whole, so a row can hold more points than its "
        "coverage asks (fly-raster 10.0%: 15 points, 15.0% of the grid)"
    )


# ---------------------------------------------------------------- evaluate --size
@pytest.mark.parametrize("value", ["3", "31", "-1", "abc"])
def test_evaluate_size_names_the_value_and_the_bound(value, capsys) -> None:
    from fastscan.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "--set", "validation", "--size", value])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert (
        f"argument --size: expected an integer from 32 to 2048 (pixels of the long side), "
        f"got '{value}'" in err
    )


# ---------------------------------------------------------------- fastscan train
@pytest.mark.parametrize("folds", ["1", "99"])
def test_train_refuses_a_fold_count_before_announcing_the_run(folds, capsys) -> None:
    from fastscan.cli import main
    from fastscan.erd.training import image_groups, training_set_config

    n_groups = len(image_groups(training_set_config("default")))
    assert main(["train", "--cross-validate", folds]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"fastscan: error: --cross-validate must be in [2, {n_groups}] (the training set's "
        f"image groups), got {folds}\n"
    )


def test_train_names_a_missing_image_before_announcing_the_run(tmp_path, capsys) -> None:
    from fastscan.cli import main

    missing = tmp_path / "cameraman_norm.tif"
    code = main(["train", "--recipe", "fast-classic", "--image", str(missing),
                 "--out", str(tmp_path / "c.npz")])  # fmt: skip
    assert code == 2
    assert capsys.readouterr().err == f"fastscan: error: {missing}: no such file\n"


# ---------------------------------------------------------------- scoring progress
@pytest.mark.parametrize("channels", [1, 2])
def test_simulate_reports_each_coverage_scored_while_the_slow_scoring_runs(
    tmp_path, capsys, channels
) -> None:
    from fastscan.phantoms import make_xrf_maps

    path = tmp_path / "truth.npy"
    maps, _ = make_xrf_maps((32, 48), seed=5)
    np.save(path, maps[0] if channels == 1 else maps[:channels])
    config = SimulateConfig(
        image=str(path), strategies=("raster",), coverages=(0.1, 0.2), out=str(tmp_path / "o")
    )
    run_simulate(config)
    err = capsys.readouterr().err
    lines = [line.strip() for line in err.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("scoring"))
    assert re.fullmatch(r"scored 10% \(\d+ s\)", lines[start + 1])
    assert re.fullmatch(r"scored 20% \(\d+ s\)", lines[start + 2])
    run_simulate(dataclasses.replace(config, biharmonic=False, out=str(tmp_path / "q")))
    assert "scored" not in capsys.readouterr().err  # nothing slow, nothing to say


# ---------------------------------------------------------------- small images in simulate
def test_simulate_refuses_an_image_too_small_to_score_before_any_replay(tmp_path, capsys) -> None:
    from fastscan.cli import main

    path = tmp_path / "tiny.npy"
    np.save(path, np.arange(36.0).reshape(6, 6))
    assert main(["simulate", "--image", str(path), "--out", str(tmp_path / "o")]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"fastscan: error: {path}: image must be at least 7 x 7 pixels, got (6, 6)\n"
    )
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("strategy", ["raster", "random", "halton"])
def test_static_strategies_score_a_small_grid_with_few_points(tmp_path, strategy) -> None:
    from fastscan.baselines import STATIC_SAMPLERS

    path = tmp_path / "small.npy"
    np.save(path, np.add.outer(np.arange(16.0), np.arange(20.0)))
    config = SimulateConfig(image=str(path), strategies=(strategy,), coverages=(0.01, 0.05),
                            out=str(tmp_path / "o"), biharmonic=False, quiet=True)  # fmt: skip
    rows = run_simulate(config)["rows"]  # 3 and 16 points: fewer than IDW's k = 10 at first
    assert [row["n_measured"] for row in rows] == target_counts((0.01, 0.05), 320)
    assert all(np.isfinite(row["nrmse"]) for row in rows)
    one = STATIC_SAMPLERS[strategy]((16, 20), max_coverage=0.5)
    points = one.suggest(1)
    one.ingest(points, np.array([2.5]))
    assert np.array_equal(one.reconstruction, np.full((16, 20), 2.5))  # one reading: flat


def test_fast_classic_on_a_grid_too_small_for_fasts_pattern_says_how_large(tmp_path) -> None:
    from fastscan.classic import ClassicSampler

    sampler = ClassicSampler((16, 20))  # making one is fine (tests, restores)
    with pytest.raises(ValueError) as err:
        sampler.suggest()
    assert str(err.value) == (
        "fast-classic's initial pattern (FAST's: floor(initial_fraction x pixels)) holds 3 "
        "points on this 16 x 20 grid (320 pixels); its IDW needs at least k + 1 = 11: use a "
        "grid of about 1100 pixels or more, or a larger initial_fraction (now 0.01)"
    )
    assert len(ClassicSampler((20, 55)).suggest()) == 11  # 1100 pixels: FAST's 11 points


# ---------------------------------------------------------------- --out folders
def test_out_folders_are_checked_before_any_work(tmp_path, capsys, unwritable_folder) -> None:
    from fastscan.cli import main
    from fastscan.phantoms import make_xrf_maps

    image, maps = tmp_path / "image.npy", tmp_path / "maps.npy"
    np.save(image, make_phantom("flakes", (24, 32), seed=21))
    np.save(maps, make_xrf_maps((24, 32), seed=5)[0][:2])
    afile = tmp_path / "afile"
    afile.write_text("x")
    rows = tmp_path / "rows.csv"
    rows.write_text("image,kind,seed,strategy,coverage,nrmse\nx,natural,0,fast,0.1,0.5\n")
    commands = [
        ["simulate", "--image", str(image), "--strategies", "raster", "-q"],
        ["simulate", "--image", str(maps), "--strategies", "raster", "-q"],
        ["evaluate", "--set", "validation", "--images", "brick", "--size", "32", "--seeds", "0",
         "--strategies", "raster", "-q"],
        ["evaluate", "--from-rows", str(rows)],
    ]  # fmt: skip
    for command in commands:
        assert main([*command, "--out", str(afile)]) == 2
        assert capsys.readouterr().err == (
            f"fastscan: error: --out '{afile}' is a file, not a folder; name a folder\n"
        )
        assert main([*command, "--out", str(afile / "sub")]) == 2
        assert capsys.readouterr().err == (
            f"fastscan: error: cannot create --out '{afile / 'sub'}': a part of the path is a "
            "file, not a folder\n"
        )
    folder = unwritable_folder
    assert main([*commands[0], "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"fastscan: error: cannot write in --out '{folder}': ")
    assert "Errno" not in err


# ---------------------------------------------------------------- a state file that is not one
def test_a_garbage_state_file_is_named_without_advice_to_unpickle_it(tmp_path) -> None:
    from fastscan import Sampler

    bad = tmp_path / "bad.npz"
    bad.write_text("garbage")
    expected = f"{bad} is not a fastscan sampler state file (not an .npz archive)"
    with pytest.raises(ValueError) as err:
        Sampler.load(bad)
    assert str(err.value) == expected
    store = SessionStore(tmp_path)
    assert store.restore_all() == []  # refused, logged
    assert stopped_message(store, "SIGTERM") == (
        f"fastscan service stopped (SIGTERM); no sessions to save in {tmp_path}; "
        "1 other session file there not restored"
    )


@pytest.mark.parametrize(("suffix", "kind"), [(".npy", "NPY"), (".png", "PNG")])
def test_a_garbage_image_is_named_without_advice_to_unpickle_it(tmp_path, capsys, suffix, kind):
    from fastscan.cli import main

    path = tmp_path / f"garbage{suffix}"
    path.write_text("garbage")
    assert main(["simulate", "--image", str(path), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == (
        f"fastscan: error: {path}: cannot read {suffix} file (no {kind} header)\n"
    )


def test_a_garbage_trajectory_file_is_named(tmp_path) -> None:
    from fastscan.beamtime import Trajectory

    path = tmp_path / "trajectory_fast.npz"
    path.write_text("garbage")
    with pytest.raises(ValueError, match=r"is not a trajectory file \(not an \.npz archive\)"):
        Trajectory.load(path)


def test_a_garbage_model_file_is_named(tmp_path, capsys) -> None:
    from fastscan.cli import main

    image, model = tmp_path / "image.npy", tmp_path / "model.npz"
    np.save(image, make_phantom("flakes", (24, 32), seed=21))
    model.write_text("garbage")
    assert main(["simulate", "--image", str(image), "--model", str(model), "-q",
                 "--out", str(tmp_path / "o")]) == 2  # fmt: skip
    assert capsys.readouterr().err == (
        f"fastscan: error: {model} is not a fastscan ERD model file (not an .npz archive)\n"
    )


# ---------------------------------------------------------------- first-run compile note
def test_slow_note_prints_only_when_the_step_is_still_running() -> None:
    import io
    import time

    from fastscan.slow_note import SlowNote

    stream = io.StringIO()
    with SlowNote("quick", after=2.0, stream=stream) as quick:
        pass  # done long before its note would be printed
    slow = SlowNote("still compiling ...", after=0.05, stream=stream).start()
    deadline = time.monotonic() + 10.0
    while not slow.printed and time.monotonic() < deadline:
        time.sleep(0.02)
    slow.cancel()
    assert stream.getvalue() == "still compiling ...\n"
    assert not quick.printed
    with pytest.raises(ValueError, match="after must be a number of seconds > 0, got 0"):
        SlowNote("x", after=0)


def test_progress_cancels_its_first_batch_note_when_a_batch_arrives(capsys) -> None:
    progress = _Progress("fast", True)
    assert progress._note.message.startswith("fast         no batch yet after 10 s (")
    progress(50, 100)
    progress.close("done")
    assert progress._note._cancelled and not progress._note.printed


def test_the_table_shows_a_dash_where_nothing_was_computed() -> None:
    from fastscan.compare.report import format_table

    row = {"strategy": "raster", "coverage": 0.1, "n_measured": 7, "nrmse": 0.5, "ssim": 0.2,
           "psnr": 8.0, "nrmse_biharmonic": float("nan"), "ssim_biharmonic": float("nan"),
           "beam_time_s": 0.5}  # fmt: skip
    line = format_table([row]).splitlines()[-1]
    assert line.split() == ["raster", "10.0%", "7", "0.500", "0.200", "8.0", "-", "-", "0.5"]
    assert "nan" not in format_table([{**row, "nrmse_biharmonic": 0.25}])

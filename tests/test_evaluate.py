"""Honest evaluation (issue 12): the image sets, the runner, its summaries and verdicts."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from docstring_examples import assert_examples_pass
from honesty import assert_honest_scan

from fastscan.cli import main
from fastscan.compare.evaluate import evaluate_images
from fastscan.compare.evaluate_report import write_report
from fastscan.compare.imagesets import image_set, test_set, validation_set
from fastscan.compare.verdicts import (
    ROW_COLUMNS,
    read_reference,
    read_rows,
    reference_verdicts,
    summarize,
    verdicts,
)
from fastscan.replay import make_sampler, replay

SIZE = 48
COVERAGES = (0.1, 0.2)
STRATEGIES = ("fast", "raster", "random", "halton")
KINDS = {"texture", "natural", "binary", "biomedical", "graphic", "histology", "flakes",
         "particles", "xrf", "lowcount"}  # fmt: skip


@pytest.fixture(scope="module")
def tiny():
    return test_set(size=SIZE, names=("horse", "lowcount"))


@pytest.fixture(scope="module")
def rows(tiny):
    return evaluate_images(tiny, strategies=STRATEGIES, seeds=(0, 1), coverages=COVERAGES)


def test_test_set_is_thirteen_deterministic_images_of_every_kind():
    first, second = test_set(size=SIZE), test_set(size=SIZE)
    assert len(first) == 13 and list(first) == list(second)
    assert {im.kind for im in first.values()} == KINDS
    for name, image in first.items():
        assert np.array_equal(image.truth, second[name].truth), name
        assert image.truth.dtype == np.float64 and not image.truth.flags.writeable
        assert 0.0 <= image.truth.min() and image.truth.max() <= 100.0, name
        assert max(image.truth.shape) <= SIZE and np.all(np.isfinite(image.truth))
        assert image.truth.std() > 0.5, f"{name} is flat"
    assert [n for n, im in first.items() if im.noise != "none"] == ["lowcount"]
    assert 15.0 < first["lowcount"].truth.mean() < 25.0  # about 20 counts per reading


def test_sets_share_no_image_and_validation_needs_no_shared_data():
    validation = validation_set(size=SIZE)
    assert "wse2" not in validation and len(validation) == 28
    assert not set(validation) & set(test_set(size=SIZE))
    assert all(0.0 <= im.truth.min() and im.truth.max() <= 100.0 for im in validation.values())
    # the natural windows are native-resolution crops of the scan shape, distinct and stable
    crops = ("motorcycle-crop", "motorcycle-corner", "coffee-crop")
    again = validation_set(size=SIZE, names=crops)
    for name in crops:
        assert validation[name].truth.shape == (36, SIZE) and validation[name].kind == "natural"
        assert np.array_equal(again[name].truth, validation[name].truth)
    assert not np.array_equal(validation[crops[0]].truth, validation[crops[1]].truth)


def test_bad_set_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="unknown image 'lena'"):
        test_set(size=SIZE, names=("lena",))
    with pytest.raises(ValueError, match="size must be an integer from 32 to 2048"):
        test_set(size=8)
    with pytest.raises(ValueError, match="unknown image set 'train'"):
        image_set("train")
    with pytest.raises(ValueError, match="WSe2 image not found"):
        image_set("wse2", data=tmp_path)


def test_lowcount_detector_reads_only_what_is_asked_with_seeded_poisson_noise(tiny):
    image = tiny["lowcount"]
    points = np.array([[3, 4], [10, 20], [3, 4]])
    detector = image.detector(seed=3)
    values = detector.measure(points)
    asked = np.zeros(image.truth.shape, bool)
    asked[points[:, 0], points[:, 1]] = True
    assert np.array_equal(detector.asked_mask, asked) and detector.n_readings == 3
    assert np.array_equal(values, np.round(values))  # counts
    assert np.array_equal(values, image.detector(seed=3).measure(points))
    many = image.detector(seed=0).measure(np.argwhere(np.ones(image.truth.shape, bool)))
    assert not np.allclose(many, image.truth.ravel())  # noisy ...
    assert abs(many.mean() - image.truth.mean()) < 1.0  # ... around the expected counts
    sampler = make_sampler("fast", image.truth.shape, max_coverage=0.1, seed=0, batch_size=20)
    detector = image.detector(seed=0)
    replay(sampler, detector, [0.1])
    assert_honest_scan(sampler, detector)


def test_runner_gives_every_row(rows, tiny):
    expected = {(im, s, seed, c) for im in tiny for s in STRATEGIES for seed in (0, 1)
                for c in COVERAGES}  # fmt: skip
    got = [(r["image"], r["strategy"], r["seed"], r["coverage"]) for r in rows]
    assert len(got) == len(expected) and set(got) == expected
    n_pixels = {name: im.truth.size for name, im in tiny.items()}
    for row in rows:
        assert abs(row["n_measured"] - row["coverage"] * n_pixels[row["image"]]) <= 1
        assert 0.0 < row["nrmse"] < 1.0 and 0.0 < row["nrmse_own"] < 1.0
        assert row["kind"] == tiny[row["image"]].kind


def test_seeds_change_the_scan(rows):
    def nrmse(strategy, seed):
        mine = [r for r in rows if r["image"] == "horse" and r["seed"] == seed]
        return [r["nrmse"] for r in mine if r["strategy"] == strategy]

    for strategy in ("fast", "random", "halton"):
        assert nrmse(strategy, 0) != nrmse(strategy, 1), strategy
    assert nrmse("raster", 0) == nrmse("raster", 1)  # a raster has nothing random


def test_summary_ratios_and_verdicts_follow_the_rows(rows, tmp_path):
    result = write_report(rows, tmp_path)
    assert {"ratios.png", "curves.png"} <= {p.name for p in tmp_path.iterdir()}
    back = read_rows(tmp_path / "rows.csv")
    with (tmp_path / "rows.csv").open() as handle:
        assert tuple(csv.DictReader(handle).fieldnames) == ROW_COLUMNS
    assert len(back) == len(rows)
    with (tmp_path / "summary.csv").open() as handle:
        summary_csv = list(csv.DictReader(handle))
    assert len(summary_csv) == 2 * len(COVERAGES)
    for line in summary_csv:
        mine = [r for r in back if r["image"] == line["image"]
                and abs(r["coverage"] - float(line["coverage"])) < 1e-9]  # fmt: skip
        means = {s: np.mean([r["nrmse"] for r in mine if r["strategy"] == s]) for s in STRATEGIES}
        best = min(("raster", "random", "halton"), key=means.get)
        assert line["best_static"] == best
        assert float(line["ratio_fast"]) == pytest.approx(means["fast"] / means[best], rel=1e-4)
        assert line["fast_le_best"] == str(bool(means["fast"] <= means[best]))
    # the verdict moves with the rows: make fast ten times worse and it fails everywhere
    worse = [dict(r, nrmse=10 * r["nrmse"]) if r["strategy"] == "fast" else r for r in back]
    verdict = verdicts(summarize(worse), coverages=COVERAGES)
    assert not verdict["pass"] and verdict["every_image"]["0.2"]["failing"] == ["horse", "lowcount"]
    better = [dict(r, nrmse=r["nrmse"] / 10) if r["strategy"] == "fast" else r for r in back]
    verdict = verdicts(summarize(better), coverages=COVERAGES)
    assert verdict["pass"] and verdict["median_win"]["value"] > 2.0
    saved = json.loads((tmp_path / "verdicts.json").read_text())
    assert saved["verdicts"] == json.loads(json.dumps(result["verdicts"]))


def test_reference_verdicts_use_the_reference_file(tmp_path):
    (tmp_path / "ref.csv").write_text("coverage,fast_nrmse_idw\n0.10,0.200\n0.20,0.100\n")
    reference = read_reference(tmp_path / "ref.csv")
    rows = [{"image": "wse2", "kind": "design", "strategy": "fast", "seed": seed,
             "coverage": c, "nrmse": v + 0.001 * seed}
            for seed in (0, 1) for c, v in ((0.1, 0.15), (0.2, 0.09))]  # fmt: skip
    result = reference_verdicts(summarize(rows), reference)
    assert result["coverages"]["0.1"]["pass"] and result["coverages"]["0.1"][
        "target"
    ] == pytest.approx(0.16)
    assert not result["coverages"]["0.2"]["pass"] and not result["pass"]


def test_cli_evaluate_and_from_rows(tmp_path, capsys):
    out = tmp_path / "ev"
    args = ["evaluate", "--set", "test", "--images", "microaneurysms", "--size", "40",
            "--seeds", "0,1", "--coverages", "0.1,0.2", "--strategies", "random,halton",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr()
    assert "[  2/2] microaneurysms" in printed.err
    assert "NRMSE" in printed.out and "best static" in printed.out
    assert len(read_rows(out / "rows.csv")) == 2 * 2 * 2
    assert (
        main(["evaluate", "--from-rows", str(out / "rows.csv"), "-q", "--out", str(tmp_path)]) == 0
    )
    assert (tmp_path / "summary.csv").is_file()
    assert main(["evaluate", "--set", "wse2", "--data", str(tmp_path), "-q"]) == 2
    assert "WSe2 image not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--seeds", "1,1"])


@pytest.mark.parametrize(
    "name",
    ["fastscan.compare.imagesets", "fastscan.compare.verdicts", "fastscan.compare.evaluate"],
)
def test_docstring_examples(name):
    import doctest

    assert_examples_pass(name, doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)


def test_a_worker_rebuilds_its_image_by_name_and_scores_the_same():
    from fastscan.compare.evaluate import EvaluateConfig, _worker

    config = EvaluateConfig(size=40, seeds=(3,), coverages=(0.1,), strategies=("halton",))
    images = test_set(size=40, names=("logo",))
    here = evaluate_images(images, strategies=("halton",), seeds=(3,), coverages=(0.1,))
    there = _worker(config, "logo", 3)
    assert [r["nrmse"] for r in there] == [r["nrmse"] for r in here] and len(here) == 1


def test_idw_from_points_equals_the_core_idw_even_far_from_every_point():
    from fastscan.compare.evaluate import idw_from_points
    from fastscan.reconstruction import idw_reconstruction

    rng = np.random.default_rng(5)
    mask = np.zeros((60, 90), bool)
    mask[rng.integers(0, 15, 300), rng.integers(0, 20, 300)] = True  # one corner only
    mask[rng.integers(0, 60, 40), rng.integers(0, 90, 40)] = True
    values = np.where(mask, rng.normal(size=mask.shape), 0.0)
    points = np.argwhere(mask)
    expected = idw_reconstruction(mask.shape, points, values[mask], k=10)
    assert np.array_equal(idw_from_points(mask, values), expected)

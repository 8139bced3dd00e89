"""Does fast-fly's axis choice (``"probe"``, ``"grid"``, ``"coarse"``) predict whether columns win?

For each image: the *true* ratio is the time a fly raster of every k-th column needs to reach
the NRMSE of the every-4th and the every-2nd-row raster (the best k), over that row raster's
time; the *modelled* one is ``FlySampler(fly_axis="probe").axis_ratio`` after its coarse
raster and probe lines (the other axis's time over the coarse axis's; the coarse axis is
"columns" on a portrait grid, then the true ratio is inverted to match). Below 1: the other
axis pays. Nanoprobe model at ``--dwell``. ``--fly-axis grid`` or ``coarse`` print their
``axis_ratio`` (columns over rows) next to the true columns-over-rows ratio instead.

Usage (from the repository root)::

    python benchmarks/bench_fly_axis.py                      # validation set + WSe2
    python benchmarks/bench_fly_axis.py --probe-lines 2,3,4 --image ''
    python benchmarks/bench_fly_axis.py --fly-axis coarse --transpose --only clock,page
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
from bench_beamtime import (
    DEFAULT_IMAGE,
    REPO,
    best_nrmse,
    fly_raster_trajectory,
    mask_of,
    with_transposes,
)

from fastscan.beamtime import retime
from fastscan.compare.imagesets import image_set
from fastscan.fly import FlySampler
from fastscan.imageio import load_image
from fastscan.motion import NANOPROBE, MotionModel


def true_ratios(truth: np.ndarray, motion: MotionModel) -> list[float]:
    """Column raster time over row raster time to the every-4th and every-2nd-row NRMSE."""
    refs = {}
    for axis in ("rows", "columns"):
        refs[axis] = []
        for k in range(1, 17):
            traj = fly_raster_trajectory(truth.shape, k, NANOPROBE, axis)
            nrmse = 0.0 if k == 1 else best_nrmse(truth, mask_of(truth.shape, traj.points))
            refs[axis].append((nrmse, retime(traj, motion).beam_time))
    out = []
    for k in (4, 2):
        target = refs["rows"][k - 1][0] + 1e-12
        t_cols = min(t for e, t in refs["columns"] if e <= target)
        t_rows = min(t for e, t in refs["rows"] if e <= target)
        out.append(t_cols / t_rows)
    return out


def modelled_ratio(
    truth: np.ndarray,
    motion: MotionModel,
    probe_lines: int,
    fly_axis: str = "probe",
    params: dict | None = None,
) -> tuple[str, float, float]:
    """(coarse axis, axis_ratio, coverage when it chose) of a ``fly_axis`` scan, stopped
    once it has chosen (nan: it did not choose within 50 % coverage)."""
    fs = FlySampler(truth.shape, motion=motion, max_coverage=0.5, probe_lines=probe_lines,
                    fly_axis=fly_axis, **(params or {}))  # fmt: skip
    while not fs._axis_chosen and not fs.should_stop():
        for segment in fs.suggest_segments():
            points = segment.pixels()
            fs.ingest(points, truth[points[:, 0], points[:, 1]])
        fs.suggest_segments()  # the first decision after the probes makes the choice
    ratio = np.nan if fs.axis_ratio is None else fs.axis_ratio
    return fs._line_axis, ratio, fs.coverage


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--image", default=DEFAULT_IMAGE, help="WSe2 path ('' to skip)")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--dwell", type=float, default=0.001)
    p.add_argument("--probe-lines", default="4", help="comma-separated counts to compare")
    p.add_argument("--fly-axis", default="probe", choices=("probe", "grid", "coarse"))
    p.add_argument("--set", default="validation", help="image set (validation, sparse)")
    p.add_argument("--only", default="", help="keep only these of the set's images (a,b,...)")
    p.add_argument("--transpose", action="store_true", help="also each image transposed")
    p.add_argument("--fly-params", default="{}", help="more FlySampler keywords (JSON)")
    p.add_argument("--no-truth", action="store_true", help="skip the (slow) true ratios")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    motion = NANOPROBE.replace(dwell=args.dwell)
    only = tuple(n for n in args.only.split(",") if n) or None
    images = {
        k: np.asarray(v.truth, float)
        for k, v in image_set(args.set, args.size, names=only).items()
        if v.noise == "none"
    }
    if args.image:
        images["wse2"] = np.asarray(load_image(REPO / args.image)[0], float)
    if args.transpose:
        images = with_transposes(images)
    counts = [int(c) for c in args.probe_lines.split(",")] if args.fly_axis == "probe" else [0]
    heads = [f"model P{c}" if args.fly_axis == "probe" else args.fly_axis for c in counts]
    print(f"{'image':20s} coarse  true k4  true k2  " + "  ".join(heads))
    for name, truth in images.items():
        truth_k4, truth_k2 = (np.nan, np.nan) if args.no_truth else true_ratios(truth, motion)
        cells = []
        for count in counts:
            axis, ratio, when = modelled_ratio(
                truth, motion, max(count, 1), args.fly_axis, json.loads(args.fly_params)
            )
            cells.append(
                f"{ratio:8.2f}" + (f" (at {when:.0%})" if args.fly_axis != "probe" else "")
            )
        if (
            axis == "columns" and args.fly_axis == "probe"
        ):  # the other axis is rows: invert the columns-over-rows truth
            truth_k4, truth_k2 = 1 / truth_k4, 1 / truth_k2
        print(f"{name:20s} {axis:7s} {truth_k4:7.2f}  {truth_k2:7.2f}  " + "  ".join(cells),
              flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where the beam time goes, to each target: an adaptive scan against the best static scan.

For each image, dwell and strategy, the adaptive scan is replayed
(:func:`bench_beamtime.adaptive_curve`) and cut at the first reading that
reaches each target (:func:`bench_beamtime.first_hit`); the best static scan
to the same target is the fastest of the fly rasters (every k-th row or column) and the
step rasters of :func:`bench_beamtime.static_references`. Both are split by
:func:`fastscan.beamtime.time_breakdown` into readings, stage moves and fixed
costs (settle, overheads, ramps), with the moves' seconds on each axis alone (rows: y,
columns: x; both move together and the slower decides) and the share of readings on
**flat** pixels (where the true image's Gaussian gradient, sigma 1, is below 5 % of its
99th percentile): readings there buy little.

Run from the repository root (validation images only)::

    python benchmarks/bench_time_split.py --images brick,cell --dwell 0.01 --strategy fast-fly
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_gradient_magnitude

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_beamtime import (
    adaptive_curve,
    first_hit,
    fly_raster_trajectory,
    static_references,
    use_fly_params,
)

from fastscan.beamtime import Trajectory, TrajectoryBuilder, time_breakdown
from fastscan.compare.imagesets import image_set
from fastscan.motion import NANOPROBE, axis_time
from fastscan.patterns import raster_points

FLAT = 0.05


def cut(traj: Trajectory, n: int) -> Trajectory:
    return Trajectory(traj.points[:n], traj.t_end[:n], traj.segment[:n], traj.flown[:n])


def best_static(truth, refs, target, dwell) -> tuple[str, Trajectory] | None:
    motion = NANOPROBE.replace(dwell=dwell)
    best = None
    for name, axis in (("fly-raster", "rows"), ("fly-raster-cols", "columns")):
        for e in refs[name]:
            if e["nrmse"] <= target + 1e-12 and (best is None or e["time"][dwell] < best[0]):
                best = (e["time"][dwell], f"fly every {e['k']} {axis[:-1]}", ("fly", e["k"], axis))
    for e in refs["raster"]:
        if e["nrmse"] <= target + 1e-12 and (best is None or e["time"][dwell] < best[0]):
            best = (e["time"][dwell], f"step {e['coverage']:.1%}", ("step", e["n"]))
    if best is None:
        return None
    kind, arg = best[2][:2]
    if kind == "fly":
        return best[1], fly_raster_trajectory(truth.shape, arg, motion, best[2][2])
    builder = TrajectoryBuilder(motion, shape=truth.shape)
    builder.add_points(raster_points(truth.shape, arg))
    return best[1], builder.trajectory()


def axis_moves(traj: Trajectory, motion) -> tuple[float, float]:
    """Seconds the moves between runs would take on each axis alone (rows: y, columns: x),
    from the scan's start at (0, 0): which axis sets the moves' time."""
    seg = traj.segment
    if not len(seg):
        return 0.0, 0.0
    first = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    last = np.r_[first[1:], len(seg)] - 1
    starts = traj.points[first].astype(float)
    ends = np.vstack([[0.0, 0.0], traj.points[last[:-1]].astype(float)])
    d = np.abs(starts - ends)
    (v_x, v_y), (a_x, a_y) = motion.velocity, motion.acceleration
    return float(axis_time(d[:, 0], v_y, a_y).sum()), float(axis_time(d[:, 1], v_x, a_x).sum())


def describe(name: str, traj: Trajectory, flat: np.ndarray, motion) -> str:
    parts = time_breakdown(traj, motion)
    along_y, along_x = axis_moves(traj, motion)
    on_flat = flat[tuple(traj.points.T)].mean() if traj.n_readings else math.nan
    flown = parts["flown_readings"] / max(traj.n_readings, 1)
    return (
        f"{name:<16}{traj.beam_time:8.0f} s = readings {parts['readings']:7.0f} + moves "
        f"{parts['moves']:6.0f} + fixed {parts['fixed']:6.0f}; {traj.n_readings:6d} readings "
        f"({flown:4.0%} flown, {on_flat:4.0%} on flat), {parts['runs']:.0f} moves "
        f"({parts['moves']:.1f} s; each axis alone: rows {along_y:.1f} s, columns {along_x:.1f} s)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", default="brick,cell", help="validation images (a,b,...)")
    p.add_argument("--set", default="validation", choices=("validation", "sparse"),
                   help="the set the images come from (never the test set)")  # fmt: skip
    p.add_argument("--dwell", type=float, default=0.01)
    p.add_argument("--strategy", default="fast-fly")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--max-coverage", type=float, default=0.5)
    p.add_argument("--fly-params", default="",
                   help="JSON FlySampler keywords for fast-fly (bench_beamtime's)")  # fmt: skip
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if args.fly_params:
        use_fly_params(json.loads(args.fly_params))
    motion = NANOPROBE.replace(dwell=args.dwell)
    images = image_set(args.set, args.size, names=tuple(args.images.split(",")))
    for label, test_image in images.items():
        truth = np.asarray(test_image.truth, float)
        grad = gaussian_gradient_magnitude(truth, 1.0)
        flat = grad < FLAT * np.percentile(grad, 99)
        refs = static_references(truth, (args.dwell,))
        by_k = {e["k"]: e["nrmse"] for e in refs["fly-raster"]}
        _, traj, _ = adaptive_curve(args.strategy, truth, motion, args.max_coverage, 50, 6)
        print(f"== {label} {truth.shape}, dwell {args.dwell * 1e3:g} ms, {args.strategy}; "
              f"{flat.mean():.0%} of the pixels flat")  # fmt: skip
        for k in (4, 2):
            target = by_k[k]
            hit = first_hit(truth, traj, target)
            static = best_static(truth, refs, target, args.dwell)
            print(f" target: fly every {k}th row, NRMSE {target:.4f}")
            if static is not None:
                print("  " + describe(f"static ({static[0]})", static[1], flat, motion))
            if hit is None:
                print("  " + describe(f"{args.strategy} (cap)", traj, flat, motion))
            else:
                print("  " + describe(args.strategy, cut(traj, hit), flat, motion))
    return 0


if __name__ == "__main__":
    sys.exit(main())

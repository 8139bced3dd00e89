"""Would flying the runs of adjacent step points pay? Same readings, same order, re-timed.

A ``fast`` step scan is replayed under the nanoprobe model at each dwell. Every
maximal run of consecutive readings one pixel apart along a row or a column, in
one direction, of at least ``m`` readings, is then timed as one fly segment
(move + settle + line overhead + ramps + one pixel time per reading) instead of
``m`` step points (move + settle + point overhead + dwell each); the other
readings stay step points. The readings, and so the quality, are unchanged: the
ratio of beam times is what flying the runs would save. Every re-timed
trajectory passes :func:`fastscan.beamtime.check_trajectory`.

Run from the repository root::

    python benchmarks/bench_step_runs.py --images brick,clock,flakes-100 --dwells 0.01,0.1
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from fastscan.beamtime import Trajectory, TrajectoryBuilder, check_trajectory
from fastscan.compare.imagesets import image_set
from fastscan.fly import Segment
from fastscan.motion import NANOPROBE, MotionModel
from fastscan.replay import SimulatedDetector, make_sampler, replay


def unit_runs(points: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) reading index of each maximal run of equal unit steps."""
    steps = np.diff(points, axis=0)
    unit = np.abs(steps).sum(axis=1) == 1
    out, i, n = [], 0, len(points)
    while i < n:
        j = i
        while j + 1 < n and unit[j] and (j == i or (steps[j] == steps[i]).all()):
            j += 1
        out.append((i, j))
        i = j + 1
    return out


def fly_runs(points: np.ndarray, motion: MotionModel, min_run: int) -> Trajectory:
    """The step readings, with every run of at least ``min_run`` flown as one segment."""
    builder = TrajectoryBuilder(motion)
    for first, last in unit_runs(points):
        if last - first + 1 >= min_run:
            builder.add_segment(Segment(tuple(points[first]), tuple(points[last])))
        else:
            builder.add_points(points[first : last + 1])
    return builder.trajectory()


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", default="brick,clock,flakes-100",
                   help="validation images (fastscan.compare.imagesets)")  # fmt: skip
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--dwells", default="0.01,0.1")
    p.add_argument("--coverage", type=float, default=0.3)
    p.add_argument("--min-runs", default="2,3,4")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    images = image_set("validation", args.size, names=tuple(args.images.split(",")))
    min_runs = [int(m) for m in args.min_runs.split(",")]
    for dwell in (float(d) for d in args.dwells.split(",")):
        motion = NANOPROBE.replace(dwell=dwell)
        for name, image in images.items():
            truth = np.asarray(image.truth, float)
            sampler = make_sampler("fast", truth.shape, max_coverage=args.coverage, motion=motion)
            builder = TrajectoryBuilder(motion, shape=truth.shape)
            replay(sampler, SimulatedDetector(truth), [args.coverage], trajectory=builder)
            points, base = builder.trajectory().points, builder.trajectory().beam_time
            lengths = np.array([b - a + 1 for a, b in unit_runs(points)])
            in_runs = lengths[lengths >= 2]
            line = (f"{name:<20} {dwell * 1e3:g} ms: {len(points)} readings, "
                    f"{in_runs.sum() / len(points):.1%} in runs (mean length "
                    f"{in_runs.mean() if len(in_runs) else 0:.1f}); time / step time:")  # fmt: skip
            for m in min_runs:
                hybrid = fly_runs(points, motion, m)
                if check_trajectory(hybrid, motion):
                    raise AssertionError(f"{name}: the re-timed trajectory is not honest")
                line += f" runs>={m} {hybrid.beam_time / base:.3f}"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

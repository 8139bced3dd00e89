"""fast-fly's beam time to a fly raster's NRMSE, as a fraction of the raster's time (one scan each).

For each image and dwell: the targets are the NRMSE (best of IDW and linear, as in
``bench_beamtime.py``) of a fly raster of every 4th and of every 2nd row, and the figure is
(time fast-fly needs) / (time that raster needs), nanoprobe model. fast-fly runs once to 1.05x
the every-2nd-row raster's time; the time to each target is found by bisection over the ends of
its segments (``bench_beamtime.first_hit``), so a run costs one replay and ~2 log2(segments)
scores. Cheaper than ``bench_beamtime.py`` on big images (no step raster, no ladder); where the
fly raster is the best static scan the ratio is the one that benchmark reports.

Usage (from the repository root)::

    python benchmarks/bench_fly_targets.py --images wse2 --dwells 0.001,0.01,0.1,1
    python benchmarks/bench_fly_targets.py --images brick,gravel,page,clock,cell --size 128 \\
        --dwells 0.01 --params '{"refine": "free", "line_bias": 0}'   # the previous planner
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import numpy as np
from bench_beamtime import (
    DEFAULT_IMAGE,
    best_nrmse,
    first_hit,
    fly_raster_trajectory,
    load_images,
    mask_of,
)

from fastscan.beamtime import check_trajectory
from fastscan.fly import FlySampler
from fastscan.motion import NANOPROBE


def run(truth: np.ndarray, dwell: float, params: dict) -> tuple[float, float, str]:
    motion = NANOPROBE.replace(dwell=dwell)
    ref = {}
    for k in (4, 2):
        raster = fly_raster_trajectory(truth.shape, k, motion)
        ref[k] = (best_nrmse(truth, mask_of(truth.shape, raster.points)), raster.beam_time)
    fs = FlySampler(truth.shape, motion=motion, max_coverage=0.55,
                    time_budget=ref[2][1] * 1.05, **params)  # fmt: skip
    n_segments = 0
    while not fs.should_stop():
        segments = fs.suggest_segments()
        if not segments:
            break
        for segment in segments:
            pts = segment.pixels()
            fs.ingest(pts, truth[pts[:, 0], pts[:, 1]])
        n_segments += len(segments)
    traj = fs.trajectory
    if check_trajectory(traj, motion):
        raise RuntimeError("fast-fly wrote a trajectory the time model does not allow")
    ratios = []
    for k in (4, 2):
        n = first_hit(truth, traj, ref[k][0])
        ratios.append(math.inf if n is None else float(traj.t_end[n - 1]) / ref[k][1])
    lengths = np.bincount(traj.segment)
    note = (
        f"{n_segments} segments, mean {lengths[lengths > 0].mean():.0f} px, cov {fs.coverage:.2f}"
    )
    return ratios[0], ratios[1], note


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", default="wse2", help="wse2 and/or scikit-image names")
    p.add_argument("--image", default=DEFAULT_IMAGE, help="WSe2 path")
    p.add_argument("--size", type=int, default=256,
                   help="long side of scikit-image images (scaled to [0, 100])")  # fmt: skip
    p.add_argument("--dwells", default="0.001,0.01,0.1,1")
    p.add_argument("--params", default="{}", help="FlySampler keywords, JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    params = json.loads(args.params)
    names = args.images.split(",")
    images = load_images(args.image if "wse2" in names else None,
                         tuple(n for n in names if n != "wse2"), args.size,
                         scale=True)  # fmt: skip
    for dwell in (float(d) for d in args.dwells.split(",")):
        for label, truth in images.items():
            t4, t2, note = run(np.asarray(truth, float), dwell, params)
            print(f"{label:22s} {dwell * 1e3:6g} ms  every 4th {t4:5.2f}  every 2nd {t2:5.2f}"
                  f"  ({note})", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The fly plan's waits after each decision's last segment, streamed against inline ingest.

Runs ``autonomous_fly_scan`` with the in-process :class:`fastscan.sim.flyer.SimFlyer`
(flights take ``--time-scale`` real seconds per modelled second) and a
:class:`fastscan.fly.FlySampler` on WSe2 600 x 400 (or an N x N flakes phantom), once
with ``stream=True`` and once with ``stream=False`` (``--stream``), and prints per run
the plan's :class:`fastscan.plans.fly.DecisionReport` figures: how long the stage stood
after a decision's last segment, for the coarse raster, the first decision after it
(the sampler's activation) and the later decisions, and how much of it was ingest.
Both runs fly the same segments (checked).

Run from the repository root::

    python benchmarks/bench_fly_plan.py                      # WSe2, dwell 10 ms, to 20 %
    python benchmarks/bench_fly_plan.py --size 2048 --coverage 0.14 --time-scale 0.01
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from bench_fly import image_from_args
from bluesky import RunEngine

from fastscan.fly import FlySampler
from fastscan.motion import NANOPROBE
from fastscan.plans import Grid, autonomous_fly_scan
from fastscan.sim.flyer import SimFlyer

DEFAULT_DATA = Path("..") / "shared" / "data"  # relative to the repository root


def print_waits(summary, sampler, *, stream: bool) -> None:
    """How long the stage stood after each decision's last segment (ms)."""
    coarse = {(s.start, s.end) for s in getattr(sampler, "_initial_lines", [])}
    first_segments = np.cumsum([0] + [d.n_segments for d in summary.decisions])[:-1]
    is_coarse = np.array(
        [
            (tuple(summary.segments[i].start), tuple(summary.segments[i].end)) in coarse
            for i in first_segments
            if i < len(summary.segments)
        ]
    )
    waits = np.array([d.wait_s for d in summary.decisions])[: len(is_coarse)] * 1e3
    ingest = np.array([d.ingest_wait_s for d in summary.decisions])[: len(is_coarse)] * 1e3
    print(f"  waits after a decision's last segment, ms ({'streamed' if stream else 'inline'} "
          f"ingest); total {waits.sum() / 1e3:.2f} s over {len(waits)} decisions")  # fmt: skip

    def show(label: str, sel: np.ndarray) -> None:
        if sel.any():
            w, g = waits[sel], ingest[sel]
            print(f"    {label}: {sel.sum()} decisions, wait median {np.median(w):.1f} "
                  f"p95 {np.percentile(w, 95):.1f} max {w.max():.1f}; of it ingest median "
                  f"{np.median(g):.1f} max {g.max():.1f}")  # fmt: skip

    show("coarse raster", is_coarse)
    after = np.flatnonzero(~is_coarse)
    if len(after):
        show("first decision after the raster", np.arange(len(waits)) == after[0])
        show("later decisions", np.isin(np.arange(len(waits)), after[1:]))


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=str(DEFAULT_DATA / "wse2_darkfield_600x400.tif"))
    parser.add_argument("--size", type=int, default=0, help="use an N x N flakes phantom")
    parser.add_argument("--dwell", type=float, default=0.01)
    parser.add_argument("--coverage", type=float, default=0.2, help="FlySampler max_coverage")
    parser.add_argument("--time-scale", type=float, default=0.05, help="real s per modelled s")
    parser.add_argument("--stream", choices=["both", "on", "off"], default="both")
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    image, source = image_from_args(args)
    rows, cols = image.shape
    grid = Grid(0.0, cols - 1.0, cols, 0.0, rows - 1.0, rows)
    motion = NANOPROBE.replace(dwell=args.dwell)
    print(f"{source}: {image.shape}, dwell {args.dwell} s, to {args.coverage:.0%}, "
          f"time scale {args.time_scale}, load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    flown = {}
    for stream in {"both": (True, False), "on": (True,), "off": (False,)}[args.stream]:
        sampler = FlySampler(image.shape, motion=motion, max_coverage=args.coverage)
        flyer = SimFlyer("flyer", image, grid, velocity_limit=motion.velocity,
                         acceleration=motion.acceleration, time_scale=args.time_scale)  # fmt: skip
        RE = RunEngine(call_returns_result=True)
        start = time.perf_counter()
        summary = RE(
            autonomous_fly_scan(flyer, sampler, grid=grid, motion=motion, stream=stream)
        ).plan_result
        wall = time.perf_counter() - start
        flown[stream] = [(r.start, r.end) for r in summary.segments]
        print(f"stream={stream}: {summary.n_segments} segments, {summary.n_samples} samples, "
              f"coverage {summary.coverage:.1%}, wall {wall:.1f} s, flights "
              f"{summary.actual_s:.1f} s")  # fmt: skip
        print_waits(summary, sampler, stream=stream)
    if len(flown) == 2:
        print(f"same segments streamed and inline: {flown[True] == flown[False]}")


if __name__ == "__main__":
    main()

"""Decision latency of the adaptive fly planner (``fast-fly``): choose + order, per decision.

Runs a :class:`fastscan.fly.FlySampler` against a simulated detector and times
every ``suggest_segments()`` call after the coarse raster ("decide") and the
ingest of the segments it chose (the composed sampler's local update). Reports
median and p95 per coverage band of the wall time and of the CPU time
(``time.process_time``: both threads' when a large update runs in two halves,
:mod:`fastscan._threads`; a machine shared with other jobs inflates it less),
and of decide + ingest: the whole cycle of one decision. A second table gives
the same per segment: each segment's ingest, and a decision's time divided by
its number of segments.

``--rebuild-levels`` recomputes the coarse-to-fine level weights over the whole
grid every decision (as before :class:`fastscan.fly.level_map.LevelMap`), for a
before/after under the same load; the scan is the same bit for bit.
``--per-point-merge`` turns off the row path of the affected-pixel merge
(:mod:`fastscan._row_merge`), so every new point searches its reach on its own
(the way before it); the scan is again the same bit for bit.

Usage (from the repository root)::

    python benchmarks/bench_fly.py                       # WSe2 600 x 400, dwell 10 ms
    python benchmarks/bench_fly.py --size 2048 --decisions 40
    python benchmarks/bench_fly.py --dwell 1.0 --max-coverage 0.3
    python benchmarks/bench_fly.py --size 2048 --decisions 40 --rebuild-levels
    python benchmarks/bench_fly.py --size 2048 --decisions 40 --per-point-merge
    python benchmarks/bench_fly.py --dwell 0.001 --sweep 0   # 1 ms without the sweep
    python benchmarks/bench_fly.py --first --repeat 3 --ahead  # first decision: fresh, warm
    python benchmarks/bench_fly.py --decisions 80 --ahead    # as the streamed plan asks
    python benchmarks/bench_fly.py --first --ahead --threads on  # split even when busy

Besides the tables above it reports the first decision after the coarse raster (the
ingest that activated the composed sampler, the raster's last ingest, the first decide;
``--first`` only that, ``--repeat`` times in one process: the first run is a fresh
process's), any full update by rescale after it, and per decision the latency after the
last reading: the decision's last segment's ingest + the next decide, which is what a plan
that ingests each segment while the next one flies (``autonomous_fly_scan(stream=True)``)
waits for. ``--ahead`` asks for the coarse raster at once, as that plan does (same scan).
``--threads``: ``auto`` is the library's behaviour (large updates in two halves on two
threads only while a second core is free, :mod:`fastscan._threads`), ``on`` splits them
even on a busy machine, ``off`` never (the same scan either way).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from fastscan import _row_merge, _threads
from fastscan.fly import FlySampler
from fastscan.imageio import load_image
from fastscan.motion import NANOPROBE
from fastscan.phantoms import make_phantom

DEFAULT_DATA = Path("..") / "shared" / "data"  # relative to the repository root


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=str(DEFAULT_DATA / "wse2_darkfield_600x400.tif"))
    parser.add_argument("--size", type=int, default=0, help="use an N x N flakes phantom")
    parser.add_argument("--dwell", type=float, default=0.01)
    parser.add_argument("--max-coverage", type=float, default=0.4)
    parser.add_argument("--decisions", type=int, default=400, help="stop after this many")
    parser.add_argument(
        "--rebuild-levels",
        action="store_true",
        help="recompute the level weights over the whole grid every decision (the old way)",
    )
    parser.add_argument(
        "--per-point-merge",
        action="store_true",
        help="merge new points into the neighbour lists one by one (no row path; the old way)",
    )
    parser.add_argument(
        "--sweep", type=int, default=None, help="FlySampler sweep (default: chosen by the dwell)"
    )
    parser.add_argument(
        "--fly-axis", default="auto", help="FlySampler fly_axis (auto, rows, columns, probe)"
    )
    parser.add_argument(
        "--first",
        action="store_true",
        help="only the first decision after the coarse raster (activation), --repeat times",
    )
    parser.add_argument("--repeat", type=int, default=3, help="--first: runs (1st: fresh)")
    parser.add_argument(
        "--fly-params", default="", help='more FlySampler keywords, JSON, e.g. {"flat_lines": 0.01}'
    )
    parser.add_argument(
        "--threads", choices=("auto", "on", "off"), default="auto", help="two-thread updates"
    )
    parser.add_argument(
        "--ahead",
        action="store_true",
        help="the coarse raster at once (suggest_segments(ahead=True), as the streamed plan)",
    )
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    if args.threads != "auto":  # a second core always (on) or never (off) free
        _threads.MAX_LOAD_PER_CORE = float("inf") if args.threads == "on" else -1.0
    if args.per_point_merge:
        _row_merge.MIN_POINTS_PER_ROW = 2**62
    image, source = image_from_args(args)
    motion = NANOPROBE.replace(dwell=args.dwell)
    fs = FlySampler(
        image.shape,
        motion=motion,
        max_coverage=args.max_coverage,
        sweep=args.sweep,
        fly_axis=args.fly_axis,
        **(json.loads(args.fly_params) if args.fly_params else {}),
    )
    fs._incremental_levels = not args.rebuild_levels
    if args.first:
        first_decisions(args, image, source)
        return
    # per decision after the coarse raster: coverage, decide wall, ingest wall, n segments,
    # decide cpu, ingest cpu, after-last wall, after-last cpu (the previous decision's last
    # segment's ingest + this decide: what a plan that ingests while it flies waits for)
    rows: list[tuple[float, ...]] = []
    per_segment: list[tuple[float, float, float]] = []  # coverage, ingest wall, ingest cpu
    first = FirstDecision()
    rescales: list[tuple[float, float, float]] = []  # full updates after the activation
    last = (math.nan, math.nan)  # the last segment's ingest, wall and cpu
    t0 = time.perf_counter()
    while not fs.should_stop() and len(rows) < args.decisions:
        after_raster = raster_done(fs)
        segments, decide, decide_cpu = timed(partial(fs.suggest_segments, ahead=args.ahead))
        if not segments:
            break
        previous = last  # the previous decision's last segment's ingest
        if after_raster and first.decide is None:
            first.decide, first.last_ingest = (decide, decide_cpu), previous
            first.tail_beam_s = fs.beam_time - first.tail_beam_s
        start, cpu = time.perf_counter(), time.process_time()
        for segment in segments:
            pts = segment.pixels()
            was = (fs._sampler._active, fs._sampler._ref_range)
            _, *last = timed(fs.ingest, pts, image[pts[:, 0], pts[:, 1]])
            if after_raster:
                per_segment.append((fs.coverage, *last))
            if fs._sampler._active and not was[0]:
                first.activation, first.coverage = tuple(last), fs.coverage
                first.tail_beam_s = fs.beam_time
            elif was[0] and fs._sampler._ref_range is not was[1]:  # a rescale
                rescales.append((fs.coverage, *last))
        ingest, ingest_cpu = time.perf_counter() - start, time.process_time() - cpu
        if after_raster:
            after = (math.nan, math.nan)
            if len(rows):  # the first decision's wait is printed on its own (activation)
                after = (previous[0] + decide, previous[1] + decide_cpu)
            rows.append(
                (fs.coverage, decide, ingest, len(segments), decide_cpu, ingest_cpu, *after)
            )
    wall = time.perf_counter() - t0
    print(
        f"{source}: {image.shape}, dwell {args.dwell} s, sweep {fs.sweep}, {len(rows)} decisions, "
        f"wall {wall:.1f} s"
    )
    print(f"stop: {fs.stop_reason}; beam time {fs.beam_time:.1f} s; coverage {fs.coverage:.1%}")
    print_first(first)
    for coverage, one, one_cpu in rescales:
        print(
            f"full update (rescale) in an ingest at coverage {coverage:.2%}: "
            f"{one * 1e3:.1f} wall {one_cpu * 1e3:.1f} cpu ms"
        )
    if not rows:
        return
    data = np.array(rows)
    edges = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0]
    print("median / p95 in ms; wall = what a user waits, cpu = the process's CPU time")
    print(
        "coverage band  decisions  decide wall    decide cpu     ingest wall    "
        "ingest cpu     decide+ingest cpu  segments/dec"
    )

    def cell(values: np.ndarray) -> str:
        return f"{np.median(values):6.1f} {np.percentile(values, 95):6.1f}"

    def line(label: str, sel: np.ndarray) -> str:
        d, g, dc, gc = (data[sel, i] * 1e3 for i in (1, 2, 4, 5))
        return (
            f"{label:13s}  {sel.sum():9d}  {cell(d)}  {cell(dc)}  {cell(g)}  {cell(gc)}"
            f"  {cell(dc + gc)}      {data[sel, 3].mean():11.1f}"
        )

    for lo, hi in itertools.pairwise(edges):
        sel = (data[:, 0] > lo) & (data[:, 0] <= hi)
        if sel.any():
            print(line(f"{lo:4.0%} - {hi:4.0%}", sel))
    print(line("all", np.ones(len(data), bool)))
    # per segment: each segment's ingest; a decision's share (decide / its segments)
    seg = np.array(per_segment)
    n_seg = data[:, 3]
    print("per segment, median / p95 in ms")
    print(
        "coverage band  segments  ingest wall    ingest cpu     decide/seg cpu "
        "(decide+ingest)/seg cpu"
    )
    for label, lo, hi in [*((f"{a:4.0%} - {b:4.0%}", a, b) for a, b in itertools.pairwise(edges)),
                          ("all", -1.0, 1.0)]:  # fmt: skip
        s_sel = (seg[:, 0] > lo) & (seg[:, 0] <= hi)
        d_sel = (data[:, 0] > lo) & (data[:, 0] <= hi)
        if not s_sel.any() or not d_sel.any():
            continue
        share = data[d_sel, 4] * 1e3 / n_seg[d_sel]
        cycle = (data[d_sel, 4] + data[d_sel, 5]) * 1e3 / n_seg[d_sel]
        print(
            f"{label:13s}  {s_sel.sum():8d}  {cell(seg[s_sel, 1] * 1e3)}  "
            f"{cell(seg[s_sel, 2] * 1e3)}  {cell(share)}  {cell(cycle)}"
        )

    # what a plan that ingests each segment while the next one flies waits for
    print("after the last reading: the decision's last segment's ingest + the next decide, ms")
    print("coverage band  decisions  wall median/p95  cpu median/p95   wall max  cpu max")
    for label, lo, hi in [*((f"{a:4.0%} - {b:4.0%}", a, b) for a, b in itertools.pairwise(edges)),
                          ("all", -1.0, 1.0)]:  # fmt: skip
        sel = (data[:, 0] > lo) & (data[:, 0] <= hi) & np.isfinite(data[:, 6])
        if sel.any():
            print(
                f"{label:13s}  {sel.sum():9d}  {cell(data[sel, 6] * 1e3)}  "
                f"{cell(data[sel, 7] * 1e3)}  {data[sel, 6].max() * 1e3:9.1f}  "
                f"{data[sel, 7].max() * 1e3:7.1f}"
            )


def image_from_args(args: argparse.Namespace) -> tuple[np.ndarray, str]:
    """The ``--size`` flakes phantom, else the ``--image`` file, as float, and its name."""
    if args.size:
        image = make_phantom("flakes", (args.size, args.size), seed=2)
        return np.asarray(image, float), f"flakes phantom {args.size} x {args.size}"
    image, _ = load_image(args.image)
    return np.asarray(image, float), args.image


def timed(fn, *args):
    """``fn(*args)``, its wall seconds and its process CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def raster_done(fs: FlySampler) -> bool:
    """True once every pixel of the coarse raster (the composed sampler's start) is measured."""
    return fs._sampler.initial_complete


@dataclass
class FirstDecision:
    """The first decision after the coarse raster; each value (wall s, cpu s)."""

    activation: tuple[float, float] | None = None  # the ingest that ran the full update
    coverage: float = math.nan  # after that ingest
    last_ingest: tuple[float, float] | None = None  # the coarse raster's last segment
    decide: tuple[float, float] | None = None  # the first suggest_segments after it
    tail_beam_s: float = math.nan  # beam time of the raster's lines after the activation


def print_first(first: FirstDecision) -> None:
    if first.activation is None or first.decide is None or first.last_ingest is None:
        print("first decision: not reached")
        return

    def ms(pair: tuple[float, float]) -> str:
        return f"{pair[0] * 1e3:7.1f} wall {pair[1] * 1e3:7.1f} cpu"

    total = (first.last_ingest[0] + first.decide[0], first.last_ingest[1] + first.decide[1])
    print(f"first decision, ms: activation ingest (coverage {first.coverage:.2%}) "
          f"{ms(first.activation)}")  # fmt: skip
    print(f"  the raster's last ingest {ms(first.last_ingest)}; first decide {ms(first.decide)}")
    print(f"  after the last reading (last ingest + first decide) {ms(total)}")
    print(
        f"  beam time of the raster's lines after the activation ingest (they fly while it "
        f"runs in a streamed plan): {first.tail_beam_s * 1e3:.1f} ms"
    )


def first_decisions(args: argparse.Namespace, image: np.ndarray, source: str) -> None:
    """Scan to the first decision after the coarse raster, ``--repeat`` times in this process.

    The first run is a fresh process's (Numba caches load, the model warms up);
    the others are warm.
    """
    print(f"{source}: {image.shape}, dwell {args.dwell} s; first decisions, threads "
          f"{args.threads}, load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    for run in range(args.repeat):
        fs = FlySampler(
            image.shape,
            motion=NANOPROBE.replace(dwell=args.dwell),
            max_coverage=args.max_coverage,
            sweep=args.sweep,
            fly_axis=args.fly_axis,
            **(json.loads(args.fly_params) if args.fly_params else {}),
        )
        first = FirstDecision()
        last = (math.nan, math.nan)
        while first.decide is None and not fs.should_stop():
            after_raster = raster_done(fs)
            segments, *decide = timed(partial(fs.suggest_segments, ahead=args.ahead))
            if after_raster:
                first.decide, first.last_ingest = tuple(decide), last
                first.tail_beam_s = fs.beam_time - first.tail_beam_s
                break
            for segment in segments:
                pts = segment.pixels()
                was_active = fs._sampler._active
                _, *last = timed(fs.ingest, pts, image[pts[:, 0], pts[:, 1]])
                if fs._sampler._active and not was_active:
                    first.activation, first.coverage = tuple(last), fs.coverage
                    first.tail_beam_s = fs.beam_time
        print(f"run {run + 1} ({'fresh process' if run == 0 else 'warm'}):")
        print_first(first)


if __name__ == "__main__":
    main()

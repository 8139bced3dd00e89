"""Which lines fast-fly flies at short dwells, against a truth-driven oracle's, and how well
its planner ranks the late candidate lines.

Two reports (validation and sparse images only, never the test set):

- default: fast-fly is replayed (``bench_beamtime.adaptive_curve``) and cut where it first
  reaches each target (the NRMSE of the every-4th and every-2nd row fly rasters,
  ``bench_beamtime.first_hit``); its lines to each target are counted by bisection level
  (the coarse raster, every 8th line from line 2; level 1, lines 6 mod 8; level 2, the
  other even lines; odd lines), next to the lines ``bench_fly_partial.greedy_rows`` adds
  to the same coarse raster (whole rows anywhere, chosen by the true linear-fill error).
  Row-axis images only for the oracle (a column image shows "-").
- ``--capture C1,C2,...``: at the first decision past each coverage, the true gain of each
  candidate row (the midpoint rows of the gaps: how much its readings would lower the
  linear-fill error along the columns, ``bench_fly_partial._column_gains``) and the share
  of the best 8 candidates' summed gain that the 8 best by the planner's weights get, and
  the 8 best by the ERD times the jump across the gap
  (:func:`fastscan.fly.jump.jump_map`).

Run from the repository root::

    python benchmarks/bench_fly_lines.py --set sparse --images coffee-disk,hubble-disk
    python benchmarks/bench_fly_lines.py --set validation --images flakes-100,page \\
        --capture 0.28,0.33,0.38,0.43
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_beamtime import (
    adaptive_curve,
    add_cache_option,
    cached_static_references,
    first_hit,
    use_fly_params,
)
from bench_fly_partial import _column_gains, coarse_mask, greedy_rows

from fastscan.compare.imagesets import image_set
from fastscan.fly import FlySampler
from fastscan.fly.jump import jump_map
from fastscan.fly.levels import midpoint_gaps
from fastscan.motion import NANOPROBE

TOP = 8  # candidates compared in --capture


def level(line: int) -> int:
    """0: coarse (2 mod 8), 1: 6 mod 8, 2: the other even lines, 3: odd lines."""
    m = (line - 2) % 8
    return 0 if m == 0 else 1 if m == 4 else 2 if m % 2 == 0 else 3


def lines_report(name: str, truth: np.ndarray, dwell: float, cache: str) -> None:
    motion = NANOPROBE.replace(dwell=dwell)
    refs = cached_static_references(name, truth, (dwell,), cache)
    by_k = {e["k"]: e["nrmse"] for e in refs["fly-raster"]}
    _, traj, _ = adaptive_curve("fast-fly", truth, motion, 0.5, 50, 6)
    seg = traj.segment
    starts = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    ends = np.r_[starts[1:], len(seg)]
    flown = []  # (line, is_row, readings after it)
    for s, e in zip(starts, ends):
        p = traj.points[s:e]
        row = bool((p[:, 0] == p[0, 0]).all())
        flown.append((int(p[0, 0] if row else p[0, 1]), row, int(e)))
    rows_axis = flown[0][1]
    for label, k in (("every 4th", 4), ("every 2nd", 2)):
        hit = first_hit(truth, traj, by_k[k])
        if hit is None:
            print(f"{name:<22} {label}: fast-fly not reached within 50 %")
            continue
        used = [line for line, _, n in flown if n <= hit]
        ff = np.bincount([level(x) for x in used], minlength=4).tolist()
        oracle = "-"
        if rows_axis:
            coarse = coarse_mask(truth.shape, dwell)
            measured = coarse.copy()
            goal = (by_k[k] * np.linalg.norm(truth)) ** 2
            added = greedy_rows(truth, measured, goal)
            n_coarse = int(coarse.all(axis=1).sum())
            extra = np.bincount([level(r) for r in added], minlength=4).tolist()
            oracle = f"{n_coarse} / {extra[1]} / {extra[2]} / {extra[3]} = {n_coarse + len(added)}"
        print(f"{name:<22} {label}: fast-fly {' / '.join(map(str, ff))} = {len(used)}, "
              f"{float(traj.t_end[hit - 1]):.1f} s; oracle {oracle}")  # fmt: skip


def capture_report(
    name: str, truth: np.ndarray, dwell: float, coverages: list[float], params: dict
) -> None:
    motion = NANOPROBE.replace(dwell=dwell)
    fs = FlySampler(truth.shape, motion=motion, max_coverage=0.5, seed=0, **params)
    for stop in coverages:
        while not fs.should_stop():
            segments = fs.suggest_segments()
            if not segments:
                break
            pixels = np.concatenate([s.pixels() for s in segments])
            fs.ingest(pixels, truth[pixels[:, 0], pixels[:, 1]])
            if fs._sampler.initial_complete and fs.coverage >= stop:
                break
        if fs.should_stop() or fs._line_axis != "rows":
            print(f"{name:<22} (stopped, or a column image: no more decisions)")
            return
        fs.suggest_segments()  # a decision: the planner takes its weights
        weights = fs._planner._weights
        fs._pending = []  # (diagnostic: the decision is dropped, the next one is made anew)
        sampler = fs._sampler
        mask = sampler._mask
        values = np.moveaxis(sampler._values, 0, -1)
        gain = np.zeros(truth.shape)
        _column_gains(truth, mask, gain)
        gaps = midpoint_gaps(mask, "rows", fs._origin) > 0
        cand = [r for r in range(truth.shape[0]) if not mask[r].all()
                and gaps[r].sum() > truth.shape[1] // 4]  # fmt: skip
        span = np.asarray(sampler._ref_range, float).reshape(-1)
        jump = jump_map(values, mask, reach=fs.initial_spacing, span=span)
        erd = np.clip(sampler._erd, 0.0, None)
        true = np.array([gain[r].sum() for r in cand])
        by = {
            "planner": np.array([weights[r].sum() for r in cand]),
            "erd x jump": np.array([(erd[r] * jump[r])[gaps[r]].sum() for r in cand]),
        }
        best = np.sort(true)[::-1][:TOP].sum()
        shares = {k: true[np.argsort(-v)[:TOP]].sum() / best for k, v in by.items()}
        print(f"{name:<22} coverage {fs.coverage:.2f}, {len(cand)} candidates: "
              + ", ".join(f"{k} {v:.2f}" for k, v in shares.items()))  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--set", default="sparse", choices=("validation", "sparse"))
    p.add_argument("--images", required=True, help="image names (a,b,...)")
    p.add_argument("--dwell", type=float, default=0.001)
    add_cache_option(p)
    p.add_argument("--fly-params", default="", help="FlySampler keywords for fast-fly, JSON")
    p.add_argument("--capture", default="", help="coverages (a,b,...): the ranking report")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    params = json.loads(args.fly_params) if args.fly_params else {}
    if params:
        use_fly_params(params)
    names = tuple(args.images.split(","))
    for name, image in image_set(args.set, 256, names=names).items():
        truth = np.asarray(image.truth, float)
        if args.capture:
            coverages = [float(c) for c in args.capture.split(",")]
            capture_report(name, truth, args.dwell, coverages, params)
        else:
            lines_report(name, truth, args.dwell, args.cache)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

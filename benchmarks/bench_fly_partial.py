"""Can any choice of fly segments beat the best static scan? A greedy oracle with partial lines.

A bound for short dwells (1 ms), where every segment costs about as much as a
whole line's readings (settle + line overhead + two ramps: 0.26 s on the
nanoprobe model against 0.256 s for 256 readings). The oracle sees the image.
It starts, like fast-fly, from the coarse fly raster (every
``default_initial_spacing``-th line of ``coarse_line_axis`` from line
``COARSE_ORIGIN``, serpentine), then adds lines until the target holds, flown in
one sweep: ``rows`` (whole lines, then lines dropped again while the target
holds) and ``trimmed`` (``rows``, then the flat end runs of each added line left
out). ``--sequential`` adds a third, myopic oracle that adds one segment at a
time: of all intervals ``[c0, c1]`` of all lines (any start and end), the one
with the largest error reduction per second, where the seconds are what
:mod:`fastscan.beamtime` charges from where the stage is (move + settle + line
overhead + ramps + one pixel time per reading), flown from its end nearer the
stage.

The error the greedy lowers is the squared error of linear interpolation along
each column between that column's nearest measured pixels (nearest fill at the
edges): what line segments leave to reconstruct, computed exactly and fast. The
resulting trajectory is then scored as the beam-time benchmark scores every
scan (:func:`bench_beamtime.best_nrmse`, best of IDW and Delaunay-linear, via
:func:`bench_beamtime.first_hit`), and its time to each target (the NRMSE of a
fly raster of every 4th / every 2nd line) is compared with the best static scan
(:func:`bench_beamtime.cached_static_references`: step raster, fly rasters of
rows and of columns). A ratio above 1 says that this oracle, which knows the
image, does not beat the static scan; it is a greedy bound, not a proof, but a
strategy that does not see the image is unlikely to do better.

Run from the repository root (validation and sparse images only, never the test set)::

    python benchmarks/bench_fly_partial.py --set sparse --images blobs-100,blobs-101
    python benchmarks/bench_fly_partial.py --set validation --images clock --sequential
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_beamtime import add_cache_option, cached_static_references, first_hit, time_to

from fastscan.beamtime import TrajectoryBuilder, fly_timing
from fastscan.compare.imagesets import image_set
from fastscan.fly import Segment
from fastscan.fly.sampler import (
    COARSE_ORIGIN,
    coarse_line_axis,
    default_initial_spacing,
)
from fastscan.motion import NANOPROBE, MotionModel

STATIC = ("raster", "fly-raster", "fly-raster-cols")


# ---------------------------------------------------------------------------- kernels
@njit(cache=True)
def _run_error(col: np.ndarray, a: int, b: int) -> float:
    """Squared error of filling rows a+1..b-1 of ``col`` from measured rows a and b.

    a = -1 or b = len(col): an edge run, filled with the nearest measured row.
    """
    n = col.shape[0]
    total = 0.0
    if a < 0:
        for i in range(b):
            total += (col[i] - col[b]) ** 2
        return total
    if b >= n:
        for i in range(a + 1, n):
            total += (col[i] - col[a]) ** 2
        return total
    span = b - a
    for i in range(a + 1, b):
        fill = col[a] + (col[b] - col[a]) * (i - a) / span
        total += (col[i] - fill) ** 2
    return total


@njit(cache=True)
def _column_gains(truth: np.ndarray, measured: np.ndarray, gain: np.ndarray) -> float:
    """Fill ``gain[r, c]``: error drop from also measuring (r, c); returns the total error.

    Every column must hold at least one measured pixel.
    """
    n_rows, n_cols = truth.shape
    total = 0.0
    for c in range(n_cols):
        col = truth[:, c]
        a = -1
        for b in range(n_rows + 1):
            if b < n_rows and not measured[b, c]:
                continue
            if a == -1 and b == n_rows:
                break  # no measured pixel (not reached from a coarse raster)
            base = _run_error(col, a, b)
            total += base
            for r in range(a + 1, b):
                gain[r, c] = base - _run_error(col, a, r) - _run_error(col, r, b)
            if b < n_rows:
                gain[b, c] = 0.0
            a = b
    return total


@njit(cache=True)
def _best_interval(
    gain: np.ndarray, move: np.ndarray, fixed: float, pixel_time: float, whole: bool
) -> tuple[int, int, int, float]:
    """(row, c0, c1, rate) of the interval with the largest gain per second.

    Cost of ``[c0, c1]`` on row r: ``fixed + min(move[r, c0], move[r, c1]) +
    (c1 - c0 + 1) * pixel_time``. ``whole``: only ``[0, n_cols - 1]``.
    """
    n_rows, n_cols = gain.shape
    best = (-1, -1, -1, 0.0)
    prefix = np.zeros(n_cols + 1)
    for r in range(n_rows):
        for c in range(n_cols):
            prefix[c + 1] = prefix[c] + gain[r, c]
        if prefix[n_cols] <= 0.0 and whole:
            continue
        for c0 in range(n_cols):
            if whole and c0 > 0:
                break
            if not whole and gain[r, c0] <= 0.0:
                continue  # an interval starting on a useless pixel is beaten by a shorter one
            for c1 in range(n_cols - 1 if whole else c0, n_cols):
                if not whole and gain[r, c1] <= 0.0:
                    continue
                value = prefix[c1 + 1] - prefix[c0]
                if value <= 0.0:
                    continue
                cost = fixed + min(move[r, c0], move[r, c1]) + (c1 - c0 + 1) * pixel_time
                rate = value / cost
                if rate > best[3]:
                    best = (r, c0, c1, rate)
    return best


@njit(cache=True)
def _removal_losses(truth: np.ndarray, measured: np.ndarray, c: int, loss: np.ndarray) -> None:
    """Fill ``loss[r, c]`` for the measured pixels of column ``c``: error rise if unmeasured.

    A column's only measured pixel gets ``inf``.
    """
    n_rows = truth.shape[0]
    col = truth[:, c]
    prev = -1
    r = -1
    for b in range(n_rows + 1):
        if b < n_rows and not measured[b, c]:
            continue
        if r >= 0:
            if prev == -1 and b == n_rows:
                loss[r, c] = np.inf
            else:
                loss[r, c] = (_run_error(col, prev, b) - _run_error(col, prev, r)
                              - _run_error(col, r, b))  # fmt: skip
        prev, r = r, b
    # (the loop above ends with r = n_rows: nothing left to fill)


def column_gains_reference(truth: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """NumPy reference of :func:`_column_gains`: error before minus after, pixel by pixel."""

    def error(mask: np.ndarray) -> float:
        total = 0.0
        for c in range(truth.shape[1]):
            rows = np.flatnonzero(mask[:, c])
            filled = np.interp(np.arange(truth.shape[0]), rows, truth[rows, c])
            total += float(((truth[:, c] - filled) ** 2).sum())
        return total

    base = error(measured)
    gain = np.zeros(truth.shape)
    for r, c in np.argwhere(~measured):
        mask = measured.copy()
        mask[r, c] = True
        gain[r, c] = base - error(mask)
    return gain


# ---------------------------------------------------------------------------- the oracle
def oracle_trajectory(
    truth: np.ndarray,
    motion: MotionModel,
    *,
    whole: bool = False,  # only whole lines
    max_coverage: float = 0.5,
    max_time: float = math.inf,
) -> tuple[TrajectoryBuilder, int]:
    """Coarse raster, then greedy segments (rows of ``truth``); (builder, coarse readings)."""
    n_rows, n_cols = truth.shape
    spacing = default_initial_spacing(truth.shape, motion.dwell)
    builder = TrajectoryBuilder(motion, shape=truth.shape)
    measured = np.zeros(truth.shape, bool)
    for i, r in enumerate(range(COARSE_ORIGIN, n_rows, spacing)):
        ends = ((r, 0), (r, n_cols - 1))
        builder.add_segment(Segment(*(ends if i % 2 == 0 else ends[::-1])))
        measured[r] = True
    n_coarse = builder.n_readings
    timing = fly_timing(Segment((0, 0), (0, 1)), motion)
    fixed = motion.settle_time + motion.line_overhead + 2.0 * timing.ramp
    rows, cols = np.mgrid[0:n_rows, 0:n_cols]
    gain = np.zeros(truth.shape)
    while measured.mean() < max_coverage and builder.time < max_time:
        error = _column_gains(truth, measured, gain)
        if error <= 0.0:
            break
        pos = builder.position
        move = np.asarray(motion.travel_time(cols - pos[1], rows - pos[0]), float)
        r, c0, c1, _ = _best_interval(gain, move, fixed, timing.pixel_time, whole)
        if r < 0:
            break
        start, end = (r, c0), (r, c1)
        if move[r, c1] < move[r, c0]:
            start, end = end, start
        builder.add_segment(Segment(start, end))
        measured[r, c0 : c1 + 1] = True
    return builder, n_coarse


def coarse_mask(shape: tuple[int, int], dwell: float) -> np.ndarray:
    """fast-fly's coarse raster (rows of ``shape``) as a mask."""
    mask = np.zeros(shape, bool)
    mask[COARSE_ORIGIN :: default_initial_spacing(shape, dwell)] = True
    return mask


def error_of(truth: np.ndarray, measured: np.ndarray) -> float:
    """Squared error of the column-wise linear fill of ``measured``."""
    return _column_gains(truth, measured, np.zeros(truth.shape))


def greedy_rows(truth: np.ndarray, measured: np.ndarray, goal: float) -> list[int]:
    """Whole rows added to ``measured`` (in place), largest error drop first, until <= goal;
    then rows dropped again (least needed first) while the error stays <= goal."""
    gain = np.zeros(truth.shape)
    added: list[int] = []
    while _column_gains(truth, measured, gain) > goal:
        sums = np.where(measured.all(axis=1), -1.0, gain.sum(axis=1))
        row = int(np.argmax(sums))
        if sums[row] <= 0.0:
            break
        measured[row] = True
        added.append(row)
    for row in sorted(added, key=lambda r: float(gain[r].sum())):  # prune
        measured[row] = False
        if error_of(truth, measured) > goal:
            measured[row] = True
    return [r for r in added if measured[r].all()]


def trim_rows(truth: np.ndarray, measured: np.ndarray, rows: list[int], goal: float) -> None:
    """Unmeasure end pixels of ``rows`` (in place), cheapest first, while the error <= goal.

    Each line stays one interval: at short dwells one segment per line is
    cheaper than two whenever the fixed cost exceeds a line's readings.
    """
    n_cols = truth.shape[1]
    loss = np.zeros(truth.shape)
    for c in range(n_cols):
        _removal_losses(truth, measured, c, loss)
    ends = {r: [0, n_cols - 1] for r in rows}
    slack = goal - error_of(truth, measured)
    while ends:
        r, side = min(
            ((r, s) for r in ends for s in (0, 1)), key=lambda k: loss[k[0], ends[k[0]][k[1]]]
        )
        c = ends[r][side]
        if loss[r, c] > slack:
            break
        slack -= loss[r, c]
        measured[r, c] = False
        _removal_losses(truth, measured, c, loss)
        ends[r][side] += 1 if side == 0 else -1
        if ends[r][0] > ends[r][1]:
            del ends[r]


def sweep_trajectory(
    truth: np.ndarray, measured: np.ndarray, coarse: np.ndarray, motion: MotionModel
) -> tuple[TrajectoryBuilder, int]:
    """The coarse raster (serpentine), then every other measured run of each row in one
    sweep back, each from its end nearer the stage."""
    builder = TrajectoryBuilder(motion, shape=truth.shape)
    n_cols = truth.shape[1]
    for i, r in enumerate(np.flatnonzero(coarse.all(axis=1))):
        ends = ((int(r), 0), (int(r), n_cols - 1))
        builder.add_segment(Segment(*(ends if i % 2 == 0 else ends[::-1])))
    n_coarse = builder.n_readings
    extra = measured & ~coarse
    rows = np.flatnonzero(extra.any(axis=1))
    if len(rows) and abs(rows[-1] - builder.position[0]) < abs(rows[0] - builder.position[0]):
        rows = rows[::-1]
    for r in rows:
        cols = np.flatnonzero(extra[r])
        for run in np.split(cols, np.flatnonzero(np.diff(cols) > 1) + 1):
            start, end = (int(r), int(run[0])), (int(r), int(run[-1]))
            if abs(builder.position[1] - end[1]) < abs(builder.position[1] - start[1]):
                start, end = end, start
            builder.add_segment(Segment(start, end))
    return builder, n_coarse


def set_oracle(
    truth: np.ndarray, target: float, motion: MotionModel, *, trim: bool
) -> tuple[TrajectoryBuilder, int]:
    """Coarse raster + greedy whole rows to ``target`` NRMSE (+ trimmed ends), one sweep."""
    coarse = coarse_mask(truth.shape, motion.dwell)
    measured = coarse.copy()
    goal = (target * np.linalg.norm(truth)) ** 2
    rows = greedy_rows(truth, measured, goal)
    if trim:
        trim_rows(truth, measured, rows, goal)
    return sweep_trajectory(truth, measured, coarse, motion)


def run_image(name: str, truth: np.ndarray, args: argparse.Namespace) -> dict:
    motion = NANOPROBE.replace(dwell=args.dwell)
    refs = cached_static_references(name, truth, (args.dwell,), args.cache)
    by_k = {e["k"]: e["nrmse"] for e in refs["fly-raster"]}
    targets = {"every 4th": by_k[4], "every 2nd": by_k[2]}
    static = {t: {s: time_to(refs[s], v, args.dwell) for s in STATIC} for t, v in targets.items()}
    best_static = {t: min(v.values()) for t, v in static.items()}
    axis = coarse_line_axis(truth.shape, motion)
    plane = truth if axis == "rows" else np.ascontiguousarray(truth.T)
    cap = args.time_cap * max(t for t in best_static.values() if math.isfinite(t))
    out = {"shape": list(truth.shape), "axis": axis, "targets": targets, "static": static,
           "best_static": best_static, "oracle": {}}  # fmt: skip
    kinds = ["rows", "trimmed"] + (["sequential"] if args.sequential else [])
    for kind in kinds:
        t0 = time.perf_counter()
        res: dict = {}
        if kind == "sequential":
            builder, n_coarse = oracle_trajectory(
                plane, motion, max_coverage=args.max_coverage, max_time=cap
            )
            traj = builder.trajectory()
        for label, target in targets.items():
            hit, aim = None, target
            for _ in range(args.retries + 1 if kind != "sequential" else 1):
                if kind != "sequential":
                    builder, n_coarse = set_oracle(plane, aim, motion, trim=kind == "trimmed")
                    traj = builder.trajectory()
                hit = first_hit(plane, traj, target, lo=n_coarse)
                if hit is not None:
                    break
                aim *= 1.0 - args.retry_step  # partial lines: linear fill is not Delaunay's
            seconds = math.inf if hit is None else float(traj.t_end[hit - 1])
            res[label] = {
                "time": seconds,
                "ratio": seconds / best_static[label],
                "segments": None if hit is None else int(traj.segment[hit - 1]) + 1,
                "readings": hit,
                "aim": aim / target,
                "beam_time": traj.beam_time,
            }
        res["wall"] = time.perf_counter() - t0
        out["oracle"][kind] = res
    return out


def fmt(res: dict, label: str) -> str:
    lines = [f"== {label} {tuple(res['shape'])} coarse {res['axis']}"]
    for target in res["targets"]:
        st = res["static"][target]
        which = min(st, key=st.get)
        line = (f"  {target}: NRMSE {res['targets'][target]:.4f}; best static "
                f"{res['best_static'][target]:.1f} s ({which})")  # fmt: skip
        for kind, o in res["oracle"].items():
            hit = o[target]
            if math.isfinite(hit["time"]):
                line += (f"; {kind} oracle {hit['time']:.1f} s = {hit['ratio']:.2f} "
                         f"({hit['segments']} segments, {hit['readings']} readings)")  # fmt: skip
            else:
                line += f"; {kind} oracle not reached in {hit['beam_time']:.1f} s"
        lines.append(line)
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--set", default="sparse", choices=("validation", "sparse"),
                   help="the set the images come from (never the test set)")  # fmt: skip
    p.add_argument("--images", default="", help="image names (a,b,...); '' for the whole set")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--dwell", type=float, default=0.001)
    p.add_argument("--sequential", action="store_true",
                   help="also the sequential oracle: one segment at a time, any interval, "
                        "largest error drop per second from where the stage is")  # fmt: skip
    p.add_argument("--max-coverage", type=float, default=0.5)
    p.add_argument(
        "--retries",
        type=int,
        default=5,
        help="set oracles: times the aim is tightened when the true score misses",
    )
    p.add_argument("--retry-step", type=float, default=0.01,
                   help="set oracles: share the aimed NRMSE is tightened by")  # fmt: skip
    p.add_argument("--time-cap", type=float, default=1.5,
                   help="stop the sequential greedy at this multiple of the slowest "
                        "best static time")  # fmt: skip
    add_cache_option(p)
    p.add_argument("--out", default="", help="write the results as JSON here")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    names = tuple(args.images.split(",")) if args.images else None
    results = {}
    for name, image in image_set(args.set, args.size, names=names).items():
        if image.noise != "none":
            continue
        results[name] = run_image(name, np.asarray(image.truth, float), args)
        print(fmt(results[name], name), flush=True)
        if args.out:
            Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

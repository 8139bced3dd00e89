"""Decision latency per coverage band, and the cost of restoring a saved sampler.

Usage (from the repository root)::

    python benchmarks/bench_latency.py                 # all figures
    python benchmarks/bench_latency.py --quick         # 600 x 400 only
    python benchmarks/bench_latency.py --image PATH    # another 600 x 400-ish image
    python benchmarks/bench_latency.py --route         # route effort vs move time only
    python benchmarks/bench_latency.py --quick --model l2   # the bands with another ERD model
    python benchmarks/bench_latency.py --threads on    # split large updates even when busy
    python benchmarks/bench_latency.py --first         # a fresh process's first decisions
    python benchmarks/bench_latency.py --stream        # point-by-point ingest, both sizes
    python benchmarks/bench_latency.py --stream --quick --first   # 600 x 400, fresh process

Decision latency is one ``ingest`` of a batch plus the next ``suggest`` (route
included), from a 1 % initial pattern on, reported as median and p95 per
coverage band (1-2 %, 2-4 %, 4-10 %, 10 %+) for the WSe2 image (600 x 400,
``../shared/data`` next to the repository; a phantom if it is absent) and a
2048 x 2048 phantom, with batches of 50 and of 1. Within a band the first
``--steps`` decisions are timed; between bands the scan is fast-forwarded with
large ERD batches (not timed). Wall time is what a user waits; CPU time is the
process's own time (both threads' when a large update runs in two halves,
:mod:`fastscan._threads`), which a machine shared with other jobs inflates less.
"Path" is the CPU time of the critical path: the calling thread's CPU time plus,
for each pair of halves, the time the worker's half took longer than the
caller's -- what the wall time would be on an idle machine with two free cores.
The load average is printed with each table. ``--threads``: ``auto`` is the
library's behaviour (two threads only while a second core is free, which a
machine shared with other jobs seldom has), ``on`` splits large updates
whatever the load (to measure the critical path on a busy machine), ``off``
never splits.

Route effort (``--route``): on the sampler's own ERD batches of 50 at 1-4 %
coverage, the move time (unit-speed axes and the nanoprobe model) and the CPU
cost of routes planned with ``n`` kicks (the sampler's setting), ``50 + 2 n`` and
``plan_route``'s default ``150 + 2 n``, relative to the default.

First decisions (``--first``): CPU time of the activation (the initial pattern's
ingest and the first batch's suggest) and of the first three step decisions of a
fresh process (the other figures are taken after a small scan has loaded every
Numba kernel), batch 50, on the 600 x 400 image.

Streamed ingest (``--stream``): each batch is ingested point by point, as a plan
that ingests every reading when it arrives would (the scan is the same, see
``Sampler.ingest``). Per band: (a) the cost of one point's ingest (median, p95,
max; CPU and wall) against the cheapest step reading, 25 ms point overhead + 10 ms
settle + 1 ms dwell = 36 ms; (b) the decision latency after the last reading,
ingest of the batch's last point + the next ``suggest``; (c) the total CPU of a
streamed batch against one whole-batch ingest + suggest (same scan, measured in
the same band). Then the FIRST decision: the initial pattern streamed point by
point, with the ERD map made early (``fastscan.sampler.ACTIVATION_TAIL``): the
reading that makes it, the tail's lead time (tail readings x 36 ms) and the
decision after the pattern's last reading; in this process (kernels loaded) and,
with ``--first``, in a fresh one.

Restore: ``Sampler.load`` of a 600 x 400 state at 20 % and a 2048 x 2048 state
at 30 % coverage, and its ratio to one decision step (batch 50) at that coverage.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fastscan import Sampler, _threads
from fastscan.phantoms import make_phantom

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = REPO / ".." / "shared" / "data" / "wse2_darkfield_600x400.tif"
BANDS = [(0.01, 0.02), (0.02, 0.04), (0.04, 0.10), (0.10, 0.20)]
TARGETS_MS = {"600x400": 10.0, "2048x2048": 50.0}  # issue 10: median, at every coverage


def load_image(path: Path) -> tuple[np.ndarray, str]:
    if path.exists():
        from fastscan.imageio import load_image as read

        image, _ = read(path)
        return np.asarray(image, float), path.stem
    return make_phantom("flakes", (600, 400), seed=9), "flakes phantom (no WSe2 file)"


_WORKER_EXCESS = [0.0]  # seconds the worker's halves ran longer than the caller's


def _timed_run_pair(first, second, parallel):
    """:func:`fastscan._threads.run_pair`, adding up how much longer the worker's half took."""
    times = [0.0, 0.0]

    def timed(i, run):
        def wrapper():
            start = time.thread_time()
            try:
                run()
            finally:
                times[i] = time.thread_time() - start

        return wrapper

    try:
        _RUN_PAIR(timed(0, first), timed(1, second), parallel)
    finally:
        if parallel:
            _WORKER_EXCESS[0] += max(times[1] - times[0], 0.0)


_RUN_PAIR = _threads.run_pair
_threads.run_pair = _timed_run_pair


def measure(
    sampler: Sampler, image: np.ndarray, points: np.ndarray
) -> tuple[float, float, float, np.ndarray]:
    """Ingest ``points`` (read from ``image``, not timed) and suggest the next batch;
    wall, CPU and critical-path seconds and the next batch."""
    values = image[points[:, 0], points[:, 1]]
    _WORKER_EXCESS[0] = 0.0
    wall, cpu, path = time.perf_counter(), time.process_time(), time.thread_time()
    sampler.ingest(points, values)
    following = sampler.suggest()
    path = time.thread_time() - path + _WORKER_EXCESS[0]
    return time.perf_counter() - wall, time.process_time() - cpu, path, following


def measure_initial(sampler: Sampler, image: np.ndarray) -> np.ndarray:
    """Measure the sampler's whole initial pattern (one ingest); returns the first batch."""
    first = sampler.suggest()
    sampler.ingest(first, image[first[:, 0], first[:, 1]])
    return sampler.suggest()


def fast_forward(sampler: Sampler, image: np.ndarray, coverage: float) -> np.ndarray:
    """Measure large ERD batches (untimed) until ``coverage``; returns the next batch."""
    chunk = max(sampler.batch_size, int(0.004 * image.size))
    while sampler.coverage < coverage:
        needed = int(np.ceil(coverage * image.size)) - sampler.n_measured
        points = sampler.suggest(n=min(chunk, max(needed, 1)))
        sampler.ingest(points, image[points[:, 0], points[:, 1]])
    return sampler.suggest()


def band_latency(
    image: np.ndarray, batch: int, steps: int, model: str | None = None, erd_floor: object = 0.0
) -> list[dict[str, float]]:
    sampler = Sampler(
        image.shape, batch_size=batch, seed=0, max_coverage=0.9, change_tolerance=None,
        model=model, erd_floor=erd_floor,
    )  # fmt: skip
    points = measure_initial(sampler, image)
    rows = []
    for low, high in BANDS:
        if sampler.coverage < low:
            points = fast_forward(sampler, image, low)
        walls, cpus, paths, start = [], [], [], sampler.coverage
        while len(walls) < steps and sampler.coverage < high:
            wall, cpu, path, points = measure(sampler, image, points)
            walls.append(wall)
            cpus.append(cpu)
            paths.append(path)
        rows.append(
            {
                "band": f"{low:.0%}-{high:.0%}",
                "from": start,
                "to": sampler.coverage,
                "n": len(walls),
                "median_ms": 1e3 * float(np.median(walls)),
                "p95_ms": 1e3 * float(np.percentile(walls, 95)),
                "cpu_median_ms": 1e3 * float(np.median(cpus)),
                "cpu_p95_ms": 1e3 * float(np.percentile(cpus, 95)),
                "path_median_ms": 1e3 * float(np.median(paths)),
                "path_p95_ms": 1e3 * float(np.percentile(paths, 95)),
            }
        )
    return rows


def print_bands(label: str, rows: list[dict[str, float]], target_ms: float | None) -> None:
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    mode = "off" if _threads.MIN_ROWS == sys.maxsize else "auto"
    mode = "on" if _threads.MAX_LOAD_PER_CORE == float("inf") else mode
    print(f"\n{label} (threads {mode}, load average {load})")
    print(
        f"  {'band':>8} {'steps':>5}  {'wall median':>11} {'p95':>7}  {'cpu median':>10} {'p95':>7}"
        f"  {'path median':>11} {'p95':>7}"
    )
    for row in rows:
        verdict = ""
        if target_ms is not None:
            wall_ok = row["median_ms"] < target_ms
            cpu_ok = row["cpu_median_ms"] < target_ms
            verdict = f"  target < {target_ms:g} ms: wall {'met' if wall_ok else 'MISSED'}, "
            verdict += f"cpu {'met' if cpu_ok else 'MISSED'}, "
            verdict += f"path {'met' if row['path_median_ms'] < target_ms else 'MISSED'}"
        print(
            f"  {row['band']:>8} {row['n']:>5}  {row['median_ms']:9.2f}ms {row['p95_ms']:6.1f}ms"
            f"  {row['cpu_median_ms']:8.2f}ms {row['cpu_p95_ms']:6.1f}ms"
            f"  {row['path_median_ms']:9.2f}ms {row['path_p95_ms']:6.1f}ms"
            f"  ({row['from']:.2%} -> {row['to']:.2%}){verdict}",
            flush=True,
        )


def restore_cost(sampler: Sampler, image: np.ndarray, label: str, steps: int = 15) -> None:
    """Time ``Sampler.load`` against one decision step of ``sampler`` at its coverage."""
    points = sampler.suggest()
    walls = []
    for _ in range(steps):
        wall, _, _, points = measure(sampler, image, points)
        walls.append(wall)
    step_s = float(np.median(walls))
    with tempfile.TemporaryDirectory() as tmp:
        path = sampler.save(Path(tmp) / "state.npz")
        size_mb = path.stat().st_size / 1e6
        loads = []
        for _ in range(3):
            start = time.perf_counter()
            restored = Sampler.load(path)
            loads.append(time.perf_counter() - start)
        assert np.array_equal(restored.suggest(), sampler.suggest())
    load_s = float(np.median(loads))
    print(
        f"{label}: Sampler.load {load_s * 1e3:.0f} ms ({size_mb:.0f} MB file) = "
        f"{load_s / step_s:.1f} decision steps of {step_s * 1e3:.1f} ms "
        f"(at {sampler.coverage:.1%})",
        flush=True,
    )


def route_effort(image: np.ndarray, batches: int = 8) -> None:
    """Move time and cost of a batch's route against the number of kicks."""
    from fastscan.motion import NANOPROBE
    from fastscan.route import default_kicks, plan_route, route_time

    print("\nroute effort on ERD batches of 50 (move time relative to plan_route's default)")
    for motion, label in ((None, "unit speed"), (NANOPROBE, "nanoprobe")):
        sampler = Sampler(
            image.shape, seed=0, max_coverage=0.9, change_tolerance=None, motion=motion
        )
        measure_initial(sampler, image)
        for coverage in (0.01, 0.02, 0.04):
            fast_forward(sampler, image, coverage)
            results: dict[str, list[tuple[float, float]]] = {}
            for _ in range(batches):
                batch = sampler._select(50)
                here = sampler.position
                xy = np.stack([batch[:, 1], batch[:, 0]], 1).astype(float)
                start = np.array([here[1], here[0]], float)
                n = len(batch)
                base = None
                for name, kicks in (("default", default_kicks(n)), ("50+2n", 50 + 2 * n),
                                    ("n", n)):  # fmt: skip
                    cpu = time.process_time()
                    order = plan_route(xy, start, motion=motion, seed=0, max_kicks=kicks)
                    cpu = time.process_time() - cpu
                    seconds = route_time(xy[order], start, motion=motion)
                    base = seconds if base is None else base
                    results.setdefault(name, []).append((seconds / base, cpu))
                sampler.ingest(batch, image[batch[:, 0], batch[:, 1]])
            cells = [
                f"{name} kicks: {np.mean([r for r, _ in v]):.4f} "
                f"({1e3 * np.median([c for _, c in v]):.2f} ms)"
                for name, v in results.items()
            ]
            print(f"  {label:10s} at {coverage:.0%}: " + ", ".join(cells), flush=True)


CHEAPEST_READING_S = 0.025 + 0.010 + 0.001  # step point overhead + settle + dwell


def _stats(values: list[float]) -> tuple[float, float, float]:
    """Median, p95 and max, in ms."""
    return tuple(1e3 * float(f(values)) for f in (np.median, lambda v: np.percentile(v, 95), max))


def stream_batch(sampler: Sampler, image: np.ndarray, points: np.ndarray):
    """Ingest ``points`` one by one, the last one with the next suggest; per-point
    (wall, cpu) lists, the decision's (wall, cpu), and the next batch."""
    values = image[points[:, 0], points[:, 1]]
    walls, cpus = [], []
    for i in range(len(points) - 1):
        wall, cpu = time.perf_counter(), time.process_time()
        sampler.ingest(points[i : i + 1], values[i : i + 1])
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    wall, cpu = time.perf_counter(), time.process_time()
    sampler.ingest(points[-1:], values[-1:])
    following = sampler.suggest()
    return walls, cpus, (time.perf_counter() - wall, time.process_time() - cpu), following


def stream_first(image: np.ndarray) -> dict[str, float]:
    """The initial pattern streamed point by point (early activation), then the first
    decision: ms of the reading that makes the ERD map, of the slowest other reading,
    the tail's lead time, and the decision after the last reading (wall and CPU)."""
    sampler = Sampler(image.shape, batch_size=50, seed=0, max_coverage=0.9, change_tolerance=None)
    initial = sampler.suggest()
    walls, cpus, (wall, cpu), _ = stream_batch(sampler, image, initial)
    at = sampler.activation_count - 1  # the reading that made the ERD map
    others = walls[:at] + walls[at + 1 :]
    return {
        "n_initial": len(initial),
        "tail": len(initial) - sampler.activation_count,
        "activation_wall_ms": 1e3 * walls[at],
        "activation_cpu_ms": 1e3 * cpus[at],
        "other_max_ms": 1e3 * max(others),
        "other_cpu_max_ms": 1e3 * max(cpus[:at] + cpus[at + 1 :]),
        "lead_ms": 1e3 * (len(initial) - sampler.activation_count) * CHEAPEST_READING_S,
        "first_wall_ms": 1e3 * wall,
        "first_cpu_ms": 1e3 * cpu,
    }


def print_first(label: str, first: dict[str, float]) -> None:
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"{label}: initial pattern {first['n_initial']} points streamed; the ERD map made at "
        f"reading {first['n_initial'] - first['tail']}: {first['activation_wall_ms']:.0f} ms "
        f"wall, {first['activation_cpu_ms']:.0f} ms CPU, against the {first['tail']} tail "
        f"readings' {first['lead_ms']:.0f} ms at 36 ms each; other readings <= "
        f"{first['other_max_ms']:.1f} ms wall, {first['other_cpu_max_ms']:.1f} ms CPU; "
        "FIRST decision after the last reading "
        f"{first['first_wall_ms']:.2f} ms wall, {first['first_cpu_ms']:.2f} ms CPU "
        f"(load average {load})",
        flush=True,
    )


def stream_latency(image: np.ndarray, steps: int) -> list[dict[str, float]]:
    """Per band: streamed batches of 50 (per-point cost, decision after the last reading,
    total CPU), each followed by one whole-batch decision for the CPU comparison."""
    sampler = Sampler(image.shape, batch_size=50, seed=0, max_coverage=0.9, change_tolerance=None)
    points = measure_initial(sampler, image)
    rows = []
    for low, high in BANDS:
        if sampler.coverage < low:
            points = fast_forward(sampler, image, low)
        point_walls, point_cpus, walls, cpus, totals, whole = [], [], [], [], [], []
        start = sampler.coverage
        while len(walls) < steps and sampler.coverage < high:
            pw, pc, (wall, cpu), points = stream_batch(sampler, image, points)
            point_walls += pw
            point_cpus += pc
            walls.append(wall)
            cpus.append(cpu)
            totals.append(sum(pc) + cpu)
            if sampler.coverage < high:  # the same scan, one batch ingested whole
                _, whole_cpu, _, points = measure(sampler, image, points)
                whole.append(whole_cpu)
        rows.append(
            {
                "band": f"{low:.0%}-{high:.0%}",
                "from": start,
                "to": sampler.coverage,
                "n": len(walls),
                "point_wall": _stats(point_walls),
                "point_cpu": _stats(point_cpus),
                "wall": _stats(walls),
                "cpu": _stats(cpus),
                "total_cpu_median_ms": 1e3 * float(np.median(totals)),
                "whole_cpu_median_ms": 1e3 * float(np.median(whole)) if whole else float("nan"),
            }
        )
    return rows


def print_stream(label: str, rows: list[dict[str, float]], target_ms: float) -> None:
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\n{label}, batch 50 streamed point by point (load average {load})")
    print(
        "  band     steps | one point's ingest, ms: wall med/p95/max  cpu med/p95/max"
        " (of a 36 ms reading) | after the last reading, ms: wall med/p95  cpu med/p95"
        " | CPU a batch, ms: streamed / whole"
    )
    for row in rows:
        pw, pc, w, c = row["point_wall"], row["point_cpu"], row["wall"], row["cpu"]
        share = pw[1] / (1e3 * CHEAPEST_READING_S)
        verdict = f"p95 wall {'<' if w[1] < target_ms else '>='} {target_ms:g} ms"
        print(
            f"  {row['band']:>8} {row['n']:>4} | {pw[0]:5.2f}/{pw[1]:5.2f}/{pw[2]:6.1f}"
            f"  {pc[0]:5.2f}/{pc[1]:5.2f}/{pc[2]:6.1f} (p95 {share:.1%})"
            f" | {w[0]:6.2f}/{w[1]:6.2f}  {c[0]:6.2f}/{c[1]:6.2f} ({verdict})"
            f" | {row['total_cpu_median_ms']:6.1f} / {row['whole_cpu_median_ms']:6.1f}"
            f"  ({row['from']:.2%} -> {row['to']:.2%})",
            flush=True,
        )


def peak_memory_of_simulate() -> None:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "fastscan", "simulate", "--out", out, "-q"], check=True
        )
        seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"fastscan simulate (built-in phantom): peak RSS {peak_mb:.0f} MB, {seconds:.0f} s")


def first_decisions(image: np.ndarray, decisions: int = 3) -> None:
    """CPU ms of the activation and of the first ``decisions`` step decisions (batch 50);
    meaningful only as the first scan of a process."""
    sampler = Sampler(image.shape, batch_size=50, seed=0, change_tolerance=None)
    points = sampler.suggest()
    start = time.process_time()
    sampler.ingest(points, image[points[:, 0], points[:, 1]])
    points = sampler.suggest()
    activation = time.process_time() - start
    cpus = []
    for _ in range(decisions):
        _, cpu, _, points = measure(sampler, image, points)
        cpus.append(cpu)
    steps = " ".join(f"{1e3 * cpu:.1f}" for cpu in cpus)
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"fresh process: activation {1e3 * activation:.0f} ms CPU, "
        f"decisions 1-{decisions} {steps} ms CPU (load average {load})"
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--steps", type=int, default=60, help="timed decisions per band")
    parser.add_argument("--quick", action="store_true", help="600 x 400 only")
    parser.add_argument("--memory", action="store_true", help="peak RSS of fastscan simulate")
    parser.add_argument("--route", action="store_true", help="route effort vs move time only")
    parser.add_argument("--model", help="ERD model of the bands (shipped name or .npz)")
    parser.add_argument("--erd-floor", default="0", help="the bands' erd_floor: a number or auto")
    parser.add_argument("--first", action="store_true", help="a fresh process's first decisions")
    parser.add_argument("--stream", action="store_true", help="point-by-point ingest per band")
    parser.add_argument(
        "--threads", choices=("auto", "on", "off"), default="auto", help="two-thread updates"
    )
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    if args.threads == "on":
        _threads.MAX_LOAD_PER_CORE = float("inf")
    elif args.threads == "off":
        _threads.MIN_ROWS = sys.maxsize
    image, name = load_image(args.image)
    if args.route:
        route_effort(image)
        return
    if args.stream and args.first:  # before anything has loaded the kernels
        print_first("fresh process, 600x400", stream_first(image))
        return
    if args.first:  # before anything has loaded the kernels
        first_decisions(image)
        return
    if args.stream:
        band_latency(image[:120, :120].copy(), 50, 3)  # compile / load the numba kernels
        print_first(f"{name} 600x400 (kernels loaded)", stream_first(image))
        print_stream(f"{name} 600x400", stream_latency(image, args.steps), TARGETS_MS["600x400"])
        if not args.quick:
            big = make_phantom("flakes", (2048, 2048), seed=9)
            print_first("flakes 2048x2048", stream_first(big))
            print_stream("flakes 2048x2048", stream_latency(big, args.steps), 50.0)
        return
    band_latency(image[:120, :120].copy(), 50, 3)  # compile / load the numba kernels
    size = "x".join(map(str, image.shape))
    target = TARGETS_MS["600x400"] if image.size <= 600 * 400 else None
    floor = args.erd_floor if args.erd_floor == "auto" else float(args.erd_floor)
    rows = band_latency(image, 50, args.steps, args.model, floor)
    print_bands(f"{name} {size}, batch 50", rows, target)
    batch_1 = band_latency(image, 1, args.steps, args.model, floor)
    print_bands(f"{name} {size}, batch 1", batch_1, None)
    if not args.quick:
        big = make_phantom("flakes", (2048, 2048), seed=9)
        rows = band_latency(big, 50, args.steps)
        print_bands("flakes 2048x2048, batch 50", rows, TARGETS_MS["2048x2048"])
        print_bands("flakes 2048x2048, batch 1", band_latency(big, 1, args.steps), None)
    print()
    sampler = Sampler(image.shape, batch_size=50, seed=0, max_coverage=0.9, change_tolerance=None)
    measure_initial(sampler, image)
    fast_forward(sampler, image, 0.20)
    restore_cost(sampler, image, f"{name} ({size}) at 20 %")
    if not args.quick:
        # a 30 % Halton start: the same state size as a 30 % ERD scan, one full update
        sampler = Sampler(
            big.shape, batch_size=50, seed=0, initial_fraction=0.30, change_tolerance=None
        )
        measure_initial(sampler, big)
        restore_cost(sampler, big, "flakes 2048x2048 at 30 %")
    if args.memory:
        peak_memory_of_simulate()


if __name__ == "__main__":
    main()

"""Route-planner benchmark: motion time against OR-Tools, compute time, whole-scan savings.

Prints three tables (not run by CI):

1. Quality and compute time of :func:`fastscan.route.plan_route` (default time
   budget) on random batches (50, 200, 1000 points uniform in a 600 x 400 box)
   and on real ERD batches (50 points) that :class:`fastscan.Sampler` picks on the
   WSe2 image at about 5, 10 and 20 % coverage, for two motion models: ``unit``
   (``MotionModel()``: 1 px/s, no acceleration) and ``stage`` (velocity (50, 30)
   px/s, acceleration (200, 100) px/s^2, settle 0.01 s). Reference: OR-Tools
   routing (PATH_CHEAPEST_ARC + GUIDED_LOCAL_SEARCH, integer costs scaled to
   1e7 for the longest move, start fixed, open end through a dummy end node with
   zero-cost arcs), and the best known = min(OR-Tools, plan_route with unlimited
   kicks for 3 / 6 / 20 s). Compute time: median of 7 runs after a warm-up (wall clock and
   thread CPU time; the machine may be shared, so both are printed).
2. Whole simulated scan of the WSe2 image to 20 % coverage (batch 50): total
   motion time when each ERD batch is visited in plan_route order, in ERD order
   (the order select_batch returns, before routing), and for a serpentine raster
   of the same number of points; the initial 1 % Halton pattern is listed apart.

Usage::

    python benchmarks/bench_route.py [--out runs/bench_route] [--ortools-time 1.0] [--quick]

``--ortools-time`` scales the OR-Tools time limits (10 s for 50 points, 30 s for
200, 120 s for 1000). The scan and the OR-Tools results are cached in ``--out``.
Needs ``pip install ortools`` (the ``bench`` extra) and
``../shared/data/wse2_darkfield_600x400.tif`` relative to the repository (or ``--image``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import fastscan.sampler as sampler_module
from fastscan import Sampler
from fastscan.patterns import raster_points
from fastscan.route import MotionModel, construct_route, move_times, plan_route, route_time

#: default --image: ../shared/data relative to the repository
IMAGE = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "wse2_darkfield_600x400.tif"
)
MODELS = {
    "unit": MotionModel(),
    "stage": MotionModel(velocity=(50.0, 30.0), acceleration=(200.0, 100.0), settle_time=0.01),
}
ORTOOLS_LIMIT = {50: 10.0, 200: 30.0, 1000: 120.0}
LONG_BUDGET = {50: 3.0, 200: 6.0, 1000: 20.0}  # plan_route with unlimited kicks, for "best"


# ---------------------------------------------------------------------------- simulated scan
def record_scan(image: np.ndarray, coverage: float, batch_size: int) -> dict[str, np.ndarray]:
    """Run the sampler on ``image`` and record every suggested batch in ERD order.

    ``fastscan.sampler.plan_route`` is replaced (in this process only) by the
    identity, so each batch comes back in the order select_batch chose it. The
    route does not influence which points are chosen, so the batches are the
    ones a routed scan measures.
    """
    original = sampler_module.plan_route
    sampler_module.plan_route = lambda xy, *args, **kwargs: np.arange(len(xy))
    try:
        s = Sampler(
            image.shape, batch_size=batch_size, seed=0, max_coverage=coverage,
            change_tolerance=None,  # run to the coverage cap
        )  # fmt: skip
        batches, coverages = [], []
        while not s.should_stop():
            pts = s.suggest()
            if len(pts) == 0:
                break
            batches.append(pts)
            coverages.append(s.coverage)
            s.ingest(pts, image[pts[:, 0], pts[:, 1]])
    finally:
        sampler_module.plan_route = original
    sizes = np.array([len(b) for b in batches])
    return {"points": np.concatenate(batches), "sizes": sizes, "coverage": np.array(coverages)}


def load_scan(out: Path, image_path: Path, quick: bool) -> dict[str, np.ndarray]:
    coverage = 0.05 if quick else 0.20
    path = out / f"scan_{image_path.stem}_{coverage:.2f}.npz"
    if path.exists():
        with np.load(path) as data:
            return dict(data)
    import tifffile

    image = np.asarray(tifffile.imread(image_path), float)
    t0 = time.perf_counter()
    scan = record_scan(image, coverage, 50)
    print(f"recorded scan to {coverage:.0%}: {len(scan['sizes'])} batches in "
          f"{time.perf_counter() - t0:.0f} s")  # fmt: skip
    np.savez(path, **scan)
    return scan


def xy_of(points_rc: np.ndarray) -> np.ndarray:
    """(row, col) pixels to stage (x, y) with pixel pitch 1."""
    return np.stack([points_rc[:, 1], points_rc[:, 0]], 1).astype(float)


# ---------------------------------------------------------------------------- references
def ortools_route(
    xy: np.ndarray, start: np.ndarray, motion: MotionModel, limit: float
) -> np.ndarray:
    """Best route OR-Tools finds in ``limit`` seconds (start fixed, open end)."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    n = len(xy)
    coords = np.vstack([xy, start[None]])
    times = move_times(coords[:, None, :], coords[None, :, :], motion)
    scale = 1e7 / max(float(times.max()), 1e-12)
    cost = np.zeros((n + 2, n + 2), np.int64)
    cost[: n + 1, : n + 1] = np.round(times * scale).astype(np.int64)
    cost[n + 1, :] = 10**12  # the dummy end node is never left
    manager = pywrapcp.RoutingIndexManager(n + 2, 1, [n], [n + 1])
    routing = pywrapcp.RoutingModel(manager)
    callback = routing.RegisterTransitMatrix(cost.tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(callback)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(int(limit * 1000))
    solution = routing.SolveWithParameters(params)
    order, index = [], routing.Start(0)
    while not routing.IsEnd(index):
        node = manager.IndexToNode(index)
        if node < n:
            order.append(node)
        index = solution.Value(routing.NextVar(index))
    return np.array(order, np.int64)


def timed(fn, repeats: int = 7) -> tuple[float, float]:
    """Median wall and thread-CPU seconds of ``fn()`` after one warm-up call."""
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.thread_time()
        fn()
        cpu.append(time.thread_time() - c)
        wall.append(time.perf_counter() - w)
    return float(np.median(wall)), float(np.median(cpu))


# ---------------------------------------------------------------------------- table 1
def instances(scan: dict[str, np.ndarray], quick: bool) -> list[tuple[str, np.ndarray, np.ndarray]]:
    box = np.array([600.0, 400.0])
    out = []
    for n in (50, 200) if quick else (50, 200, 1000):
        xy = np.random.default_rng(n).uniform(0, 1, (n, 2)) * box
        out.append((f"random-{n}", xy, box / 2))
    bounds = np.cumsum(scan["sizes"])
    for target in (0.05, 0.10, 0.20):
        later = np.flatnonzero((scan["coverage"] >= target - 0.002) & (scan["sizes"] == 50))
        if len(later) == 0:
            continue
        b = int(later[0])
        pts = scan["points"][bounds[b] - scan["sizes"][b] : bounds[b]]
        start = scan["points"][bounds[b] - scan["sizes"][b] - 1]
        out.append((f"wse2-{100 * scan['coverage'][b]:.0f}%", xy_of(pts), xy_of(start[None])[0]))
    return out


def quality_table(scan, out: Path, ortools_time: float, quick: bool) -> None:
    cache_path = out / "ortools.json"
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    print("\nTable 1: route time (s) and compute time, plan_route defaults")
    header = (
        f"{'instance':14s} {'model':6s} {'n':>5s} {'NN':>10s} {'OR-Tools':>10s} {'best':>10s} "
        f"{'plan_route':>10s} {'vs ORT':>7s} {'vs best':>7s} {'wall ms':>8s} {'cpu ms':>7s}"
    )
    print(header)
    for name, xy, start in instances(scan, quick):
        n = len(xy)
        for model_name, motion in MODELS.items():
            key = f"{name}/{model_name}/{ortools_time}"
            if key not in cache:
                limit = ORTOOLS_LIMIT[min(ORTOOLS_LIMIT, key=lambda k: abs(k - n))] * ortools_time
                order = ortools_route(xy, start, motion, limit)
                cache[key] = route_time(xy[order], start, motion=motion)
                cache_path.write_text(json.dumps(cache, indent=1))
            ort = cache[key]
            nn = route_time(xy[construct_route(xy, start, motion=motion)], start, motion=motion)
            ours_order = plan_route(xy, start, motion=motion)
            ours = route_time(xy[ours_order], start, motion=motion)
            wall, cpu = timed(lambda xy=xy, start=start, m=motion: plan_route(xy, start, motion=m))
            long_order = plan_route(
                xy, start, motion=motion, time_budget=LONG_BUDGET[n] / (5 if quick else 1),
                max_kicks=10**9,
            )  # fmt: skip
            best = min(ort, ours, route_time(xy[long_order], start, motion=motion))
            print(
                f"{name:14s} {model_name:6s} {n:5d} {nn:10.2f} {ort:10.2f} {best:10.2f} "
                f"{ours:10.2f} {100 * (ours / ort - 1):+6.2f}% {100 * (ours / best - 1):+6.2f}% "
                f"{1e3 * wall:8.1f} {1e3 * cpu:7.1f}",
                flush=True,
            )


# ---------------------------------------------------------------------------- table 2
def scan_table(scan: dict[str, np.ndarray], shape: tuple[int, int]) -> None:
    sizes = scan["sizes"]
    batches = np.split(scan["points"], np.cumsum(sizes)[:-1])
    initial, erd_batches = batches[0], batches[1:]
    n_total = len(scan["points"])
    n_erd = int(sum(len(b) for b in erd_batches))
    print(
        f"\nTable 2: whole scan to {scan['coverage'][-1] + sizes[-1] / (shape[0] * shape[1]):.0%} "
        f"coverage ({len(erd_batches)} ERD batches of <= 50 after an initial pattern of "
        f"{len(initial)}), total motion time in s"
    )
    print(
        f"{'model':6s} {'ERD order':>10s} {'plan_route':>10s} {'saving':>7s} {'raster*':>10s} "
        f"{'init serp.':>10s} {'init plan':>10s} {'plan ms/batch':>13s}"
    )
    raster = xy_of(raster_points(shape, n_total))
    for model_name, motion in MODELS.items():
        erd_time = planned_time = 0.0
        start = xy_of(initial[-1:])[0]
        compute = []
        for batch in erd_batches:
            xy = xy_of(batch)
            erd_time += route_time(xy, start, motion=motion)
            t0 = time.perf_counter()
            order = plan_route(xy, start, motion=motion)
            compute.append(time.perf_counter() - t0)
            planned_time += route_time(xy[order], start, motion=motion)
            start = xy[order[-1]]
        init_xy = xy_of(initial)
        init_serp = route_time(init_xy, motion=motion)
        init_plan = route_time(init_xy[plan_route(init_xy, motion=motion)], motion=motion)
        raster_time = route_time(raster, motion=motion)
        print(
            f"{model_name:6s} {erd_time:10.1f} {planned_time:10.1f} "
            f"{100 * (1 - planned_time / erd_time):6.1f}% {raster_time:10.1f} "
            f"{init_serp:10.1f} {init_plan:10.1f} {1e3 * np.median(compute):13.1f}"
        )
    print(
        f"* raster: serpentine raster of the same {n_total} points (initial pattern included), "
        f"for comparison with ERD order / plan_route of the {n_erd} ERD points plus the "
        "initial pattern (init columns)"
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench_route"))
    parser.add_argument("--image", type=Path, default=IMAGE)
    parser.add_argument("--ortools-time", type=float, default=1.0)
    parser.add_argument("--quick", action="store_true", help="5 %% scan, 50/200 points, short")
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    scan = load_scan(args.out, args.image, args.quick)
    import tifffile

    shape = tifffile.imread(args.image).shape
    quality_table(scan, args.out, args.ortools_time, args.quick)
    scan_table(scan, shape)


if __name__ == "__main__":
    main()

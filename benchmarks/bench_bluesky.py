"""Per-point overhead of fastscan + Bluesky over the IOC's own move-and-read time.

Starts the simulated IOC on loopback, then measures, for the same sequence of
points:

1. ``raw``: a plain Ophyd loop (move x and y together, wait, trigger, read);
2. ``RE``: a minimal RunEngine plan doing the same per point (checkpoint, mv,
   trigger_and_read) inside one run;
3. ``fastscan``: ``autonomous_scan`` (the sampler choosing the points, ingest,
   suggest, route, point info, reconstruction stream, tiled_writer).

and prints the median and p95 time per point of each, the overheads, and the
points/s of an in-process SimDetector replay without motion delays.

Run::

    python benchmarks/bench_bluesky.py --points 300
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from fastscan.sim.ioc import loopback_env, start_ioc_subprocess

ENV = loopback_env()
os.environ.update(ENV)  # before any EPICS channel exists in this process

from bluesky import RunEngine  # noqa: E402
from bluesky import plan_stubs as bps  # noqa: E402
from bluesky import preprocessors as bpp  # noqa: E402
from ophyd.sim import SynAxis  # noqa: E402
from sim_beamline import pixel_grid, timed_scan  # noqa: E402

from fastscan import Sampler  # noqa: E402
from fastscan.devices import EpicsScalarDetector, NanoprobeStage  # noqa: E402
from fastscan.phantoms import make_phantom  # noqa: E402
from fastscan.plans import load_run, local_catalog, replay_points, tiled_writer  # noqa: E402
from fastscan.sim.detector import SimDetector  # noqa: E402


def stats(label: str, dt: np.ndarray) -> tuple[float, float]:
    med, p95 = float(np.median(dt)) * 1e3, float(np.percentile(dt, 95)) * 1e3
    print(f"  {label:<34s} median {med:7.2f} ms   p95 {p95:7.2f} ms   ({len(dt)} points)")
    return med, p95


def event_intervals(RE_times: list[float]) -> np.ndarray:
    t = np.asarray(RE_times)
    return np.diff(t)


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--points", type=int, default=300)
    p.add_argument("--shape", default="100,150")
    p.add_argument("--batch", type=int, default=20)
    p.add_argument("--velocity", type=float, default=1000.0, help="IOC motor speed, units/s")
    return p


def main() -> None:
    p = build_parser()
    args = p.parse_args()
    rows, cols, grid = pixel_grid(args.shape)
    coverage = min(1.0, (args.points + 1) / (rows * cols))

    ioc = start_ioc_subprocess("BENCH:", env=ENV, shape=(rows, cols), velocity=args.velocity)
    try:
        stage = NanoprobeStage("BENCH:x", "BENCH:y", name="stage")
        det = EpicsScalarDetector("BENCH:det:", name="det")
        stage.wait_for_connection(timeout=20)
        det.wait_for_connection(timeout=20)
        store_dir = tempfile.mkdtemp(prefix="fastscan-bench-")
        RE = RunEngine({}, call_returns_result=True)
        catalog = local_catalog(store_dir)
        RE.subscribe(tiled_writer(catalog))
        times: list[float] = []
        RE.subscribe(lambda name, doc: times.append(doc["time"]) if name == "event" else None)

        # warm up numba kernels and CA channels
        warm = Sampler(grid.shape, batch_size=args.batch, max_coverage=0.01, seed=1)
        while not warm.should_stop():
            pts = warm.suggest()
            warm.ingest(pts, np.zeros(len(pts)))

        # 3. fastscan plan
        result, t0 = timed_scan(RE, det, stage.x, stage.y, grid, batch=args.batch,
                                max_coverage=coverage, recon_every=10)  # fmt: skip
        wall_fast = time.perf_counter() - t0
        run = load_run(catalog, result.run_start_uids[0])
        points, _, _ = replay_points(run)
        fast_times = run["primary"].read()["time"].values.tolist()
        xy = grid.to_positions(points)
        n = len(points)

        # 1. raw ophyd loop over the same positions
        stage.x.move(float(xy[0, 0]), wait=True)
        stage.y.move(float(xy[0, 1]), wait=True)
        raw = []
        for x, y in xy:
            t = time.perf_counter()
            sx, sy = stage.x.set(float(x)), stage.y.set(float(y))
            sx.wait(10)
            sy.wait(10)
            det.trigger().wait(10)
            det.read()
            stage.x.read()
            stage.y.read()
            raw.append(time.perf_counter() - t)

        # 2. minimal RunEngine plan over the same positions
        def list_plan():
            @bpp.run_decorator(md={"plan_name": "bench_list"})
            def inner():
                for x, y in xy:
                    yield from bps.checkpoint()
                    yield from bps.mv(stage.x, float(x), stage.y, float(y))
                    yield from bps.trigger_and_read([det, stage.x, stage.y])

            return (yield from inner())

        stage.x.move(float(xy[0, 0]), wait=True)
        stage.y.move(float(xy[0, 1]), wait=True)
        times.clear()
        t0 = time.perf_counter()
        RE(list_plan())
        wall_re = time.perf_counter() - t0
        re_dt = event_intervals(times)

        print(f"IOC on loopback, grid {rows}x{cols}, {n} points, batch {args.batch}, "
              f"motors {args.velocity:g} units/s")  # fmt: skip
        raw_med, raw_p95 = stats("raw ophyd move+trigger+read", np.asarray(raw[1:]))
        re_med, re_p95 = stats("RunEngine list plan", re_dt)
        fs_med, fs_p95 = stats("fastscan autonomous_scan", np.diff(fast_times))
        print(f"  overhead Bluesky over raw:        median {re_med - raw_med:+7.2f} ms   "
              f"p95 {re_p95 - raw_p95:+7.2f} ms")  # fmt: skip
        print(f"  overhead fastscan+Bluesky over raw: median {fs_med - raw_med:+7.2f} ms   "
              f"p95 {fs_p95 - raw_p95:+7.2f} ms")  # fmt: skip
        print(f"  overhead fastscan over RE plan:   median {fs_med - re_med:+7.2f} ms   "
              f"p95 {fs_p95 - re_p95:+7.2f} ms")  # fmt: skip
        print(
            f"  wall: fastscan {wall_fast:.2f} s ({n / wall_fast:.1f} pt/s), "
            f"RE list {wall_re:.2f} s ({n / wall_re:.1f} pt/s), raw {sum(raw):.2f} s"
        )
        stage.destroy()
        det.destroy()
    finally:
        ioc.stop()

    # SimDetector replay without motion delays
    image = make_phantom("flakes", (rows, cols), seed=0)
    x, y = SynAxis(name="x"), SynAxis(name="y")
    sim = SimDetector("det", image, grid, x, y)
    for label, with_store in (("SimDetector replay", False), ("SimDetector replay + store", True)):
        RE = RunEngine({}, call_returns_result=True)
        if with_store:
            RE.subscribe(tiled_writer(catalog))
        res, t0 = timed_scan(RE, sim, x, y, grid, batch=args.batch, max_coverage=coverage,
                             recon_every=10)  # fmt: skip
        wall = time.perf_counter() - t0
        npts = res.plan_result.n_points
        print(f"  {label:<34s} {npts / wall:7.1f} points/s ({npts} points, {wall:.2f} s)")


if __name__ == "__main__":
    main()

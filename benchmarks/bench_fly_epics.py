"""Fly scanning over Channel Access: estimated against actual segment time, samples per second.

Starts the simulated IOC on loopback (the README's stage: 200 units/s, 2000 units/s^2 on a
200 x 300 flakes phantom, pixel units), then runs ``autonomous_fly_scan`` with a fly raster
of every ``--every``-th row (serpentine) through :class:`fastscan.devices.fly.EpicsFlyer`, and
prints per segment: the beam-time model's estimate (``fastscan.beamtime``), the IOC's own
modelled flight time and the wall-clock time from prepare to complete; then the totals,
the samples per second and the NRMSE of the reconstruction. ``--sampler fast-fly`` runs
fastscan's adaptive :class:`fastscan.fly.FlySampler` instead (its own stop rule, to
``--coverage``).

Run from the repository root::

    python benchmarks/bench_fly_epics.py --every 4 --dwell 0.005
    python benchmarks/bench_fly_epics.py --sampler fast-fly --coverage 0.25 --dwell 0.005
    python benchmarks/bench_fly_epics.py --sampler fast-fly --coverage 0.25 --no-stream

Per decision it prints how long the stage stood after the decision's last segment
(``FlyScanSummary.decisions``: the ingest still running, then the decision): for the
coarse raster's lines, the first decision after the raster, and the later ones.
``--no-stream`` ingests every segment before the next one flies (``stream=False``).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from fastscan.sim.ioc import loopback_env, start_ioc_subprocess

ENV = loopback_env()
os.environ.update(ENV)  # before any EPICS channel exists in this process

from bench_fly_plan import print_waits  # noqa: E402
from bluesky import RunEngine  # noqa: E402
from sim_beamline import pixel_grid  # noqa: E402

from fastscan.devices.fly import EpicsFlyer  # noqa: E402
from fastscan.fly import FlySampler, Segment  # noqa: E402
from fastscan.metrics import nrmse  # noqa: E402
from fastscan.motion import MotionModel  # noqa: E402
from fastscan.phantoms import make_phantom  # noqa: E402
from fastscan.plans import autonomous_fly_scan  # noqa: E402
from fastscan.reconstruction import idw_reconstruction  # noqa: E402


class FlyRaster:
    """Every k-th row, serpentine, one row per decision (a static reference)."""

    def __init__(self, shape: tuple[int, int], every: int) -> None:
        self.shape = shape
        self.rows = list(range(0, shape[0], every))
        self.next = 0
        self.points: list[np.ndarray] = []
        self.values: list[np.ndarray] = []

    def suggest_segments(self) -> list[Segment]:
        row = self.rows[self.next]
        ends = [(row, 0), (row, self.shape[1] - 1)]
        if self.next % 2:
            ends.reverse()
        self.next += 1
        return [Segment(*ends)]

    def ingest(self, points: np.ndarray, values: np.ndarray) -> None:
        self.points.append(np.asarray(points))
        self.values.append(np.asarray(values))

    def should_stop(self) -> bool:
        return self.next >= len(self.rows)


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shape", default="200,300")
    p.add_argument("--every", type=int, default=4, help="fly every k-th row")
    p.add_argument("--dwell", type=float, default=0.005, help="seconds per reading")
    p.add_argument("--velocity", type=float, default=200.0, help="motor limit, units/s")
    p.add_argument("--acceleration", type=float, default=2000.0, help="units/s^2")
    p.add_argument("--time-scale", type=float, default=1.0, help="IOC real s per modelled s")
    p.add_argument(
        "--sampler", choices=["fly-raster", "fast-fly"], default="fly-raster",
        help="fly-raster: every --every-th row; fast-fly: FlySampler to --coverage",
    )  # fmt: skip
    p.add_argument("--coverage", type=float, default=0.25, help="fast-fly max_coverage")
    p.add_argument("--no-stream", action="store_true", help="ingest before the next flight")
    return p


def main() -> None:
    p = build_parser()
    args = p.parse_args()
    rows, cols, grid = pixel_grid(args.shape)
    margin = 0.5 + args.velocity**2 / (2 * args.acceleration) + 1.0
    ioc = start_ioc_subprocess(
        "BF:", env=ENV, shape=(rows, cols), velocity=args.velocity,
        acceleration=args.acceleration,
        extra_args=["--limit-margin", str(margin), "--fly-time-scale", str(args.time_scale)],
    )  # fmt: skip
    flyer = EpicsFlyer(ioc.pv("fly:"), name="flyer")
    try:
        flyer.wait_for_connection(timeout=20)
        motion = MotionModel(
            (args.velocity, args.velocity), (args.acceleration, args.acceleration),
            dwell=args.dwell,
            travel=((-margin, cols - 1 + margin), (-margin, rows - 1 + margin)),
        )  # fmt: skip
        if args.sampler == "fast-fly":
            source = FlySampler((rows, cols), motion=motion, max_coverage=args.coverage, seed=0)
        else:
            source = FlyRaster((rows, cols), args.every)
        modelled: list[float] = []

        def progress(report):
            modelled.append(flyer.last_duration)

        RE = RunEngine(call_returns_result=True)
        t0 = time.perf_counter()
        summary = RE(
            autonomous_fly_scan(
                flyer,
                source,
                grid=grid,
                motion=motion,
                progress=progress,
                stream=not args.no_stream,
            )
        ).plan_result
        wall = time.perf_counter() - t0
        est = np.array([r.estimated_s for r in summary.segments])
        act = np.array([r.actual_s for r in summary.segments])
        ioc_t = np.array(modelled)
        what = "fast-fly" if args.sampler == "fast-fly" else f"fly raster every {args.every}th row"
        print(f"{what} of {rows} x {cols}, dwell {args.dwell} s, "
              f"stage {args.velocity} units/s, {args.acceleration} units/s^2")  # fmt: skip
        print(f"  segments {summary.n_segments}, samples {summary.n_samples}, wall {wall:.2f} s, "
              f"{summary.n_samples / wall:.0f} samples/s")  # fmt: skip
        print(f"  per segment: estimate median {np.median(est):.3f} s, IOC flight median "
              f"{np.median(ioc_t):.3f} s, actual median {np.median(act):.3f} s "
              f"(p95 {np.percentile(act, 95):.3f} s)")  # fmt: skip
        print(f"  actual - IOC flight (arm, Channel Access, readout): median "
              f"{np.median(act - ioc_t) * 1e3:.1f} ms, p95 "
              f"{np.percentile(act - ioc_t, 95) * 1e3:.1f} ms")  # fmt: skip
        print(f"  totals: estimate {est.sum():.2f} s, IOC flights {ioc_t.sum():.2f} s, "
              f"actual {act.sum():.2f} s")  # fmt: skip
        truth = make_phantom("flakes", (rows, cols), seed=0)
        if args.sampler == "fast-fly":
            coverage, recon = source.coverage, source.reconstruction
        else:
            points = np.concatenate(source.points)
            recon = idw_reconstruction((rows, cols), points, np.concatenate(source.values))
            coverage = len(points) / (rows * cols)
        print(f"  coverage {coverage:.3f}, NRMSE {nrmse(truth, recon):.4f}")
        print_waits(summary, source, stream=not args.no_stream)
    finally:
        flyer.destroy()
        ioc.stop()


if __name__ == "__main__":
    main()

"""Multichannel (XRF element map) scans: per-channel quality and decision latency.

Usage::

    python benchmarks/bench_xrf.py                       # quality (5 seeds) + latency
    python benchmarks/bench_xrf.py --only quality --noise poisson --counts 0.2
    python benchmarks/bench_xrf.py --only latency --channels 1,4,10,32

Quality: on :func:`fastscan.phantoms.make_xrf_maps` element maps (5 channels;
evaluation seeds 0-4 by default; the sampler settings were chosen on seeds
1000-1009 only), every strategy measures the same number of points and each
channel is reconstructed with the same IDW (k = 10) from the readings it got:

* ``fast``      -- the multichannel sampler, driven by every channel (equal weights);
* ``fast-sum``  -- the single-channel sampler driven by the sum of the channels;
* ``raster``, ``random``, ``halton`` -- the static patterns.

It prints the NRMSE of each channel at each coverage (mean over seeds), the ratio
of fast's NRMSE to the best static pattern's per channel, and the worst channel's
ratio for fast and fast-sum. ``--noise poisson`` draws Poisson counts around the
expected counts (``--counts`` scales them; 0.2 gives a trace element of a few
counts); NRMSE is always against the noise-free expected counts.

Latency: median (p95) time of one ``ingest`` of a 50-point batch plus the next
``suggest`` (route included), at 10 % coverage on a 400 x 600 grid, for C channels;
wall-clock time and the process's CPU time (which other jobs' load on a shared
machine does not inflate).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fastscan import Sampler
from fastscan.baselines import STATIC_SAMPLERS
from fastscan.metrics import nrmse
from fastscan.phantoms import make_xrf_maps
from fastscan.reconstruction import idw_reconstruction

STATIC = ("raster", "random", "halton")


def _read(maps: np.ndarray, points: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
    """(n, C) readings at ``points``: expected counts, or Poisson draws around them."""
    values = maps[:, points[:, 0], points[:, 1]].T
    return values if rng is None else rng.poisson(values).astype(float)


def _channel_recons(shape, points: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(C, H, W) IDW reconstruction of every channel from the same measured points."""
    return np.stack([idw_reconstruction(shape, points, v, k=10) for v in values.T])


def _run_fast(maps, counts, rng, *, summed: bool, batch_size: int) -> dict[float, np.ndarray]:
    """Measured (points, values) snapshots of an autonomous scan at each count."""
    shape = maps.shape[1:]
    sampler = Sampler(
        shape,
        batch_size=batch_size,
        seed=0,
        max_coverage=max(counts) / (shape[0] * shape[1]),
        change_tolerance=None,
    )
    points_log, values_log, snaps = [], [], {}
    n = 0
    for target in sorted(counts):
        while n < target:
            pts = sampler.suggest(min(batch_size, target - n))
            if len(pts) == 0:
                break
            values = _read(maps, pts, rng)
            sampler.ingest(pts, values.sum(1) if summed else values)
            points_log.append(pts)
            values_log.append(values)
            n += len(pts)
        snaps[target] = (np.concatenate(points_log), np.concatenate(values_log))
    return snaps


def quality(args: argparse.Namespace) -> None:
    shape = tuple(int(v) for v in args.shape.split("x"))
    coverages = [float(c) for c in args.coverages.split(",")]
    n_pixels = shape[0] * shape[1]
    counts = [int(round(c * n_pixels)) for c in coverages]
    seeds = [int(s) for s in args.seeds.split(",")]
    strategies = ("fast", "fast-sum", *STATIC)
    scores: dict[tuple[str, float], list[np.ndarray]] = {}
    names: tuple[str, ...] = ()
    for seed in seeds:
        maps, names = make_xrf_maps(shape, seed=seed, counts=args.counts)
        for strategy in strategies:
            rng = np.random.default_rng(seed + 7) if args.noise == "poisson" else None
            t0 = time.perf_counter()
            if strategy.startswith("fast"):
                snaps = _run_fast(
                    maps, counts, rng, summed=strategy == "fast-sum", batch_size=args.batch_size
                )
            else:
                snaps = {}
                for count, cov in zip(counts, coverages):
                    sampler = STATIC_SAMPLERS[strategy](shape, max_coverage=cov, seed=seed)
                    pts = sampler.suggest(count)[:count]
                    snaps[count] = (pts, _read(maps, pts, rng))
            for count, cov in zip(counts, coverages):
                pts, values = snaps[count]
                recon = _channel_recons(shape, pts, values)
                row = np.array([nrmse(t, r) for t, r in zip(maps, recon)])
                scores.setdefault((strategy, cov), []).append(row)
            print(f"seed {seed} {strategy:9s} {time.perf_counter() - t0:6.1f} s", flush=True)
    print()
    label = f"noise {args.noise}, counts x{args.counts:g}, {shape[0]}x{shape[1]}, seeds {seeds}"
    print(f"Per-channel NRMSE (mean over {len(seeds)} seeds; {label})")
    header = f"{'coverage':>8s} {'strategy':9s} " + " ".join(f"{n:>7s}" for n in names)
    for cov in coverages:
        print(header)
        means = {s: np.mean(scores[(s, cov)], 0) for s in strategies}
        for s in strategies:
            print(f"{cov:8.2f} {s:9s} " + " ".join(f"{v:7.4f}" for v in means[s]))
        best_static = np.min([means[s] for s in STATIC], 0)
        for s in ("fast", "fast-sum"):
            ratio = means[s] / best_static
            print(
                f"{cov:8.2f} {s + '/best':9s} "
                + " ".join(f"{v:7.3f}" for v in ratio)
                + f"   worst {ratio.max():.3f}"
            )
        per_seed = np.array(scores[("fast", cov)]) / np.min(
            [np.array(scores[(s, cov)]) for s in STATIC], 0
        )
        for s in ("fast", "fast-sum"):
            nrmse_std = np.std(scores[(s, cov)], 0)
            print(f"{cov:8.2f} {s + ' std':9s} " + " ".join(f"{v:7.4f}" for v in nrmse_std))
        print(
            f"{cov:8.2f} {'per seed':9s} "
            + " ".join(f"{m:.3f}+-{d:.3f}" for m, d in zip(per_seed.mean(0), per_seed.std(0)))
            + "   (fast / best static of each seed: mean +- std)"
        )
        print(
            f"{cov:8.2f} fast wins over the best static pattern in "
            f"{int((per_seed < 1).sum())}/{per_seed.size} (seed, channel) pairs"
        )
        print()


def latency(args: argparse.Namespace) -> None:
    shape = (400, 600)
    maps = np.concatenate([make_xrf_maps(shape, seed=s)[0] for s in range(7)])
    print(f"Latency: ingest of a 50-point batch + next suggest at 10 % coverage, {shape}")
    for n_channels in [int(c) for c in args.channels.split(",")]:
        channel_maps = maps[:n_channels]
        sampler = Sampler(shape, batch_size=50, seed=0, max_coverage=0.9, change_tolerance=None)
        points = sampler.suggest()
        while sampler.coverage < 0.1:  # warm up in big batches (not timed)
            values = channel_maps[:, points[:, 0], points[:, 1]].T
            sampler.ingest(points, values[:, 0] if n_channels == 1 else values)
            points = sampler.suggest(1000)
        points = sampler.suggest()
        times, cpu_times = [], []
        for _ in range(args.steps):
            values = channel_maps[:, points[:, 0], points[:, 1]].T  # the detector, not timed
            values = values[:, 0] if n_channels == 1 else values
            start, cpu_start = time.perf_counter(), time.process_time()
            sampler.ingest(points, values)
            points = sampler.suggest()
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
        ms, cpu_ms = 1e3 * np.array(times), 1e3 * np.array(cpu_times)
        print(
            f"  C = {n_channels:2d}: wall median {np.median(ms):6.1f} ms, p95 "
            f"{np.percentile(ms, 95):6.1f} ms; CPU median {np.median(cpu_ms):6.1f} ms, p95 "
            f"{np.percentile(cpu_ms, 95):6.1f} ms ({args.steps} steps)",
            flush=True,
        )


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=("quality", "latency"))
    parser.add_argument("--shape", default="200x300", help="quality map size ROWSxCOLS")
    parser.add_argument("--coverages", default="0.1,0.2")
    parser.add_argument("--seeds", default="0,1,2,3,4", help="evaluation seeds (never tuned on)")
    parser.add_argument("--noise", choices=("none", "poisson"), default="none")
    parser.add_argument("--counts", type=float, default=1.0, help="count scale of the maps")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--channels", default="1,4,10,32", help="latency: channel counts")
    parser.add_argument("--steps", type=int, default=40, help="latency: timed steps")
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    if args.only in (None, "quality"):
        quality(args)
    if args.only in (None, "latency"):
        latency(args)


if __name__ == "__main__":
    main()

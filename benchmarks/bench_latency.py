"""Decision latency of the sampler and peak memory of a simulate run.

Usage::

    python benchmarks/bench_latency.py            # all figures
    python benchmarks/bench_latency.py --quick    # skip the 2048 x 2048 grid and memory

Figures: median (and p95) time of one ``ingest`` of a batch plus the next
``suggest`` (route included) at 10 % coverage on the 600 x 400 WSe2 image (a
phantom if ../shared/data is absent) and on a 2048 x 2048 phantom, for batch
sizes 50 and 1; peak resident memory of a full ``fastscan simulate`` run.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from fastscan import Sampler
from fastscan.phantoms import make_phantom

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def wse2_or_phantom() -> tuple[np.ndarray, str]:
    path = DATA / "wse2_darkfield_600x400.tif"
    if path.exists():
        import tifffile

        return tifffile.imread(path).astype(float), "WSe2 600x400"
    return make_phantom("flakes", (600, 400), seed=9), "flakes phantom 600x400"


def measure_steps(
    image: np.ndarray, batch_size: int, coverage: float, n_steps: int, initial_fraction: float
) -> dict[str, float]:
    """Run to ``coverage`` then time ``n_steps`` of ingest + suggest."""
    sampler = Sampler(
        image.shape,
        batch_size=batch_size,
        seed=0,
        max_coverage=0.9,
        change_tolerance=None,
        initial_fraction=initial_fraction,
    )
    start = time.perf_counter()
    points = sampler.suggest()
    while sampler.coverage < coverage:
        sampler.ingest(points, image[points[:, 0], points[:, 1]])
        points = sampler.suggest()
    warm_s = time.perf_counter() - start
    ingest, suggest = [], []
    for _ in range(n_steps):
        values = image[points[:, 0], points[:, 1]]  # the detector, not timed
        t0 = time.perf_counter()
        sampler.ingest(points, values)
        t1 = time.perf_counter()
        points = sampler.suggest()
        t2 = time.perf_counter()
        ingest.append(t1 - t0)
        suggest.append(t2 - t1)
    total = np.add(ingest, suggest) * 1e3
    return {
        "median_ms": float(np.median(total)),
        "p95_ms": float(np.percentile(total, 95)),
        "ingest_ms": float(np.median(ingest) * 1e3),
        "suggest_ms": float(np.median(suggest) * 1e3),
        "coverage": sampler.coverage,
        "setup_s": warm_s,
    }


def report(label: str, figures: dict[str, float], target_ms: float | None) -> None:
    verdict = ""
    if target_ms is not None:
        met = "met" if figures["median_ms"] < target_ms else "MISSED"
        verdict = f"  (target < {target_ms:g} ms: {met})"
    print(
        f"{label:<44} median {figures['median_ms']:7.2f} ms  p95 {figures['p95_ms']:7.2f} ms"
        f"  [ingest {figures['ingest_ms']:.2f} + suggest {figures['suggest_ms']:.2f}]"
        f"  at {figures['coverage']:.1%}{verdict}",
        flush=True,
    )


def peak_memory_of_simulate() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "fastscan", "simulate", "--out", out, "-q"], check=True
        )
        seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"fastscan simulate (built-in phantom, 4 strategies, biharmonic): "
        f"peak RSS {peak_mb:.0f} MB, {seconds:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    image, name = wse2_or_phantom()
    measure_steps(image[:100, :100].copy(), 50, 0.05, 3, 0.01)  # compile / load numba kernels
    report(f"{name}, batch 50", measure_steps(image, 50, 0.10, 100, 0.01), 10.0)
    report(f"{name}, batch 1", measure_steps(image, 1, 0.10, 300, 0.099), None)
    if not args.quick:
        big = make_phantom("flakes", (2048, 2048), seed=9)
        # start from a 10 % Halton pattern: reaching 10 % by batches of 50 takes 8,400 steps
        report("flakes 2048x2048, batch 50", measure_steps(big, 50, 0.10, 50, 0.10), 50.0)
        report("flakes 2048x2048, batch 1", measure_steps(big, 1, 0.10, 100, 0.10), None)
        peak_memory_of_simulate()


if __name__ == "__main__":
    main()

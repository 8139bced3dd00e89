"""Cost per point of storing a scan in Tiled (and of the live view) on the simulated beamline.

Instant motors (ophyd.sim SynAxis) and the SimDetector, so every millisecond is
software: the same autonomous scan (same seed, same points) runs

1. ``none``: no storage subscribed;
2. ``tiled_writer``: ``tiled_writer(local_catalog(dir))`` subscribed;
3. ``tiled_writer + LivePlot``: also the headless live figures (Agg, PNG files).

and for each prints the median and p95 time between consecutive points, the
wall time, the extra cost per point over ``none`` and its share of scan time,
and (2, 3) how long ``RE(...)`` waited at the stop document for the run to be
in the catalogue. Scans alternate between conditions ``--repeat`` times.

Run (from the repository root)::

    python benchmarks/bench_storage.py --points 400 --repeat 3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from bluesky import RunEngine
from ophyd.sim import SynAxis
from sim_beamline import add_scan_options, pixel_grid, timed_scan

from fastscan.phantoms import make_phantom
from fastscan.plans import LivePlot, load_run, local_catalog, tiled_writer
from fastscan.sim.detector import SimDetector


def scan_once(kind: str, catalog, args, grid, image, out: Path) -> dict:
    x, y = SynAxis(name="x"), SynAxis(name="y")
    det = SimDetector("det", image, grid, x, y)
    RE = RunEngine({}, call_returns_result=True)
    stamps: list[float] = []
    RE.subscribe(lambda name, doc: stamps.append(time.perf_counter()), "event")
    writer = None
    if kind != "none":
        writer = tiled_writer(catalog)
        RE.subscribe(writer)
    if kind.endswith("LivePlot"):
        RE.subscribe(LivePlot(out / "png", every=1))
    n_cells = grid.shape[0] * grid.shape[1]
    result, t0 = timed_scan(RE, det, x, y, grid, batch=args.batch,
                            max_coverage=(args.points + 1) / n_cells,
                            recon_every=args.recon_every)  # fmt: skip
    t_end = time.perf_counter()
    primary = np.diff(np.asarray(stamps))
    info = {
        "dt": primary,
        "wall": t_end - t0,
        "scan": stamps[-1] - t0,  # until the last event: what the scan itself took
        "stop_wait": t_end - stamps[-1],
        "n": result.plan_result.n_points,
    }
    if writer is not None:
        writer.flush()
        writer.close()
        run = load_run(catalog, result.run_start_uids[0])
        assert len(run["primary"].read()["det_value"]) == info["n"], "points missing in Tiled"
    return info


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_scan_options(p)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--catalog", default=None, help="catalogue directory (default: a temp dir)")
    return p


def main() -> None:
    p = build_parser()
    args = p.parse_args()
    rows, cols, grid = pixel_grid(args.shape)
    image = make_phantom("flakes", (rows, cols), seed=0)
    out = Path(tempfile.mkdtemp(prefix="fastscan-bench-storage-"))
    t0 = time.perf_counter()
    catalog = local_catalog(args.catalog or out / "catalog")
    print(f"embedded catalogue started in {time.perf_counter() - t0:.1f} s")
    kinds = ["none", "tiled_writer", "tiled_writer + LivePlot"]
    scan_once("none", catalog, args, grid, image, out)  # warm up numba, imports
    results: dict[str, list[dict]] = {k: [] for k in kinds}
    for _ in range(args.repeat):
        for kind in kinds:
            results[kind].append(scan_once(kind, catalog, args, grid, image, out))
    n = results["none"][0]["n"]
    print(
        f"simulated beamline, instant motors, grid {rows}x{cols}, {n} points, batch "
        f"{args.batch}, snapshot every {args.recon_every} batches, {args.repeat} scans each"
    )
    base = results["none"]
    base_med = float(np.median(np.concatenate([r["dt"] for r in base]))) * 1e3
    base_scan = float(np.median([r["scan"] for r in base]))
    for kind in kinds:
        dt = np.concatenate([r["dt"] for r in results[kind]]) * 1e3
        med, p95 = float(np.median(dt)), float(np.percentile(dt, 95))
        scan = float(np.median([r["scan"] for r in results[kind]]))
        line = f"  {kind:<24s} per point median {med:6.2f} ms  p95 {p95:6.2f} ms"
        line += f"  scan {scan:5.2f} s"
        if kind != "none":
            stop = float(np.median([r["stop_wait"] for r in results[kind]]))
            extra = (scan - base_scan) / n * 1e3
            share = 100 * (scan - base_scan) / base_scan
            line += f"  | {med - base_med:+5.2f} ms median, {extra:+5.2f} ms/point over the scan"
            line += f" ({share:+5.1f} %), stop wait {stop:.2f} s"
        print(line)


if __name__ == "__main__":
    main()

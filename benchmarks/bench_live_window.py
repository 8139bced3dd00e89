"""Does the live window slow the scan? The same scan with and without ``LiveWindow``.

Simulated beamline with instant motors (ophyd.sim SynAxis + SimDetector). Needs a
display and Tk: on a headless machine run it under Xvfb::

    xvfb-run -a python benchmarks/bench_live_window.py --points 400 --repeat 3

Prints the median and p95 time between consecutive points with and without the
window, the scan time, and the window's redraws (count, mean time in the GUI thread).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import matplotlib
import numpy as np
from bluesky import RunEngine
from ophyd.sim import SynAxis
from sim_beamline import add_scan_options, pixel_grid, timed_scan

from fastscan.phantoms import make_phantom
from fastscan.plans.live import LiveWindow
from fastscan.sim.detector import SimDetector


def scan_once(with_window: bool, args, grid, image) -> dict:
    x, y = SynAxis(name="x"), SynAxis(name="y")
    det = SimDetector("det", image, grid, x, y)
    window = LiveWindow(max_rate=args.rate) if with_window else None
    if window is not None:
        window.figure.canvas.manager.show()
        RE = RunEngine({}, during_task=window.during_task())
        RE.subscribe(window)
    else:
        RE = RunEngine({})
    stamps: list[float] = []
    RE.subscribe(lambda name, doc: stamps.append(time.perf_counter()), "event")
    n_cells = grid.shape[0] * grid.shape[1]
    _, t0 = timed_scan(RE, det, x, y, grid, batch=args.batch,
                       max_coverage=(args.points + 1) / n_cells,
                       recon_every=args.recon_every)  # fmt: skip
    out = {"dt": np.diff(stamps), "scan": stamps[-1] - t0}
    if window is not None:
        out["draws"], out["draw_s"] = window.n_draws, window.draw_seconds
        window.close()
    return out


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_scan_options(p)
    p.add_argument("--rate", type=float, default=4.0, help="max redraws per second")
    p.add_argument("--repeat", type=int, default=3)
    return p


def main() -> None:
    p = build_parser()
    args = p.parse_args()
    # the window needs Tk (set here, not at import, so the docs tests can read the parser
    # on a headless machine); snapshot files (no catalogue here) go to a temporary
    # directory, not ./fastscan-assets ($FASTSCAN_ASSETS is read when a run starts)
    matplotlib.use("TkAgg")
    os.environ.setdefault("FASTSCAN_ASSETS", tempfile.mkdtemp(prefix="fastscan-bench-live-"))
    rows, cols, grid = pixel_grid(args.shape)
    image = make_phantom("flakes", (rows, cols), seed=0)
    scan_once(False, args, grid, image)  # warm up
    runs: dict[bool, list[dict]] = {False: [], True: []}
    for _ in range(args.repeat):
        for flag in (False, True):
            runs[flag].append(scan_once(flag, args, grid, image))
    print(f"instant motors, grid {rows}x{cols}, {args.points} points, batch {args.batch}, "
          f"max {args.rate:g} redraws/s, {args.repeat} scans each")  # fmt: skip
    for flag, label in ((False, "no window"), (True, "LiveWindow")):
        dt = np.concatenate([r["dt"] for r in runs[flag]]) * 1e3
        scan = float(np.median([r["scan"] for r in runs[flag]]))
        line = (f"  {label:<11s} per point median {np.median(dt):6.2f} ms  "
                f"p95 {np.percentile(dt, 95):6.2f} ms  scan {scan:5.2f} s")  # fmt: skip
        if flag:
            draws = sum(r["draws"] for r in runs[flag])
            mean = sum(r["draw_s"] for r in runs[flag]) / max(draws, 1) * 1e3
            line += f"  | {draws} redraws, {mean:.0f} ms each in the GUI thread"
        print(line)


if __name__ == "__main__":
    main()

"""The beamline the Bluesky benchmarks scan: a pixel-unit grid and the timed fastscan plan.

Shared by ``bench_bluesky.py``, ``bench_fly_epics.py``, ``bench_live_window.py`` and
``bench_storage.py`` (not a benchmark itself). Import it after any EPICS environment is set:
it imports bluesky's plans through :mod:`fastscan.plans`.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bluesky import RunEngine

from fastscan import Sampler
from fastscan.plans import Grid, autonomous_scan

__all__ = ["add_scan_options", "pixel_grid", "timed_scan"]


def add_scan_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--points``, ``--shape``, ``--batch`` and ``--recon-every`` of an instant-motor scan.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The benchmark's parser; it adds its own options after these.
    """
    parser.add_argument("--points", type=int, default=400)
    parser.add_argument("--shape", default="100,150")
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--recon-every", type=int, default=5)


def pixel_grid(shape: str) -> tuple[int, int, Grid]:
    """The grid of a ``--shape ROWS,COLS`` option, in pixel units from 0.

    Parameters
    ----------
    shape : str
        ``"ROWS,COLS"``, as the benchmarks' ``--shape`` takes it.

    Returns
    -------
    rows, cols : int
    grid : Grid
        ``cols`` x positions 0 .. cols - 1 and ``rows`` y positions 0 .. rows - 1 (the
        simulated IOC's default pixel units).
    """
    rows, cols = (int(v) for v in shape.split(","))
    return rows, cols, Grid(0.0, cols - 1.0, cols, 0.0, rows - 1.0, rows)


def timed_scan(
    RE: RunEngine,
    detector: Any,
    x: Any,
    y: Any,
    grid: Grid,
    *,
    batch: int,
    max_coverage: float,
    recon_every: int,
) -> tuple[Any, float]:
    """Run one fastscan scan of ``detector``'s ``det_value`` over ``grid`` with seed 0.

    Parameters
    ----------
    RE : RunEngine
        The RunEngine, its subscriptions already made.
    detector, x, y : ophyd devices
        The detector (reading ``det_value``) and the x and y motors.
    grid : Grid
        The scan grid; its pitch is the sampler's pixel pitch.
    batch : int
        The sampler's batch size.
    max_coverage : float
        The sampler's stop coverage.
    recon_every : int
        ``autonomous_scan``'s snapshot interval (batches).

    Returns
    -------
    result : Any
        What ``RE`` returned.
    start : float
        ``time.perf_counter()`` just before the plan was made (after the sampler was).
    """
    sampler = Sampler(grid.shape, batch_size=batch, max_coverage=max_coverage, seed=0,
                      pixel_pitch=grid.pitch)  # fmt: skip
    start = time.perf_counter()
    result = RE(autonomous_scan([detector], x, y, grid=grid, signal="det_value",
                                sampler=sampler, recon_every=recon_every))  # fmt: skip
    return result, start

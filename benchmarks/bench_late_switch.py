"""Decision cost around the late model switch (issues 10 and 12): batch 50, WSe2 600 x 400
(or the 2048 x 2048 flakes phantom with ``--big``).

Usage (from the repository root)::

    python benchmarks/bench_late_switch.py                # the switch as shipped (15 %)
    python benchmarks/bench_late_switch.py --no-shadow    # the switch's full pass (no shadow)
    python benchmarks/bench_late_switch.py --off          # LATE_COVERAGE = None
    python benchmarks/bench_late_switch.py --stream       # readings ingested one by one
    python benchmarks/bench_late_switch.py --stream --big # the same at 2048 x 2048

Fast-forwards a default Sampler (untimed, large ERD batches) to ``--window`` batches below
the shadow map's start (:data:`fastscan.sampler.LATE_COVERAGE` -
:data:`~fastscan.sampler.LATE_PREPARE_MARGIN`), times ``2 * --window`` decisions there, then
ingests batches of 50 (untimed, whole) to ``--window`` batches below LATE_COVERAGE and
times ``2 * --window`` decisions across the switch. A decision is one ingest of the batch +
the next ``suggest`` (as ``bench_latency.py`` times its bands); with ``--stream`` each batch
is ingested point by point and the decision is the wait after the last reading (its ingest
+ the next ``suggest``), as a streamed plan waits; the slowest single reading is reported
too (the shadow is made a band of rows with each part of an ingest: each reading when
streamed). Without the shadow (``--no-shadow``, the switch before it) the switching
decision makes the blend's full ERD pass.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from bench_latency import (
    DEFAULT_IMAGE,
    _stats,
    fast_forward,
    load_image,
    measure,
    stream_batch,
)

import fastscan.sampler as sampler_module
from fastscan.phantoms import make_phantom


def timed_window(sampler, image, points, decisions: int, stream: bool):
    """``decisions`` timed decisions; per decision (coverage before, model name after,
    wall, cpu, slowest reading wall and median reading CPU or nan, whether the shadow map
    existed before it); and the next batch."""
    rows = []
    for _ in range(decisions):
        coverage, shadow = sampler.coverage, sampler._shadow is not None
        if stream:
            point_walls, point_cpus, (wall, cpu), points = stream_batch(sampler, image, points)
            slowest, reading = max(point_walls), float(np.median(point_cpus))
        else:
            wall, cpu, _path, points = measure(sampler, image, points)
            slowest = reading = float("nan")
        rows.append((coverage, sampler.model.name, wall, cpu, slowest, reading, shadow))
    return rows, points


def report(title: str, rows, target_ms: float) -> None:
    walls = [r[2] for r in rows]
    cpus = [r[3] for r in rows]
    w, c = _stats(walls), _stats(cpus)
    crossing = [i for i in range(1, len(rows)) if rows[i][1] != rows[i - 1][1]]
    text = (
        f"  {title}: {len(rows)} decisions {rows[0][0]:.2%} -> {rows[-1][0]:.2%}, "
        f"wall median/p95/max {w[0]:.2f}/{w[1]:.2f}/{w[2]:.1f} ms, "
        f"CPU {c[0]:.2f}/{c[1]:.2f}/{c[2]:.1f} ms "
        f"(p95 wall {'<' if w[1] < target_ms else '>='} {target_ms:g} ms)"
    )
    if crossing:
        i = crossing[0]
        wall, cpu = 1e3 * walls[i], 1e3 * cpus[i]
        text += f"; the switching decision: wall {wall:.1f} ms, CPU {cpu:.1f} ms"
    slowest = [r[4] for r in rows if np.isfinite(r[4])]
    if slowest:
        text += f"; slowest single reading {1e3 * max(slowest):.1f} ms wall"
    print(text, flush=True)
    # the cost of keeping the shadow: the decisions before the switch, with and without it
    before = [r for r in rows[: crossing[0] if crossing else len(rows)] if r[1] == rows[0][1]]
    for kept in (False, True):
        part = [r for r in before if r[6] == kept]
        if part:
            med = 1e3 * np.median([r[3] for r in part])
            line = (
                f"    {len(part)} decisions before the switch, shadow {'kept' if kept else 'none'}"
            )
            line += f": CPU median {med:.2f} ms"
            if np.isfinite(part[0][5]):
                reading = 1e3 * np.median([r[5] for r in part])
                line += f", a reading's ingest CPU median {reading:.2f} ms"
            print(line, flush=True)


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--big", action="store_true", help="the 2048 x 2048 flakes phantom")
    parser.add_argument("--window", type=int, default=10, help="timed batches each side")
    parser.add_argument("--stream", action="store_true", help="ingest each reading alone")
    parser.add_argument("--off", action="store_true", help="no late switch")
    parser.add_argument("--no-shadow", action="store_true", help="the switch's full pass")
    return parser


def main() -> None:
    parser = build_parser()
    args = parser.parse_args()
    at = sampler_module.LATE_COVERAGE or 0.15
    prepare = at - (sampler_module.LATE_PREPARE_MARGIN or 0.01)
    if args.off:
        sampler_module.LATE_COVERAGE = None
    if args.no_shadow:
        sampler_module.LATE_PREPARE_MARGIN = None
    if args.big:
        image = make_phantom("flakes", (2048, 2048), seed=9)
        label, target = "flakes 2048x2048", 50.0
    else:
        image, label = load_image(args.image)
        target = 10.0
    sampler = sampler_module.Sampler(
        image.shape, batch_size=50, seed=0, max_coverage=0.9, change_tolerance=None
    )
    first = sampler.suggest()
    sampler.ingest(first, image[first[:, 0], first[:, 1]])
    step = 50 / image.size
    mode = "off" if args.off else ("full pass at the switch" if args.no_shadow else "shadow")
    ingest = "streamed point by point" if args.stream else "whole batches"
    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{label}: late switch at {at:.0%} ({mode}), {ingest}, load average {load}")
    points = fast_forward(sampler, image, prepare - args.window * step)
    rows, points = timed_window(sampler, image, points, 2 * args.window, args.stream)
    report(f"around the shadow's start ({prepare:.0%})", rows, target)
    # batches of 50 (untimed), as the scan ingests them: the shadow's bands come as they would
    while sampler.coverage < at - args.window * step:
        sampler.ingest(points, image[points[:, 0], points[:, 1]])
        points = sampler.suggest()
    rows, points = timed_window(sampler, image, points, 2 * args.window, args.stream)
    report(f"around the switch ({at:.0%}), model now {sampler.model.name}", rows, target)


if __name__ == "__main__":
    main()

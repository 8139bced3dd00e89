"""Decision cost around the late model switch (issue 12): 600 x 400 WSe2, batch 50.

Usage (from the repository root)::

    python benchmarks/bench_late_switch.py            # the switch as shipped (15 %)
    python benchmarks/bench_late_switch.py --off      # LATE_COVERAGE = None

Fast-forwards a default Sampler to just below :data:`fastscan.sampler.LATE_COVERAGE`
(15 % when off), then times the decision that crosses it (with the switch: the full ERD
pass with ``LATE_MODEL``) and the next ``--steps`` decisions (ingest + suggest), as
``bench_latency.py`` times its bands.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from bench_latency import DEFAULT_IMAGE, fast_forward, load_image, measure

import fastscan.sampler as sampler_module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--off", action="store_true", help="no late switch")
    args = parser.parse_args()
    at = sampler_module.LATE_COVERAGE or 0.15
    if args.off:
        sampler_module.LATE_COVERAGE = None
    image, label = load_image(args.image)
    sampler = sampler_module.Sampler(
        image.shape, batch_size=50, seed=0, max_coverage=0.9, change_tolerance=None
    )
    first = sampler.suggest()
    sampler.ingest(first, image[first[:, 0], first[:, 1]])
    points = fast_forward(sampler, image, at - 50 / image.size)  # one batch below it
    walls, cpus = [], []
    for _ in range(args.steps + 1):
        wall, cpu, _path, points = measure(sampler, image, points)
        walls.append(wall)
        cpus.append(cpu)
    ms = 1e3 * np.array([walls, cpus])
    print(
        f"{label}: switch {'off' if args.off else 'on'} at {at:.0%}, model now "
        f"{sampler.model.name}; the decision crossing it: wall {ms[0, 0]:.1f} ms, "
        f"CPU {ms[1, 0]:.1f} ms; the next {args.steps}: wall median / p95 "
        f"{np.median(ms[0, 1:]):.2f} / {np.percentile(ms[0, 1:], 95):.2f} ms, CPU "
        f"{np.median(ms[1, 1:]):.2f} / {np.percentile(ms[1, 1:], 95):.2f} ms"
    )


if __name__ == "__main__":
    main()

"""Fingerprints of fixed scans: a short hash of the points each one measured.

A change meant to leave a scan alone (a refactor, a module split, a knob that is off
by default) must leave its fingerprint alone; a change of a default changes some of
them, and the closing note says which. Validation images only (no ``../shared``), run
from the repository root::

    python benchmarks/scan_fingerprints.py             # every scan, about 1-2 min
    python benchmarks/scan_fingerprints.py --only fly-10ms,step-12

Scans (``fastscan.compare.imagesets.validation_set`` / ``noisy_set`` at the given size;
readings are the truth, or the seeded Poisson draw of a noisy image's detector):

* ``step-12``: ``Sampler(seed=0, max_coverage=0.12)`` on clock and cell, 256 px;
* ``step-25``: the same to 25 %, past the late model switch (15 %);
* ``step-counts``: the same to 25 % on ``cell-c25`` (Poisson counts 1-25, detector seed
  0): the count-noise cost's path;
* ``fly-10ms``: ``FlySampler(seed=0)`` under the nanoprobe model at 10 ms, 30 decisions
  on clock and xrf-cu-1000, 128 px;
* ``fly-1ms``: the same at 1 ms, 256 px, to 50 % (the short-dwell sweeps);
* ``fly-100ms``: the same at 100 ms, 128 px, 30 decisions.

Each line prints the scan's name, the first 16 hex digits of the SHA-256 of its images'
measured points ((row, col) int64, in measurement order, image after image), the number of
points and the wall time.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable

import numpy as np

from fastscan import Sampler
from fastscan.compare.imagesets import TestImage, noisy_set, validation_set
from fastscan.fly import FlySampler
from fastscan.motion import NANOPROBE


def _digest(point_sets: list[np.ndarray]) -> tuple[str, int]:
    sha = hashlib.sha256()
    for points in point_sets:
        sha.update(np.ascontiguousarray(points, dtype=np.int64).tobytes())
    return sha.hexdigest()[:16], sum(len(p) for p in point_sets)


def _step(images: list[TestImage], max_coverage: float) -> list[np.ndarray]:
    out = []
    for image in images:
        sampler = Sampler(image.truth.shape, seed=0, max_coverage=max_coverage)
        detector = image.detector(0)
        while len(batch := sampler.suggest()):
            sampler.ingest(batch, detector.measure(batch))
        out.append(sampler.measured_points)
    return out


def _fly(dwell: float, size: int, decisions: int | None) -> list[np.ndarray]:
    images = validation_set(size=size, names=("clock", "xrf-cu-1000"))
    out = []
    for image in images.values():
        truth = image.truth
        sampler = FlySampler(truth.shape, motion=NANOPROBE.replace(dwell=dwell), seed=0)
        made = 0
        while not sampler.should_stop() and (decisions is None or made < decisions):
            segments = sampler.suggest_segments()
            if not segments:
                break
            for segment in segments:
                pixels = segment.pixels()
                sampler.ingest(pixels, truth[pixels[:, 0], pixels[:, 1]])
            made += 1
        out.append(sampler.measured_points)
    return out


def _validation(*names: str) -> list[TestImage]:
    return list(validation_set(size=256, names=names).values())


SCANS: dict[str, Callable[[], list[np.ndarray]]] = {
    "step-12": lambda: _step(_validation("clock", "cell"), 0.12),
    "step-25": lambda: _step(_validation("clock", "cell"), 0.25),
    "step-counts": lambda: _step(list(noisy_set(size=256, names=("cell-c25",)).values()), 0.25),
    "fly-10ms": lambda: _fly(0.01, 128, 30),
    "fly-1ms": lambda: _fly(0.001, 256, None),
    "fly-100ms": lambda: _fly(0.1, 128, 30),
}


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark (``main`` parses with it)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help=f"comma-separated, of {', '.join(SCANS)}")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(SCANS)
    unknown = [n for n in names if n not in SCANS]
    if unknown:
        parser.error(f"--only: unknown scan(s) {unknown}; known: {', '.join(SCANS)}")
    for name in names:
        start = time.perf_counter()
        digest, count = _digest(SCANS[name]())
        print(f"{name:12s} {digest}  {count:7d} points  {time.perf_counter() - start:5.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

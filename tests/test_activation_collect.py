"""A process's first activation runs Python's full garbage collection, once, off the
decisions' path.

A fresh process owes the cyclic collector a pass over every object its imports made; paid
in an early decision it made the first 1 ms fly decision up to 11.7 ms (docs/latency.md,
"The collector's first full pass"). The first activation pays it instead; later
activations (a test session, a benchmark of many scans) and decisions never collect.
"""

from __future__ import annotations

import numpy as np

from fastscan import Sampler
from fastscan import sampler as sampler_module
from fastscan.phantoms import make_phantom

IMAGE = make_phantom("flakes", (40, 60), seed=0)


def _scan(sampler: Sampler, calls: list[int]) -> None:
    points = sampler.suggest()  # the initial pattern
    sampler.ingest(points[:-5], IMAGE[points[:-5, 0], points[:-5, 1]])
    assert calls == []  # not yet active: nothing collected
    sampler.ingest(points[-5:], IMAGE[points[-5:, 0], points[-5:, 1]])  # the activation
    for _ in range(4):  # decisions and their ingests
        batch = sampler.suggest()
        sampler.ingest(batch, IMAGE[batch[:, 0], batch[:, 1]])


def test_the_first_activation_collects_once_and_nothing_else_does(monkeypatch):
    calls: list[int] = []
    real = sampler_module.gc.collect

    def counted(*args):
        calls.append(len(args))
        return real(*args)

    monkeypatch.setattr(sampler_module.gc, "collect", counted)
    monkeypatch.setattr(sampler_module, "_warm", False)  # as in a fresh process
    first = Sampler(IMAGE.shape, batch_size=20, max_coverage=0.3)
    _scan(first, calls)
    assert calls == [0]  # at the activation, after the warm-up scan (sampler._warm_up)
    second = Sampler(IMAGE.shape, batch_size=20, max_coverage=0.3, seed=1)
    points = second.suggest()
    second.ingest(points, IMAGE[points[:, 0], points[:, 1]])  # its activation
    assert calls == [0]  # once per process
    assert first.n_measured > len(points) and second.n_measured == len(points)
    assert np.count_nonzero(first.measured_mask) == first.n_measured

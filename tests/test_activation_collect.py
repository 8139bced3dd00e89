"""The activation runs Python's full garbage collection once, off the decisions' path.

A fresh process owes the cyclic collector a pass over every object its imports made; paid
in an early decision it made the first 1 ms fly decision 10-12 ms in 2 of 11 processes
(docs/latency.md, "The collector's first full pass"). The sampler pays it in its
activation instead, once, and never in a decision.
"""

from __future__ import annotations

import numpy as np

from fastscan import Sampler, _sampler_updates
from fastscan.phantoms import make_phantom


def test_the_activation_collects_once_and_decisions_never(monkeypatch):
    calls: list[int] = []
    real = _sampler_updates.gc.collect

    def counted(*args):
        calls.append(len(args))
        return real(*args)

    monkeypatch.setattr(_sampler_updates.gc, "collect", counted)
    image = make_phantom("flakes", (40, 60), seed=0)
    sampler = Sampler(image.shape, batch_size=20, max_coverage=0.3)
    points = sampler.suggest()  # the initial pattern
    sampler.ingest(points[:-5], image[points[:-5, 0], points[:-5, 1]])
    assert calls == []  # not yet active: nothing collected
    sampler.ingest(points[-5:], image[points[-5:, 0], points[-5:, 1]])  # the activation
    assert calls == [0]
    for _ in range(4):  # decisions and their ingests: never
        batch = sampler.suggest()
        sampler.ingest(batch, image[batch[:, 0], batch[:, 1]])
    assert calls == [0]
    assert np.count_nonzero(sampler.measured_mask) == sampler.n_measured

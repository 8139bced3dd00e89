"""Fly test helpers: an honest segment source for plan tests, and a replay loop.

``RowRasterSource`` is a simple fly segment source (no adaptivity, no ground truth).

Coarse to fine row raster: every ``step``-th row first, then the rows halfway
between, and so on; rows alternate direction (serpentine). It keeps what it
ingests and reconstructs by IDW, so a scan's NRMSE can be compared across runs.
``fly_replay`` runs a fly sampler against a simulated detector, decision by decision
(``honest_fly_replay`` then checks the scan was honest);
``adaptive_decisions`` lists the decisions after the coarse raster, and ``honest_decisions``
does so against the ground truth and checks the scan was honest (tests/honesty.py).
``planner_state`` is what a ``SegmentPlanner``'s choice reads, to compare two planners.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from honesty import assert_honest_scan

from fastscan.fly import FlySampler, Segment
from fastscan.fly.planner import SegmentPlanner
from fastscan.reconstruction import idw_reconstruction
from fastscan.replay import SimulatedDetector


class RowRasterSource:
    """Fly sampler stand-in: ``suggest_segments``, ``ingest``, ``should_stop`` and friends."""

    def __init__(self, shape: tuple[int, int], *, step: int = 8, per_batch: int = 3,
                 max_rows: int | None = None) -> None:  # fmt: skip
        self.shape = shape
        self.per_batch = per_batch
        order: list[int] = []
        while step >= 1:
            order += [r for r in range(0, shape[0], step) if r not in order]
            step //= 2
        self.rows = order[:max_rows] if max_rows else order
        self.next = 0
        self.flown = 0
        self.points: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.mask = np.zeros(shape, bool)
        self.ingest_calls: list[int] = []

    def get_params(self) -> dict:
        return {"shape": list(self.shape), "per_batch": self.per_batch}

    def suggest_segments(self) -> list[Segment]:
        out = []
        for row in self.rows[self.next : self.next + self.per_batch]:
            ends = [(row, 0), (row, self.shape[1] - 1)]
            if self.flown % 2:
                ends.reverse()
            out.append(Segment(*ends))
            self.flown += 1
        self.next += len(out)
        return out

    def ingest(self, points: np.ndarray, values: np.ndarray) -> None:
        points = np.asarray(points, np.int64).reshape(-1, 2)
        values = np.asarray(values, float).reshape(-1)
        assert len(points) == len(values)
        self.points.append(points)
        self.values.append(values)
        self.mask[points[:, 0], points[:, 1]] = True
        self.ingest_calls.append(len(points))

    def should_stop(self) -> bool:
        return self.next >= len(self.rows)

    @property
    def stop_reason(self) -> str | None:
        return "all planned rows flown" if self.should_stop() else None

    @property
    def measured_mask(self) -> np.ndarray:
        return self.mask

    @property
    def coverage(self) -> float:
        return float(self.mask.mean())

    @property
    def all_points(self) -> np.ndarray:
        return np.concatenate(self.points) if self.points else np.zeros((0, 2), np.int64)

    @property
    def all_values(self) -> np.ndarray:
        return np.concatenate(self.values) if self.values else np.zeros(0)

    @property
    def reconstruction(self) -> np.ndarray:
        return idw_reconstruction(self.shape, self.all_points, self.all_values)


def fly_replay(sampler, detector, max_decisions: int = 500) -> int:
    """Fly ``sampler``'s segments on ``detector`` until it stops; return the decisions made.

    Every pixel of each suggested segment is measured and ingested, in order; the
    loop ends when the stop rule fires, a decision is empty, or after
    ``max_decisions`` decisions.
    """
    decisions = 0
    while not sampler.should_stop() and decisions < max_decisions:
        segments = sampler.suggest_segments()
        if not segments:
            break
        for segment in segments:
            points = segment.pixels()
            sampler.ingest(points, detector.measure(points))
        decisions += 1
    return decisions


def honest_fly_replay(sampler: FlySampler, detector: SimulatedDetector,
                      max_decisions: int = 500) -> int:  # fmt: skip
    """:func:`fly_replay`, then :func:`assert_honest_scan` under ``sampler.motion``.

    ``detector`` must have read for ``sampler`` alone (a fresh one per sampler), so its
    ``asked_mask`` is every pixel the sampler asked for; the decisions made are returned.
    """
    decisions = fly_replay(sampler, detector, max_decisions)
    assert_honest_scan(sampler, detector, sampler.motion)
    return decisions


def adaptive_decisions(sampler, detector, record=None) -> list[list[Segment]]:
    """Fly ``sampler`` on ``detector`` until it stops; the segments of each decision made
    once the coarse raster is in (the raster's own lines are flown, not listed).
    ``record(sampler, segments)``, if given, sees each such decision before it is flown."""
    decisions = []
    while not sampler.should_stop():
        active = sampler._sampler.initial_complete
        segments = sampler.suggest_segments()
        if not segments:
            break
        if active:
            decisions.append(segments)
            if record is not None:
                record(sampler, segments)
        for segment in segments:
            points = segment.pixels()
            sampler.ingest(points, detector.measure(points))
    return decisions


def honest_decisions(
    sampler: FlySampler,
    truth: np.ndarray,
    record: Callable[[FlySampler, list[Segment]], object] | None = None,
) -> list[list[Segment]]:
    """:func:`adaptive_decisions` of ``sampler`` on a simulated detector over ``truth``,
    after checking the scan was honest under ``sampler.motion`` (:func:`assert_honest_scan`)."""
    detector = SimulatedDetector(truth)
    decisions = adaptive_decisions(sampler, detector, record)
    assert_honest_scan(sampler, detector, sampler.motion)
    return decisions


def planner_state(planner: SegmentPlanner) -> list[np.ndarray]:
    """Everything a choice reads: weights, scores, stale flags, round-robin cursors."""
    return [
        planner._weights,
        planner._weights_t,
        *planner._ratio,
        *planner._start,
        *planner._end,
        *planner._dirty,
        np.array(planner._cursor),
    ]

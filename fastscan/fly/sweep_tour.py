"""The order of one decision's segments with the least stage-move time
(``FlySampler(sweep_tour=True)``).

A short-dwell decision flies its picks as one monotone sweep
(:func:`fastscan.fly.planner.sweep_order`): lines in order, each from its end nearer the end
of the one before. That is the shortest path for whole lines. Picks trimmed to their unflat
part (``flat_ends``) start and end anywhere along their lines, and the stage then also moves
*along* the lines between them: on the XRF maps at 1 ms most of the move time went there.
:func:`shortest_tour` starts from the given order and improves it while it can, by reversing a
run of segments (each then flown the other way) or moving one segment, either way round, to
another place (2-opt and or-opt moves, first improvement). Each path is timed from the stage
position with both axes moving together (trapezoids, the slower axis decides), as the planner
times moves. The segments, and the readings each decision brings, stay the same.

Examples
--------
>>> from fastscan.fly.segment import Segment
>>> segs = [Segment((0, 0), (0, 9)), Segment((2, 90), (2, 99)), Segment((4, 0), (4, 9))]
>>> stage = (1000.0, 1e4, 1000.0, 1e4)
>>> [(s.start, s.end) for s in shortest_tour(segs, (0.0, 0.0), stage)]
[((0, 0), (0, 9)), ((4, 9), (4, 0)), ((2, 90), (2, 99))]
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from fastscan.fly._kernels import _travel
from fastscan.fly.segment import Segment

__all__ = ["shortest_tour", "tour_seconds"]


@njit(cache=True, nogil=True)
def _moves(ends, here, stage):
    """Move seconds from the stage (``first``) and between segments (``between``); a node
    ``2 i + f`` is segment ``i`` flown way ``f`` (0 from its start, 1 from its end)."""
    n = ends.shape[0]
    first = np.empty(2 * n)
    between = np.empty((2 * n, 2 * n))
    for u in range(2 * n):
        i, f = u // 2, u % 2
        first[u] = _travel(ends[i, f, 0, 0] - here[0], ends[i, f, 0, 1] - here[1], stage)
        for v in range(2 * n):
            j, g = v // 2, v % 2
            d_row = ends[j, g, 0, 0] - ends[i, f, 1, 0]
            d_col = ends[j, g, 0, 1] - ends[i, f, 1, 1]
            between[u, v] = _travel(d_row, d_col, stage)
    return first, between


@njit(cache=True, nogil=True)
def _cost(first, between, seq):
    total = first[seq[0]]
    for k in range(seq.shape[0] - 1):
        total += between[seq[k], seq[k + 1]]
    return total


@njit(cache=True, nogil=True)
def _improve(first, between, seq, movable, max_rounds):
    """2-opt and or-opt moves among ``seq[:movable]``, first improvement, until none helps
    (in place); ``seq[movable:]`` stays."""
    best = _cost(first, between, seq)
    trial = seq.copy()
    for _ in range(max_rounds):
        improved = False
        for i in range(movable):  # reverse seq[i..j], each segment flown the other way
            for j in range(i, movable):
                trial[:] = seq
                for k in range(i, j + 1):
                    trial[k] = seq[i + j - k] ^ 1
                cost = _cost(first, between, trial)
                if cost < best - 1e-12:
                    best = cost
                    seq[:] = trial
                    improved = True
        for i in range(movable):  # move one segment to another place, either way round
            for j in range(movable):
                for f in range(2):
                    node = (seq[i] & ~1) | f
                    t = 0
                    for k in range(movable):
                        if k == i:
                            continue
                        if t == j:
                            trial[t] = node
                            t += 1
                        trial[t] = seq[k]
                        t += 1
                    if t == j:
                        trial[t] = node
                    trial[movable:] = seq[movable:]
                    cost = _cost(first, between, trial)
                    if cost < best - 1e-12:
                        best = cost
                        seq[:] = trial
                        improved = True
        if not improved:
            break
    return best


def _ends(segments: list[Segment]) -> np.ndarray:
    """(n, 2, 2, 2): segment, way round (0 as given), which end (0 first flown), (row, col)."""
    ends = np.empty((len(segments), 2, 2, 2))
    for i, seg in enumerate(segments):
        ends[i, 0, 0] = ends[i, 1, 1] = seg.start
        ends[i, 0, 1] = ends[i, 1, 0] = seg.end
    return ends


def _stage(stage: tuple[float, float, float, float]) -> np.ndarray:
    out = np.asarray(stage, float)
    if out.shape != (4,) or np.isnan(out).any() or not (out > 0).all():
        raise ValueError(
            f"stage must be (v_x, a_x, v_y, a_y), each > 0 (inf allowed), got {stage!r}"
        )
    return out


def tour_seconds(
    segments: list[Segment],
    position: tuple[float, float] | None,
    stage: tuple[float, float, float, float],
) -> float:
    """Stage-move seconds of flying ``segments`` as given (each from its ``start``) from
    ``position`` (row, col; None: the grid's origin), both axes together (trapezoids)."""
    if not segments:
        return 0.0
    here = np.zeros(2) if position is None else np.asarray(position, float)
    first, between = _moves(_ends(segments), here, _stage(stage))
    return float(_cost(first, between, 2 * np.arange(len(segments), dtype=np.int64)))


def shortest_tour(
    segments: list[Segment],
    position: tuple[float, float] | None,
    stage: tuple[float, float, float, float],
    *,
    keep_last: bool = False,
    max_rounds: int = 50,
) -> list[Segment]:
    """``segments`` re-ordered and re-oriented for less stage-move time from ``position``.

    Parameters
    ----------
    segments : list of Segment
        One decision's segments, in the order they would be flown (each from its start).
    position : (row, col) or None
        The stage when the first one starts (None: the grid's origin).
    stage : (v_x, a_x, v_y, a_y)
        Speed and acceleration of each axis in pixels (as the planner's moves).
    keep_last : bool
        Keep the last segment last, flown as given, so that the stage ends where it would
        have (and a decision that depends on where the stage is sees the same place).
    max_rounds : int
        Most passes over all 2-opt and or-opt moves (>= 1).

    Returns
    -------
    list of Segment
        The same segments, some reversed, in an order whose moves take no longer than the
        order given (:func:`tour_seconds`).
    """
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
        raise ValueError(f"max_rounds must be an integer >= 1, got {max_rounds!r}")
    stage_arr = _stage(stage)
    if not segments:
        return []
    here = np.zeros(2) if position is None else np.asarray(position, float)
    if here.shape != (2,) or not all(math.isfinite(v) for v in here):
        raise ValueError(f"position must be a finite (row, col) or None, got {position!r}")
    n = len(segments)
    seq = 2 * np.arange(n, dtype=np.int64)
    first, between = _moves(_ends(segments), here, stage_arr)
    _improve(first, between, seq, n - 1 if keep_last else n, max_rounds)
    return [segments[v // 2] if v % 2 == 0 else segments[v // 2].reversed() for v in seq]

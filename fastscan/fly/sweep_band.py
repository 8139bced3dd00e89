"""A compact sweep: of a short-dwell decision's picks, the ``size`` neighbouring lines worth most
per second once the stage moves of flying them are counted (``FlySampler(sweep_pool=...)``).

At short dwells a decision flies its picks as one monotone sweep
(:func:`fastscan.fly.planner.sweep_order`), and the stage moves between neighbouring picks.
A move of ``d`` lines costs a trapezoid, about ``2 sqrt(d / a)``: picks spread over the whole
grid cost about twice the moves of a raster's neighbouring lines. Given more picks than one
sweep flies (a larger pool, all promising nearly the best rate), :func:`compact_sweep` keeps a
run of ``size`` picks that are neighbours in line order and hold the best pick, choosing the
run with the most ERD per second, its seconds counting the picks' own time, the moves between
them and the move from the stage to the run's nearer end. The picks left out keep their ERD
and are chosen again by a later decision.

Examples
--------
>>> from fastscan.fly.planner import Pick
>>> from fastscan.fly.segment import Segment
>>> picks = [Pick(Segment((r, 0), (r, 9)), 1.0, 0.5) for r in (40, 0, 44, 8, 48, 4)]
>>> move = lambda d: 2 * (d / 1e4) ** 0.5
>>> [p.segment.start[0] for p in compact_sweep(picks, 3, (50.0, 0.0), move)]
[40, 44, 48]
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from fastscan._validation import is_integer
from fastscan.fly.planner import Pick

__all__ = ["compact_sweep"]


def compact_sweep(
    picks: list[Pick],
    size: int,
    position: tuple[float, float] | None,
    move: Callable[[float], float],
) -> list[Pick]:
    """The ``size`` picks, neighbours in line order and holding ``picks[0]``, worth most per second.

    Parameters
    ----------
    picks : list of Pick
        One decision's picks along one axis (all rows or all columns), the best first.
    size : int
        Picks to keep (>= 1); with ``len(picks) <= size`` all are kept.
    position : (row, col) or None
        The stage when the sweep starts (None: the grid's origin).
    move : callable
        Seconds of a stage move of ``d`` lines across the picks' axis (``d`` >= 0).

    Returns
    -------
    list of Pick
        The kept picks, in the order given (the sweep is ordered later).
    """
    if not (is_integer(size) and size >= 1):
        raise ValueError(f"size must be an integer >= 1, got {size!r}")
    if len(picks) <= size:
        return list(picks)
    rows = picks[0].segment.is_row
    if any(p.segment.is_row != rows for p in picks):
        raise ValueError("picks must all lie along one axis (all rows or all columns)")
    axis = 0 if rows else 1
    here = 0.0 if position is None else float(position[axis])
    order = sorted(range(len(picks)), key=lambda i: picks[i].segment.start[axis])
    lines = [float(picks[i].segment.start[axis]) for i in order]
    best_at = order.index(0)
    gaps = [move(b - a) for a, b in itertools.pairwise(lines)]
    best: tuple[float, int] | None = None
    for first in range(max(0, best_at - size + 1), min(best_at, len(picks) - size) + 1):
        last = first + size - 1
        kept = order[first : last + 1]
        erd = sum(picks[i].erd for i in kept)
        seconds = sum(picks[i].seconds for i in kept) + sum(gaps[first:last])
        seconds += move(min(abs(here - lines[first]), abs(here - lines[last])))
        rate = erd / seconds
        if best is None or rate > best[0]:
            best = (rate, first)
    assert best is not None  # the range holds best_at's own run
    kept_ids = set(order[best[1] : best[1] + size])
    return [p for i, p in enumerate(picks) if i in kept_ids]

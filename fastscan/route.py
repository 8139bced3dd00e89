"""Motion-time-aware route planning: the fastest order to visit a batch of stage positions.

The cost of a move is the time the stage needs for it (:class:`MotionModel`, defined
in :mod:`fastscan.motion` and re-exported here):
per-axis trapezoidal velocity profiles, axes moving together (or one after the
other), plus a settle time per move. :func:`plan_route` orders a batch into an
open path from the current stage position that minimises the total motion time:

1. batches of at most ``EXACT_MAX`` points are solved exactly (Held-Karp);
2. otherwise a nearest-neighbour path (a Hilbert-curve order above
   ``NN_MAX`` points) is improved by 2-opt and Or-opt moves (segments of 1 to 3
   points, both orientations) on candidate lists of the ``K`` nearest
   neighbours (k-d tree), then by iterated local search: random double-bridge
   kicks (swap of two adjacent segments), each followed by local search and kept
   only when the route is no slower; after a run of kicks without improvement
   the search restarts from the best route with one route-wide kick. Kernels are
   Numba; move times come from an (n + 2)^2 matrix up to ``MATRIX_MAX`` points
   and are computed on the fly above it, so memory stays linear for big batches.

The search runs a fixed number of kicks (:func:`default_kicks`), optionally capped
by a wall-clock ``time_budget``: without a cap (the default) the result is
deterministic for a given ``seed``. It is never slower than the
construction it started from (:func:`construct_route`).

Examples
--------
>>> import numpy as np
>>> from fastscan.route import MotionModel, plan_route, route_time
>>> xy = np.random.default_rng(0).uniform(0, 100, (30, 2))
>>> motion = MotionModel(velocity=(50, 30), acceleration=(200, 100), settle_time=0.01)
>>> order = plan_route(xy, (0.0, 0.0), motion=motion)
>>> sorted(order.tolist()) == list(range(30))
True
>>> route_time(xy[order], (0.0, 0.0), motion=motion) < route_time(xy, (0.0, 0.0), motion=motion)
True
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.spatial import cKDTree

from fastscan import _route_kernels as _k
from fastscan.motion import METRICS, MotionModel, move_times

__all__ = [
    "METRICS",
    "MotionModel",
    "construct_route",
    "default_kicks",
    "default_time_budget",
    "move_times",
    "plan_route",
    "route_time",
    "warm_up",
]

EXACT_MAX = 10  # batches up to this size are solved exactly
NN_MAX = 20000  # above this, the construction is a Hilbert-curve order instead of O(n^2) NN
MATRIX_MAX = 400  # up to this size move times are precomputed in an (n + 2)^2 matrix
N_CANDIDATES = 10  # nearest neighbours per point considered by the moves
KICKS_PER_POINT = 2  # iterated-local-search kicks: KICKS_PER_POINT * n + KICKS_MIN
KICKS_MIN = 150  # 250 kicks at n = 50: within 2 % of best known in about 4 ms
KICK_SEGMENT = 30  # longest segment moved by a double-bridge kick (at most n // 5)
STALL_PER_POINT = 2  # restart from the best route after max(STALL_MIN, STALL_PER_POINT * n)
STALL_MIN = 100  # kicks without improvement
_CHUNK = 100  # kicks between two checks of the clock


# ---------------------------------------------------------------------------- validation
def _as_points(points_xy: ArrayLike) -> np.ndarray:
    pts = np.asarray(points_xy, float)
    if pts.size == 0:
        return np.zeros((0, 2))
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points_xy must be an (n, 2) array of (x, y), got shape {pts.shape}")
    bad = ~np.isfinite(pts).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"points_xy[{i}] = {pts[i].tolist()} is not finite; need finite (x, y)")
    return pts


def _as_position(xy: ArrayLike | None, name: str) -> np.ndarray | None:
    if xy is None:
        return None
    arr = np.asarray(xy, float)
    if arr.shape != (2,) or not np.isfinite(arr).all():
        raise ValueError(f"{name} must be a finite (x, y) pair or None, got {xy!r}")
    return arr


def _check_motion(motion: MotionModel | None) -> MotionModel:
    if motion is None:
        return MotionModel()
    if not isinstance(motion, MotionModel):
        raise TypeError(f"motion must be a MotionModel or None, got {type(motion).__name__}")
    return motion


class _Problem:
    """Points plus start/end nodes in the layout the kernels use."""

    def __init__(self, points_xy, start_xy, end_xy, motion):
        self.pts = _as_points(points_xy)
        start = _as_position(start_xy, "start_xy")
        end = _as_position(end_xy, "end_xy")
        self.motion = _check_motion(motion)
        self.n = n = len(self.pts)
        self.free_start = start is None
        self.free_end = end is None
        self.xs = np.zeros(n + 2)
        self.ys = np.zeros(n + 2)
        self.xs[:n], self.ys[:n] = self.pts[:, 0], self.pts[:, 1]
        if start is not None:
            self.xs[n], self.ys[n] = start
        if end is not None:
            self.xs[n + 1], self.ys[n + 1] = end
        self.prm = self.motion._params()
        self.mat = np.zeros((0, 0))

    @property
    def args(self) -> tuple:
        return self.xs, self.ys, self.prm, self.n, self.free_start, self.free_end, self.mat

    def use_matrix(self) -> None:
        """Precompute all move times (worth it for small n: lookups beat recomputing)."""
        self.mat = _k.cost_matrix(*self.args[:-1])

    def nodes(self, order: np.ndarray) -> np.ndarray:
        return np.concatenate([[self.n], order, [self.n + 1]]).astype(np.int64)

    def cost(self, order: np.ndarray) -> float:
        return float(_k.path_cost(self.nodes(order), *self.args))


# ---------------------------------------------------------------------------- construction
def _hilbert_order(x: np.ndarray, y: np.ndarray, bits: int = 16) -> np.ndarray:
    """Permutation sorting the points along a Hilbert curve over their bounding box."""
    side = (1 << bits) - 1
    span_x = max(float(np.ptp(x)), 1e-300)
    span_y = max(float(np.ptp(y)), 1e-300)
    xi = np.round((x - x.min()) / span_x * side).astype(np.int64)
    yi = np.round((y - y.min()) / span_y * side).astype(np.int64)
    d = np.zeros(len(x), np.int64)
    s = 1 << (bits - 1)
    while s > 0:
        rx = (xi & s) > 0
        ry = (yi & s) > 0
        d += s * s * ((3 * rx) ^ ry)
        flip = ~ry
        swap_x = np.where(flip & rx, side - xi, xi)
        swap_y = np.where(flip & rx, side - yi, yi)
        xi, yi = np.where(flip, swap_y, swap_x), np.where(flip, swap_x, swap_y)
        s >>= 1
    return np.argsort(d, kind="stable")


def _construct(prob: _Problem, nbr: np.ndarray) -> np.ndarray:
    if prob.n <= NN_MAX:
        return _k.nearest_neighbour(*prob.args, nbr)
    scale = (1.0, 1.0) if prob.motion.metric == "euclidean" else prob.motion.velocity
    return _hilbert_order(prob.pts[:, 0] / scale[0], prob.pts[:, 1] / scale[1])


def construct_route(
    points_xy: ArrayLike,
    start_xy: ArrayLike | None = None,
    *,
    motion: MotionModel | None = None,
    end_xy: ArrayLike | None = None,
) -> np.ndarray:
    """The construction :func:`plan_route` improves on: nearest neighbour in motion time.

    From ``start_xy`` (or, when it is None, from the batch corner with the smallest
    ``x / vx + y / vy``), always move to the quickest-to-reach unvisited point.
    Above ``NN_MAX`` points a Hilbert-curve order is used instead. Returns an
    int64 permutation of ``range(n)``.
    """
    prob = _Problem(points_xy, start_xy, end_xy, motion)
    if prob.n <= 1:
        return np.arange(prob.n, dtype=np.int64)
    return _construct(prob, _candidates(prob, N_CANDIDATES)[0]).astype(np.int64)


# ---------------------------------------------------------------------------- improvement
def _candidates(prob: _Problem, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest nodes of each point (fixed start/end included), sorted by move time.

    Found with a k-d tree on coordinates scaled by 1 / velocity (Chebyshev norm for
    simultaneous axes, L1 for manhattan, L2 for euclidean), then sorted by the true
    move time. Returns ``(nodes, times)``, both (n, k).
    """
    n = prob.n
    node_ids = np.arange(n + 2)
    keep = np.ones(n + 2, bool)
    keep[n], keep[n + 1] = not prob.free_start, not prob.free_end
    node_ids = node_ids[keep]
    metric = prob.motion.metric
    scale = np.ones(2) if metric == "euclidean" else 1.0 / np.asarray(prob.motion.velocity)
    coords = np.stack([prob.xs, prob.ys], 1) * scale
    p = {"simultaneous": np.inf, "euclidean": 2.0, "manhattan": 1.0}[metric]
    k = min(k, len(node_ids) - 1)
    tree = cKDTree(coords[node_ids])
    _, idx = tree.query(coords[:n], k=k + 1, p=p)
    cand = node_ids[np.asarray(idx).reshape(n, k + 1)]
    not_self = cand != np.arange(n)[:, None]
    cand = np.take_along_axis(cand, np.argsort(~not_self, axis=1, kind="stable"), 1)[:, :k]
    times = move_times(
        prob.pts[:, None, :], np.stack([prob.xs[cand], prob.ys[cand]], -1), prob.motion
    )
    by_time = np.argsort(times, 1, "stable")
    return (
        np.ascontiguousarray(np.take_along_axis(cand, by_time, 1)),
        np.ascontiguousarray(np.take_along_axis(times, by_time, 1)),
    )


def default_time_budget(n: int) -> float:
    """Default wall-clock cap of the improvement step: 20 ms + 0.1 ms per point, at most 1 s.

    The kick count (:func:`default_kicks`) normally ends the search well before it.
    """
    return min(1.0, 0.02 + 1e-4 * n)


def default_kicks(n: int) -> int:
    """Default number of iterated-local-search kicks: ``KICKS_MIN + KICKS_PER_POINT * n``."""
    return KICKS_MIN + KICKS_PER_POINT * n


def _seed_state(seed: int | None) -> np.ndarray:
    value = (int(seed or 0) * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) % (1 << 64)
    return np.array([value or 1], np.uint64)


def _improve(
    prob: _Problem,
    order: np.ndarray,
    cands: tuple[np.ndarray, np.ndarray],
    budget: float,
    seed: int | None,
    max_kicks: int,
) -> np.ndarray:
    deadline = time.perf_counter() + budget
    n = prob.n
    nbr, ncost = cands
    r = prob.nodes(order)
    pos = np.empty_like(r)
    pos[r] = np.arange(len(r))
    queue = r[1:-1].copy()
    inq = np.ones(n, np.bool_)
    qs = np.array([0, n], np.int64)
    tmp = np.empty(len(r) + 3, np.int64)
    span = np.empty(2, np.int64)
    start_cost = prob.cost(order)
    eps = 1e-10 * start_cost / n
    _k.local_search(r, pos, nbr, ncost, *prob.args, eps, span, queue, inq, qs, tmp)
    best_r = r.copy()
    gbest_r = r.copy()
    cost = float(_k.path_cost(r, *prob.args))
    state = np.array([cost, cost, 0.0])
    rng = _seed_state(seed)
    lmax = max(1, min(KICK_SEGMENT, n // 5))
    stall = max(STALL_MIN, STALL_PER_POINT * n)
    kicks_left = max_kicks
    while kicks_left > 0 and time.perf_counter() < deadline:
        chunk = min(_CHUNK, kicks_left)
        _k.perturb_search(
            r, pos, best_r, gbest_r, nbr, ncost, *prob.args, eps, chunk, lmax, stall, rng,
            queue, inq, qs, tmp, state,
        )  # fmt: skip
        kicks_left -= chunk
    return gbest_r[1:-1].copy()


_warm = False


def warm_up() -> None:
    """Compile (or load from the Numba cache) every kernel, so no later call pays for it.

    :func:`plan_route` calls it once by itself before its first timed search.
    """
    global _warm
    if _warm:
        return
    xy = np.random.default_rng(0).uniform(0, 10, (EXACT_MAX + 2, 2))
    for matrix in (True, False):
        prob = _Problem(xy, (0.0, 0.0), None, None)
        if matrix:
            prob.use_matrix()
        cands = _candidates(prob, N_CANDIDATES)
        _improve(prob, _construct(prob, cands[0]), cands, math.inf, 0, 2 * STALL_MIN)
    _k.held_karp(*_Problem(xy[:3], None, None, None).args)
    _warm = True


def plan_route(
    points_xy: ArrayLike,
    start_xy: ArrayLike | None = None,
    *,
    motion: MotionModel | None = None,
    end_xy: ArrayLike | None = None,
    time_budget: float | None = None,
    seed: int | None = 0,
    max_kicks: int | None = None,
) -> np.ndarray:
    """Fastest order to visit ``points_xy`` from ``start_xy`` (an open path).

    Parameters
    ----------
    points_xy : (n, 2) array
        Stage positions (x, y) in motor units; duplicates allowed.
    start_xy : (x, y) or None
        Current stage position; None lets the route start at any point.
    motion : MotionModel or None
        Cost model; None is :class:`MotionModel` ``()`` (unit speed, simultaneous axes).
    end_xy : (x, y) or None
        If given, the route also pays the final move to ``end_xy``, so it ends near it.
    time_budget : float or None
        Wall-clock cap, in seconds, on the iterated local search. None (the
        default) sets no clock: the search stops after ``max_kicks`` kicks, so the
        route depends only on the points and the seed, never on machine load (a
        replay, a resumed scan and a restarted service all get the same route).
        :func:`default_time_budget` (20 ms + 0.1 ms per point) is a sensible cap
        for a live scan that must never wait on the planner.
    seed : int or None
        Seed of the random kicks (None is 0).
    max_kicks : int or None
        Number of kicks of the iterated local search; None uses
        :func:`default_kicks` (150 + 2 n). The search stops after ``max_kicks``
        kicks or at ``time_budget``, whichever comes first. When the kicks end it
        (the normal case with the defaults) the route depends only on the inputs
        and ``seed``; when the budget does, on machine speed too. For a better
        route at more cost, raise both.

    Returns
    -------
    numpy.ndarray
        int64 permutation of ``range(n)``: visit ``points_xy[order]`` in turn.

    Raises
    ------
    ValueError
        For a wrong shape, a non-finite coordinate or a negative time budget.
    """
    prob = _Problem(points_xy, start_xy, end_xy, motion)
    if time_budget is not None and not (time_budget >= 0 and math.isfinite(time_budget)):
        raise ValueError(f"time_budget must be a finite number >= 0 or None, got {time_budget!r}")
    if max_kicks is not None and (int(max_kicks) != max_kicks or max_kicks < 0):
        raise ValueError(f"max_kicks must be an integer >= 0 or None, got {max_kicks!r}")
    n = prob.n
    if n <= 1:
        return np.arange(n, dtype=np.int64)
    warm_up()
    if n <= EXACT_MAX:
        return _k.held_karp(*prob.args).astype(np.int64)
    if n <= MATRIX_MAX:
        prob.use_matrix()
    cands = _candidates(prob, N_CANDIDATES)
    order = _construct(prob, cands[0]).astype(np.int64)
    budget = math.inf if time_budget is None else float(time_budget)
    kicks = default_kicks(n) if max_kicks is None else int(max_kicks)
    improved = _improve(prob, order, cands, budget, seed, kicks)
    return improved if prob.cost(improved) <= prob.cost(order) else order


def route_time(
    points_xy: ArrayLike,
    start_xy: ArrayLike | None = None,
    *,
    motion: MotionModel | None = None,
    end_xy: ArrayLike | None = None,
    dwell: float = 0.0,
) -> float:
    """Seconds to visit ``points_xy`` in the given order: every move plus ``dwell`` per point.

    Includes the move from ``start_xy`` to the first point and from the last
    point to ``end_xy`` when those are given.
    """
    pts = _as_points(points_xy)
    motion = _check_motion(motion)
    start = _as_position(start_xy, "start_xy")
    end = _as_position(end_xy, "end_xy")
    if not (math.isfinite(dwell) and dwell >= 0):
        raise ValueError(f"dwell must be a finite number of seconds >= 0, got {dwell!r}")
    path: Sequence[np.ndarray] = [p for p in (start,) if p is not None]
    path = [*path, *pts, *([end] if end is not None else [])]
    if len(path) < 2:
        return float(dwell * len(pts))
    arr = np.asarray(path)
    return float(np.sum(move_times(arr[:-1], arr[1:], motion)) + dwell * len(pts))

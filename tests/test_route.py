"""Route planner: motion-time model, plan_route, route_time and the Numba kernels."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math

import numpy as np
import pytest

from fastscan import Sampler
from fastscan import _route_kernels as K
from fastscan import route as R
from fastscan.route import MotionModel, construct_route, move_times, plan_route, route_time

STAGE = MotionModel(velocity=(50.0, 30.0), acceleration=(200.0, 100.0), settle_time=0.01)
MODELS = [
    MotionModel(),
    STAGE,
    MotionModel(velocity=(2.0, 1.0), acceleration=(5.0, 1.0), metric="manhattan"),
    MotionModel(velocity=(3.0, 4.0), settle_time=0.2, metric="euclidean"),
]


def uniform(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (n, 2)) * [600.0, 400.0]


def brute_force_time(xy, start, end, motion):
    best = math.inf
    for perm in itertools.permutations(range(len(xy))):
        best = min(best, route_time(xy[list(perm)], start, motion=motion, end_xy=end))
    return best


# ---------------------------------------------------------------------------- motion model
def test_move_time_hand_computed_profiles():
    m = MotionModel(velocity=(10.0, 10.0), acceleration=(100.0, 100.0))
    # full speed needs v^2 / a = 1 unit: shorter moves are triangular, t = 2 sqrt(d / a)
    assert m.move_time(0.25, 0.0) == pytest.approx(2 * math.sqrt(0.25 / 100))  # 0.1 s
    assert m.move_time(1.0, 0.0) == pytest.approx(0.2)  # both formulas meet at d = v^2/a
    # longer moves are trapezoids, t = d / v + v / a
    assert m.move_time(5.0, 0.0) == pytest.approx(5 / 10 + 10 / 100)  # 0.6 s
    assert m.move_time(0.0, -5.0) == pytest.approx(0.6)  # sign and axis do not matter
    # simultaneous: the slower axis decides
    assert m.move_time(5.0, 0.25) == pytest.approx(0.6)
    assert m.move_time(0.0, 0.0) == 0.0


def test_move_time_axes_settle_and_metrics():
    slow_y = MotionModel(velocity=(10.0, 2.0))
    assert slow_y.move_time(4.0, 3.0) == pytest.approx(1.5)  # y: 3 / 2 beats x: 4 / 10
    assert slow_y.move_time(4.0, 0.0) == pytest.approx(0.4)  # y idle
    settle = MotionModel(velocity=(10.0, 2.0), settle_time=0.05)
    assert settle.move_time(4.0, 3.0) == pytest.approx(1.55)
    assert settle.move_time(0.0, 0.0) == 0.0  # no move, no settle
    kw = {"velocity": (10.0, 10.0), "acceleration": (100.0, 100.0), "settle_time": 0.01}
    manhattan = MotionModel(**kw, metric="manhattan")
    assert manhattan.move_time(5.0, 0.25) == pytest.approx(0.6 + 0.1 + 0.01)
    euclid = MotionModel(velocity=(3.0, 4.0), metric="euclidean")
    assert euclid.move_time(3.0, 4.0) == pytest.approx(5.0 / 3.0)  # length / min(vx, vy)
    both = np.array([[0.0, 0.0], [4.0, 3.0]])
    assert move_times(both[0], both[1], settle) == pytest.approx(1.55)
    np.testing.assert_allclose(move_times(both[:1], both, slow_y), [0.0, 1.5])


@pytest.mark.parametrize("motion", MODELS, ids=lambda m: m.metric)
def test_numba_move_time_matches_numpy(motion):
    d = np.random.default_rng(0).normal(0, 20, (200, 2))
    d[:5] = [[0, 0], [0, 3], [7, 0], [0.001, 0], [-400, 300]]
    prm = motion._params()
    kernel = [K.move_time(dx, dy, prm) for dx, dy in d]
    np.testing.assert_allclose(kernel, motion.move_time(d[:, 0], d[:, 1]), rtol=1e-12)


def test_motion_model_validation_and_json_round_trip():
    m = MotionModel(velocity=[2, 3], acceleration=[4, math.inf], settle_time=1, metric="manhattan")
    assert m.velocity == (2.0, 3.0) and m.acceleration == (4.0, math.inf)
    again = MotionModel(**json.loads(json.dumps(dataclasses.asdict(m))))
    assert again == m
    with pytest.raises(ValueError, match="velocity"):
        MotionModel(velocity=(0.0, 1.0))
    with pytest.raises(ValueError, match="velocity"):
        MotionModel(velocity=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="acceleration"):
        MotionModel(acceleration=(1.0, float("nan")))
    with pytest.raises(ValueError, match="settle_time"):
        MotionModel(settle_time=-0.1)
    with pytest.raises(ValueError, match="metric"):
        MotionModel(metric="chebyshev")


def test_from_motors_with_ophyd_sim_axes():
    ophyd_sim = pytest.importorskip("ophyd.sim")
    x, y = ophyd_sim.SynAxis(name="x"), ophyd_sim.SynAxis(name="y")
    x.velocity.put(2.0)
    x.acceleration.put(0.5)  # EPICS ACCL: 0.5 s to full speed -> 4 units/s^2
    y.velocity.put(3.0)
    y.acceleration.put(0.0)  # instantaneous
    m = MotionModel.from_motors(x, y, settle_time=0.1, metric="manhattan")
    assert m == MotionModel((2.0, 3.0), (4.0, math.inf), 0.1, "manhattan")
    y.velocity.put(0.0)
    with pytest.raises(ValueError, match="y motor 'y' velocity"):
        MotionModel.from_motors(x, y)
    with pytest.raises(TypeError, match="no 'velocity' signal"):
        MotionModel.from_motors(object(), x)


# ---------------------------------------------------------------------------- plan_route
@pytest.mark.parametrize("n", [0, 1, 2, 3, 9, 11, 60, 250])
@pytest.mark.parametrize("ends", ["free", "start", "both"])
def test_plan_route_returns_permutation(n, ends):
    xy = uniform(n, n)
    start = (10.0, 20.0) if ends != "free" else None
    end = (500.0, 300.0) if ends == "both" else None
    order = plan_route(xy, start, motion=STAGE, end_xy=end)
    assert order.dtype == np.int64
    assert sorted(order.tolist()) == list(range(n))


@pytest.mark.parametrize("motion", MODELS, ids=lambda m: m.metric)
@pytest.mark.parametrize("n", [15, 120])
def test_improvement_never_worse_than_construction(motion, n):
    for seed in range(3):
        xy = uniform(n, 100 + seed)
        start = None if seed == 0 else xy.mean(0)
        end = xy[0] + 1.0 if seed == 2 else None
        built = construct_route(xy, start, motion=motion, end_xy=end)
        planned = plan_route(xy, start, motion=motion, end_xy=end, time_budget=10.0)
        t_built = route_time(xy[built], start, motion=motion, end_xy=end)
        t_planned = route_time(xy[planned], start, motion=motion, end_xy=end)
        assert t_planned <= t_built + 1e-9
    assert t_planned < 0.95 * t_built  # the search does real work on n >= 15


@pytest.mark.parametrize("ends", ["free", "start", "both"])
def test_small_batches_are_optimal(ends):
    xy = uniform(7, 3)
    start = (300.0, 200.0) if ends != "free" else None
    end = (0.0, 0.0) if ends == "both" else None
    order = plan_route(xy, start, motion=STAGE, end_xy=end)
    best = brute_force_time(xy, start, end, STAGE)
    assert route_time(xy[order], start, motion=STAGE, end_xy=end) == pytest.approx(best)


def test_end_xy_is_honoured():
    xy = np.stack([np.arange(20.0), np.zeros(20)], 1)[::-1].copy()  # x = 19 .. 0
    start = (8.0, 0.0)
    free = plan_route(xy, start, time_budget=10.0)  # the kick count ends it, not the clock
    assert xy[free[-1], 0] == 19.0  # sweep down to 0 first, end at 19: 8 + 19 = 27 s
    assert route_time(xy[free], start) == pytest.approx(27.0)
    ended = plan_route(xy, start, end_xy=(-5.0, 0.0), time_budget=10.0)
    assert xy[ended[-1], 0] == 0.0  # up to 19 first, then down to 0 and on to -5: 35 s
    assert route_time(xy[ended], start, end_xy=(-5.0, 0.0)) == pytest.approx(35.0)


def test_deterministic_for_a_seed():
    R.warm_up()
    xy = uniform(150, 7)
    first = plan_route(xy, (0.0, 0.0), motion=STAGE, time_budget=30.0, seed=3)
    again = plan_route(xy, (0.0, 0.0), motion=STAGE, time_budget=30.0, seed=3)
    np.testing.assert_array_equal(first, again)


def test_duplicates_and_single_position():
    same = np.full((30, 2), 5.0)
    order = plan_route(same, (5.0, 5.0), motion=STAGE)
    assert sorted(order.tolist()) == list(range(30))
    assert route_time(same[order], (5.0, 5.0), motion=STAGE) == 0.0
    xy = np.repeat(uniform(12, 1), 2, axis=0)  # every point twice
    order = plan_route(xy, (0.0, 0.0), motion=STAGE)
    assert sorted(order.tolist()) == list(range(24))
    # a good route visits both copies back to back: 12 real moves, 12 free ones
    moves = move_times(xy[order][:-1], xy[order][1:], STAGE)
    assert np.count_nonzero(moves == 0.0) == 12


def test_bad_input_is_a_clear_error():
    xy = uniform(5, 0)
    xy[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"points_xy\[2\].*not finite"):
        plan_route(xy)
    with pytest.raises(ValueError, match="points_xy must be an"):
        plan_route(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="start_xy"):
        plan_route(uniform(5, 0), (1.0, np.inf))
    with pytest.raises(ValueError, match="end_xy"):
        plan_route(uniform(5, 0), end_xy=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="time_budget"):
        plan_route(uniform(20, 0), time_budget=-1.0)
    with pytest.raises(ValueError, match="max_kicks"):
        plan_route(uniform(20, 0), max_kicks=2.5)
    with pytest.raises(TypeError, match="MotionModel"):
        plan_route(uniform(5, 0), motion={"velocity": (1, 1)})
    with pytest.raises(ValueError, match="dwell"):
        route_time(uniform(5, 0), dwell=-1.0)
    with pytest.raises(ValueError, match="not finite"):
        route_time(np.array([[0.0, np.nan]]))


def test_route_time_counts_start_end_and_dwell():
    xy = np.array([[1.0, 0.0], [1.0, 2.0]])
    assert route_time(xy) == pytest.approx(2.0)
    assert route_time(xy, (0.0, 0.0)) == pytest.approx(3.0)
    assert route_time(xy, (0.0, 0.0), end_xy=(1.0, 5.0), dwell=0.5) == pytest.approx(7.0)
    assert route_time(xy[:1], dwell=0.5) == pytest.approx(0.5)
    assert route_time(np.zeros((0, 2)), (0.0, 0.0)) == 0.0


# ---------------------------------------------------------------------------- kernels
def _problem(n, seed, start=True, end=False, motion=STAGE):
    xy = uniform(n, seed)
    return R._Problem(xy, (1.0, 2.0) if start else None, (599.0, 1.0) if end else None, motion)


@pytest.mark.parametrize(("start", "end"), [(False, False), (True, False), (True, True)])
def test_kernel_path_cost_matches_route_time(start, end):
    prob = _problem(40, 5, start, end)
    order = np.random.default_rng(0).permutation(40)
    start_xy = (1.0, 2.0) if start else None
    end_xy = (599.0, 1.0) if end else None
    expected = route_time(prob.pts[order], start_xy, motion=STAGE, end_xy=end_xy)
    assert prob.cost(order) == pytest.approx(expected, rel=1e-12)
    prob.use_matrix()
    assert prob.cost(order) == pytest.approx(expected, rel=1e-12)


def test_kernel_segment_moves_match_python_lists():
    r = np.arange(12, dtype=np.int64)
    pos = r.copy()
    span = np.array([99, -1])
    K.reverse(r, pos, 3, 7, span)
    expected = [0, 1, 2, 7, 6, 5, 4, 3, 8, 9, 10, 11]
    assert r.tolist() == expected and span.tolist() == [3, 7]
    tmp = np.empty(8, np.int64)
    K.move_segment(r, pos, 1, 2, 9, True, span, tmp)  # [1, 2] reversed between 9 and 10
    lst = expected[:1] + expected[3:10] + [2, 1] + expected[10:]
    assert r.tolist() == lst
    K.move_segment(r, pos, 6, 8, 0, False, span, tmp)  # to the front, after position 0
    lst = lst[:1] + lst[6:9] + lst[1:6] + lst[9:]
    assert r.tolist() == lst
    np.testing.assert_array_equal(pos[r], np.arange(12))
    assert span.tolist() == [1, 9]  # positions that changed


def _two_opt_delta(cost, r, i, j):
    """Plain-Python reference: cost change of reversing route positions i..j."""
    return cost(r[i - 1], r[j]) + cost(r[i], r[j + 1]) - cost(r[i - 1], r[i]) - cost(r[j], r[j + 1])


@pytest.mark.parametrize(("start", "end"), [(False, False), (True, False), (True, True)])
def test_kernel_local_search_is_two_opt_optimal_and_deltas_are_exact(start, end):
    n = 45
    prob = _problem(n, 11, start, end)
    nbr, ncost = R._candidates(prob, n + 1)  # full candidate lists
    r = prob.nodes(np.random.default_rng(1).permutation(n))
    pos = np.empty_like(r)
    pos[r] = np.arange(n + 2)
    queue, inq = r[1:-1].copy(), np.ones(n, np.bool_)
    qs, tmp, span = np.array([0, n]), np.empty(n + 5, np.int64), np.empty(2, np.int64)
    before = float(K.path_cost(r, *prob.args))
    delta = K.local_search(r, pos, nbr, ncost, *prob.args, 1e-9, span, queue, inq, qs, tmp)
    after = float(K.path_cost(r, *prob.args))
    assert delta < 0 and after == pytest.approx(before + delta, rel=1e-9)
    for _ in range(20):  # queue every node again until a whole pass finds nothing
        queue[:], inq[:], qs[:] = r[1:-1], True, (0, n)
        if K.local_search(r, pos, nbr, ncost, *prob.args, 1e-9, span, queue, inq, qs, tmp) == 0:
            break
    after = float(K.path_cost(r, *prob.args))
    assert r[0] == n and r[-1] == n + 1 and sorted(r[1:-1].tolist()) == list(range(n))
    mat = K.cost_matrix(*prob.args[:-1])

    def cost(a, b):
        return mat[a, b]

    worst = min(_two_opt_delta(cost, r, i, j) for i in range(1, n + 1) for j in range(i + 1, n + 1))
    assert worst > -1e-7  # no improving 2-opt move is left

    best_r, gbest_r = r.copy(), r.copy()
    state = np.array([after, after, 0.0])
    rng = R._seed_state(4)
    K.perturb_search(
        r, pos, best_r, gbest_r, nbr, ncost, *prob.args, 1e-9, 300, 10, 50, rng,
        queue, inq, qs, tmp, state,
    )  # fmt: skip
    assert state[1] == pytest.approx(float(K.path_cost(gbest_r, *prob.args)), rel=1e-9)
    assert state[1] <= after


def test_kernel_held_karp_matches_brute_force():
    prob = _problem(7, 2, start=True, end=True)
    order = K.held_karp(*prob.args)
    best = brute_force_time(prob.pts, [prob.xs[7], prob.ys[7]], [prob.xs[8], prob.ys[8]], STAGE)
    assert prob.cost(order) == pytest.approx(best)


def test_large_batch_without_matrix():
    xy = uniform(R.MATRIX_MAX + 100, 9)
    built = construct_route(xy, (0.0, 0.0), motion=STAGE)
    order = plan_route(xy, (0.0, 0.0), motion=STAGE, time_budget=0.05)
    assert sorted(order.tolist()) == list(range(len(xy)))
    assert route_time(xy[order], (0, 0), motion=STAGE) < route_time(xy[built], (0, 0), motion=STAGE)


def test_hilbert_order_is_a_permutation_and_local():
    xy = uniform(2000, 4)
    order = R._hilbert_order(xy[:, 0], xy[:, 1])
    assert sorted(order.tolist()) == list(range(2000))
    steps = np.abs(np.diff(xy[order], axis=0)).max(1)
    assert np.median(steps) < 20  # consecutive points are neighbours, not random jumps


# ---------------------------------------------------------------------------- sampler
def test_sampler_routes_batches_and_keeps_motion_on_save(tmp_path):
    truth = np.add.outer(np.sin(np.arange(40) / 5.0), np.cos(np.arange(60) / 7.0))
    s = Sampler((40, 60), batch_size=30, seed=1, motion=STAGE, max_coverage=0.5)
    while s.coverage < 0.08:
        pts = s.suggest()
        s.ingest(pts, truth[pts[:, 0], pts[:, 1]])
    pts = s.suggest()
    xy = np.stack([pts[:, 1], pts[:, 0]], 1).astype(float)
    start = s.position[::-1].astype(float)
    planned = route_time(xy, start, motion=STAGE)
    assert planned <= route_time(xy[construct_route(xy, start, motion=STAGE)], start, motion=STAGE)
    loaded = Sampler.load(s.save(tmp_path / "state.npz"))
    assert loaded.motion == STAGE
    again = loaded.suggest()  # same batch; same order too unless the time cap cut the search
    assert sorted(map(tuple, again.tolist())) == sorted(map(tuple, pts.tolist()))

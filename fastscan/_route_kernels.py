"""Numba kernels of the route planner (see :mod:`fastscan.route` for the public API).

A route over ``n`` points is held as an array ``r`` of ``m = n + 2`` node ids:
``r[0]`` is the start node ``n``, ``r[m - 1]`` the end node ``n + 1`` and the
points ``0 .. n - 1`` fill the positions in between; ``pos`` is the inverse
permutation. A free start (or end) is a node at zero cost from every point, so
the same kernels plan fixed and free paths. Move costs are read from ``mat``
when it holds the (n + 2, n + 2) matrix (small batches, where lookups beat
recomputing) and are computed on the fly from the coordinates ``xs, ys`` when it
is empty (0 x 0), which keeps memory linear for large batches.

Motion parameters travel as ``prm = [vx, vy, ax, ay, settle, metric]`` with
metric 0 = simultaneous, 1 = euclidean, 2 = manhattan.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

SIMULTANEOUS, EUCLIDEAN, MANHATTAN = 0, 1, 2


# ---------------------------------------------------------------------------- costs
@njit(cache=True, nogil=True)
def axis_time(d, v, a):
    """Time to travel ``d >= 0`` with top speed ``v`` and acceleration ``a`` (inf allowed)."""
    if d <= 0.0:
        return 0.0
    if math.isinf(a):
        return d / v
    if d <= v * v / a:  # never reaches full speed: triangular profile
        return 2.0 * math.sqrt(d / a)
    return d / v + v / a  # trapezoid: ramps of v/a each, cruise for the rest


@njit(cache=True, nogil=True)
def move_time(dx, dy, prm):
    """Seconds for a move by (dx, dy), settle included; 0 for no move."""
    adx = abs(dx)
    ady = abs(dy)
    if adx == 0.0 and ady == 0.0:
        return 0.0
    metric = prm[5]
    if metric == SIMULTANEOUS:
        t = max(axis_time(adx, prm[0], prm[2]), axis_time(ady, prm[1], prm[3]))
    elif metric == EUCLIDEAN:
        t = axis_time(math.sqrt(adx * adx + ady * ady), min(prm[0], prm[1]), min(prm[2], prm[3]))
    else:
        t = axis_time(adx, prm[0], prm[2]) + axis_time(ady, prm[1], prm[3])
    return t + prm[4]


@njit(cache=True, nogil=True)
def node_cost(i, j, xs, ys, prm, n, free_start, free_end, mat):
    """Cost of the edge between nodes ``i`` and ``j`` (free start/end nodes cost 0).

    Read from ``mat`` when it holds the (n + 2, n + 2) matrix, else computed.
    """
    if mat.shape[0] > 0:
        return mat[i, j]
    if free_start and (i == n or j == n):
        return 0.0
    if free_end and (i == n + 1 or j == n + 1):
        return 0.0
    return move_time(xs[j] - xs[i], ys[j] - ys[i], prm)


@njit(cache=True, nogil=True)
def path_cost(r, xs, ys, prm, n, free_start, free_end, mat):
    """Total cost of the node sequence ``r``."""
    total = 0.0
    for k in range(r.shape[0] - 1):
        total += node_cost(r[k], r[k + 1], xs, ys, prm, n, free_start, free_end, mat)
    return total


@njit(cache=True, nogil=True)
def cost_matrix(xs, ys, prm, n, free_start, free_end):
    """(n + 2, n + 2) matrix of all node costs."""
    empty = np.zeros((0, 0))
    mat = np.empty((n + 2, n + 2))
    for i in range(n + 2):
        mat[i, i] = 0.0
        for j in range(i + 1, n + 2):
            c = node_cost(i, j, xs, ys, prm, n, free_start, free_end, empty)
            mat[i, j] = c
            mat[j, i] = c
    return mat


# ---------------------------------------------------------------------------- construction
@njit(cache=True, nogil=True)
def nearest_neighbour(xs, ys, prm, n, free_start, free_end, mat, nbr):
    """Greedy nearest-neighbour order of the points.

    From the start node if it is fixed, else from the point with the smallest
    ``x / vx + y / vy`` (a corner of the batch). The next point is the first
    unvisited one in the current point's candidate list ``nbr`` (sorted by move
    time); when all candidates are visited, the quickest-to-reach unvisited point
    by a full scan (ties: first found).
    """
    order = np.empty(n, np.int64)
    used = np.zeros(n, np.bool_)
    left = np.arange(n)  # unvisited points in left[:n_left]; where[] indexes into it
    where = np.arange(n)
    n_left = n
    if free_start:
        cur = 0
        best = np.inf
        for j in range(n):
            key = xs[j] / prm[0] + ys[j] / prm[1]
            if key < best:
                best = key
                cur = j
    else:
        cur = n
    for k in range(n):
        nxt = -1
        if k == 0 and free_start:
            nxt = cur
        elif cur < n:
            for t in range(nbr.shape[1]):
                c = nbr[cur, t]
                if c >= 0 and c < n and not used[c]:
                    nxt = c
                    break
        if nxt < 0:
            best = np.inf
            for q in range(n_left):
                j = left[q]
                c = move_time(xs[j] - xs[cur], ys[j] - ys[cur], prm)
                if c < best:
                    best = c
                    nxt = j
        used[nxt] = True
        order[k] = nxt
        q = where[nxt]  # swap-remove nxt from the unvisited list
        last = left[n_left - 1]
        left[q] = last
        where[last] = q
        n_left -= 1
        cur = nxt
    return order


@njit(cache=True, nogil=True)
def held_karp(xs, ys, prm, n, free_start, free_end, mat):
    """Exact optimal order by dynamic programming over subsets (n <= ~12)."""
    full = (1 << n) - 1
    dp = np.full((1 << n, n), np.inf)
    parent = np.full((1 << n, n), -1, np.int64)
    for j in range(n):
        dp[1 << j, j] = node_cost(n, j, xs, ys, prm, n, free_start, free_end, mat)
    for mask in range(1, full + 1):
        for j in range(n):
            base = dp[mask, j]
            if not (mask >> j) & 1 or math.isinf(base):
                continue
            for k in range(n):
                if (mask >> k) & 1:
                    continue
                c = base + move_time(xs[k] - xs[j], ys[k] - ys[j], prm)
                nm = mask | (1 << k)
                if c < dp[nm, k]:
                    dp[nm, k] = c
                    parent[nm, k] = j
    last = 0
    best = np.inf
    for j in range(n):
        c = dp[full, j] + node_cost(j, n + 1, xs, ys, prm, n, free_start, free_end, mat)
        if c < best:
            best = c
            last = j
    order = np.empty(n, np.int64)
    mask = full
    for k in range(n - 1, -1, -1):
        order[k] = last
        prev = parent[mask, last]
        mask ^= 1 << last
        last = prev
    return order


# ---------------------------------------------------------------------------- move helpers
@njit(cache=True, nogil=True)
def _push(node, n, queue, inq, qs):
    if node >= n or inq[node]:
        return
    queue[(qs[0] + qs[1]) % queue.shape[0]] = node
    qs[1] += 1
    inq[node] = True


@njit(cache=True, nogil=True)
def _pop(queue, inq, qs):
    node = queue[qs[0]]
    qs[0] = (qs[0] + 1) % queue.shape[0]
    qs[1] -= 1
    inq[node] = False
    return node


@njit(cache=True, nogil=True)
def _mark(span, lo, hi):
    span[0] = min(span[0], lo)
    span[1] = max(span[1], hi)


@njit(cache=True, nogil=True)
def reverse(r, pos, i, j, span):
    """Reverse positions ``i .. j`` (inclusive) of the route."""
    _mark(span, i, j)
    while i < j:
        a = r[i]
        b = r[j]
        r[i] = b
        pos[b] = i
        r[j] = a
        pos[a] = j
        i += 1
        j -= 1


@njit(cache=True, nogil=True)
def move_segment(r, pos, i0, i1, kk, rev, span, tmp):
    """Move positions ``i0 .. i1`` between positions ``kk`` and ``kk + 1`` (reversed if ``rev``).

    ``kk`` must lie outside ``i0 - 1 .. i1``.
    """
    length = i1 - i0 + 1
    for t in range(length):
        tmp[t] = r[i1 - t] if rev else r[i0 + t]
    if kk > i1:
        _mark(span, i0, kk)
        for t in range(i1 + 1, kk + 1):
            r[t - length] = r[t]
            pos[r[t]] = t - length
        first = kk - length + 1
    else:
        _mark(span, kk + 1, i1)
        for t in range(i0 - 1, kk, -1):
            r[t + length] = r[t]
            pos[r[t]] = t + length
        first = kk + 1
    for t in range(length):
        r[first + t] = tmp[t]
        pos[tmp[t]] = first + t


# ---------------------------------------------------------------------------- local search
@njit(cache=True, nogil=True)
def _two_opt(a, r, pos, nbr, ncost, xs, ys, prm, n, fs, fe, mat, eps, span, queue, inq, qs):
    m = r.shape[0]
    i = pos[a]
    for side in range(2):  # 0: replace edge (a, succ a); 1: replace edge (pred a, a)
        b = r[i + 1] if side == 0 else r[i - 1]
        d_ab = node_cost(a, b, xs, ys, prm, n, fs, fe, mat)
        for t in range(nbr.shape[1]):
            c = nbr[a, t]
            if c < 0:
                break
            d_ac = ncost[a, t]
            if d_ac >= d_ab - eps:
                break
            j = pos[c]
            if side == 0:
                if j == m - 1:
                    continue
                d = r[j + 1]
            else:
                if j == 0:
                    continue
                d = r[j - 1]
            if c == b or d == a:
                continue
            delta = (
                d_ac
                + node_cost(b, d, xs, ys, prm, n, fs, fe, mat)
                - d_ab
                - node_cost(c, d, xs, ys, prm, n, fs, fe, mat)
            )
            if delta < -eps:
                if side == 0:
                    if j > i:
                        reverse(r, pos, i + 1, j, span)
                    else:
                        reverse(r, pos, j + 1, i, span)
                else:
                    if j < i:
                        reverse(r, pos, j, i - 1, span)
                    else:
                        reverse(r, pos, i, j - 1, span)
                for node in (a, b, c, d):
                    _push(node, n, queue, inq, qs)
                return delta
    return 0.0


@njit(cache=True, nogil=True)
def _or_opt(a, r, pos, nbr, ncost, xs, ys, prm, n, fs, fe, mat, eps, span, queue, inq, qs, tmp):
    m = r.shape[0]
    i = pos[a]
    for length in range(1, 4):
        for back in range(2):  # 0: segment starts at a; 1: segment ends at a
            if back == 1 and length == 1:
                continue
            i0 = i - length + 1 if back else i
            i1 = i if back else i + length - 1
            if i0 < 1 or i1 > m - 2:
                continue
            s1 = r[i0]
            s2 = r[i1]
            p = r[i0 - 1]
            q = r[i1 + 1]
            gain = (
                node_cost(p, s1, xs, ys, prm, n, fs, fe, mat)
                + node_cost(s2, q, xs, ys, prm, n, fs, fe, mat)
                - node_cost(p, q, xs, ys, prm, n, fs, fe, mat)
            )
            if gain <= eps:
                continue
            for end in range(2):
                s = s1 if end == 0 else s2
                for t in range(nbr.shape[1]):
                    c = nbr[s, t]
                    if c < 0:
                        break
                    if ncost[s, t] >= gain - eps:
                        break
                    k = pos[c]
                    if i0 <= k <= i1:
                        continue
                    for which in range(2):  # edge (c, succ c) or (pred c, c)
                        kk = k if which == 0 else k - 1
                        if kk < 0 or kk > m - 2 or (i0 - 1 <= kk <= i1):
                            continue
                        u = r[kk]
                        v = r[kk + 1]
                        # s joins c; the other end of the segment joins c's other neighbour
                        w = v if which == 0 else u
                        rev = (end == 1) if which == 0 else (end == 0)
                        delta = (
                            ncost[s, t]
                            + node_cost(s2 if end == 0 else s1, w, xs, ys, prm, n, fs, fe, mat)
                            - node_cost(u, v, xs, ys, prm, n, fs, fe, mat)
                            - gain
                        )
                        if delta < -eps:
                            move_segment(r, pos, i0, i1, kk, rev, span, tmp)
                            for node in (p, q, s1, s2, u, v):
                                _push(node, n, queue, inq, qs)
                            return delta
    return 0.0


@njit(cache=True, nogil=True)
def local_search(r, pos, nbr, ncost, xs, ys, prm, n, fs, fe, mat, eps, span, queue, inq, qs, tmp):
    """2-opt + Or-opt (segments of 1..3, both orientations) until no queued node improves.

    Returns the total cost change (<= 0).
    """
    total = 0.0
    while qs[1] > 0:
        a = _pop(queue, inq, qs)
        d = _two_opt(a, r, pos, nbr, ncost, xs, ys, prm, n, fs, fe, mat, eps, span, queue, inq, qs)
        if d < 0.0:
            total += d
            continue
        total += _or_opt(
            a, r, pos, nbr, ncost, xs, ys, prm, n, fs, fe, mat, eps, span, queue, inq, qs, tmp
        )
    return total


@njit(cache=True, nogil=True)
def _rand(rng, k):
    """Uniform integer in [0, k) from a xorshift64 state."""
    x = rng[0]
    x ^= x << np.uint64(13)
    x ^= x >> np.uint64(7)
    x ^= x << np.uint64(17)
    rng[0] = x
    return int(x % np.uint64(k))


@njit(cache=True, nogil=True)
def _double_bridge(r, pos, n, xs, ys, prm, fs, fe, mat, lmax, rng, span, queue, inq, qs, tmp):
    """Swap two adjacent random segments (A B C D -> A C B D); returns the cost change."""
    p1 = 1 + _rand(rng, n - 1)
    p2 = p1 + 1 + _rand(rng, min(lmax, n - p1))
    p3 = p2 + 1 + _rand(rng, min(lmax, n + 1 - p2))
    a0, b0, b1, c0, c1, d0 = r[p1 - 1], r[p1], r[p2 - 1], r[p2], r[p3 - 1], r[p3]
    delta = (
        node_cost(a0, c0, xs, ys, prm, n, fs, fe, mat)
        + node_cost(c1, b0, xs, ys, prm, n, fs, fe, mat)
        + node_cost(b1, d0, xs, ys, prm, n, fs, fe, mat)
        - node_cost(a0, b0, xs, ys, prm, n, fs, fe, mat)
        - node_cost(b1, c0, xs, ys, prm, n, fs, fe, mat)
        - node_cost(c1, d0, xs, ys, prm, n, fs, fe, mat)
    )
    width = p3 - p1
    for t in range(width):
        tmp[t] = r[p1 + t]
    len_b = p2 - p1
    len_c = p3 - p2
    for t in range(len_c):
        r[p1 + t] = tmp[len_b + t]
    for t in range(len_b):
        r[p1 + len_c + t] = tmp[t]
    for t in range(p1, p3):
        pos[r[t]] = t
    _mark(span, p1, p3 - 1)
    for node in (a0, b0, b1, c0, c1, d0):
        _push(node, n, queue, inq, qs)
    return delta


@njit(cache=True, nogil=True)
def perturb_search(
    r, pos, best_r, gbest_r, nbr, ncost, xs, ys, prm, n, fs, fe, mat, eps, n_kicks, lmax, stall,
    rng, queue, inq, qs, tmp, state,
):  # fmt: skip
    """Iterated local search: ``n_kicks`` double-bridge kicks, each followed by local search.

    A kick is kept when the route is no costlier than before it, otherwise the
    changed span of positions is restored from ``best_r`` (which must equal ``r``
    on entry and equals it on exit). After ``stall`` kicks without improvement
    the search restarts from the best route so far (``gbest_r``) with one kick
    over the whole route. ``state = [current cost, best cost, kicks since the
    last improvement]`` carries over between calls.
    """
    m = r.shape[0]
    span = np.empty(2, np.int64)
    for _ in range(n_kicks):
        span[0] = m
        span[1] = -1
        delta = _double_bridge(
            r, pos, n, xs, ys, prm, fs, fe, mat, lmax, rng, span, queue, inq, qs, tmp
        )
        delta += local_search(
            r, pos, nbr, ncost, xs, ys, prm, n, fs, fe, mat, eps, span, queue, inq, qs, tmp
        )
        if delta <= 0.0:
            state[0] += delta
            for t in range(span[0], span[1] + 1):
                best_r[t] = r[t]
        else:
            for t in range(span[0], span[1] + 1):
                r[t] = best_r[t]
                pos[r[t]] = t
        if state[0] < state[1] - eps:
            state[1] = state[0]
            state[2] = 0.0
            gbest_r[:] = r
        else:
            state[2] += 1.0
        if state[2] >= stall:  # restart from the best route with a global kick
            r[:] = gbest_r
            for t in range(m):
                pos[r[t]] = t
            _double_bridge(r, pos, n, xs, ys, prm, fs, fe, mat, n, rng, span, queue, inq, qs, tmp)
            local_search(
                r, pos, nbr, ncost, xs, ys, prm, n, fs, fe, mat, eps, span, queue, inq, qs, tmp
            )
            best_r[:] = r
            state[0] = path_cost(r, xs, ys, prm, n, fs, fe, mat)
            state[2] = 0.0

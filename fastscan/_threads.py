"""Run a row-independent pass over two halves of its rows at once (two threads).

The local update's heavy passes (neighbour lists, features, the ERD model) treat
each pixel on its own and release the GIL (Numba ``nogil`` kernels, NumPy and
BLAS), so the rows of a large changed region can be split in two and run on two
cores. The split is at a multiple of ``align``; passes whose result depends on how
rows are grouped (the model's blocks of rows) align it to their block size and
give the same bits as one pass over all rows.

Two threads help only if a second core is free: on a machine busier than its
cores (1-minute load average above :data:`MAX_LOAD_PER_CORE` per core) the
second half would wait for one, so everything runs on the calling thread, as on
one core. Results never depend on which way a pass ran.

Examples
--------
>>> import numpy as np
>>> from fastscan._threads import split_rows
>>> out = np.zeros(10)
>>> def square(start, stop):
...     out[start:stop] = np.arange(start, stop) ** 2
>>> split_rows(square, 10, min_rows=4, align=2)
>>> out.tolist()
[0.0, 1.0, 4.0, 9.0, 16.0, 25.0, 36.0, 49.0, 64.0, 81.0]
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

# one worker thread, made on first use, with the id of the process that made it (a
# forked child inherits the executor but not its thread: it makes its own)
_POOL: dict[int, ThreadPoolExecutor] = {}
_WORKER_NAME = "fastscan-half"
# passes over fewer rows run on one thread: at 4096 pixels the local update's passes
# take about 1 ms, where handing half to the other thread (some 50 us) pays off
MIN_ROWS = 4096
# split only while the 1-minute load average is at most this many per core
MAX_LOAD_PER_CORE = 1.0


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def second_core_free() -> bool:
    """True if this process may use two cores and the machine's 1-minute load average
    is at most :data:`MAX_LOAD_PER_CORE` per core (True where the OS reports no load)."""
    cores = available_cores()
    if cores < 2:
        return False
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on this OS
        return True
    return load <= MAX_LOAD_PER_CORE * cores


def split_point(n_rows: int, align: int) -> int:
    """Where two halves of ``n_rows`` rows meet: a multiple of ``align`` near the middle,
    in (0, n_rows); 0 when no such multiple exists."""
    if align < 1:
        raise ValueError(f"align must be an integer >= 1, got {align!r}")
    middle = max(1, round(n_rows / 2 / align)) * align
    return middle if middle < n_rows else 0


def run_pair(first: Callable[[], None], second: Callable[[], None], parallel: bool) -> None:
    """``first()`` and ``second()``: at once on two threads (``first`` on this one) when
    ``parallel`` and a second core is free (:func:`second_core_free`), else one after
    the other.

    The two must not write the same memory; an exception in either is raised here
    (after both finished). Callers on several threads share the one worker (they
    wait their turn); a call from the worker itself runs both on it.
    """
    nested = threading.current_thread().name.startswith(_WORKER_NAME)  # never wait on itself
    if not parallel or nested or not second_core_free():
        first()
        second()
        return
    pid = os.getpid()
    if pid not in _POOL:
        _POOL.clear()
        _POOL[pid] = ThreadPoolExecutor(max_workers=1, thread_name_prefix=_WORKER_NAME)
    other = _POOL[pid].submit(second)
    try:
        first()
    finally:
        other.result()  # waits for the other half (and raises its exception)


def split_rows(
    run: Callable[[int, int], None],
    n_rows: int,
    *,
    align: int = 1,
    min_rows: int | None = None,
    also: Callable[[], None] | None = None,
) -> None:
    """Call ``run(start, stop)`` on rows [0, n_rows): in two halves on two threads if
    there are at least ``min_rows`` rows (default :data:`MIN_ROWS`) and a second core
    is free, else once on this thread. ``also()``, if given, runs on this thread: after its
    half when split (work that must not wait for the other half, in the time the halves
    differ), else before the rows (while the data it reads, written just before, is
    still in cache). It must not depend on ``run``'s results.

    ``run`` must treat each row on its own and write only its rows' results;
    an exception in either half is raised here (after both halves finished).
    """
    min_rows = MIN_ROWS if min_rows is None else min_rows
    middle = split_point(n_rows, align) if n_rows >= max(min_rows, 2) else 0

    if middle == 0 or not second_core_free():  # one piece (run_pair would not split)
        if also is not None:
            also()
        run(0, n_rows)
        return

    def first() -> None:
        run(0, middle)
        if also is not None:
            also()

    run_pair(first, lambda: run(middle, n_rows), True)

"""``IngestWorker``: a sampler's ``ingest`` calls in order, in one background thread.

Both autonomous plans stream with it: the step plan hands it each reading, the
fly plan each segment's samples, right after they are in the documents, and go
on moving while the sampler ingests. The plan drains it before it asks the
sampler anything, and closes it when the run ends: nothing put is lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

__all__ = ["IngestWorker"]


class IngestWorker:
    """Runs a sampler's ``ingest`` calls in order, in one background thread or inline.

    Parameters
    ----------
    ingest : callable
        ``ingest(points, values)`` (e.g. a fly sampler's).
    background : bool
        True: one worker thread (``max_workers=1``: one call at a time, in the
        order :meth:`put` got them); False: each call runs inside :meth:`put`.

    Examples
    --------
    >>> seen = []
    >>> worker = IngestWorker(lambda points, values: seen.append(len(points)))
    >>> worker.put(np.zeros((3, 2), np.int64), np.zeros(3))
    >>> worker.put(np.zeros((2, 2), np.int64), np.zeros(2))
    >>> waited = worker.drain()  # seconds; both ingests have run
    >>> seen
    [3, 2]
    >>> worker.close()
    """

    def __init__(self, ingest: Callable[[np.ndarray, np.ndarray], None], background: bool = True):
        self._ingest = ingest
        self._pool = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastscan-ingest")
            if background
            else None
        )
        self._queued: list[tuple[Future, np.ndarray, np.ndarray]] = []
        self._inline_s = 0.0  # background=False: the last put's seconds

    @property
    def background(self) -> bool:
        return self._pool is not None

    def put(self, points: np.ndarray, values: np.ndarray) -> None:
        """Ingest ``points``, ``values`` after everything put before (queued or at once)."""
        if self._pool is None:
            start = time.monotonic()
            self._ingest(points, values)
            self._inline_s = time.monotonic() - start
            return
        self._queued.append((self._pool.submit(self._ingest, points, values), points, values))

    def drain(self) -> float:
        """Wait until every ingest put so far has run; the seconds the caller waited.

        Inline, the last :meth:`put`'s seconds (the ingest the caller waited
        for after its last segment). Raises the first error an ingest raised,
        once all of them have run.
        """
        if self._pool is None:
            waited, self._inline_s = self._inline_s, 0.0
            return waited
        start = time.monotonic()
        queued, self._queued = self._queued, []
        errors = [f.exception() for f, _, _ in queued]  # waits for each, in order
        error = next((e for e in errors if e is not None), None)
        if error is not None:
            raise error
        return time.monotonic() - start

    def close(self) -> None:
        """Ingest everything still queued, then stop the thread; raises as :meth:`drain`.

        What the worker has not started is taken back and ingested here, in
        order, after the one it is running: nothing put is lost, whatever
        the thread's state.
        """
        if self._pool is None:
            return
        queued, self._queued = self._queued, []
        taken = 0  # queued[-taken:] were cancelled before the worker started them
        for future, _, _ in reversed(queued):  # from the end: the worker runs the earliest
            if not future.cancel():
                break
            taken += 1
        started = queued[: len(queued) - taken]
        errors = [f.exception() for f, _, _ in started]
        self._pool.shutdown(wait=True)
        self._pool = None
        for _, points, values in queued[len(queued) - taken :]:
            try:
                self._ingest(points, values)
            except Exception as exc:  # every later reading still goes in
                errors.append(exc)
        error = next((e for e in errors if e is not None), None)
        if error is not None:
            raise error

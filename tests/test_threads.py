"""Two-thread row splits: every row once, the same bits as one pass, errors raised."""

from __future__ import annotations

import os
import threading
import warnings

import numpy as np
import pytest

import fastscan._threads as threads_module
from fastscan import Sampler
from fastscan._threads import split_point, split_rows
from fastscan.phantoms import make_phantom


@pytest.fixture(autouse=True)
def split_even_when_busy(monkeypatch):
    """The shared test machine is often busier than its cores: split all the same."""
    monkeypatch.setattr(threads_module, "MAX_LOAD_PER_CORE", float("inf"))


@pytest.mark.parametrize(("n_rows", "align"), [(10, 1), (11, 1), (5000, 2048), (4097, 2048)])
def test_split_covers_every_row_once_at_an_aligned_point(n_rows, align):
    seen = np.zeros(n_rows, int)
    parts = []
    names = set()

    def run(start, stop):
        seen[start:stop] += 1
        parts.append((start, stop))
        names.add(threading.current_thread().name)

    split_rows(run, n_rows, align=align, min_rows=2)
    assert (seen == 1).all()
    starts = sorted(start for start, _ in parts)
    assert starts[0] == 0 and all(start % align == 0 for start in starts)
    if threads_module.available_cores() >= 2:  # the second half ran on the worker
        assert len(parts) == 2 and any(name.startswith("fastscan-half") for name in names)


def test_few_rows_or_no_aligned_middle_run_once_on_this_thread():
    calls = []
    split_rows(lambda a, b: calls.append((a, b, threading.current_thread().name)), 100)
    split_rows(lambda a, b: calls.append((a, b, threading.current_thread().name)), 9, align=16,
               min_rows=2)  # fmt: skip
    here = threading.current_thread().name
    assert calls == [(0, 100, here), (0, 9, here)]
    assert split_point(9, 16) == 0 and split_point(10, 4) == 4 and split_point(40, 4) == 20
    with pytest.raises(ValueError, match="align must be an integer >= 1, got 0"):
        split_point(10, 0)


def test_a_busy_machine_or_one_core_runs_both_halves_here(monkeypatch):
    monkeypatch.setattr(threads_module, "MAX_LOAD_PER_CORE", 1.0)
    monkeypatch.setattr(threads_module.os, "getloadavg", lambda: (64.0, 1.0, 1.0))
    assert not threads_module.second_core_free()
    calls = []
    split_rows(lambda a, b: calls.append((a, b, threading.current_thread().name)), 10, min_rows=2)
    assert calls == [(0, 10, threading.current_thread().name)]  # one piece, on this thread
    monkeypatch.setattr(threads_module.os, "getloadavg", lambda: (0.5, 1.0, 1.0))
    monkeypatch.setattr(threads_module, "available_cores", lambda: 2)
    assert threads_module.second_core_free()
    monkeypatch.setattr(threads_module, "available_cores", lambda: 1)
    assert not threads_module.second_core_free()


def test_an_error_in_the_worker_half_is_raised_here():
    def run(start, stop):
        if start > 0:
            raise RuntimeError(f"rows {start}-{stop} failed")

    if threads_module.available_cores() < 2:
        pytest.skip("one core: nothing runs on the worker")
    with pytest.raises(RuntimeError, match="rows 5-10 failed"):
        split_rows(run, 10, min_rows=2)


def scan(image, steps):
    sampler = Sampler(image.shape, batch_size=40, seed=3, max_coverage=0.9, change_tolerance=1e-12)
    first = sampler.suggest()
    sampler.ingest(first, image[first[:, 0], first[:, 1]])
    batches = []
    for _ in range(steps):
        points = sampler.suggest()
        batches.append(points)
        sampler.ingest(points, image[points[:, 0], points[:, 1]])
    return sampler, batches


def test_threaded_local_updates_equal_one_thread_bit_for_bit(monkeypatch):
    image = make_phantom("flakes", (150, 140), seed=2)
    monkeypatch.setattr(threads_module, "MIN_ROWS", 10**9)
    serial, serial_batches = scan(image, 6)
    split_calls = []
    original = threads_module.split_point
    monkeypatch.setattr(threads_module, "MIN_ROWS", 2)
    monkeypatch.setattr(
        threads_module, "split_point", lambda n, a: split_calls.append(a) or original(n, a)
    )
    split, split_batches = scan(image, 6)
    assert 2048 in split_calls and 1 in split_calls  # the model pass and the list pass split
    for a, b in zip(serial_batches, split_batches):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(split.reconstruction, serial.reconstruction)
    np.testing.assert_array_equal(split._erd, serial._erd)
    np.testing.assert_array_equal(split._dk, serial._dk)
    assert list(split.stop_rule._changes) == list(serial.stop_rule._changes)  # summed alike
    assert len(serial.stop_rule._changes) == 6


def test_a_pair_started_on_the_worker_runs_there_and_a_fork_gets_its_own_worker():
    if threads_module.available_cores() < 2:
        pytest.skip("one core: nothing runs on the worker")
    names = []

    def inner():
        names.append(threading.current_thread().name)

    def outer():  # on the worker: its own pair must not wait for the busy worker
        threads_module.run_pair(inner, inner, True)

    threads_module.run_pair(lambda: None, outer, True)
    assert len(names) == 2 and all(name.startswith("fastscan-half") for name in names)
    read, write = os.pipe()
    with warnings.catch_warnings():  # Python 3.12+ warns about forking with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        child = os.fork()
    if child == 0:  # the child inherits the executor, not its thread
        seen = []
        threads_module.run_pair(lambda: None, lambda: seen.append(os.getpid()), True)
        os.write(write, b"ok" if seen == [os.getpid()] else b"no")
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(child, 0)
    assert os.read(read, 2) == b"ok" and status == 0
    os.close(read)

"""tests/subprocesses.py: a child is killed and its pipes closed however the block ends."""

from __future__ import annotations

import subprocess
import sys

import pytest
import subprocesses
from docstring_examples import assert_examples_pass
from subprocesses import reaped


def _waiting_child() -> subprocess.Popen:
    """A child that waits for input that never comes."""
    return subprocess.Popen(
        [sys.executable, "-c", "input()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_docstring_examples():
    assert_examples_pass(subprocesses)


def test_a_failed_assertion_inside_kills_the_child_and_closes_its_pipes():
    child = _waiting_child()
    with pytest.raises(AssertionError, match="a test failed here"), reaped(child):
        assert child.poll() is None
        raise AssertionError("a test failed here")
    assert child.returncode is not None and child.returncode != 0
    assert child.stdin.closed and child.stdout.closed and child.stderr.closed


def test_a_child_that_ended_inside_is_left_as_it_ended():
    child = _waiting_child()
    with reaped(child):
        out, _ = child.communicate("typed\n", timeout=30)
    assert child.returncode == 0 and out == ""

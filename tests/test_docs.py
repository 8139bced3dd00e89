"""The examples in the core modules' docstrings run and print what they claim."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest
from docstring_examples import assert_examples_pass
from fresh_imports import modules_loaded_by

MODULES = [
    "fastscan.sampler",
    "fastscan.neighbors",
    "fastscan.patterns",
    "fastscan._lattice",
    "fastscan.baselines",
    "fastscan.metrics",
    "fastscan.imageio",
    "fastscan.replay",
    "fastscan.motion",
    "fastscan.beamtime",
    "fastscan.strategies",
    "fastscan.channels",
    "fastscan.compare.channels",
    "fastscan.models.channels",
    "fastscan.classic",
    "fastscan.erd.classic",
    "fastscan.plans.ingest",
    "fastscan._readings",
    "fastscan._prepared_update",
    "fastscan.fly.sweep_band",
    "fastscan.fly.sweep_tour",
    "fastscan._argtypes",
    "fastscan._npz",
    "fastscan._pixels",
    "fastscan._stop_knobs",
    "fastscan.plans.device_checks",
    "fastscan.plans.coverage_note",
    "fastscan.plans.continuation",
    "fastscan.run_chain",
    "fastscan.service.remote_options",
    "fastscan.estimate",
    "fastscan._estimate_report",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    assert_examples_pass(name, doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)


def test_the_examples_check_fails_on_no_examples_and_on_a_wrong_one():
    empty = ModuleType("fastscan_test_no_examples", "Prose only.")
    with pytest.raises(AssertionError, match=r"^fastscan_test_no_examples has no docstring"):
        assert_examples_pass(empty)
    wrong = ModuleType("fastscan_test_wrong_example", ">>> 1 + 1\n2\n>>> 2 + 2\n5\n")
    with pytest.raises(AssertionError, match=r"^fastscan_test_wrong_example: 1 of 2 docstring"):
        assert_examples_pass(wrong)
    elided = ModuleType("fastscan_test_elided_example", ">>> list(range(9))\n[0, 1, ..., 8]\n")
    with pytest.raises(AssertionError, match="1 of 1"):
        assert_examples_pass(elided)  # exact output by default
    assert_examples_pass(elided, doctest.ELLIPSIS)


def test_core_does_not_import_optional_stacks():
    loaded = modules_loaded_by("import fastscan, fastscan.replay, fastscan.compare.run")
    assert {"torch", "bluesky", "ophyd", "zmq", "epics"} & loaded == set()

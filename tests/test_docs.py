"""The examples in the core modules' docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

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
    "fastscan._stop_knobs",
    "fastscan.plans.device_checks",
    "fastscan.plans.coverage_note",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


def test_core_does_not_import_optional_stacks():
    import subprocess
    import sys

    code = (
        "import sys, fastscan, fastscan.replay, fastscan.compare.run;"
        "bad = [m for m in ('torch', 'bluesky', 'ophyd', 'zmq', 'epics') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

"""The two public modules that moved still import, with a DeprecationWarning."""

import importlib
import sys

import pytest


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [
        ("fastscan.sim.phantoms", "fastscan.phantoms", "make_phantom"),
        ("fastscan.simulate", "fastscan.compare", "run_simulate"),
    ],
)
def test_old_module_name_forwards_and_warns(old, new, name):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)


def test_core_does_not_import_sim():
    import subprocess

    code = (
        "import sys, fastscan, fastscan.compare, fastscan.replay, fastscan.phantoms, "
        "fastscan.erd.training; "
        "print(sorted(m for m in sys.modules if m.startswith('fastscan.sim')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

"""The two public modules that moved still import, with a DeprecationWarning."""

import importlib
import sys

import pytest
from fresh_imports import modules_loaded_by


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
    loaded = modules_loaded_by(
        "import fastscan, fastscan.compare, fastscan.replay, fastscan.phantoms, "
        "fastscan.erd.training"
    )
    assert sorted(m for m in loaded if m.startswith("fastscan.sim")) == []

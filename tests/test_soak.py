"""The fault soak, short: every fault kind once on the simulated beamline (see benchmarks/soak.py).

Service SIGKILL + restart, IOC killed, a NaN burst, a motor stall and a Channel Access
disconnect, each followed by an operator-style recovery and a new plan run on the same
service session; after every recovery no reading is lost or duplicated, and at the end
the service's state equals a local Sampler given the same readings.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.conftest import EPICS_ENV, new_prefix

pytestmark = [pytest.mark.epics, pytest.mark.slow, pytest.mark.timeout(400)]

_SPEC = importlib.util.spec_from_file_location(
    "fastscan_soak", Path(__file__).resolve().parents[1] / "benchmarks" / "soak.py"
)
soak = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(soak)


def test_short_soak_loses_and_duplicates_nothing() -> None:
    report = soak.run_soak(n_faults=len(soak.FAULTS), shape=(30, 40), batch_size=10,
                           max_coverage=0.2, seed=1, env=EPICS_ENV, prefix=new_prefix("S"),
                           log=lambda line: None)  # fmt: skip
    assert report["faults_injected"] == len(soak.FAULTS)
    assert all(n == 1 for n in report["faults_by_kind"].values()), report["faults_by_kind"]
    assert report["readings_lost"] == 0 and report["readings_duplicated"] == 0
    assert report["every_check_in_order"] and report["checks"] == report["plan_runs"]
    assert report["final"] == {**report["final"], "reconstruction_equal": True,
                               "erd_equal": True, "should_stop_equal": True}  # fmt: skip
    assert report["readings"] >= 0.19 * 30 * 40

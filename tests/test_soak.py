"""The fault soak, short: every fault kind once on the simulated beamline (see benchmarks/soak.py).

Service SIGKILL + restart, IOC killed, a NaN burst, a motor stall and a Channel Access
disconnect, each followed by an operator-style recovery and a new plan run on the same
service session; after every recovery no reading is lost or duplicated, and at the end
the service's state equals a local Sampler given the same readings. The soak runs as its
own process (its own loopback EPICS ports and Channel Access client state).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.epics, pytest.mark.slow, pytest.mark.timeout(400)]

ROOT = Path(__file__).resolve().parents[1]
FAULTS = ("service_kill", "ioc_restart", "nan_burst", "motor_stall", "ca_disconnect")


def test_short_soak_loses_and_duplicates_nothing(tmp_path) -> None:
    out = tmp_path / "soak.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "soak.py"), "--faults", str(len(FAULTS)),
         "--shape", "30", "40", "--batch-size", "10", "--max-coverage", "0.2", "--seed", "1",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=380, check=False,
    )  # fmt: skip
    assert out.is_file(), result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["faults_injected"] == len(FAULTS)
    assert report["faults_by_kind"] == dict.fromkeys(FAULTS, 1)
    assert report["readings_lost"] == 0 and report["readings_duplicated"] == 0
    assert report["every_check_in_order"] and report["checks"] == report["plan_runs"]
    final = report["final"]
    assert final["reconstruction_equal"] and final["erd_equal"] and final["should_stop_equal"]
    assert report["readings"] >= 0.19 * 30 * 40
    assert result.returncode == 0

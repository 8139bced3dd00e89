"""fastscan.devices.connect.wait_for_connections: the queue-server profile's connection wait.

It gives up after ``stall`` seconds in which no further PV connected, not after a fixed
deadline for all: a slow IOC that keeps connecting (a loaded machine) is waited for, a
dead one fails after ``stall`` seconds naming the PVs missing.
"""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

import pytest

from fastscan.devices.connect import wait_for_connections


class FakeSignal:
    def __init__(self, name: str, connect_at: float) -> None:
        self.name = self.pvname = name
        self.connect_at = connect_at

    @property
    def connected(self) -> bool:
        return time.monotonic() >= self.connect_at


class FakeDevice:
    def __init__(self, *signals: FakeSignal) -> None:
        self.signals = signals
        self.checked: list[float] = []

    def walk_signals(self):
        return [SimpleNamespace(item=s) for s in self.signals]

    def wait_for_connection(self, timeout: float) -> None:
        assert all(s.connected for s in self.signals)
        self.checked.append(timeout)


def test_a_slow_ioc_that_keeps_connecting_is_waited_for() -> None:
    t0 = time.monotonic()
    # eight PVs, one every 0.15 s: 1.2 s in all, four times the 0.3 s stall
    devices = [FakeDevice(*(FakeSignal(f"SIM:{d}{i}", t0 + 0.15 * (4 * d + i + 1))
                            for i in range(4))) for d in range(2)]  # fmt: skip
    took = wait_for_connections(devices, stall=0.3, poll=0.02)
    assert 1.2 <= took < 3.0
    assert [d.checked for d in devices] == [[0.3], [0.3]]  # ophyd's own check, once all are in


def test_a_dead_ioc_fails_after_the_stall_naming_the_missing_pvs() -> None:
    t0 = time.monotonic()
    device = FakeDevice(FakeSignal("SIM:x", t0), FakeSignal("SIM:det:value", math.inf),
                        FakeSignal("SIM:y", t0 + 0.2))  # fmt: skip
    with pytest.raises(TimeoutError) as failed:
        wait_for_connections([device], stall=0.4, poll=0.02)
    waited = time.monotonic() - t0
    assert 0.6 <= waited < 2.0  # the last connection (0.2 s) + the stall, not more
    assert str(failed.value) == (
        "1 of 3 PVs not connected, and none more in the last 0.4 s: SIM:det:value"
    )
    assert device.checked == []


def test_connected_devices_return_at_once() -> None:
    device = FakeDevice(FakeSignal("SIM:x", 0.0))
    assert wait_for_connections([device], stall=5.0) < 0.5
    assert device.checked == [5.0]


@pytest.mark.parametrize("stall", [0, -1.0, math.nan, math.inf, "20", True])
def test_a_bad_stall_is_refused(stall) -> None:
    with pytest.raises(ValueError) as refused:
        wait_for_connections([], stall=stall)
    assert str(refused.value) == f"stall must be a finite number of seconds > 0, got {stall!r}"


@pytest.mark.epics
def test_real_devices_on_the_simulated_ioc_and_a_wrong_prefix(sim_ioc) -> None:
    from conftest import new_prefix

    from fastscan.devices import EpicsScalarDetector, NanoprobeStage

    stage = NanoprobeStage(sim_ioc.pv("x"), sim_ioc.pv("y"), name="stage")
    det = EpicsScalarDetector(sim_ioc.pv("det:"), name="det")
    assert wait_for_connections([stage, det], stall=20.0) < 20.0
    assert stage.connected and det.connected
    nowhere = new_prefix("N")  # no IOC serves it
    t0 = time.monotonic()
    with pytest.raises(TimeoutError) as failed:
        wait_for_connections([EpicsScalarDetector(f"{nowhere}det:", name="lost")], stall=1.0)
    assert 1.0 <= time.monotonic() - t0 < 5.0
    assert str(failed.value).startswith("3 of 3 PVs not connected, and none more in the last 1 s")
    assert f"{nowhere}det:acquire" in str(failed.value)

"""The simulated IOC: motion profile, image loading, loopback binding, CLI."""

from __future__ import annotations

import math
import socket

import numpy as np
import pytest

from fastscan.imageio import ImageError
from fastscan.phantoms import make_phantom
from fastscan.sim.ioc import build_ioc, free_port, loopback_env, parse_args
from fastscan.sim.ioc_motor import move_duration, trapezoid_position


@pytest.mark.parametrize(
    ("distance", "velocity", "accel"),
    [(10.0, 2.0, 4.0), (0.5, 2.0, 4.0), (3.0, 1.0, math.inf), (1.0, 100.0, 1000.0)],
)
def test_trapezoid_profile(distance, velocity, accel):
    duration = move_duration(distance, velocity, accel)
    t = np.linspace(0.0, duration, 201)
    s = np.array([trapezoid_position(v, distance, velocity, accel) for v in t])
    assert s[0] == 0.0 and s[-1] == pytest.approx(distance)
    assert np.all(np.diff(s) >= -1e-12)
    speed = np.diff(s) / np.diff(t)
    assert speed.max() <= velocity * (1 + 1e-6)
    if math.isfinite(accel):
        assert np.abs(np.diff(speed) / np.diff(t[1:])).max() <= accel * 1.01
    # 10 units at 2 units/s with 0.5 s ramps: 5 s cruise-equivalent + 0.5 s
    if (distance, velocity, accel) == (10.0, 2.0, 4.0):
        assert duration == pytest.approx(5.5)


def test_loopback_env_uses_private_free_ports():
    env = loopback_env()
    assert env["EPICS_CAS_INTF_ADDR_LIST"] == "127.0.0.1"
    assert env["EPICS_CA_AUTO_ADDR_LIST"] == "NO"
    assert env["EPICS_CA_SERVER_PORT"] != env["EPICS_CA_REPEATER_PORT"]
    assert env["EPICS_CAS_BEACON_PORT"] == env["EPICS_CA_REPEATER_PORT"]
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", port))


def test_ioc_loads_images_with_the_one_project_loader(tmp_path):
    image = make_phantom("flakes", (20, 30), seed=2)
    np.save(tmp_path / "a.npy", image)
    ioc = build_ioc(parse_args(["--image", str(tmp_path / "a.npy")]))
    np.testing.assert_array_equal(ioc.image, image)
    assert ioc.grid.shape == (20, 30)
    bad = image.copy()
    bad[3, 4] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(ImageError, match=r"non-finite pixel\(s\).*row 3, col 4"):
        build_ioc(parse_args(["--image", str(tmp_path / "nan.npy")]))


def test_cli_builds_grid_and_limits():
    args = parse_args(["--shape", "40,60", "--grid", "10,15.9,-2,1.9", "--velocity", "5",
                        "--acceleration", "50", "--prefix", "Q:"])  # fmt: skip
    ioc = build_ioc(args)
    assert ioc.grid.shape == (40, 60) and ioc.grid.pitch == pytest.approx((0.1, 0.1))
    assert ioc.x.limits == (9.5, 16.4) and ioc.y.limits == (-2.5, 2.4)
    assert ioc.x.velocity == 5.0 and ioc.x.accel_time == pytest.approx(0.1)
    assert {"Q:x", "Q:y", "Q:det:acquire", "Q:det:value", "Q:fault:stall"} <= set(ioc.pvdb)
    assert {"Q:fly:kickoff", "Q:fly:x", "Q:fly:values", "Q:fly:npts"} <= set(ioc.pvdb)
    assert {"RBV", "DMOV", "VELO", "ACCL", "HLM", "LLM", "STOP"} <= set(ioc.x.motor.fields)
    # the detector reads the pixel nearest the motors
    ioc.x.position, ioc.y.position = 10.3, -1.5
    assert ioc.measure() == make_phantom("flakes", (40, 60), seed=0)[5, 3]


def _listening_addresses(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                lines = fh.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.split(":")
            if int(hexport, 16) == port and state == "0A":  # LISTEN
                found.add(addr)
    return found


@pytest.mark.epics
def test_ioc_listens_on_loopback_only(sim_ioc):
    port = int(sim_ioc.log().split("port=")[1].split()[0])
    addresses = _listening_addresses(port)
    if not addresses:
        pytest.skip("/proc/net/tcp not readable here")
    assert addresses == {"0100007F"}  # 127.0.0.1

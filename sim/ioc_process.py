"""Start and stop the simulated IOC as a subprocess on a private loopback EPICS setup.

:func:`loopback_env` makes the EPICS Channel Access settings that keep server
and clients on 127.0.0.1 with private ports; :func:`start_ioc_subprocess` runs
``python -m fastscan.sim.ioc`` with them and waits until it serves.

Examples
--------
>>> env = loopback_env()
>>> env["EPICS_CAS_INTF_ADDR_LIST"]
'127.0.0.1'
>>> with start_ioc_subprocess("DOC:", env=env) as ioc:  # doctest: +SKIP
...     print(ioc.pv("x"))
DOC:x
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from fastscan.plans.grid import Grid

__all__ = ["READY", "IocHandle", "free_port", "loopback_env", "start_ioc_subprocess"]

READY = "FASTSCAN-IOC-READY"


# ----------------------------------------------------------------------------- environment
def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free on 127.0.0.1 for TCP and UDP (``kind`` is tried first)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        other = socket.SOCK_DGRAM if kind == socket.SOCK_STREAM else socket.SOCK_STREAM
        try:
            with socket.socket(socket.AF_INET, other) as s:
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port found on 127.0.0.1")


def loopback_env(server_port: int | None = None, repeater_port: int | None = None) -> dict:
    """EPICS CA settings that keep server and clients on 127.0.0.1 with private ports.

    Both the IOC process and the client process need them, in the client before
    the first pyepics/ophyd channel is created.
    """
    server_port = free_port() if server_port is None else int(server_port)
    repeater_port = free_port(socket.SOCK_DGRAM) if repeater_port is None else int(repeater_port)
    return {
        "EPICS_CA_ADDR_LIST": "127.0.0.1",
        "EPICS_CA_AUTO_ADDR_LIST": "NO",
        "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
        "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1",
        "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
        "EPICS_CA_SERVER_PORT": str(server_port),
        "EPICS_CA_REPEATER_PORT": str(repeater_port),
        "EPICS_CAS_BEACON_PORT": str(repeater_port),
    }


# ----------------------------------------------------------------------------- subprocess
@dataclass
class IocHandle:
    """A running IOC subprocess: ``prefix``, ``env`` (its EPICS settings), ``stop()``."""

    prefix: str
    env: dict[str, str]
    process: subprocess.Popen
    log_path: Path
    args: list[str] = field(default_factory=list)

    def pv(self, suffix: str) -> str:
        return f"{self.prefix}{suffix}"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """Kill at once (SIGKILL), as a crash would."""
        if self.alive:
            self.process.kill()
        self.process.wait(timeout=10)

    def stop(self, timeout: float = 5.0, *, keep_log: bool = False) -> None:
        """Terminate (SIGTERM), then kill if it does not exit within ``timeout``."""
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        if not keep_log:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> IocHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_ioc_subprocess(
    prefix: str,
    *,
    env: dict[str, str] | None = None,
    image: str | Path | None = None,
    phantom: str = "flakes",
    shape: tuple[int, int] = (40, 60),
    grid: Grid | None = None,
    velocity: float = 1000.0,
    acceleration: float = float("inf"),
    dwell: float = 0.0,
    noise: str | None = None,
    seed: int = 0,
    extra_args: list[str] | tuple[str, ...] = (),
    timeout: float = 30.0,
) -> IocHandle:
    """Start ``python -m fastscan.sim.ioc`` on loopback and wait until it serves.

    Parameters
    ----------
    prefix : str
        PV prefix, e.g. ``"T1:"``; use a new one per IOC in a process (pyepics
        caches channels by name).
    env : dict or None
        EPICS settings from :func:`loopback_env`; None makes new ones. The
        client process must use the same values (set before its first channel).
    grid : Grid or None
        Motor positions of the image; None uses pixel units from 0.

    Returns
    -------
    IocHandle
    """
    env = dict(env or loopback_env())
    args = [
        sys.executable, "-m", "fastscan.sim.ioc", "--prefix", prefix,
        "--velocity", repr(float(velocity)), "--acceleration", repr(float(acceleration)),
        "--dwell", repr(float(dwell)), "--seed", str(seed),
        "--noise", noise or "none",
    ]  # fmt: skip
    if image is not None:
        args += ["--image", str(image)]
    else:
        args += ["--phantom", phantom, "--shape", f"{shape[0]},{shape[1]}"]
    if grid is not None:
        args += ["--grid", f"{grid.x_start!r},{grid.x_stop!r},{grid.y_start!r},{grid.y_stop!r}"]
    args += list(extra_args)
    fd, name = tempfile.mkstemp(prefix="fastscan-ioc-", suffix=".log")
    log = Path(name)
    proc_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    with os.fdopen(fd, "wb") as fh:  # the child keeps its own copy; ours is closed here
        process = subprocess.Popen(
            args, env=proc_env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    handle = IocHandle(prefix, env, process, log, args)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if READY in handle.log():
            return handle
        if not handle.alive:
            raise RuntimeError(f"IOC exited with code {process.returncode}:\n{handle.log()}")
        time.sleep(0.05)
    handle.stop()
    raise TimeoutError(f"IOC did not start within {timeout} s:\n{handle.log()}")

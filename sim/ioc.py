"""A simulated nanoprobe beamline IOC (caproto) serving two motors and a detector.

Run it in a terminal (loopback only; see :func:`loopback_env` for the EPICS
environment both sides need)::

    python -m fastscan.sim.ioc --phantom flakes --shape 40,60 --prefix SIM: --port 5094

PVs (``P`` = prefix):

- ``P:x``, ``P:y``: motor records (:class:`fastscan.sim.ioc_motor.SimMotor`).
  Column c is at x = x_start + c * x_step, row r at y = y_start + r * y_step
  (``--grid x_start,x_stop,y_start,y_stop``; default: pixel units from 0).
- ``P:det:acquire``: put 1 to acquire; the put completes when the value is
  ready (``--dwell`` seconds). ``P:det:value``: the image value at the pixel
  nearest the motors' readbacks (edge pixel off the grid), with seeded Poisson
  noise if ``--noise poisson``. ``P:det:count``: acquisitions so far.
  ``P:det:dwell``: acquisition time, seconds. ``P:det:noise`` (0/1) switches
  the Poisson noise, a put to ``P:det:seed`` re-seeds it.

Fault injection (simulation only, for tests and demos):

- ``P:fault:stall`` = 1: motors accept new targets but never arrive (DMOV stays 0).
- ``P:fault:limit`` = 1: every new move stops at once on a limit switch (HLS/LLS).
- ``P:det:nan`` = 1: acquisitions return NaN.
- ``P:det:disconnect`` = 1: the detector PVs disconnect from every client and are
  no longer served (the motors stay up).

The IOC binds 127.0.0.1 only (from the loopback environment) and sets
TCP_NODELAY on every client socket (without it, put-with-callback round trips
wait for delayed ACKs).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from caproto.asyncio.server import Context as _AsyncioContext
from caproto.server import PVGroup, SubGroup, pvproperty

from fastscan.plans.grid import Grid
from fastscan.sim.ioc_motor import SimMotor

__all__ = [
    "IocHandle",
    "NanoprobeIOC",
    "free_port",
    "load_image",
    "loopback_env",
    "main",
    "start_ioc_subprocess",
]

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


# ----------------------------------------------------------------------------- image
def load_image(path: str | Path) -> np.ndarray:
    """A 2-D float image from .npy, .tif/.tiff or .png (RGB is averaged to grey)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    if suffix == ".npy":
        image = np.load(path, allow_pickle=False)
    elif suffix in (".tif", ".tiff"):
        import tifffile

        image = tifffile.imread(path)
    elif suffix == ".png":
        from matplotlib.image import imread

        image = imread(path)
    else:
        raise ValueError(f"image must be .npy, .tif, .tiff or .png, got {path.name!r}")
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        image = image[..., :3].mean(axis=-1)
    if image.ndim != 2 or min(image.shape) < 2:
        raise ValueError(f"image must be 2-D with at least 2x2 pixels, got shape {image.shape}")
    if not np.isfinite(image).all():
        raise ValueError(f"image {path.name} contains NaN or inf")
    return image


# ----------------------------------------------------------------------------- the IOC
class NanoprobeIOC(PVGroup):
    """Two motors and a point detector over a ground-truth image (see the module doc)."""

    x = SubGroup(SimMotor, prefix="x")
    y = SubGroup(SimMotor, prefix="y")

    acquire = pvproperty(name="det:acquire", value=0, doc="put 1 to acquire")
    value = pvproperty(name="det:value", value=0.0, precision=6, read_only=True)
    count = pvproperty(name="det:count", value=0, read_only=True)
    dwell = pvproperty(name="det:dwell", value=0.0, precision=4)
    noise_on = pvproperty(name="det:noise", value=0, doc="1: Poisson noise on the readings")
    noise_seed = pvproperty(name="det:seed", value=0, doc="put to re-seed the noise generator")
    det_nan = pvproperty(name="det:nan", value=0, doc="fault: readings are NaN")
    det_disconnect = pvproperty(name="det:disconnect", value=0, doc="fault: detector goes away")
    stall = pvproperty(name="fault:stall", value=0, doc="fault: motors never arrive")
    limit = pvproperty(name="fault:limit", value=0, doc="fault: moves stop on a limit switch")

    def __init__(self, *args: Any, image: np.ndarray, grid: Grid, noise: str | None = None,
                 counts_scale: float = 1000.0, seed: int = 0, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        if image.shape != grid.shape:
            raise ValueError(f"image shape {image.shape} differs from grid shape {grid.shape}")
        self.image = image
        self.grid = grid
        self.noise = noise
        self.counts_scale = float(counts_scale)
        self.rng = np.random.default_rng(seed)
        self.context: _Context | None = None
        self.disconnected = False
        self.initial_dwell = 0.0

    @dwell.startup
    async def dwell(self, instance, async_lib):
        await instance.write(self.initial_dwell)
        await self.noise_on.write(int(self.noise == "poisson"))

    @noise_on.putter
    async def noise_on(self, instance, value):
        self.noise = "poisson" if value else None
        return value

    @noise_seed.putter
    async def noise_seed(self, instance, value):
        self.rng = np.random.default_rng(int(value))
        return value

    def detector_pvnames(self) -> list[str]:
        props = (self.acquire, self.value, self.count, self.dwell, self.noise_on,
                 self.noise_seed, self.det_nan, self.det_disconnect)  # fmt: skip
        return [p.pvname for p in props]

    def measure(self) -> float:
        row, col = self.grid.to_index(self.x.position, self.y.position, clip=True)
        value = float(self.image[row, col])
        if self.noise == "poisson":
            value = float(self.rng.poisson(max(value, 0.0) * self.counts_scale)) / self.counts_scale
        if self.det_nan.value:
            value = float("nan")
        return value

    @acquire.putter
    async def acquire(self, instance, value):
        if not value or self.disconnected:
            return 0
        if self.dwell.value > 0:
            await asyncio.sleep(float(self.dwell.value))
        await self.value.write(self.measure())
        await self.count.write(self.count.value + 1)
        return 0

    @stall.putter
    async def stall(self, instance, value):
        self.x.stall = self.y.stall = bool(value)
        return value

    @limit.putter
    async def limit(self, instance, value):
        self.x.hit_limit = self.y.hit_limit = bool(value)
        return value

    @det_disconnect.putter
    async def det_disconnect(self, instance, value):
        if value and not self.disconnected and self.context is not None:
            self.disconnected = True
            asyncio.get_running_loop().create_task(self.context.drop_pvs(self.detector_pvnames()))
        return value


class _Context(_AsyncioContext):
    """caproto asyncio server context with TCP_NODELAY and PV withdrawal."""

    async def tcp_handler(self, client, addr):
        sock = client.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return await super().tcp_handler(client, addr)

    async def drop_pvs(self, names: list[str]) -> None:
        """Stop serving ``names`` and tell connected clients those channels are gone."""
        await asyncio.sleep(0.05)  # let the triggering put complete first
        wanted = set(names)
        for name in names:
            self.pvdb.pop(name, None)
        for circuit in list(self.circuits):
            for chan in list(circuit.circuit.channels.values()):
                if chan.name in wanted:
                    try:
                        await circuit.send(chan.disconnect())
                    except Exception as exc:  # a client that is itself going away
                        self.log.warning("could not disconnect %s: %s", chan.name, exc)


async def _serve(ioc: NanoprobeIOC, interfaces: list[str]) -> None:
    ctx = _Context(ioc.pvdb, interfaces)
    ioc.context = ctx

    async def announce(async_lib):
        await asyncio.sleep(0.05)
        print(f"{READY} port={ctx.port}", flush=True)

    await ctx.run(log_pv_names=False, startup_hook=announce)


# ----------------------------------------------------------------------------- CLI
def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m fastscan.sim.ioc",
        description="Simulated nanoprobe IOC: motors P:x, P:y and detector P:det:* on loopback.",
        epilog="Simulation-only fault PVs: P:fault:stall, P:fault:limit, P:det:nan, "
        "P:det:disconnect (put 1); P:det:noise (0/1) and P:det:seed control Poisson noise. "
        "Binds 127.0.0.1 unless EPICS_CAS_INTF_ADDR_LIST says otherwise.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--image", help="ground truth (.npy, .tif, .png)")
    src.add_argument("--phantom", default="flakes", help="built-in phantom (default flakes)")
    p.add_argument("--shape", default="200,300", help="phantom shape rows,cols (default 200,300)")
    p.add_argument("--phantom-seed", type=int, default=0)
    p.add_argument("--prefix", default="SIM:", help="PV prefix (default SIM:)")
    p.add_argument("--port", type=int, default=None, help="EPICS_CA_SERVER_PORT to serve on")
    p.add_argument(
        "--grid", default=None,
        help="x_start,x_stop,y_start,y_stop motor positions of the image corners "
        "(default: 0..cols-1, 0..rows-1)",
    )  # fmt: skip
    p.add_argument("--velocity", type=float, default=100.0, help="units/s (default 100)")
    p.add_argument(
        "--acceleration", type=float, default=10000.0, help="units/s^2, inf = instant (10000)"
    )
    p.add_argument("--limit-margin", type=float, default=0.5, help="soft limits beyond the grid")
    p.add_argument("--dwell", type=float, default=0.0, help="detector acquisition time, s")
    p.add_argument("--noise", choices=["none", "poisson"], default="none")
    p.add_argument("--counts-scale", type=float, default=1000.0)
    p.add_argument("--seed", type=int, default=0, help="noise seed")
    p.add_argument("--tick", type=float, default=0.005, help="readback update period while moving")
    return p.parse_args(argv)


def build_ioc(args: argparse.Namespace) -> NanoprobeIOC:
    if args.image:
        image = load_image(args.image)
    else:
        from fastscan.phantoms import make_phantom

        rows, cols = (int(v) for v in args.shape.split(","))
        image = make_phantom(args.phantom, shape=(rows, cols), seed=args.phantom_seed)
    rows, cols = image.shape
    if args.grid:
        x0, x1, y0, y1 = (float(v) for v in args.grid.split(","))
    else:
        x0, x1, y0, y1 = 0.0, cols - 1.0, 0.0, rows - 1.0
    grid = Grid(x0, x1, cols, y0, y1, rows)
    noise = None if args.noise == "none" else args.noise
    ioc = NanoprobeIOC(
        prefix=args.prefix, image=image, grid=grid, noise=noise,
        counts_scale=args.counts_scale, seed=args.seed,
    )  # fmt: skip
    m = args.limit_margin
    ioc.initial_dwell = float(args.dwell)
    for motor, lo, hi, start in ((ioc.x, x0, x1, x0), (ioc.y, y0, y1, y0)):
        motor.configure(
            velocity=args.velocity, acceleration=args.acceleration,
            limits=(min(lo, hi) - m, max(lo, hi) + m), position=start, tick=args.tick,
        )  # fmt: skip
    return ioc


class _NoBeaconErrors(logging.Filter):
    """Without a CA repeater on the beacon port every beacon fails; that is harmless here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to send beacon")


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    logging.getLogger("caproto.ctx").addFilter(_NoBeaconErrors())
    if args.port is not None:
        repeater = os.environ.get("EPICS_CA_REPEATER_PORT", args.port + 1)
        os.environ.update(loopback_env(args.port, repeater))
    for key in ("EPICS_CAS_INTF_ADDR_LIST", "EPICS_CA_ADDR_LIST"):
        os.environ.setdefault(key, "127.0.0.1")
    os.environ.setdefault("EPICS_CAS_BEACON_ADDR_LIST", "127.0.0.1")
    os.environ.setdefault("EPICS_CAS_AUTO_BEACON_ADDR_LIST", "NO")
    os.environ.setdefault("EPICS_CA_AUTO_ADDR_LIST", "NO")
    ioc = build_ioc(args)
    interfaces = os.environ["EPICS_CAS_INTF_ADDR_LIST"].split()
    try:
        asyncio.run(_serve(ioc, interfaces))
    except KeyboardInterrupt:
        pass


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
    log = Path(tempfile.mkstemp(prefix="fastscan-ioc-", suffix=".log")[1])
    proc_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as fh:
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


if __name__ == "__main__":
    main()

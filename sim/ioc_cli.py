"""Command line of the simulated IOC (``python -m fastscan.sim.ioc``): arguments, build, run.

Binds 127.0.0.1 unless ``--interfaces`` says otherwise; the host's
``EPICS_CAS_INTF_ADDR_LIST`` is not inherited, so the writable fault PVs never
leave loopback by accident.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from fastscan.imageio import load_maps
from fastscan.plans.grid import Grid
from fastscan.sim.ioc_process import loopback_env
from fastscan.sim.ioc_records import NanoprobeIOC, nanoprobe_ioc_class
from fastscan.sim.ioc_server import NoBeaconErrors, serve, stopped_line

__all__ = ["build_ioc", "build_parser", "main", "parse_args", "server_environment"]

LOOPBACK = "127.0.0.1"


def build_parser() -> argparse.ArgumentParser:
    """The command line ``python -m fastscan.sim.ioc`` (:func:`parse_args` parses with it)."""
    p = argparse.ArgumentParser(
        prog="python -m fastscan.sim.ioc",
        description="Simulated nanoprobe IOC: motors P:x, P:y and detector P:det:* on loopback.",
        epilog="Simulation-only fault PVs: P:fault:stall, P:fault:limit, P:det:nan, "
        "P:det:disconnect (put 1); P:det:noise (0/1) and P:det:seed control Poisson noise. "
        "Binds 127.0.0.1 unless --interfaces says otherwise. Fly mode: P:fly:* "
        "(segment, velocity, period, kickoff; captured x, y, time, values waveforms). "
        "Element maps add the ROI set P:xrf:Acquire, P:xrf:C1:ROI<k>:Value_RBV/Name/TS.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--image", help="ground truth (.npy, .tif, .png); a (C, H, W) .npy or multi-page TIFF "
        "is C element maps (expected counts) served as ROIs P:xrf:C1:ROI<k>:*",
    )  # fmt: skip
    from fastscan.phantoms import PHANTOMS

    src.add_argument(
        "--phantom", default="flakes", choices=(*PHANTOMS, "xrf"),
        help="built-in phantom (default flakes); 'xrf' serves its element maps as ROIs",
    )  # fmt: skip
    p.add_argument(
        "--elements", default=None,
        help="comma-separated element names of the maps' channels (default: the xrf "
        "phantom's names, or E1,E2,... for --image maps)",
    )  # fmt: skip
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
    p.add_argument(
        "--fly-time-scale", type=float, default=1.0,
        help="real seconds per modelled second of a fly segment (0: no waiting; default 1)",
    )  # fmt: skip
    p.add_argument(
        "--interfaces", default=LOOPBACK,
        help="space-separated addresses to serve on (default 127.0.0.1 only; the host's "
        "EPICS_CAS_INTF_ADDR_LIST is ignored)",
    )  # fmt: skip
    return p


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The arguments of ``python -m fastscan.sim.ioc`` (``None``: ``sys.argv[1:]``)."""
    return build_parser().parse_args(argv)


def _numbers(text: str, option: str, expected: str, kind: type, count: int) -> tuple:
    """``count`` comma-separated numbers of ``kind``, or a ValueError naming ``option``."""
    try:
        values = tuple(kind(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count:
        raise ValueError(f"{option} expects {expected}, got {text!r}")
    return values


def build_ioc(args: argparse.Namespace) -> NanoprobeIOC:
    """The IOC the arguments describe (not yet serving)."""
    names: tuple[str, ...] | None = None
    if args.image:
        image, note = load_maps(args.image)
        if note:
            logging.getLogger("fastscan.sim").info("%s", note)
    else:
        from fastscan.phantoms import make_phantom, make_xrf_maps

        rows, cols = _numbers(args.shape, "--shape", "rows,cols such as 200,300", int, 2)
        if args.phantom == "xrf":
            image, names = make_xrf_maps((rows, cols), seed=args.phantom_seed)
        else:
            image = make_phantom(args.phantom, shape=(rows, cols), seed=args.phantom_seed)
    if image.ndim == 3:
        if args.elements:
            names = tuple(e.strip() for e in args.elements.split(","))
        names = names or tuple(f"E{k}" for k in range(1, len(image) + 1))
        if len(names) != len(image):
            raise ValueError(f"--elements names {len(names)} elements {names}, the maps hold "
                             f"{len(image)} channels")  # fmt: skip
    elif args.elements:
        raise ValueError("--elements needs element maps ((C, H, W) --image or --phantom xrf)")
    rows, cols = image.shape[-2:]
    if args.grid:
        x0, x1, y0, y1 = _numbers(
            args.grid, "--grid", "x_start,x_stop,y_start,y_stop such as 0,299,0,199", float, 4
        )
    else:
        x0, x1, y0, y1 = 0.0, cols - 1.0, 0.0, rows - 1.0
    grid = Grid(x0, x1, cols, y0, y1, rows)
    noise = None if args.noise == "none" else args.noise
    ioc = nanoprobe_ioc_class(names)(
        prefix=args.prefix, image=image, grid=grid, noise=noise,
        counts_scale=args.counts_scale, seed=args.seed,
    )  # fmt: skip
    m = args.limit_margin
    ioc.initial_dwell = float(args.dwell)
    if not (args.fly_time_scale >= 0):
        raise ValueError(f"--fly-time-scale must be >= 0, got {args.fly_time_scale!r}")
    ioc.fly.initial_time_scale = float(args.fly_time_scale)
    for motor, lo, hi, start in ((ioc.x, x0, x1, x0), (ioc.y, y0, y1, y0)):
        motor.configure(
            velocity=args.velocity, acceleration=args.acceleration,
            limits=(min(lo, hi) - m, max(lo, hi) + m), position=start, tick=args.tick,
        )  # fmt: skip
    return ioc


def server_environment(args: argparse.Namespace, environ: dict[str, str]) -> dict[str, str]:
    """The EPICS server settings the IOC runs with (pure: returns the updates to apply).

    Serves on ``args.interfaces`` (loopback by default) whatever ``environ``
    says; beacons go to loopback unless a non-loopback interface was asked for.
    """
    env: dict[str, str] = {}
    if args.port is not None:
        repeater = environ.get("EPICS_CA_REPEATER_PORT", args.port + 1)
        env.update(loopback_env(args.port, repeater))
    interfaces = " ".join(args.interfaces.split()) or LOOPBACK
    env["EPICS_CAS_INTF_ADDR_LIST"] = interfaces
    if interfaces == LOOPBACK:
        env["EPICS_CAS_BEACON_ADDR_LIST"] = LOOPBACK
        env["EPICS_CAS_AUTO_BEACON_ADDR_LIST"] = "NO"
    for key in ("EPICS_CA_ADDR_LIST", "EPICS_CAS_BEACON_ADDR_LIST"):
        env.setdefault(key, environ.get(key, LOOPBACK))
    env.setdefault("EPICS_CA_AUTO_ADDR_LIST", environ.get("EPICS_CA_AUTO_ADDR_LIST", "NO"))
    env.setdefault(
        "EPICS_CAS_AUTO_BEACON_ADDR_LIST", environ.get("EPICS_CAS_AUTO_BEACON_ADDR_LIST", "NO")
    )
    return env


class _StoppedEarly(Exception):
    """SIGTERM while the IOC was still being built (before the server took the signals)."""


def _stop_early(signum: int, frame: object) -> None:
    raise _StoppedEarly(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> None:
    """Run the IOC until SIGINT (Ctrl-C) or SIGTERM; then say so on stderr and return (exit 0)."""
    args = parse_args(argv)
    logging.getLogger("caproto.ctx").addFilter(NoBeaconErrors())
    os.environ.update(server_environment(args, dict(os.environ)))
    previous = signal.signal(signal.SIGTERM, _stop_early)  # the build can take seconds
    try:
        ioc = build_ioc(args)
    except (ValueError, OSError) as exc:  # bad input: one line, no traceback
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"python -m fastscan.sim.ioc: error: {message}", file=sys.stderr)
        raise SystemExit(2) from None
    except (KeyboardInterrupt, _StoppedEarly) as exc:
        name = str(exc) if isinstance(exc, _StoppedEarly) else "SIGINT"
        print(f"python -m fastscan.sim.ioc stopped ({name}) before it served", file=sys.stderr)
        return
    finally:
        signal.signal(signal.SIGTERM, previous)
    interfaces = os.environ["EPICS_CAS_INTF_ADDR_LIST"].split()
    try:
        received = asyncio.run(serve(ioc, interfaces))
    except KeyboardInterrupt:  # Ctrl-C before the server took over the signals
        received = "SIGINT"
    port = getattr(getattr(ioc, "context", None), "port", None)
    print(stopped_line(received, args.prefix, interfaces, port), file=sys.stderr, flush=True)

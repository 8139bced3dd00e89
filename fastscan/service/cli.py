"""``fastscan serve``: run the sampler service (also ``python -m fastscan.service``).

The lead's ``fastscan/cli.py`` registers the sub-command with
:func:`add_serve_parser`; :func:`main` runs it stand-alone. Once the socket is
bound the command prints one line, ``fastscan service listening on ENDPOINT``,
to stdout (the resolved endpoint, useful with port 0), then serves until SIGINT
or SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from fastscan.service.protocol import DEFAULT_ADDRESS, DEFAULT_MAX_MESSAGE_BYTES

__all__ = ["add_serve_parser", "build_parser", "main", "run_serve"]

log = logging.getLogger("fastscan.service")

_DESCRIPTION = (
    "Run the autonomous sampler as a ZMQ service (for an edge device next to the beamline "
    "control computer). Plans use fastscan.service.RemoteSampler to talk to it."
)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bind",
        default=DEFAULT_ADDRESS,
        help=f"ZMQ endpoint to bind (default {DEFAULT_ADDRESS}; port 0 picks a free one)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="directory where sessions are saved after every batch and restored from on restart",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow binding a non-loopback address (needs --curve-secret-key as well)",
    )
    parser.add_argument(
        "--curve-secret-key",
        type=Path,
        default=None,
        metavar="FILE",
        help="server certificate with secret key (zmq.auth format); enables CurveZMQ",
    )
    parser.add_argument(
        "--curve-clients",
        type=Path,
        default=None,
        metavar="DIR",
        help="directory of authorised client public certificates (*.key)",
    )
    parser.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        help=f"largest request accepted (default {DEFAULT_MAX_MESSAGE_BYTES})",
    )
    parser.add_argument(
        "--max-sessions", type=int, default=16, help="sessions held at once (default 16)"
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=4096 * 4096,
        help="largest grid (rows x cols) of one session (default 4096 x 4096)",
    )
    parser.add_argument(
        "--max-total-pixels",
        type=int,
        default=None,
        help="largest sum of grid sizes over all sessions (default 4 x --max-pixels)",
    )
    parser.add_argument(
        "--max-points-per-ingest",
        type=int,
        default=1 << 20,
        help="largest batch of readings one ingest may carry (default 1048576)",
    )
    parser.add_argument(
        "--max-batch-size",
        type=int,
        default=10_000,
        help="largest batch_size of a session and n of a suggest (default 10000)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=4,
        help="threads that run requests; a slow request holds up only its own session (default 4)",
    )
    parser.add_argument(
        "--snapshot-every",
        type=int,
        default=100,
        help="batches between full state snapshots in --state-dir; in between each batch is "
        "appended to a journal (default 100)",
    )
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=1,
        help="BLAS threads for the ERD model (default 1: its matrices are small, and more "
        "threads only fight over the cores; 0 leaves the library default)",
    )
    parser.add_argument(
        "--no-warm-up",
        action="store_true",
        help="skip compiling the numba kernels before listening",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="log every session event")


def add_serve_parser(subparsers: Any) -> None:
    """Register the ``serve`` sub-command on an ``argparse`` subparsers object."""
    parser = subparsers.add_parser(
        "serve", help="run the sampler as a ZMQ service", description=_DESCRIPTION
    )
    _add_arguments(parser)
    parser.set_defaults(func=run_serve)


def build_parser() -> argparse.ArgumentParser:
    """Stand-alone parser used by ``python -m fastscan.service``."""
    parser = argparse.ArgumentParser(prog="python -m fastscan.service", description=_DESCRIPTION)
    _add_arguments(parser)
    return parser


def run_serve(args: argparse.Namespace) -> int:
    """Run the service until SIGINT/SIGTERM; returns the process exit status."""
    from fastscan.service.server import SamplerServer, warm_up

    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.WARNING,
            format="%(asctime)s %(name)s %(levelname)s: %(message)s",
            stream=sys.stderr,
        )
    if args.blas_threads < 0:
        print(
            f"fastscan serve: --blas-threads must be >= 0, got {args.blas_threads}", file=sys.stderr
        )
        return 2
    if "://" not in args.bind:
        print(
            f"fastscan serve: --bind expects a ZMQ endpoint such as {DEFAULT_ADDRESS}, "
            f"got {args.bind!r}",
            file=sys.stderr,
        )
        return 2
    if args.blas_threads > 0:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.blas_threads, user_api="blas")
    if not args.no_warm_up:
        warm_up()
    try:
        server = SamplerServer(
            args.bind,
            state_dir=args.state_dir,
            allow_remote=args.allow_remote,
            curve_secret_key=args.curve_secret_key,
            curve_clients=args.curve_clients,
            max_message_bytes=args.max_message_bytes,
            max_sessions=args.max_sessions,
            max_pixels=args.max_pixels,
            max_total_pixels=args.max_total_pixels,
            max_points_per_ingest=args.max_points_per_ingest,
            max_batch_size=args.max_batch_size,
            snapshot_every=args.snapshot_every,
            workers=args.workers,
        )
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"fastscan serve: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # zmq.ZMQError: address in use, bad endpoint
        print(f"fastscan serve: cannot bind {args.bind!r}: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"fastscan service listening on {server.endpoint}", flush=True)
    try:
        server.serve(stop)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m fastscan.service``."""
    return run_serve(build_parser().parse_args(argv))

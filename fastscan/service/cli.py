"""``fastscan serve``: run the sampler service (also ``python -m fastscan.service``).

The lead's ``fastscan/cli.py`` registers the sub-command with
:func:`add_serve_parser`; :func:`main` runs it stand-alone. Once the socket is
bound the command prints one line, ``fastscan service listening on ENDPOINT``,
to stdout (the resolved endpoint, useful with port 0), then serves until SIGINT
(Ctrl-C) or SIGTERM. Either one stops it cleanly: every session is saved to
``--state-dir`` (when given), one line on stderr says why it stopped and where the
sessions are (:func:`stopped_message`), and the exit status is 0. A second Ctrl-C
interrupts the saving (exit status 130).
"""

from __future__ import annotations

import argparse
import errno
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from fastscan._argtypes import int_at_least
from fastscan.service.cli_checks import bind_problem, curve_problem
from fastscan.service.protocol import DEFAULT_ADDRESS, DEFAULT_MAX_MESSAGE_BYTES

__all__ = ["add_serve_parser", "build_parser", "main", "run_serve", "stopped_message"]

log = logging.getLogger("fastscan.service")
_count = int_at_least(1)  # the limits and counts

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
        type=_count,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        help=f"largest request accepted (default {DEFAULT_MAX_MESSAGE_BYTES})",
    )
    parser.add_argument(
        "--max-sessions", type=_count, default=16, help="sessions held at once (default 16)"
    )
    parser.add_argument(
        "--max-pixels",
        type=_count,
        default=4096 * 4096,
        help="largest grid (rows x cols) of one session (default 4096 x 4096)",
    )
    parser.add_argument(
        "--max-total-pixels",
        type=_count,
        default=None,
        help="largest sum of grid sizes over all sessions (default 4 x --max-pixels)",
    )
    parser.add_argument(
        "--max-points-per-ingest",
        type=_count,
        default=1 << 20,
        help="largest batch of readings one ingest may carry (default 1048576)",
    )
    parser.add_argument(
        "--max-batch-size",
        type=_count,
        default=10_000,
        help="largest batch_size of a session and n of a suggest (default 10000)",
    )
    parser.add_argument(
        "--workers",
        type=_count,
        default=4,
        help="threads that run requests; a slow request holds up only its own session (default 4)",
    )
    parser.add_argument(
        "--snapshot-every",
        type=_count,
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
    bind = bind_problem(args.bind)
    if bind is not None:
        print(f"fastscan serve: {bind}", file=sys.stderr)
        return 2
    curve = curve_problem(args)
    if curve is not None:
        print(f"fastscan serve: {curve}", file=sys.stderr)
        return 2
    if args.state_dir is not None:  # before the warm-up: a bad folder is named at once
        from fastscan.service.persistence import prepare_state_dir

        try:
            prepare_state_dir(args.state_dir)
        except ValueError as exc:
            print(f"fastscan serve: --state-dir: {exc}", file=sys.stderr)
            return 2
    if args.blas_threads > 0:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.blas_threads, user_api="blas")
    if not args.no_warm_up:
        from fastscan.slow_note import FIRST_RUN, SlowNote

        with SlowNote(f"fastscan serve: warming up ({FIRST_RUN}) ...", 5.0):
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
        hint = ""
        if getattr(exc, "errno", None) == errno.EADDRINUSE:
            hint = " (another fastscan serve? stop it, or --bind another port; 0 picks one)"
        print(f"fastscan serve: cannot bind {args.bind!r}: {exc}{hint}", file=sys.stderr)
        return 2
    stop = threading.Event()
    received: list[str] = []
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():

        def on_signal(signum: int, _frame: Any) -> None:
            received.append(signal.Signals(signum).name)
            stop.set()
            # a second Ctrl-C interrupts the shutdown (saving) itself
            signal.signal(signal.SIGINT, signal.default_int_handler)

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    if server.restoring:
        names = ", ".join(server.restoring)
        print(
            f"fastscan serve: resuming {_sessions(len(server.restoring))} saved in "
            f"{server.store.state_dir}: {names}",
            file=sys.stderr,
            flush=True,
        )
    print(f"fastscan service listening on {server.endpoint}", flush=True)
    try:
        server.serve(stop)
    except KeyboardInterrupt:  # a second Ctrl-C, while the sessions were being saved
        print(
            "fastscan serve: interrupted while stopping; the sessions' files are as last saved "
            "(snapshot plus journal)",
            file=sys.stderr,
        )
        return 130
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(stopped_message(server.store, received[0] if received else None), file=sys.stderr)
    return 0


def stopped_message(store: Any, signal_name: str | None) -> str:
    """The line ``fastscan serve`` prints when it stops: why, and where its sessions are.

    Parameters
    ----------
    store : SessionStore
        The stopped server's sessions (``server.store``).
    signal_name : str or None
        The signal that stopped it (``"SIGTERM"``, ``"SIGINT"``), if any.

    Returns
    -------
    str
        One line, e.g. ``fastscan service stopped (SIGTERM); 2 sessions saved in
        /data/state (restart with --state-dir /data/state to resume them)``.
    """
    why = f"fastscan service stopped ({signal_name})" if signal_name else "fastscan service stopped"
    if store.state_dir is None:
        held = len(store.held_names)
        if held == 0:
            return f"{why}; no sessions were open"
        verb = "was" if held == 1 else "were"
        return f"{why}; no --state-dir, so its {_sessions(held)} {verb} not saved"
    on_disk = store.files.names()
    saved = len([name for name in store.held_names if name in on_disk])
    others = len(on_disk) - saved  # files it could not restore (named in an error above)
    other = f"; {others} other session file{'' if others == 1 else 's'} there not restored"
    other = other if others else ""
    if saved == 0:
        return f"{why}; no sessions to save in {store.state_dir}{other}"
    return (
        f"{why}; {_sessions(saved)} saved in {store.state_dir} "
        f"(restart with --state-dir {store.state_dir} to resume {'it' if saved == 1 else 'them'})"
        f"{other}"
    )


def _sessions(n: int) -> str:
    return f"{n} session{'' if n == 1 else 's'}"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m fastscan.service``."""
    args = build_parser().parse_args(argv)
    try:
        return run_serve(args)
    except KeyboardInterrupt:  # Ctrl-C before it listens (warm-up, restoring)
        print("fastscan serve: interrupted", file=sys.stderr)
        return 130

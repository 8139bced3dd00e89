"""What is wrong with ``fastscan serve``'s options, found before the service starts.

Each check returns one line naming the option, its value and what is allowed (or
None), so a bad command fails at once, not after the warm-up or inside libzmq.

Examples
--------
>>> bind_problem("tcp://127.0.0.1:5577") is None
True
>>> bind_problem("tcp://127.0.0.1:port")
"--bind expects tcp://HOST:PORT with a port 0-65535 (0 or * picks a free one), got 'tcp://127.0.0.1:port'"
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fastscan.service.protocol import DEFAULT_ADDRESS

__all__ = ["bind_problem", "curve_problem"]


def bind_problem(bind: str) -> str | None:
    """What is wrong with ``--bind`` (None: nothing found before binding)."""
    if "://" not in bind:
        return f"--bind expects a ZMQ endpoint such as {DEFAULT_ADDRESS}, got {bind!r}"
    if bind.startswith("tcp://"):
        host, colon, port = bind[len("tcp://") :].rpartition(":")
        if not (colon and host and (port == "*" or (port.isdigit() and int(port) <= 65535))):
            return (
                f"--bind expects tcp://HOST:PORT with a port 0-65535 (0 or * picks a free one), "
                f"got {bind!r}"
            )
    return None


def curve_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the CurveZMQ options, in their command-line names (None: nothing)."""
    if args.curve_clients is not None and args.curve_secret_key is None:
        return "--curve-clients needs --curve-secret-key (the server's *.key_secret certificate)"
    if args.curve_secret_key is not None and not Path(args.curve_secret_key).is_file():
        return f"--curve-secret-key {str(args.curve_secret_key)!r}: no such file"
    if args.curve_clients is not None and not Path(args.curve_clients).is_dir():
        return (
            f"--curve-clients {str(args.curve_clients)!r} is not a folder (it holds the "
            "authorised clients' public *.key certificates)"
        )
    return None
